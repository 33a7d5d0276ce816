// Demo runs pipebridge's whole flow against local emulators, with no AWS account:
// it starts moto, creates an ECR repository, pushes an image, registers a task
// definition, and runs the built pipebridge commands against them, printing what
// each one wrote; then it loads the synthesized stack's pipelines into the
// CodePipeline stand-in and sends an ECR scan event and a signed GitHub release
// through the built Lambdas. "make demo" builds, synthesizes and runs it.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/pipebridge/pipebridge/test/moto"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("demo: ")
	dist := flag.String("dist", "dist", "directory with the built pipebridge binary and Lambdas")
	template := flag.String("template", "cdk/cdk.out/pipebridge.template.json", "the synthesized stack (make synth)")
	flag.Parse()
	if err := run(context.Background(), *dist, *template); err != nil {
		log.Fatal(err)
	}
}

type demo struct {
	srv  *moto.Server
	bin  string
	work string
	env  []string
}

func run(ctx context.Context, dist, templatePath string) error {
	template, err := os.ReadFile(templatePath)
	if err != nil {
		return fmt.Errorf("%v: run make synth first", err)
	}
	bin, err := filepath.Abs(filepath.Join(dist, "pipebridge"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%v: run make build first", err)
	}
	step("Start the AWS emulator (moto)")
	srv, err := moto.Start()
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Println("  moto_server answering on", srv.URL)
	work, err := os.MkdirTemp("", "pipebridge-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	d := &demo{srv: srv, bin: bin, work: work, env: append(srv.Env(), "AWS_ACCOUNT_ID="+moto.Account)}
	cfg, err := srv.SDKConfig(ctx)
	if err != nil {
		return err
	}

	const sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
	step("Create an ECR repository with immutable tags and scan on push")
	repo, err := ecr.NewFromConfig(cfg).CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:             aws.String("demo/web"),
		ImageTagMutability:         ecrtypes.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
	})
	if err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	uri := aws.ToString(repo.Repository.RepositoryUri)
	fmt.Println(" ", uri)

	step("Push an image tagged with the commit SHA (as docker push would)")
	digest, err := pushImage(ctx, ecr.NewFromConfig(cfg), "demo/web", sha)
	if err != nil {
		return err
	}
	fmt.Printf("  %s:%s -> %s\n", uri, sha, digest)

	step("Register the ECS task definition the service runs")
	if _, err := ecs.NewFromConfig(cfg).RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("demo-web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{
			{Name: aws.String("web"), Image: aws.String(uri + ":bootstrap"), Memory: aws.Int32(512)},
			{Name: aws.String("log-router"), Image: aws.String("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"), Memory: aws.Int32(64)},
		},
	}); err != nil {
		return fmt.Errorf("register task definition: %w", err)
	}
	fmt.Println("  demo-web:1 with containers web, log-router")

	step("pipebridge imagedefs: the deploy artifact, pinned by digest")
	if err := d.pipebridge(0, "imagedefs", "--container", "web="+uri+":"+sha, "--task-definition", "demo-web",
		"--output", "imagedefinitions.json", "--image-detail", "imageDetail.json"); err != nil {
		return err
	}
	d.show("imagedefinitions.json")
	d.show("imageDetail.json")

	step("pipebridge imagedefs with a container the task definition lacks (expected to fail)")
	if err := d.pipebridge(1, "imagedefs", "--container", "api="+uri+":"+sha, "--task-definition", "demo-web", "--output", "wrong.json"); err != nil {
		return err
	}

	step("pipebridge render: a task definition from examples/taskdef.tmpl.json")
	tmpl, _ := filepath.Abs("examples/taskdef.tmpl.json")
	if err := d.pipebridge(0, "render", "--template", tmpl, "--image", "web="+uri+"@"+digest, "--env", "web:LOG_LEVEL=debug", "--output", "taskdef.json"); err != nil {
		return err
	}
	d.show("taskdef.json")

	step("pipebridge creds: role-chained credentials for a build secret (secrets masked here)")
	if err := d.pipebridge(0, "creds", "--role-arn", "arn:aws:iam::"+moto.Account+":role/build-secrets", "--session-name", "demo", "--output", "aws-build-creds"); err != nil {
		return err
	}
	d.showMasked("aws-build-creds")

	step("pipebridge scan-gate: the scan finds nothing at HIGH or above")
	if err := srv.PutScanResult("demo/web", digest, "COMPLETE", []map[string]any{
		{"name": "CVE-2026-11111", "severity": "LOW", "attributes": []map[string]string{{"key": "package_name", "value": "libexample"}}},
	}); err != nil {
		return err
	}
	if err := d.pipebridge(0, "scan-gate", "--image", uri+":"+sha, "--start-scan", "--interval", "200ms", "--timeout", "30s"); err != nil {
		return err
	}

	step("pipebridge scan-gate on an image with a HIGH finding (expected to fail)")
	// moto's default scan result has one HIGH finding.
	if _, err := pushImage(ctx, ecr.NewFromConfig(cfg), "demo/web", "vulnerable"); err != nil {
		return err
	}
	if err := d.pipebridge(1, "scan-gate", "--image", uri+":vulnerable", "--start-scan", "--interval", "200ms", "--timeout", "30s"); err != nil {
		return err
	}

	if err := d.eventsDemo(ctx, template); err != nil {
		return err
	}
	step("Done: every command ran against the emulator; nothing touched AWS")
	return nil
}

func step(title string) { fmt.Printf("\n==> %s\n", title) }

// pipebridge runs the binary in the work directory and checks its exit status.
func (d *demo) pipebridge(wantCode int, args ...string) error {
	fmt.Printf("  $ pipebridge %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.bin, args...)
	cmd.Dir = d.work
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Println("    " + line)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return err
	}
	if code != wantCode {
		return fmt.Errorf("pipebridge %s: exit status %d, want %d", args[0], code, wantCode)
	}
	fmt.Printf("    (exit status %d)\n", code)
	return nil
}

func (d *demo) show(name string) {
	data, err := os.ReadFile(filepath.Join(d.work, name))
	if err != nil {
		fmt.Println("  ", err)
		return
	}
	fmt.Printf("  --- %s\n", name)
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fmt.Println("  " + line)
	}
}

var secretLine = regexp.MustCompile(`(?m)^(aws_secret_access_key|aws_session_token|aws_access_key_id) = .*$`)

func (d *demo) showMasked(name string) {
	data, _ := os.ReadFile(filepath.Join(d.work, name))
	fi, _ := os.Stat(filepath.Join(d.work, name))
	fmt.Printf("  --- %s (mode %v)\n", name, fi.Mode().Perm())
	masked := secretLine.ReplaceAllString(string(data), "$1 = ****")
	for _, line := range strings.Split(strings.TrimRight(masked, "\n"), "\n") {
		fmt.Println("  " + line)
	}
}

func pushImage(ctx context.Context, client *ecr.Client, repo, tag string) (string, error) {
	layer := sha256.Sum256([]byte("layer " + tag))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"sha256:%x"},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2811478,"digest":"sha256:%x"}]}`,
		sha256.Sum256([]byte("config "+tag)), layer)
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest)))
	if _, err := client.PutImage(ctx, &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageTag: aws.String(tag),
		ImageManifest: aws.String(manifest), ImageDigest: aws.String(digest),
	}); err != nil {
		return "", fmt.Errorf("push %s:%s: %w", repo, tag, err)
	}
	return digest, nil
}
