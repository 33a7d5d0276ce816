package codepipeline

import (
	"encoding/json"
	"fmt"
)

// FromTemplate reads the AWS::CodePipeline::Pipeline resources of a synthesized
// CloudFormation template: each pipeline's name, declared variables and source
// actions, as Start needs them.
func FromTemplate(template []byte) ([]Pipeline, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Name      any
				Variables []struct{ Name string }
				Stages    []struct {
					Actions []struct {
						Name         string
						ActionTypeId struct{ Category string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var out []Pipeline
	for id, r := range t.Resources {
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		name, ok := r.Properties.Name.(string)
		if !ok {
			return nil, fmt.Errorf("pipeline %s: Name is not a literal string", id)
		}
		p := Pipeline{Name: name}
		for _, v := range r.Properties.Variables {
			p.Variables = append(p.Variables, v.Name)
		}
		for _, s := range r.Properties.Stages {
			for _, a := range s.Actions {
				if a.ActionTypeId.Category == "Source" {
					p.SourceActions = append(p.SourceActions, a.Name)
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// FunctionEnvironments reads the literal environment variables of a template's
// AWS::Lambda::Function resources, by logical id.
func FunctionEnvironments(template []byte) (map[string]map[string]string, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Environment struct{ Variables map[string]any }
			}
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	out := map[string]map[string]string{}
	for id, r := range t.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		env := map[string]string{}
		for k, v := range r.Properties.Environment.Variables {
			if s, ok := v.(string); ok {
				env[k] = s
			}
		}
		out[id] = env
	}
	return out, nil
}
