package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/scan"
	"github.com/pipebridge/pipebridge/internal/severity"
)

const scanGateUsage = `
Usage: pipebridge scan-gate --image IMAGE [flags]

Waits for the ECR image scan of IMAGE's digest to complete, prints the findings, and
fails (exit 1) when any finding is at or above the lowest severity named by
--severity and not listed in --ignore. A scan that does not complete within --timeout
fails too: an unfinished scan is never a pass.

Severities, lowest first: INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, in any letter
case. The gate fails closed: a finding whose severity is UNDEFINED (basic scanning),
UNTRIAGED (enhanced scanning) or a name it does not recognise fails it too, unless
--allow-undefined is given.

Basic scanning (ECR) and enhanced scanning (Amazon Inspector) both work: the gate
passes on COMPLETE (basic) or ACTIVE (enhanced, continuous scanning) and fails on
FAILED, UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE,
LIMIT_EXCEEDED and IMAGE_ARCHIVED, which leave the image without findings to judge.

The ignore file lists finding names (CVE ids), one per line; '#' starts a comment.

Examples:
  pipebridge scan-gate --image $REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION
  pipebridge scan-gate --image $URI@$DIGEST --severity CRITICAL --ignore .scan-ignore \
      --timeout 15m
`

type scanAPI interface {
	ecrImagesAPI
	DescribeImageScanFindings(ctx context.Context, in *ecr.DescribeImageScanFindingsInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImageScanFindingsOutput, error)
	StartImageScan(ctx context.Context, in *ecr.StartImageScanInput, optFns ...func(*ecr.Options)) (*ecr.StartImageScanOutput, error)
}

// gate is what decides; tests drive it with a fake ECR.
type gate struct {
	client    scanAPI
	policy    severity.Policy // findings it blocks fail the gate
	ignore    map[string]bool
	timeout   time.Duration
	interval  time.Duration
	startScan bool
	log       io.Writer
	// clock for progress lines; time.Now unless a test sets it
	clock func() time.Time
}

// progressEvery is how often scan-gate says it is still waiting.
const progressEvery = 30 * time.Second

func (g *gate) now() time.Time {
	if g.clock != nil {
		return g.clock()
	}
	return time.Now()
}

func runScanGate(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("scan-gate", scanGateUsage)
	image := fs.String("image", "", "`IMAGE` to check: REPOSITORY_URI:TAG or REPOSITORY_URI@sha256:DIGEST (required)")
	severity := fs.String("severity", "CRITICAL,HIGH", "fail on findings at or above the lowest of these `LEVELS`")
	ignorePath := fs.String("ignore", "", "`FILE` of finding names to ignore, one per line")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the scan to complete")
	interval := fs.Duration("interval", 5*time.Second, "how often to poll ECR while waiting")
	startScan := fs.Bool("start-scan", false, "start a basic scan if none exists (for repositories without scan on push)")
	allowUndefined := fs.Bool("allow-undefined", false, "let findings of undefined severity (UNDEFINED, UNTRIAGED, unrecognised) pass")
	var ignoreNames multiFlag
	fs.Var(&ignoreNames, "ignore-finding", "finding `NAME` to ignore (a CVE id); repeatable")
	sourceDetail := fs.String("source-image-detail", "", "check the image in this ECR source action `FILE` (imageDetail.json) instead of --image")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *image != "" && *sourceDetail != "":
		return usagef("give --image or --source-image-detail, not both")
	case *sourceDetail != "":
		uri, err := readSourceImageDetail(*sourceDetail)
		if err != nil {
			return err
		}
		*image = uri
	case *image == "":
		return usagef("--image is required")
	}
	ref, err := imageref.Parse(*image)
	if err != nil {
		return usagef("--image: %v", err)
	}
	policy, err := parseSeverities(*severity)
	if err != nil {
		return err
	}
	policy.AllowUndefined = *allowUndefined
	if *timeout <= 0 || *interval <= 0 {
		return usagef("--timeout and --interval must be positive")
	}
	ignore := map[string]bool{}
	if *ignorePath != "" {
		if ignore, err = readIgnoreFile(*ignorePath); err != nil {
			return err
		}
	}
	for _, n := range ignoreNames {
		ignore[n] = true
	}
	cfg, err := c.loadAWS(ctx)
	if err != nil {
		return err
	}
	client := ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.Region = ref.Region })
	g := &gate{client: client, policy: policy, ignore: ignore, timeout: *timeout, interval: *interval, startScan: *startScan, log: c.stderr}
	return g.check(ctx, cfg.Region, ref)
}

