package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pipebridge/pipebridge/test/moto"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) {
	code := m.Run()
	moto.StopShared()
	os.Exit(code)
}

// result is what one CLI run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs pipebridge in-process against the emulator (srv may be nil for
// commands that make no AWS calls) with the given environment.
func runCLI(t *testing.T, srv *moto.Server, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := &cli{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv:    func(k string) string { return env[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		loadAWS: func(ctx context.Context) (aws.Config, error) {
			if srv == nil {
				t.Fatal("command made an AWS call but the test gave no emulator")
			}
			return srv.Config(t), nil
		},
	}
	code := c.main(context.Background(), args)
	return result{code, stdout.String(), stderr.String()}
}

func (r result) want(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", r.code, code, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.stderr)
		}
	}
}

// testImage is an image pushed to the emulator with a digest we know.
type testImage struct {
	repo, tag, digest, uri string
}

func (i testImage) tagged() string { return i.uri + ":" + i.tag }
func (i testImage) pinned() string { return i.uri + "@" + i.digest }

// pushImage creates the repository if needed and puts a one-layer image under tag.
// Distinct seeds give distinct images.
func pushImage(t testing.TB, srv *moto.Server, repo, tag, seed string) testImage {
	t.Helper()
	img := srv.PushImage(t, repo, seed, tag)
	return testImage{repo: repo, tag: tag, digest: img.Digest, uri: img.URI}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// pipebridgeBinary builds the CLI once per test run, for tests that must run it as
// a separate process (the credential chain reads the real environment).
func pipebridgeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pipebridge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "pipebridge")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// assertDirHolds fails unless dir contains exactly these names (no temp files).
func assertDirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
