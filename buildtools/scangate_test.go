package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/severity"
	"github.com/pipebridge/pipebridge/test/moto"
)

func TestScanGate(t *testing.T) {
	srv := moto.Shared(t)
	ignore := filepath.Join(t.TempDir(), "ignore")
	os.WriteFile(ignore, []byte("# accepted until the base image moves\nCVE-2026-0001  # openssl, not reachable\n\n"), 0o644)
	findings := []map[string]any{
		{"name": "CVE-2026-0001", "severity": "CRITICAL", "attributes": []map[string]string{{"key": "package_name", "value": "openssl"}}},
		{"name": "CVE-2026-0002", "severity": "MEDIUM", "attributes": []map[string]string{{"key": "package_name", "value": "zlib"}}},
		{"name": "CVE-2026-0003", "severity": "LOW"},
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"critical fails by default", nil, 1, []string{"CRITICAL  CVE-2026-0001  openssl  FAIL", "FAIL: 1 finding(s)"}},
		{"ignored finding passes", []string{"--ignore", ignore}, 0, []string{"CVE-2026-0001  openssl  ignored", "PASS"}},
		{"lower threshold catches medium", []string{"--ignore", ignore, "--severity", "MEDIUM"}, 1, []string{"MEDIUM    CVE-2026-0002  zlib     FAIL", "FAIL: 1 finding(s)"}},
		{"list means its lowest level", []string{"--severity", "critical,low"}, 1, []string{"FAIL: 3 finding(s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Reset(t)
			img := pushImage(t, srv, "web", "abc123", "web-1")
			srv.SetScanResult(t, img.repo, img.digest, "COMPLETE", findings)
			args := append([]string{"scan-gate", "--image", img.tagged(), "--start-scan", "--interval", "50ms", "--timeout", "10s"}, tt.args...)
			runCLI(t, srv, nil, args...).want(t, tt.code, tt.want...)
		})
	}
}

func TestScanGateNeverCompletes(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	srv.SetScanResult(t, img.repo, img.digest, "IN_PROGRESS", nil)
	r := runCLI(t, srv, nil, "scan-gate", "--image", img.tagged(), "--start-scan", "--interval", "100ms", "--timeout", "3s")
	r.want(t, 1, "did not complete within 3s (last seen: scan IN_PROGRESS): failing closed")
}

func TestScanGateNoScan(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	r := runCLI(t, srv, nil, "scan-gate", "--image", img.pinned(), "--interval", "100ms", "--timeout", "2s")
	r.want(t, 1, "no scan found (is scan on push enabled? or pass --start-scan)")
}

func TestScanGateFailedScan(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	srv.SetScanResult(t, img.repo, img.digest, "UNSUPPORTED_IMAGE", nil)
	r := runCLI(t, srv, nil, "scan-gate", "--image", img.tagged(), "--start-scan", "--interval", "50ms")
	r.want(t, 1, "ended with status UNSUPPORTED_IMAGE")
}

func TestScanGateBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", nil, "--image is required"},
		{"bad severity", []string{"--image", testImageURI, "--severity", "SEVERE"}, `unknown level "SEVERE"`},
		{"not ECR", []string{"--image", "nginx:1.27"}, "no registry host"},
		{"zero timeout", []string{"--image", testImageURI, "--timeout", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCLI(t, nil, nil, append([]string{"scan-gate"}, tt.args...)...).want(t, 2, tt.want)
		})
	}
}

