package main

import (
	"encoding/json"
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/pipebridge/pipebridge/cdk/config"
	"github.com/pipebridge/pipebridge/test/moto"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) {
	code := m.Run()
	moto.StopShared()
	os.Exit(code)
}

// synthesized is the example config's stack, synthesized once for all tests.
type synthesized struct {
	stack    awscdk.Stack
	template assertions.Template
	json     map[string]any
	raw      []byte
}

var (
	exampleOnce sync.Once
	exampleVal  *synthesized
	exampleErr  error
)

func example(t *testing.T) *synthesized {
	t.Helper()
	exampleOnce.Do(func() {
		cfg, err := config.Load("../pipebridge.yaml")
		if err != nil {
			exampleErr = err
			return
		}
		exampleVal, exampleErr = synth(cfg)
	})
	if exampleErr != nil {
		t.Fatal(exampleErr)
	}
	return exampleVal
}

// synthYAML parses a config file's text and builds its stack.
func synthYAML(t *testing.T, name, yaml string) *synthesized {
	t.Helper()
	cfg, err := config.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s, err := synth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// synth builds the stack as main does, cdk-nag included.
func synth(cfg *config.Config) (*synthesized, error) {
	props, err := LoadStackProps(cfg, "../dist", "../buildspec.yml")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pipebridge-cdk-")
	if err != nil {
		return nil, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), PostCliContext: &featureFlags})
	stack := NewPipebridgeStack(app, cfg.StackName, props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
	tmpl := assertions.Template_FromStack(stack, nil)
	raw, err := json.MarshalIndent(tmpl.ToJSON(), "", " ")
	if err != nil {
		return nil, err
	}
	s := &synthesized{stack: stack, template: tmpl, raw: raw}
	return s, json.Unmarshal(raw, &s.json)
}

// resources returns the template's resources of one type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		if rm["Type"] == typ {
			props, _ := rm["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

// pipeline returns the properties of the pipeline with that name.
func (s *synthesized) pipeline(t *testing.T, name string) map[string]any {
	t.Helper()
	for _, p := range s.resources("AWS::CodePipeline::Pipeline") {
		if p["Name"] == name {
			return p
		}
	}
	t.Fatalf("no pipeline named %s", name)
	return nil
}

// get walks a JSON value: keys for maps, ints for lists.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}
