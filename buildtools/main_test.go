package main

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, nil, nil, name, "--help")
			r.want(t, 0, "Usage: pipebridge "+name, "Examples:", "Flags:\n  -")
			if n := strings.Count(r.stderr, "Usage: pipebridge "+name); n != 1 {
				t.Errorf("usage printed %d times", n)
			}
		})
	}
	r := runCLI(t, nil, nil)
	r.want(t, 2, "Usage: pipebridge <command>", "imagedefs", "scan-gate")
	runCLI(t, nil, nil, "--help").want(t, 0, "Commands:")
	runCLI(t, nil, nil, "deploy").want(t, 2, `unknown command "deploy"`)
}

func TestBadFlagIsOneLine(t *testing.T) {
	r := runCLI(t, nil, nil, "imagedefs", "--bogus")
	r.want(t, 2, "flag provided but not defined: -bogus", "Run 'pipebridge imagedefs --help'")
	if strings.Contains(r.stderr, "Examples:") {
		t.Errorf("a bad flag printed the whole manual:\n%s", r.stderr)
	}
}
