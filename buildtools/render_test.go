package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	goconfig "github.com/kayac/go-config"

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

// renderString renders a template given as text with the environment env.
func renderString(t *testing.T, tmpl string, env map[string]string, args ...string) (result, string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "taskdef.tmpl.json")
	if err := os.WriteFile(src, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "taskdef.json")
	os.Mkdir(filepath.Dir(out), 0o755)
	r := runCLI(t, nil, env, append([]string{"render", "--template", src, "--output", out}, args...)...)
	b, err := os.ReadFile(out)
	if r.code != 0 {
		assertDirHolds(t, filepath.Dir(out))
	} else if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}

// decodeRendered decodes the output as the ECS API's request.
func decodeRendered(t *testing.T, out string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return v
}

// A value substituted inside a JSON string stays that string, whatever it holds:
// pipeline variables from webhooks reach the build's environment.
func TestRenderValuesCannotChangeShape(t *testing.T) {
	const injection = `a", "privileged": true, "x": "`
	tmpl := `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x",
  "environment": [{"name": "RELEASE", "value": "{{ must_env "RELEASE" }}"},
                  {"name": "NOTES", "value": "v={{ env "NOTES" "none" }};"},
                  {"name": "ESCAPED", "value": "{{ env "NOTES" | json_escape }}"},
                  {"name": "{{ env "KEY" "K" }}", "value": "{{ env "MULTI" "" }}"}],
  "user": "{{ env "RUN_AS" "app" }}"}]}`
	env := map[string]string{
		"RELEASE": injection, "NOTES": `</script>\u0000"` + "\n\t", "KEY": `k"}], "privileged": true, "z": [{"a": "`,
		"MULTI": "line1\nline2 \u2028 ü", "RUN_AS": `app", "user": "root`,
	}
	r, out := renderString(t, tmpl, env)
	r.want(t, 0)
	v := decodeRendered(t, out)
	cd := v["containerDefinitions"].([]any)[0].(map[string]any)
	if _, ok := cd["privileged"]; ok {
		t.Errorf("a value added a privileged key:\n%s", out)
	}
	if cd["user"] != env["RUN_AS"] {
		t.Errorf("user = %q, want the value verbatim %q", cd["user"], env["RUN_AS"])
	}
	got := map[string]string{}
	for _, kv := range cd["environment"].([]any) {
		kv := kv.(map[string]any)
		got[kv["name"].(string)] = kv["value"].(string)
	}
	want := map[string]string{
		"RELEASE": injection, "NOTES": "v=" + env["NOTES"] + ";", "ESCAPED": env["NOTES"], env["KEY"]: env["MULTI"],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestRenderValuesOutsideStrings(t *testing.T) {
	tmpl := `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x",
  "memory": {{ env "MEMORY" "512" }}, "essential": {{ env "ESSENTIAL" "true" }}}]}`
	r, out := renderString(t, tmpl, map[string]string{"MEMORY": "1024"})
	r.want(t, 0)
	cd := decodeRendered(t, out)["containerDefinitions"].([]any)[0].(map[string]any)
	if cd["memory"] != 1024.0 || cd["essential"] != true {
		t.Errorf("memory, essential = %v, %v; want 1024, true", cd["memory"], cd["essential"])
	}
	for _, bad := range []string{`512, "privileged": true`, `"512"`, `{}`, `[1]`, `1 2`, `abc`, `1e`} {
		r, _ := renderString(t, tmpl, map[string]string{"MEMORY": bad})
		r.want(t, 1, `{{env "MEMORY" "512"}} is outside a JSON string`, "must be a number, true, false or null", "taskdef.tmpl.json:2:")
	}
}

func TestRenderControlStructures(t *testing.T) {
	good := `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x"
  {{- if eq (env "DEBUG" "") "on" }}, "environment": [{"name": "DEBUG", "value": "{{ env "DEBUG" }}"}]{{ end -}}
  }]}`
	r, out := renderString(t, good, map[string]string{"DEBUG": "on"})
	r.want(t, 0)
	if !strings.Contains(out, `"value": "on"`) {
		t.Errorf("the if branch did not render:\n%s", out)
	}
	r, out = renderString(t, good, nil)
	r.want(t, 0)
	if strings.Contains(out, "environment") {
		t.Errorf("the if branch rendered without DEBUG:\n%s", out)
	}

	bad := []struct{ name, tmpl, want string }{
		{"quote opened in one branch", `{"family": "web{{ if env "X" "" }}"{{ end }}, "containerDefinitions": []}`,
			"starts inside a string but its branches end outside a string and inside a string"},
		{"unclosed string", `{"family": "web`, "ends inside a JSON string"},
		{"action after backslash", `{"family": "w\{{ env "X" }}", "containerDefinitions": []}`, "follows a backslash"},
		{"define", `{{ define "x" }}{}{{ end }}{"family": "web"}`, "defines templates"},
		{"template call", `{"family": {{ template "x" }}}`, "not this"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := renderString(t, tt.tmpl, nil)
			r.want(t, 1, tt.want)
		})
	}
}

// env, must_env and json_escape behave as in kayac/go-config v0.7.0, the version
// ecspresso pins: its functions are the oracle (they read the process environment,
// so this test sets it).
func TestRenderFuncsMatchGoConfig(t *testing.T) {
	env := map[string]string{"SET": "value", "EMPTY": "", "OTHER": "other", "default": "a variable named default"}
	for k, v := range env {
		t.Setenv(k, v)
	}
	os.Unsetenv("UNSET")
	os.Unsetenv("UNSET2")
	ours := renderFuncs(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	theirs := goconfig.DefaultFuncMap
	for _, args := range [][]string{
		{"SET"}, {"UNSET"}, {"EMPTY"}, {"UNSET", "fallback"}, {"EMPTY", "fallback"}, {"SET", "fallback"},
		{"UNSET", "OTHER", "fallback"}, {"UNSET", "UNSET2", "fallback"}, {"UNSET", "default"}, {"UNSET", ""}, {},
	} {
		got := ours["env"].(func(...string) string)(args...)
		want := theirs["env"].(func(...string) string)(args...)
		if got != want {
			t.Errorf("env %q = %q, go-config gives %q", args, got, want)
		}
	}
	for _, s := range []string{"", "plain", `a"b`, "a\\b", "\n\t\r", "</script>&", "\u2028\u2029", "\x00\x1f", "ü日本", "\xff"} {
		got := ours["json_escape"].(func(string) string)(s)
		want := theirs["json_escape"].(func(string) string)(s)
		if got != want {
			t.Errorf("json_escape(%q) = %q, go-config gives %q", s, got, want)
		}
	}
	for _, k := range []string{"SET", "EMPTY"} {
		got, err := ours["must_env"].(func(string) (string, error))(k)
		if want := theirs["must_env"].(func(string) string)(k); err != nil || got != want {
			t.Errorf("must_env %q = %q, %v; go-config gives %q", k, got, err, want)
		}
	}
	if _, err := ours["must_env"].(func(string) (string, error))("UNSET"); err == nil {
		t.Error("must_env of an unset variable: no error (go-config panics)")
	}
}

func TestRenderChecksRegistration(t *testing.T) {
	td := func(family, container, tags string) string {
		return `{"family": "` + family + `", "containerDefinitions": [{"name": "` + container + `", "image": "x"}], "tags": ` + tags + `}`
	}
	// An empty tags list is left out: ECS refuses "tags": [].
	r, out := renderString(t, td("web", "web", "[]"), nil)
	r.want(t, 0)
	if _, ok := decodeRendered(t, out)["tags"]; ok {
		t.Errorf("empty tags kept:\n%s", out)
	}
	r, out = renderString(t, td("web", "web", `[{"key": "team", "value": "payments"}, {"key": "cost center", "value": ""}]`), nil)
	r.want(t, 0)
	if n := len(decodeRendered(t, out)["tags"].([]any)); n != 2 {
		t.Errorf("%d tags in the output, want 2", n)
	}

	manyTags := make([]string, 51)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf(`{"key": "k%d", "value": "v"}`, i)
	}
	tests := []struct{ name, tmpl, want string }{
		{"family with a dot", td("web.api", "web", "[]"), `family "web.api": ECS names are 1-255 letters, digits, '-' or '_'`},
		{"family too long", td(strings.Repeat("f", 256), "web", "[]"), "family"},
		{"container with a space", td("web", "web app", "[]"), `containerDefinitions[0].name "web app"`},
		{"two containers, one name", `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x"}, {"name": "web", "image": "y"}]}`,
			`containerDefinitions[1].name "web": two containers have this name`},
		{"tag value starting aws:", td("web", "web", `[{"key": "team", "value": "aws:payments"}]`), `tags[0].value "aws:payments": the aws: prefix (in any case) is reserved`},
		{"tag key starting AWS:", td("web", "web", `[{"key": "ok", "value": "v"}, {"key": "AWS:team", "value": "v"}]`), `tags[1].key "AWS:team"`},
		{"tag key empty", td("web", "web", `[{"key": "", "value": "v"}]`), `tags[0].key "": tag keys are 1-128`},
		{"tag value with a comma", td("web", "web", `[{"key": "k", "value": "a,b"}]`), `tags[0].value "a,b"`},
		{"tag value too long", td("web", "web", `[{"key": "k", "value": "`+strings.Repeat("v", 257)+`"}]`), "tags[0].value"},
		{"duplicate tag key", td("web", "web", `[{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]`), `tags[1].key "k": a key may appear once`},
		{"51 tags", td("web", "web", "["+strings.Join(manyTags, ",")+"]"), "51 tags, ECS allows at most 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := renderString(t, tt.tmpl, nil)
			r.want(t, 1, tt.want)
		})
	}
}

