// Package moto runs moto's AWS emulator (moto_server) for tests.
//
// One server is shared by all tests of a package: the first call to Shared starts it
// on a free 127.0.0.1 port and waits until it answers; Reset clears its state between
// tests; StopShared, called from TestMain, stops it. The server is killed with its
// whole process group, and also when the test binary dies (Pdeathsig), so no process
// is left behind.
//
// When moto_server is not on PATH, tests fail with a message saying how to install
// it: a run must never pass by skipping. Only an explicit opt-out,
// PIPEBRIDGE_SKIP_EMULATOR_TESTS=1, skips them instead (never under CI=true).
package moto

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region and Account are what moto uses by default.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// InstallHint says how to get the emulator.
const InstallHint = `moto_server not found on PATH: install it with pip install "moto[server]"`

// Server is a running moto_server.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts moto_server on a free port and waits up to 30 s for it to answer.
func Start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("%s", InstallHint)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("moto_server exited before it answered:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("moto_server did not answer on %s within 30s:\n%s", s.URL, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and its process group and waits for it to exit.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Reset clears all of the emulator's state.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: HTTP %d", resp.StatusCode)
	}
}

// SDKConfig is an SDK configuration pointed at the server with static test
// credentials and no retries (a retried 500 costs seconds).
func (s *Server) SDKConfig(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")),
		config.WithRetryMaxAttempts(1),
	)
}

// Config is SDKConfig for tests.
func (s *Server) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := s.SDKConfig(context.Background())
	if err != nil {
		t.Fatalf("load SDK config: %v", err)
	}
	return cfg
}

// Env is the environment for a child process (pipebridge, the AWS CLI) that must
// talk to the server and to nothing else: the inherited environment without any
// AWS_ variables, plus the endpoint, region and test credentials.
func (s *Server) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) >= 4 && kv[:4] == "AWS_" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_ENDPOINT_URL="+s.URL,
		"AWS_REGION="+Region,
		"AWS_DEFAULT_REGION="+Region,
		"AWS_ACCESS_KEY_ID=AKIDTEST",
		"AWS_SECRET_ACCESS_KEY=test-secret",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_MAX_ATTEMPTS=1",
	)
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// SkipEnv is the explicit opt-out that lets tests skip when moto_server is missing.
const SkipEnv = "PIPEBRIDGE_SKIP_EMULATOR_TESTS"

// Shared returns the package's server, starting it on first use, with its state
// reset. Without moto_server the test fails, unless SkipEnv=1 is set outside CI.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start()
	}
	if sharedErr != nil {
		if os.Getenv(SkipEnv) == "1" && os.Getenv("CI") != "true" {
			t.Skipf("AWS emulator: %v (skipped: %s=1)", sharedErr, SkipEnv)
		}
		t.Fatalf("AWS emulator: %v (or set %s=1 to skip the emulator tests on purpose)", sharedErr, SkipEnv)
	}
	shared.Reset(t)
	return shared
}

// StopShared stops the package's server if one was started. Call it from TestMain
// after m.Run.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	shared.Stop()
	shared = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SetScanResult makes DescribeImageScanFindings answer with status and findings
// (ECR's JSON form: name, severity, attributes) for the image with digest in repo,
// or for any image in repo when digest is empty. It uses moto's static-result API.
func (s *Server) SetScanResult(t testing.TB, repo, digest, status string, findings []map[string]any) {
	t.Helper()
	if err := s.PutScanResult(repo, digest, status, findings); err != nil {
		t.Fatal(err)
	}
}

// PutScanResult is SetScanResult for programs.
func (s *Server) PutScanResult(repo, digest, status string, findings []map[string]any) error {
	imageID := map[string]string{}
	if digest != "" {
		imageID["imageDigest"] = digest
	}
	body, err := json.Marshal(map[string]any{
		"region": Region,
		"results": []any{map[string]any{
			"registryId": Account, "repositoryName": repo, "imageId": imageID,
			"imageScanStatus":   map[string]string{"status": status, "description": "set by test"},
			"imageScanFindings": map[string]any{"findings": findings},
		}},
	})
	if err != nil {
		return err
	}
	resp, err := http.Post(s.URL+"/moto-api/static/ecr/scan-finding-results", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("set scan result: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("set scan result: HTTP %d", resp.StatusCode)
	}
	return nil
}