// parseSeverities turns --severity into the policy: findings at or above the
// lowest level named fail. UNDEFINED and UNTRIAGED may be named; they fail
// whatever the list says, unless --allow-undefined.
func parseSeverities(s string) (severity.Policy, error) {
	lowest := severity.Level(-2)
	for _, f := range strings.Split(s, ",") {
		name := strings.ToUpper(strings.TrimSpace(f))
		l := severity.Parse(name)
		switch {
		case l == severity.Undefined && (name == "UNDEFINED" || name == "UNTRIAGED"):
			continue
		case l == severity.Undefined || l == severity.None:
			return severity.Policy{}, usagef("--severity: unknown level %q; use INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED or UNTRIAGED", f)
		case lowest == -2 || l < lowest:
			lowest = l
		}
	}
	if lowest == -2 {
		// Only undefined levels named: nothing known fails.
		return severity.Policy{Max: severity.Critical}, nil
	}
	return severity.Policy{Max: lowest - 1}, nil
}

func readIgnoreFile(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ignore file %s: %w", path, err)
	}
	return out, nil
}

func (g *gate) check(ctx context.Context, region string, ref imageref.Ref) error {
	// The scan belongs to the digest: resolve a tag first so a moved tag cannot
	// swap the image under the gate.
	ref, err := resolveDigest(ctx, g.client, region, ref)
	if err != nil {
		return err
	}
	findings, err := g.wait(ctx, ref)
	if err != nil {
		return err
	}
	blocking := g.report(ref, findings)
	if blocking > 0 {
		fmt.Fprintf(g.log, "pipebridge scan-gate: FAIL: %d finding(s) that fail the gate (%s) in %s\n", blocking, g.policy, ref.Pinned())
		return errCheckFailed
	}
	fmt.Fprintf(g.log, "pipebridge scan-gate: PASS: %s\n", ref.Pinned())
	return nil
}

// wait polls until the scan completes and returns all its findings.
func (g *gate) wait(ctx context.Context, ref imageref.Ref) ([]scan.Finding, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	started := false
	last := "not started"
	begun := g.now()
	nextProgress := begun.Add(progressEvery)
	for {
		findings, status, err := scan.Findings(ctx, g.client, ref)
		var notFound *ecrtypes.ScanNotFoundException
		switch {
		case errors.As(err, &notFound) && g.startScan && !started:
			if _, err := g.client.StartImageScan(ctx, &ecr.StartImageScanInput{
				RegistryId: aws.String(ref.Account), RepositoryName: aws.String(ref.Repository),
				ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(ref.Digest)},
			}); err != nil {
				return nil, fmt.Errorf("start scan of %s: %w", ref.Pinned(), explainAWS(err))
			}
			started = true
			fmt.Fprintf(g.log, "pipebridge scan-gate: started a scan of %s\n", ref.Pinned())
		case errors.As(err, &notFound):
			last = "no scan found (is scan on push enabled? or pass --start-scan)"
		case ctx.Err() != nil:
			// handled below
		case err != nil:
			return nil, fmt.Errorf("describe scan findings of %s: %w", ref.Pinned(), explainAWS(err))
		default:
			switch {
			case scan.Done(status):
				return findings, nil
			case scan.Pending(status):
				last = "scan " + string(status)
			default:
				return nil, scan.Ended(ref, status)
			}
		}
		if now := g.now(); !now.Before(nextProgress) {
			// A build log that says nothing for minutes looks hung.
			fmt.Fprintf(g.log, "pipebridge scan-gate: waiting for the scan of %s: %s, %s elapsed of %s\n",
				ref.Pinned(), last, now.Sub(begun).Round(time.Second), g.timeout)
			nextProgress = now.Add(progressEvery)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("scan of %s did not complete within %s (last seen: %s): failing closed", ref.Pinned(), g.timeout, last)
		case <-time.After(g.interval):
		}
	}
}

// report prints the findings table and returns how many block the gate.
func (g *gate) report(ref imageref.Ref, findings []scan.Finding) int {
	sort.SliceStable(findings, func(i, j int) bool {
		ri, rj := severity.Parse(findings[i].Severity), severity.Parse(findings[j].Severity)
		if ri != rj {
			return ri > rj
		}
		return findings[i].Name < findings[j].Name
	})
	blocking := 0
	tw := tabwriter.NewWriter(g.log, 0, 4, 2, ' ', 0)
	fmt.Fprintf(g.log, "pipebridge scan-gate: %d finding(s) for %s\n", len(findings), ref.Pinned())
	if len(findings) > 0 {
		fmt.Fprintln(tw, "SEVERITY\tNAME\tPACKAGE\tGATE")
	}
	for _, f := range findings {
		verdict := scan.Verdict(g.policy, g.ignore, f)
		if verdict == "FAIL" {
			blocking++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.Name, f.Package, verdict)
	}
	tw.Flush()
	return blocking
}
