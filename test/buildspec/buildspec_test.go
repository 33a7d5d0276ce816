// Package buildspec tests buildspec.yml by running its phases the way CodeBuild
// does, with a docker stand-in that pushes to the AWS emulator, and the real AWS CLI
// and pipebridge pointed at the emulator.
package buildspec

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"gopkg.in/yaml.v3"

	"github.com/pipebridge/pipebridge/test/moto"
)

func TestMain(m *testing.M) {
	code := m.Run()
	moto.StopShared()
	os.Exit(code)
}

// buildspec is the part of CodeBuild's buildspec format that the file uses. Decoding
// is strict, so a key this runner does not know fails the test rather than being
// silently skipped.
type buildspec struct {
	Version string `yaml:"version"`
	Env     struct {
		Variables         map[string]string `yaml:"variables"`
		ExportedVariables []string          `yaml:"exported-variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		Commands []string `yaml:"commands"`
	} `yaml:"phases"`
	Artifacts struct {
		Files []string `yaml:"files"`
	} `yaml:"artifacts"`
}

func load(t *testing.T) buildspec {
	t.Helper()
	f, err := os.Open("../../buildspec.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var bs buildspec
	if err := dec.Decode(&bs); err != nil {
		t.Fatalf("buildspec.yml: %v", err)
	}
	if bs.Version != "0.2" {
		t.Fatalf("buildspec version %q, want 0.2 (one shell for all commands)", bs.Version)
	}
	for name := range bs.Phases {
		switch name {
		case "install", "pre_build", "build", "post_build":
		default:
			t.Fatalf("unknown phase %q", name)
		}
	}
	return bs
}

// script turns the buildspec into one bash script with CodeBuild's semantics:
// buildspec variables yield to the project's; all commands share one shell; a
// failing command fails its phase; a failure in install or pre_build stops the
// build; post_build runs even after build failed, with CODEBUILD_BUILD_SUCCEEDING=0.
func script(bs buildspec) string {
	var b strings.Builder
	for k, v := range bs.Env.Variables {
		fmt.Fprintf(&b, "export %s=\"${%s-%s}\"\n", k, k, v)
	}
	// failed is "early" after install or pre_build failed, "late" after build or
	// post_build did; stop ends the current phase at its first failing command.
	b.WriteString("export CODEBUILD_BUILD_SUCCEEDING=1\nfailed=\n")
	for _, phase := range []string{"install", "pre_build", "build", "post_build"} {
		runIf := `[ -z "$failed" ]`
		kind := "early"
		if phase == "build" || phase == "post_build" {
			kind = "late"
		}
		if phase == "post_build" {
			runIf = `[ "$failed" != early ]`
		}
		fmt.Fprintf(&b, "stop=\nif %s; then echo '[phase %s]' >&2; else stop=1; fi\n", runIf, phase)
		for i, cmd := range bs.Phases[phase].Commands {
			fmt.Fprintf(&b, "if [ -z \"$stop\" ]; then\n{\n%s\n}\nrc=$?\n", cmd)
			fmt.Fprintf(&b, "if [ $rc -ne 0 ]; then echo '[phase %s: command %d failed]' >&2; stop=1; [ -n \"$failed\" ] || failed=%s; CODEBUILD_BUILD_SUCCEEDING=0; fi\nfi\n", phase, i+1, kind)
		}
	}
	// CodeBuild exports the exported-variables' values as the build ends; the
	// runner writes them to $EXPORTED_VARIABLES_FILE, NAME=VALUE lines.
	for _, v := range bs.Env.ExportedVariables {
		fmt.Fprintf(&b, "printf '%%s=%%s\\n' %s \"${%s:-}\" >> \"$EXPORTED_VARIABLES_FILE\"\n", v, v)
	}
	b.WriteString("[ -z \"$failed\" ]\n")
	return b.String()
}

type run struct {
	dir, log, output string
	exported         map[string]string
	err              error
}

func runBuildspec(t *testing.T, srv *moto.Server, extraEnv ...string) run {
	t.Helper()
	bs := load(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	src := filepath.Join(dir, "src")
	os.MkdirAll(bin, 0o755)
	os.MkdirAll(src, 0o755)
	shim, _ := filepath.Abs("testdata/docker")
	if err := os.Symlink(shim, filepath.Join(bin, "docker")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM scratch\nRUN --mount=type=secret,id=aws,target=/root/.aws/credentials true\n"), 0o644)

	var path []string
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		// Only the pipebridge the install phase builds may be found.
		if _, err := os.Stat(filepath.Join(p, "pipebridge")); err == nil {
			continue
		}
		path = append(path, p)
	}
	log := filepath.Join(dir, "docker.log")
	env := append(srv.Env(),
		"PATH="+bin+string(os.PathListSeparator)+strings.Join(path, string(os.PathListSeparator)),
		"DOCKER_SHIM_LOG="+log,
		"EXPORTED_VARIABLES_FILE="+filepath.Join(dir, "exported"),
		"PIPEBRIDGE_SRC="+root,
		"PIPEBRIDGE_BIN_DIR="+bin,
		"CODEBUILD_RESOLVED_SOURCE_VERSION=4f6c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b",
		"CODEBUILD_SRC_DIR="+src,
		"REPOSITORY_URI="+moto.Account+".dkr.ecr.us-east-1.amazonaws.com/shop/web",
		"CONTAINER_NAME=web",
		"TASK_DEFINITION=shop",
		"SCAN_GATE_FLAGS=--start-scan --interval 100ms --timeout 20s",
	)
	env = append(env, extraEnv...)
	cmd := exec.Command("bash", "-c", script(bs))
	cmd.Dir = src
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	exported := map[string]string{}
	data, _ := os.ReadFile(filepath.Join(dir, "exported"))
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			exported[k] = v
		}
	}
	return run{dir: src, log: log, output: string(out), exported: exported, err: err}
}

func setup(t *testing.T) (*moto.Server, *ecr.Client) {
	srv := moto.Shared(t)
	cfg := srv.Config(t)
	client := ecr.NewFromConfig(cfg)
	if _, err := client.CreateRepository(t.Context(), &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String("shop/web"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ecs.NewFromConfig(cfg).RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("shop"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("x"), Memory: aws.Int32(128)}},
	}); err != nil {
		t.Fatal(err)
	}
	return srv, client
}

func TestBuildspecPushesGatesAndPins(t *testing.T) {
	srv, client := setup(t)
	srv.SetScanResult(t, "shop/web", "", "COMPLETE", nil)
	r := runBuildspec(t, srv, "RELEASE_TAG=v1.2.0", "BUILD_SECRETS_ROLE_ARN=arn:aws:iam::123456789012:role/build-secrets")
	if r.err != nil {
		t.Fatalf("buildspec failed: %v\n%s", r.err, r.output)
	}

	// Both tags point at one image, and the artifact pins that image's digest.
	out, err := client.DescribeImages(t.Context(), &ecr.DescribeImagesInput{
		RepositoryName: aws.String("shop/web"),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageTag: aws.String("4f6c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b")}, {ImageTag: aws.String("v1.2.0")}},
	})
	if err != nil {
		t.Fatalf("describe pushed images: %v", err)
	}
	if len(out.ImageDetails) == 0 {
		t.Fatal("no image was pushed")
	}
	digest := aws.ToString(out.ImageDetails[0].ImageDigest)
	for _, d := range out.ImageDetails {
		if aws.ToString(d.ImageDigest) != digest {
			t.Errorf("tags point at different digests: %s and %s", digest, aws.ToString(d.ImageDigest))
		}
	}
	bs := load(t)
	for _, f := range bs.Artifacts.Files {
		if _, err := os.Stat(filepath.Join(r.dir, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(r.dir, "imagedefinitions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var defs []map[string]string
	if err := json.Unmarshal(data, &defs); err != nil {
		t.Fatal(err)
	}
	want := moto.Account + ".dkr.ecr.us-east-1.amazonaws.com/shop/web@" + digest
	if len(defs) != 1 || defs[0]["name"] != "web" || defs[0]["imageUri"] != want {
		t.Errorf("imagedefinitions.json = %s, want [{web %s}]", data, want)
	}
	// The Build action's output variable that promotions read: the pinned digest.
	if got := r.exported["IMAGE_DIGEST"]; got != digest {
		t.Errorf("exported IMAGE_DIGEST = %q, want %s (exported: %v)", got, digest, r.exported)
	}

	// Docker got the registry login and the secret by --secret, never a build arg.
	logData, _ := os.ReadFile(r.log)
	calls := string(logData)
	if !strings.Contains(calls, "login --username AWS --password-stdin "+moto.Account+".dkr.ecr.us-east-1.amazonaws.com") {
		t.Errorf("no ECR login in docker calls:\n%s", calls)
	}
	m := regexp.MustCompile(`--secret id=aws,src=(\S+)`).FindStringSubmatch(calls)
	if m == nil {
		t.Fatalf("buildx build got no --secret id=aws:\n%s", calls)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the credentials file %s outlived the build", m[1])
	}
	if _, err := os.Stat(r.log + ".build-args"); err == nil {
		t.Errorf("buildx build got --build-arg flags")
	}
	if strings.Contains(r.output, "aws_secret_access_key") {
		t.Errorf("the build log shows credentials")
	}
}

func TestBuildspecStopsOnScanFindings(t *testing.T) {
	srv, _ := setup(t)
	// moto's default scan result has a HIGH finding.
	r := runBuildspec(t, srv)
	if r.err == nil {
		t.Fatalf("buildspec passed with a HIGH finding:\n%s", r.output)
	}
	for _, want := range []string{"CVE-9999-9999", "[phase build: command 2 failed]", "[phase post_build]"} {
		if !strings.Contains(r.output, want) {
			t.Errorf("output does not contain %q:\n%s", want, r.output)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "imagedefinitions.json")); err == nil {
		t.Errorf("imagedefinitions.json was written for an image that failed the gate")
	}
}

func TestBuildspecNeedsRepository(t *testing.T) {
	srv, _ := setup(t)
	r := runBuildspec(t, srv, "REPOSITORY_URI=")
	if r.err == nil || !strings.Contains(r.output, "REPOSITORY_URI is not set") {
		t.Fatalf("want a failure naming REPOSITORY_URI, got %v:\n%s", r.err, r.output)
	}
}

// Staging builds v1.2.0-rc.1 from a commit; prod then releases v1.2.0 from the same
// commit; then prod's pipeline is re-run. With immutable tags a second push of the
// commit's tag would fail: the build must reuse the image and add the release tag.
func TestBuildspecPromotesAnExistingImage(t *testing.T) {
	srv, client := setup(t)
	srv.SetScanResult(t, "shop/web", "", "COMPLETE", nil)
	var builds int
	for _, tag := range []string{"v1.2.0-rc.1", "v1.2.0", "v1.2.0"} {
		r := runBuildspec(t, srv, "RELEASE_TAG="+tag)
		if r.err != nil {
			t.Fatalf("release %s: %v\n%s", tag, r.err, r.output)
		}
		calls, _ := os.ReadFile(r.log)
		builds += strings.Count(string(calls), "buildx build")
	}
	if builds != 1 {
		t.Errorf("%d image builds for one commit, want 1", builds)
	}
	out, err := client.DescribeImages(t.Context(), &ecr.DescribeImagesInput{
		RepositoryName: aws.String("shop/web"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("4f6c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b")},
			{ImageTag: aws.String("v1.2.0-rc.1")}, {ImageTag: aws.String("v1.2.0")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]bool{}
	for _, d := range out.ImageDetails {
		digests[aws.ToString(d.ImageDigest)] = true
	}
	if len(out.ImageDetails) == 0 || len(digests) != 1 {
		t.Errorf("the commit and release tags point at %d images, want 1: %+v", len(digests), digests)
	}
}

// What the CDK app sets for an environment: ECS_SERVICE makes imagedefs check the
// container against the service's current task definition, and SCAN_GATE=off
// (scanGate: {off: true}) skips the gate, here over moto's HIGH finding.
func TestBuildspecServiceCheckAndGateOff(t *testing.T) {
	srv, _ := setup(t)
	client := ecs.NewFromConfig(srv.Config(t))
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	other, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("api"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("api"), Image: aws.String("x"), Memory: aws.Int32(128)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, td := range map[string]string{"shop": "shop:1", "api": aws.ToString(other.TaskDefinition.TaskDefinitionArn)} {
		if _, err := client.CreateService(t.Context(), &ecs.CreateServiceInput{
			Cluster: aws.String("prod"), ServiceName: aws.String(name), TaskDefinition: aws.String(td), DesiredCount: aws.Int32(0),
		}); err != nil {
			t.Fatal(err)
		}
	}

	r := runBuildspec(t, srv, "SCAN_GATE=off", "ECS_SERVICE=prod/shop", "TASK_DEFINITION=")
	if r.err != nil {
		t.Fatalf("buildspec failed: %v\n%s", r.err, r.output)
	}
	if !strings.Contains(r.output, "scan gate off for this environment") || strings.Contains(r.output, "scan-gate") {
		t.Errorf("the output does not show the gate skipped:\n%s", r.output)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "imagedefinitions.json")); err != nil {
		t.Errorf("imagedefinitions.json: %v", err)
	}

	r = runBuildspec(t, srv, "SCAN_GATE=off", "ECS_SERVICE=prod/api", "TASK_DEFINITION=")
	if r.err == nil || !strings.Contains(r.output, "has no container named web") {
		t.Fatalf("want a failure naming the container, got %v:\n%s", r.err, r.output)
	}
}

// With a cache repository the build reads and writes BuildKit's registry cache
// there, in the form ECR accepts; without one it uses no cache flags.
func TestBuildspecLayerCache(t *testing.T) {
	srv, _ := setup(t)
	srv.SetScanResult(t, "shop/web", "", "COMPLETE", nil)
	cache := moto.Account + ".dkr.ecr.us-east-1.amazonaws.com/shop/web-cache"
	r := runBuildspec(t, srv, "CACHE_REPOSITORY_URI="+cache)
	if r.err != nil {
		t.Fatalf("buildspec failed: %v\n%s", r.err, r.output)
	}
	got, _ := os.ReadFile(r.log + ".cache")
	if want := "cache-from " + cache + ":buildcache\ncache-to " + cache + ":buildcache\n"; string(got) != want {
		t.Errorf("cache flags %q, want %q", got, want)
	}

	srv, _ = setup(t)
	srv.SetScanResult(t, "shop/web", "", "COMPLETE", nil)
	r = runBuildspec(t, srv)
	if r.err != nil {
		t.Fatalf("buildspec failed: %v\n%s", r.err, r.output)
	}
	if _, err := os.Stat(r.log + ".cache"); err == nil {
		t.Error("cache flags without a cache repository")
	}
}
