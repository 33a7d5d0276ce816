package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// event is a CodePipeline event as EventBridge delivers it, with the fields the
// reports use. The samples in AWS's documentation disagree on whether the
// "version" fields are numbers or strings, so they are not read.
type event struct {
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Region     string    `json:"region"`
	Time       time.Time `json:"time"`
	Detail     struct {
		Pipeline    string `json:"pipeline"`
		ExecutionID string `json:"execution-id"`
		State       string `json:"state"`
		Stage       string `json:"stage"`
		Action      string `json:"action"`
		Type        struct {
			Category string `json:"category"`
			Provider string `json:"provider"`
		} `json:"type"`
	} `json:"detail"`
}

const (
	pipelineEvent = "CodePipeline Pipeline Execution State Change"
	actionEvent   = "CodePipeline Action Execution State Change"
)

// step is where an execution is, in the order it gets there. Statuses only move
// forward: a step at or below one already reported is a duplicate or arrived
// late, and is dropped.
type step int

const (
	stepNone step = iota
	stepStarted
	stepWaiting  // a manual approval waits
	stepApproved // approved; deploying follows
	stepDeploying
	stepEnded // succeeded, failed, stopped, superseded
)

// report is what one event means for the deployment.
type report struct {
	step  step
	state string // GitHub deployment state
	// outcome is the word people read: started, waiting for approval, approved,
	// deploying, succeeded, failed, stopped, superseded, cancelled.
	outcome string
	failed  bool
	// notify: worth a Slack message (starts, approvals needed and ends; not the
	// steps between, which GitHub shows).
	notify bool
}

// meaning maps an event to a report; ok is false for events that report nothing
// (other action types, action ends the pipeline event covers, STOPPING).
func meaning(e *event) (r report, ok bool, err error) {
	d := e.Detail
	switch e.DetailType {
	case pipelineEvent:
		switch d.State {
		case "STARTED":
			return report{stepStarted, "in_progress", "started", false, true}, true, nil
		case "RESUMED":
			return report{stepDeploying, "in_progress", "resumed", false, false}, true, nil
		case "SUCCEEDED":
			return report{stepEnded, "success", "succeeded", false, true}, true, nil
		case "FAILED":
			return report{stepEnded, "failure", "failed", true, true}, true, nil
		case "STOPPED":
			return report{stepEnded, "inactive", "stopped", false, true}, true, nil
		case "SUPERSEDED":
			return report{stepEnded, "inactive", "superseded", false, true}, true, nil
		case "CANCELED":
			return report{stepEnded, "inactive", "cancelled", false, true}, true, nil
		case "STOPPING":
			return report{}, false, nil
		}
	case actionEvent:
		switch {
		case d.Type.Category == "Approval" && d.State == "STARTED":
			return report{stepWaiting, "queued", "waiting for approval", false, true}, true, nil
		case d.Type.Category == "Approval" && d.State == "SUCCEEDED":
			return report{stepApproved, "in_progress", "approved", false, false}, true, nil
		case d.Type.Category == "Deploy" && d.State == "STARTED":
			return report{stepDeploying, "in_progress", "deploying", false, false}, true, nil
		}
		return report{}, false, nil
	default:
		return report{}, false, nil
	}
	return report{}, false, fmt.Errorf("unknown pipeline state %q", d.State)
}

func decodeEvent(payload []byte) (*event, error) {
	var e event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("not a CodePipeline event: %w", err)
	}
	if e.Source != "aws.codepipeline" || e.Detail.Pipeline == "" || e.Detail.ExecutionID == "" {
		return nil, fmt.Errorf("not a CodePipeline execution event (source %q, pipeline %q, execution-id %q)", e.Source, e.Detail.Pipeline, e.Detail.ExecutionID)
	}
	return &e, nil
}
