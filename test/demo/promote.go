package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
)

// promotionDemo shows what guards a deploy (from the template: stages and the
// Deploy stage's conditions), then worker-staging's execution failing its bake
// and rolling back (nothing promoted), then succeeding on a retry: ecrpush
// promotes exactly its digest to worker-prod, once however often the event
// comes.
func (d *demo) promotionDemo(ctx context.Context, template []byte, cp *cpstub.Server, bin string, env []string, digest string) error {
	step("What guards each deploy (from the synthesized template): stages, and the Deploy stage's conditions")
	if err := showSafety(template); err != nil {
		return err
	}
	var staging string
	for _, ex := range cp.Executions() {
		if ex.Request.Name == "worker-staging" {
			staging = ex.ID
		}
	}
	if staging == "" {
		return fmt.Errorf("the scan did not start worker-staging")
	}
	const rollback = "5b0e2c1d-7f3a-4e6b-9c8d-0a1b2c3d4e5f"
	older := "sha256:" + strings.Repeat("0", 64)
	step("worker-staging deploys " + digest[:19] + "...; during its 10-minute bake worker-staging-errors fires: CodePipeline rolls the Deploy stage back (a ROLLBACK execution redeploys the previous image) and the execution FAILED")
	cp.SetStatus("worker-staging", staging, "Failed")
	cp.SetExecution("worker-staging", rollback, cpstub.ExecutionDetail{Status: "Succeeded", ExecutionType: "ROLLBACK",
		Revisions: []cpstub.Revision{{Name: "Image", RevisionID: older}}})
	fmt.Println("  (1) FAILED for the execution; (2) SUCCEEDED for the rollback execution: neither promotes")
	if err := invokeAndShow(ctx, "ecrpush", bin, env,
		cpstub.StateChangeEvent("worker-staging", staging, "FAILED", "", time.Time{}),
		cpstub.StateChangeEvent("worker-staging", rollback, "SUCCEEDED", "", time.Time{})); err != nil {
		return err
	}
	if n := countExecutions(cp, "worker-prod"); n != 0 {
		return fmt.Errorf("worker-prod started %d times from a failed or rolled-back staging", n)
	}

	step("The alarm's cause is fixed; the failed stage is retried, the bake passes, worker-staging SUCCEEDED: ecrpush promotes the same digest to worker-prod (EventBridge delivers the event twice)")
	cp.SetStatus("worker-staging", staging, "Succeeded")
	ev := cpstub.StateChangeEvent("worker-staging", staging, "SUCCEEDED", "", time.Time{})
	if err := invokeAndShow(ctx, "ecrpush", bin, env, ev, ev); err != nil {
		return err
	}
	for _, ex := range cp.Executions() {
		if ex.Request.Name != "worker-prod" {
			continue
		}
		if len(ex.Request.SourceRevisions) != 1 || ex.Request.SourceRevisions[0].RevisionValue != digest {
			return fmt.Errorf("worker-prod started with %+v, want staging's digest %s", ex.Request.SourceRevisions, digest)
		}
		fmt.Printf("  worker-prod execution %s deploys %s (staging's), token %s\n", ex.ID, digest, ex.Request.ClientRequestToken)
	}
	if n := countExecutions(cp, "worker-prod"); n != 1 {
		return fmt.Errorf("worker-prod started %d times, want once", n)
	}
	fmt.Println("  worker-prod now waits for its approval, then its Guard (never older over newer), then Deploy (rollback on failure)")
	return nil
}

func countExecutions(cp *cpstub.Server, pipeline string) int {
	n := 0
	for _, ex := range cp.Executions() {
		if ex.Request.Name == pipeline {
			n++
		}
	}
	return n
}

// showSafety prints each pipeline's stages and its Deploy stage's conditions.
func showSafety(template []byte) error {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Name   string
				Stages []struct {
					Name        string
					BeforeEntry *condition
					OnSuccess   *condition
					OnFailure   *struct{ Result string }
					Actions     []struct{ Configuration map[string]any }
				}
			}
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return err
	}
	var lines []string
	for _, r := range t.Resources {
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		p := r.Properties
		var stages, guards []string
		for _, st := range p.Stages {
			stages = append(stages, st.Name)
			if st.Name != "Deploy" {
				continue
			}
			if c := st.BeforeEntry; c != nil {
				guards = append(guards, "enters only if "+c.rules())
			}
			if c := st.OnSuccess; c != nil {
				guards = append(guards, "after success, "+c.rules()+" (else "+c.result()+")")
			}
			if st.OnFailure != nil {
				guards = append(guards, "on failure "+st.OnFailure.Result)
			}
			if len(st.Actions) > 0 {
				guards = append(guards, fmt.Sprintf("timeout %vm", st.Actions[0].Configuration["DeploymentTimeout"]))
			}
		}
		lines = append(lines, fmt.Sprintf("  %-15s %s\n  %-15s %s", p.Name, strings.Join(stages, " -> "), "", strings.Join(guards, "; ")))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	return nil
}

type condition struct {
	Conditions []struct {
		Result string
		Rules  []struct {
			Name          string
			RuleTypeId    struct{ Provider string }
			Configuration map[string]string
		}
	}
}

func (c *condition) rules() string {
	var out []string
	for _, cc := range c.Conditions {
		for _, r := range cc.Rules {
			switch r.RuleTypeId.Provider {
			case "CloudWatchAlarm":
				s := "alarm " + r.Configuration["AlarmName"] + " is not in ALARM"
				if w := r.Configuration["WaitTime"]; w != "" && w != "0" {
					s += " for " + w + " minutes"
				}
				out = append(out, s)
			case "DeploymentWindow":
				out = append(out, "inside the window "+r.Configuration["Cron"]+" "+r.Configuration["TimeZone"])
			default:
				out = append(out, r.Name)
			}
		}
	}
	return strings.Join(out, ", ")
}

func (c *condition) result() string {
	if len(c.Conditions) == 0 {
		return ""
	}
	return c.Conditions[0].Result
}
