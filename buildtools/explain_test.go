package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExplainGolden(t *testing.T) {
	const dir = "testdata/explain/"
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"ecr-push", []string{"--event", dir + "ecr-push.json"}, 0},
		{"ecr-push-other-region", []string{"--event", "../internal/ecrevent/testdata/push.json"}, 1},
		{"release-with-headers", []string{"--headers", dir + "headers.txt", "--body", dir + "release-body.json", "--commit", "9fceb02d0ae598e95dc970b74767f19372d61af8"}, 0},
		{"release-without-commit", []string{"--github-event", "release", "--body", dir + "release-body.json"}, 0},
		{"tag-push", []string{"--github-event", "push", "--body", "../internal/ghevent/testdata/push.tag-created.json"}, 1},
		{"tag-deleted", []string{"--github-event", "push", "--body", "../internal/ghevent/testdata/github/push.json"}, 1},
		{"ecr-push-long-tag", []string{"--event", dir + "ecr-push-long-tag.json"}, 1},
		// AWS's sample CodePipeline event (test/codepipeline/testdata), for worker-staging succeeding.
		{"pipeline-succeeded", []string{"--event", dir + "pipeline-succeeded.json", "--digest", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, 0},
		{"pipeline-succeeded-no-digest", []string{"--event", dir + "pipeline-succeeded.json"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, nil, append([]string{"explain", "--routes", "../examples/routes.json"}, tt.args...)...)
			r.want(t, tt.code)
			golden := filepath.Join(dir, tt.name+".golden.txt")
			if *update {
				os.WriteFile(golden, []byte(r.stdout), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if diff := cmp.Diff(string(want), r.stdout); diff != "" {
				t.Errorf("explain output differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestExplainBadInput(t *testing.T) {
	dir := t.TempDir()
	badRoutes := filepath.Join(dir, "routes.json")
	os.WriteFile(badRoutes, []byte(`{"routes": [{"name": "x", "github": {"repository": "a/b"}, "pipline": "p"}]}`), 0o644)
	badHeaders := filepath.Join(dir, "headers.txt")
	os.WriteFile(badHeaders, []byte("X-GitHub-Event release\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no routes", []string{"--event", "x"}, 2, "--routes is required"},
		{"no event", []string{"--routes", "../examples/routes.json"}, 2, "give --event (ECR) or --body (GitHub)"},
		{"body without type", []string{"--routes", "../examples/routes.json", "--body", "x"}, 2, "needs --headers or --github-event"},
		{"bad table", []string{"--routes", badRoutes, "--event", "testdata/explain/ecr-push.json"}, 1, `routes[0]: json: unknown field "pipline"`},
		{"bad headers", []string{"--routes", "../examples/routes.json", "--headers", badHeaders, "--body", "testdata/explain/release-body.json"}, 1, `headers.txt:1: want "Name: value"`},
		{"bad digest", []string{"--routes", "../examples/routes.json", "--event", "testdata/explain/pipeline-succeeded.json", "--digest", "v1.2.3"}, 2, `--digest "v1.2.3": want sha256:`},
		{"malformed event", []string{"--routes", "../examples/routes.json", "--event", "testdata/explain/headers.txt"}, 1, "malformed ECR event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCLI(t, nil, nil, append([]string{"explain"}, tt.args...)...).want(t, tt.code, tt.want)
		})
	}
}
