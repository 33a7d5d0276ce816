package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipebridge/pipebridge/test/moto"
)

const testImageURI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:1bf5173766410bc1d1690e1bf2f082580a90db377b10f509b8c864ef94bf7639"

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name, template string
		env            map[string]string
		args           []string
	}{
		{"fargate", "fargate.tmpl.json", map[string]string{"ENV_NAME": "prod"},
			[]string{"--image", "web=" + testImageURI, "--env", "web:LOG_LEVEL=debug", "--env", "web:FEATURE=on"}},
		{"describe-output", "describe-output.tmpl.json", map[string]string{"TEAM": "payments"},
			[]string{"--image", "app=" + testImageURI}},
		{"codedeploy", "describe-output.tmpl.json", map[string]string{"TEAM": "payments"},
			[]string{"--placeholder", "app", "--placeholder", "envoy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "taskdef.json")
			args := append([]string{"render", "--template", filepath.Join("testdata/render", tt.template), "--output", out}, tt.args...)
			runCLI(t, nil, tt.env, args...).want(t, 0)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/render", tt.name+".golden.json")
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("rendered task definition differs from %s (-want +got):\n%s", golden, diff)
			}
			if tt.name == "codedeploy" && !strings.Contains(string(got), `"image": "<IMAGE1_NAME>"`) {
				t.Errorf("CodeDeploy placeholder is not literal text in the output")
			}
		})
	}
}

// The rendered output must be what the AWS CLI accepts as --cli-input-json, field
// for field: the CLI validates input against the ECS API model before sending.
func TestRenderAcceptedByAWSCLI(t *testing.T) {
	srv := moto.Shared(t)
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the AWS CLI is needed for this test: %v", err)
	}
	for _, golden := range []string{"fargate", "describe-output"} {
		t.Run(golden, func(t *testing.T) {
			cmd := exec.Command("aws", "ecs", "register-task-definition",
				"--cli-input-json", "file://testdata/render/"+golden+".golden.json",
				"--query", "taskDefinition.containerDefinitions[0].image", "--output", "text")
			cmd.Env = srv.Env()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("aws ecs register-task-definition refused the output: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != testImageURI {
				t.Errorf("registered image = %q, want %q", got, testImageURI)
			}
		})
	}
}

func TestRenderBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	undefined := write("undefined.json", `{"family": "{{ must_env "SERVICE_FAMILY" }}", "containerDefinitions": [{"name": "web", "image": "x"}]}`)
	badJSON := write("bad.json", "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\" \"image\": \"x\"}\n  ]\n}")
	unknownField := write("unknown.json", `{"family": "web", "containerDefinition": [{"name": "web", "image": "x"}]}`)
	wrongType := write("type.json", `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x", "memory": "lots"}]}`)
	badFunc := write("func.json", `{"family": "{{ getenv "X" }}"}`)
	noFamily := write("nofamily.json", `{"containerDefinitions": [{"name": "web", "image": "x"}]}`)
	noContainers := write("nocontainers.json", `{"family": "web", "containerDefinitions": []}`)
	ok := write("ok.json", `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x"}, {"name": "log", "image": "y"}]}`)

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"undefined variable", []string{"--template", undefined}, 1, []string{"environment variable SERVICE_FAMILY is not set", "undefined.json:1"}},
		{"invalid JSON", []string{"--template", badJSON}, 1, []string{"bad.json is not valid JSON: line 4", "invalid character"}},
		{"unknown field", []string{"--template", unknownField}, 1, []string{`unknown field "containerDefinition"`}},
		{"wrong type", []string{"--template", wrongType}, 1, []string{"field containerDefinitions.memory: want a int32, got a JSON string"}},
		{"unknown template function", []string{"--template", badFunc}, 1, []string{`function "getenv" not defined`}},
		{"missing family", []string{"--template", noFamily}, 1, []string{"missing required field", "Family"}},
		{"no containers", []string{"--template", noContainers}, 1, []string{"containerDefinitions is empty"}},
		{"unknown container", []string{"--template", ok, "--image", "api=x"}, 1, []string{`container "api" is not in task definition web; its containers are: log, web`}},
		{"unknown container for env", []string{"--template", ok, "--env", "api:A=b"}, 1, []string{`container "api" is not in task definition web`}},
		{"bad image flag", []string{"--template", ok, "--image", "web"}, 2, []string{"want NAME=IMAGE"}},
		{"bad env flag", []string{"--template", ok, "--env", "A=b"}, 2, []string{"want CONTAINER:KEY=VALUE"}},
		{"five placeholders", []string{"--template", ok, "--placeholder", "web", "--placeholder", "web", "--placeholder", "web", "--placeholder", "web", "--placeholder", "web"}, 2, []string{"at most 4 images"}},
		{"no template", nil, 2, []string{"--template is required"}},
		{"missing template file", []string{"--template", filepath.Join(dir, "nope.json")}, 1, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outDir := t.TempDir()
			r := runCLI(t, nil, nil, append([]string{"render", "--output", filepath.Join(outDir, "out.json")}, tt.args...)...)
			r.want(t, tt.code, tt.want...)
			assertDirHolds(t, outDir)
		})
	}
}

func TestRenderUnwritableOutput(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	tmpl := filepath.Join(dir, "t.json")
	os.WriteFile(tmpl, []byte(`{"family": "web", "containerDefinitions": [{"name": "web", "image": "x"}]}`), 0o644)
	runCLI(t, nil, nil, "render", "--template", tmpl, "--output", filepath.Join(blocker, "out.json")).want(t, 1, "write ")
	assertDirHolds(t, dir, "file", "t.json")
}
