// Pipebridge is the CodeBuild build-step tool of pipebridge. It writes the artifacts
// that CodePipeline's ECS deploy actions read, pinned to image digests; renders ECS
// task definitions; mints build-secret credentials by role chaining; gates on ECR
// scan findings; and explains what a release trigger would do.
//
// Usage:
//
//	pipebridge <command> [flags]
//
// The commands are:
//
//	imagedefs   write imagedefinitions.json (and imageDetail.json) pinned by digest
//	render      render an ECS task definition template
//	creds       assume a role and write its temporary credentials to a file
//	scan-gate   wait for an ECR image scan and fail on findings
//	explain     show which routes an event matches and what would be started
//
// Run "pipebridge <command> --help" for a command's flags and examples.
//
// Region, endpoint and credentials come from the standard AWS SDK chain
// (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, the CodeBuild service role, ...).
// Exit status: 0 on success, 1 when a check fails or AWS returns an error, 2 on
// usage errors. Artifacts go to files or stdout; messages go to stderr. No
// credential is ever printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// cli carries what a command may touch, so tests run commands in-process.
type cli struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	getenv    func(string) string
	lookupEnv func(string) (string, bool)
	// loadAWS returns the SDK configuration; tests point it at the emulator.
	loadAWS func(ctx context.Context) (aws.Config, error)
}

type command struct {
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

var commands = map[string]command{
	"imagedefs": {"write imagedefinitions.json (and imageDetail.json) pinned by digest", runImagedefs},
	"render":    {"render an ECS task definition template", runRender},
	"creds":     {"assume a role and write its temporary credentials to a file", runCreds},
	"scan-gate": {"wait for an ECR image scan and fail on findings", runScanGate},
	"explain":   {"show which routes an event matches and what would be started", runExplain},
}

// usageError makes the process exit with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errCheckFailed reports a failed check whose details were already printed.
var errCheckFailed = errors.New("check failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, lookupEnv: os.LookupEnv, loadAWS: loadAWSConfig}
	os.Exit(c.main(ctx, os.Args[1:]))
}

// main runs one command and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "pipebridge: unknown command %q\n", args[0])
		c.usage()
		return 2
	}
	err := cmd.run(ctx, c, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "pipebridge %s: %v\nRun 'pipebridge %s --help' for usage.\n", args[0], err, args[0])
		return 2
	case errors.Is(err, errCheckFailed):
		return 1
	default:
		fmt.Fprintf(c.stderr, "pipebridge %s: %v\n", args[0], err)
		return 1
	}
}

func (c *cli) usage() {
	fmt.Fprintln(c.stderr, "Usage: pipebridge <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(c.stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(c.stderr, "\nRun 'pipebridge <command> --help' for a command's flags and examples.")
}

// flags is a command's flag set with its usage text.
type flags struct {
	*flag.FlagSet
	usage  string
	stderr io.Writer
}

// newFlagSet returns a flag set whose --help prints the command's usage text and
// flags once, and whose parse errors are usage errors, said in one line.
func (c *cli) newFlagSet(name, usage string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package would print the usage on every error
	fs.Usage = func() {}
	return &flags{FlagSet: fs, usage: usage, stderr: c.stderr}
}

func (f *flags) printUsage() {
	fmt.Fprintf(f.stderr, "%s\n\nFlags:\n", strings.TrimSpace(f.usage))
	f.SetOutput(f.stderr)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// parse parses args, turning flag errors into usage errors. Positional arguments
// are refused: every input has a named flag.
func (f *flags) parse(args []string) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.printUsage()
		return err
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q (every input has a flag)", f.Arg(0))
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// loadAWSConfig loads the standard SDK configuration and makes sure credentials
// can be had and have not expired, so that a missing role fails with advice
// instead of a signing error deep in a call.
func loadAWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no AWS region: set AWS_REGION (CodeBuild sets it for you)")
	}
	if err := checkCredentials(ctx, cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func checkCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials == nil {
		return errors.New("no AWS credentials: in CodeBuild the project's service role provides them; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("no AWS credentials (looked in the environment, shared config files, and the container and instance roles): in CodeBuild the project's service role provides them; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: %w", err)
	}
	if creds.Expired() {
		return fmt.Errorf("AWS credentials expired at %s: refresh them (for SSO, run aws sso login) and try again", creds.Expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return nil
}

// explainAWS adds advice to AWS errors whose cause is the caller's credentials.
func explainAWS(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
		return fmt.Errorf("%w (the AWS credentials have expired: refresh them and try again)", err)
	case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch":
		return fmt.Errorf("%w (AWS does not accept these credentials: check AWS_PROFILE or the access key)", err)
	case "AccessDenied", "AccessDeniedException":
		return fmt.Errorf("%w (the role lacks a permission: grant the action named above to the build's role)", err)
	}
	return err
}
