package lambdaruntime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildFlags are the flags "make build" uses for a Lambda's bootstrap: no RPC
// mode (provided.al2023 speaks the Runtime API), no cgo, stripped.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Build compiles the package at pkg (a path like ./lambdas/ecrpush, relative to
// the module root dir) to out, for this machine's architecture unless goarch is
// set. Tests run the result under Start.
func Build(dir, pkg, out, goarch string) error {
	args := append([]string{"build"}, BuildFlags...)
	cmd := exec.Command("go", append(args, "-o", out, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// ModuleRoot finds the directory holding go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