func TestParseSeverities(t *testing.T) {
	tests := []struct {
		in   string
		want severity.Policy
	}{
		{"CRITICAL,HIGH", severity.Policy{Max: severity.Medium}},
		{"medium", severity.Policy{Max: severity.Low}},
		{"critical,low", severity.Policy{Max: severity.Informational}},
		{"HIGH,UNDEFINED", severity.Policy{Max: severity.Medium}},
		{"UNTRIAGED", severity.Policy{Max: severity.Critical}},
	}
	for _, tt := range tests {
		got, err := parseSeverities(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("parseSeverities(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// The gate fails closed on severities it cannot rank, in any letter case, and on
// statuses that leave nothing to judge; enhanced scanning's ACTIVE passes.
func TestScanGateFailsClosed(t *testing.T) {
	srv := moto.Shared(t)
	tests := []struct {
		name     string
		status   string
		severity string
		args     []string
		code     int
		want     string
	}{
		{"UNDEFINED fails", "COMPLETE", "UNDEFINED", nil, 1, "FAIL: 1 finding(s) that fail the gate"},
		{"UNDEFINED allowed", "COMPLETE", "UNDEFINED", []string{"--allow-undefined"}, 0, "PASS"},
		{"lower-case critical fails", "COMPLETE", "critical", nil, 1, "FAIL: 1 finding(s) that fail the gate"},
		{"unrecognised severity fails", "COMPLETE", "SEVERE", nil, 1, "FAIL: 1 finding(s) that fail the gate"},
		{"UNTRIAGED (enhanced) fails", "ACTIVE", "UNTRIAGED", nil, 1, "FAIL: 1 finding(s)"},
		{"enhanced ACTIVE with a LOW finding passes", "ACTIVE", "LOW", nil, 0, "PASS"},
		{"enhanced eligibility expired", "SCAN_ELIGIBILITY_EXPIRED", "LOW", nil, 1, "ended with status SCAN_ELIGIBILITY_EXPIRED"},
		{"enhanced findings unavailable", "FINDINGS_UNAVAILABLE", "LOW", nil, 1, "ended with status FINDINGS_UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Reset(t)
			img := pushImage(t, srv, "web", "abc123", "web-1")
			srv.SetScanResult(t, img.repo, img.digest, tt.status, []map[string]any{{"name": "CVE-2026-0009", "severity": tt.severity}})
			args := append([]string{"scan-gate", "--image", img.tagged(), "--start-scan", "--interval", "50ms", "--timeout", "10s"}, tt.args...)
			runCLI(t, srv, nil, args...).want(t, tt.code, tt.want)
		})
	}
}

// The flags the CDK app passes: ignores by name, and the image from the ECR
// source action's imageDetail.json.
func TestScanGateConfigFlags(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	srv.SetScanResult(t, img.repo, img.digest, "COMPLETE", []map[string]any{{"name": "CVE-2026-0001", "severity": "HIGH"}})
	detail := filepath.Join(t.TempDir(), "imageDetail.json")
	os.WriteFile(detail, []byte(`{"ImageDigest":"`+img.digest+`","RepositoryName":"web","ImageURI":"`+img.pinned()+`","ImageTags":["abc123"]}`), 0o644)
	base := []string{"scan-gate", "--source-image-detail", detail, "--start-scan", "--interval", "50ms", "--timeout", "5s"}
	runCLI(t, srv, nil, append(base, "--severity", "HIGH")...).want(t, 1, "HIGH      CVE-2026-0001", "FAIL: 1 finding(s)")
	runCLI(t, srv, nil, append(base, "--severity", "HIGH", "--ignore-finding", "CVE-2026-0001")...).want(t, 0, "ignored", "PASS")
	runCLI(t, srv, nil, "scan-gate", "--image", img.tagged(), "--source-image-detail", detail).want(t, 2, "not both")
}

// While it waits, scan-gate says so every 30 seconds of the clock.
func TestScanGateProgress(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	srv.SetScanResult(t, img.repo, img.digest, "IN_PROGRESS", nil)
	ref, err := imageref.Parse(img.pinned())
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	clock := time.Unix(0, 0)
	g := &gate{client: ecr.NewFromConfig(srv.Config(t)), timeout: 500 * time.Millisecond, interval: 20 * time.Millisecond, log: &log,
		clock: func() time.Time { clock = clock.Add(10 * time.Second); return clock }}
	if _, err := g.wait(t.Context(), ref); err == nil || !strings.Contains(err.Error(), "failing closed") {
		t.Fatalf("wait = %v, want a timeout", err)
	}
	lines := strings.Count(log.String(), "pipebridge scan-gate: waiting for the scan of "+ref.Pinned()+": ")
	// The clock moves 10 s a poll: a line every third poll, never every poll.
	if polls := int(clock.Unix() / 10); lines == 0 || lines > polls/3+1 {
		t.Errorf("%d progress lines over %d polls:\n%s", lines, polls, log.String())
	}
	if !strings.Contains(log.String(), "elapsed of 500ms") {
		t.Errorf("progress lines do not say the timeout:\n%s", log.String())
	}
}