func TestRenderSizeLimits(t *testing.T) {
	env := func(n int) string {
		vars := make([]string, n)
		for i := range vars {
			vars[i] = fmt.Sprintf(`{"name": "V%04d", "value": "%s"}`, i, strings.Repeat("x", 200))
		}
		return `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x", "environment": [` + strings.Join(vars, ",") + `]}]}`
	}
	// About 60 KiB as sent: accepted.
	r, out := renderString(t, env(270), nil)
	r.want(t, 0)
	if len(out) < 60000 {
		t.Fatalf("test template too small: %d bytes", len(out))
	}
	// About 100 KiB: refused with the limit named, nothing written.
	r, _ = renderString(t, env(450), nil)
	r.want(t, 1, "bytes as sent to ECS; RegisterTaskDefinition accepts at most 65536")
	// 2 MB: refused before it is parsed.
	r, _ = renderString(t, env(9500), nil)
	r.want(t, 1, "is over 1048576 bytes (1 MiB)")
	// A value can make a small template too large, too.
	r, _ = renderString(t, `{"family": "web", "containerDefinitions": [{"name": "web", "image": "{{ must_env "IMAGE" }}"}]}`,
		map[string]string{"IMAGE": strings.Repeat("i", 70000)})
	r.want(t, 1, "RegisterTaskDefinition accepts at most 65536")
}

