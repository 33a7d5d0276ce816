package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/pipebridge/pipebridge/cdk/config"
	"github.com/pipebridge/pipebridge/internal/routes"
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

// The tags the example workflow pushes deploy through a route of the example
// config, from the app whose push role the workflow's job can assume.
func TestExampleWorkflowTagsAreRouted(t *testing.T) {
	data, err := os.ReadFile("../examples/github-actions/push-image.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On struct {
			Push struct{ Tags []string }
		} `yaml:"on"`
		Jobs map[string]struct {
			Environment string
			Steps       []struct {
				Env map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	job := wf.Jobs["push"]
	if len(wf.On.Push.Tags) == 0 || job.Environment == "" {
		t.Fatalf("the workflow should run on tag pushes from a deployment environment: %+v", wf)
	}
	pushesRefName := false
	for _, st := range job.Steps {
		if st.Env["TAG"] == "${{ github.ref_name }}" {
			pushesRefName = true
		}
	}
	if !pushesRefName {
		t.Fatalf("the workflow does not tag the image with the pushed tag (github.ref_name)")
	}
	cfg, err := config.Load("../pipebridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ecr, _, err := cfg.RouteTables()
	if err != nil {
		t.Fatal(err)
	}
	apps := 0
	for _, a := range cfg.Apps {
		if a.GitHubActions == nil || a.GitHubActions.Environment != job.Environment {
			continue
		}
		apps++
		for _, pattern := range wf.On.Push.Tags {
			// A release tag the pattern admits, as a person would push it.
			tag := strings.Replace(pattern, "*", "1.2.3", 1)
			// Its push, or its clean scan (routes that wait for the scan).
			ev := routes.Event{Kind: routes.KindECRPush, ID: "e", Account: cfg.Account, Region: cfg.Region, Repository: a.ECR.Repository,
				Tag: tag, Digest: "sha256:" + strings.Repeat("a", 64)}
			scan := ev
			scan.Kind, scan.Tag, scan.Tags, scan.Findings = routes.KindECRScan, "", []string{tag}, map[string]int64{}
			if len(routes.Matched(ecr.Select(ev)))+len(routes.Matched(ecr.Select(scan))) == 0 {
				t.Errorf("the workflow pushes %s:%s; no route of the example config deploys it: push %v, scan %v", a.ECR.Repository, tag, routes.Reasons(ecr.Select(ev)), routes.Reasons(ecr.Select(scan)))
			}
		}
	}
	if apps != 1 {
		t.Errorf("%d apps trust the workflow's environment %q, want 1", apps, job.Environment)
	}
}

// examples/routes.json names only pipelines, variables and source actions that
// the example config's pipelines declare.
func TestExampleRoutesFitThePipelines(t *testing.T) {
	data, err := os.ReadFile("../examples/routes.json")
	if err != nil {
		t.Fatal(err)
	}
	table, err := routes.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutesAgainstPipelines(t, example(t), "examples/routes.json", table)
}
