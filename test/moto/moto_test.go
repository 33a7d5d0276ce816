package moto

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Without moto_server on PATH, a test that needs it fails with the install hint,
// unless the opt-out is set; CI=true ignores the opt-out.
func TestMissingEmulatorFails(t *testing.T) {
	if os.Getenv("PIPEBRIDGE_MOTO_CHILD") == "1" {
		Shared(t)
		return
	}
	tests := []struct {
		name     string
		env      []string
		wantFail bool
		says     string
	}{
		{"no opt-out", nil, true, "pip install"},
		{"opt-out", []string{SkipEnv + "=1"}, false, "skipped: " + SkipEnv + "=1"},
		{"opt-out under CI", []string{SkipEnv + "=1", "CI=true"}, true, "pip install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestMissingEmulatorFails$", "-test.v")
			// A PATH without moto_server (and a CI variable only where the case sets it).
			cmd.Env = append([]string{"PATH=/nonexistent", "PIPEBRIDGE_MOTO_CHILD=1", "HOME=" + os.TempDir()}, tt.env...)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("failed = %v, want %v:\n%s", failed, tt.wantFail, out)
			}
			if !strings.Contains(string(out), tt.says) {
				t.Errorf("output does not say %q:\n%s", tt.says, out)
			}
		})
	}
}
