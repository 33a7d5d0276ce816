package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

// The example workflow must pass actionlint, and must ask for an OIDC token
// rather than use stored keys.
func TestExampleWorkflow(t *testing.T) {
	const path = "../examples/github-actions/push-image.yml"
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s:%d:%d: %s [%s]", path, e.Line, e.Column, e.Message, e.Kind)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Permissions map[string]string
		Jobs        map[string]struct {
			Steps []struct {
				Uses string
				With map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Permissions["id-token"] != "write" {
		t.Errorf("permissions.id-token = %q, want write (OIDC)", wf.Permissions["id-token"])
	}
	assumes := false
	for _, st := range wf.Jobs["push"].Steps {
		if strings.HasPrefix(st.Uses, "aws-actions/configure-aws-credentials@") {
			assumes = st.With["role-to-assume"] != ""
			for k := range st.With {
				if strings.Contains(k, "secret-access-key") || strings.Contains(k, "access-key-id") {
					t.Errorf("the workflow passes stored keys (%s)", k)
				}
			}
		}
	}
	if !assumes {
		t.Errorf("the workflow does not assume the push role")
	}
}

// A workflow with a mistake must fail the lint, or the test above proves nothing.
func TestActionlintCatchesMistakes(t *testing.T) {
	linter, _ := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	bad := []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ steps.nope.outputs.x }}\n")
	errs, err := linter.Lint("bad.yml", bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) == 0 {
		t.Fatal("actionlint accepted a reference to an undefined step")
	}
}
