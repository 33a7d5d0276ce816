package codepipeline

import (
	"encoding/json"
	"fmt"
	"slices"
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
					Name    string
					Actions []struct {
						Name         string
						ActionTypeId struct{ Category string }
					}
					BeforeEntry, OnSuccess, OnFailure *conditions
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
			for kind, c := range map[string]*conditions{"BeforeEntry": s.BeforeEntry, "OnSuccess": s.OnSuccess, "OnFailure": s.OnFailure} {
				if msg := c.check(kind); msg != "" {
					return nil, fmt.Errorf("pipeline %s, stage %s: %s", name, s.Name, msg)
				}
			}
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

// conditions is a stage's BeforeEntry, OnSuccess or OnFailure. The API
// reference (BeforeEntryConditions, SuccessConditions, FailureConditions,
// Condition) says: exactly one condition for entry and success, at most one
// for failure; a condition has 1 to 5 rules; entry results are FAIL or SKIP,
// success and failure results ROLLBACK (failure also RETRY, or none with
// rules absent).
type conditions struct {
	Result     string
	Conditions []struct {
		Result string
		Rules  []struct{ Name string }
	}
}

func (c *conditions) check(kind string) string {
	if c == nil {
		return ""
	}
	results := map[string][]string{"BeforeEntry": {"FAIL", "SKIP"}, "OnSuccess": {"ROLLBACK"}, "OnFailure": {"ROLLBACK", "RETRY"}}[kind]
	switch {
	case kind != "OnFailure" && len(c.Conditions) != 1:
		return fmt.Sprintf("%s has %d conditions; CodePipeline takes exactly 1", kind, len(c.Conditions))
	case kind == "OnFailure" && len(c.Conditions) > 1:
		return fmt.Sprintf("OnFailure has %d conditions; CodePipeline takes at most 1", len(c.Conditions))
	case kind == "OnFailure" && c.Result != "" && !slices.Contains(results, c.Result):
		return fmt.Sprintf("OnFailure result %q: want ROLLBACK or RETRY", c.Result)
	}
	for _, cond := range c.Conditions {
		if n := len(cond.Rules); n < 1 || n > 5 {
			return fmt.Sprintf("%s condition has %d rules; CodePipeline takes 1 to 5", kind, n)
		}
		if kind != "OnFailure" && !slices.Contains(results, cond.Result) {
			return fmt.Sprintf("%s result %q: want one of %v", kind, cond.Result, results)
		}
	}
	return ""
}