// Whatever a variable holds, inside a JSON string it comes out as that one string
// (invalid UTF-8 replaced, as encoding/json does) and the document keeps its keys;
// outside a string it is a scalar or an error.
func FuzzRenderValue(f *testing.F) {
	for _, s := range []string{"", "plain", `a", "privileged": true, "x": "`, `\`, `\"`, "}]}", "\x00\n\u2028", "\xff\xfe", "{{ env \"X\" }}", "1e3", "-0", "true"} {
		f.Add(s)
	}
	const tmpl = `{"family": "web", "containerDefinitions": [{"name": "web", "image": "x{{ env "V" }}",
  "environment": [{"name": "{{ must_env "V" }}", "value": "\"{{ env "V" }}\\"}], "memory": {{ env "V" }}}]}`
	f.Fuzz(func(t *testing.T, v string) {
		lookup := func(k string) (string, bool) { return v, k == "V" }
		envV := v // what {{ env "V" }} gives: go-config's one-argument rule
		if v == "" {
			envV = "V"
		}
		out, err := expandTemplate("t.json", tmpl, lookup)
		if err != nil {
			if !isJSONScalar(strings.Trim(envV, " \t\r\n")) && strings.Contains(err.Error(), "is outside a JSON string") {
				return
			}
			t.Fatalf("value %q: %v", v, err)
		}
		var doc struct {
			Family     string
			Containers []map[string]json.RawMessage `json:"containerDefinitions"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("value %q gives invalid JSON: %v\n%s", v, err, out)
		}
		if doc.Family != "web" || len(doc.Containers) != 1 || len(doc.Containers[0]) != 4 {
			t.Fatalf("value %q changed the document's shape:\n%s", v, out)
		}
		var env []map[string]string
		json.Unmarshal(doc.Containers[0]["environment"], &env)
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if len(env) != 1 || len(env[0]) != 2 || env[0]["name"] != valid(v) || env[0]["value"] != `"`+valid(envV)+`\` {
			t.Fatalf("value %q came out as %q", v, env)
		}
	})
}
