package codepipeline

import (
	_ "embed"
	"encoding/json"
	"time"
)

// AWS's published samples of CodePipeline's EventBridge events (testdata/README.md).
var (
	//go:embed testdata/pipeline-execution-state-change.json
	pipelineSample []byte
	//go:embed testdata/action-execution-state-change.json
	actionSample []byte
)

// providers are the action providers StateChangeEvent names for a category.
var providers = map[string]string{"Approval": "Manual", "Deploy": "ECS", "Build": "CodeBuild", "Source": "CodeStarSourceConnection"}

// StateChangeEvent is AWS's sample event for the pipeline, execution and state:
// a Pipeline Execution State Change or, with a category (Approval, Deploy,
// Build...), an Action Execution State Change of an action of that category.
// A zero at keeps the sample's time.
func StateChangeEvent(pipeline, execution, state, category string, at time.Time) []byte {
	sample := pipelineSample
	if category != "" {
		sample = actionSample
	}
	var e map[string]any
	if err := json.Unmarshal(sample, &e); err != nil {
		panic(err) // embedded at build time
	}
	d := e["detail"].(map[string]any)
	d["pipeline"], d["execution-id"], d["state"] = pipeline, execution, state
	if category != "" {
		provider := providers[category]
		if provider == "" {
			provider = category
		}
		d["type"] = map[string]any{"owner": "AWS", "category": category, "provider": provider, "version": "1"}
	}
	if !at.IsZero() {
		e["time"] = at.UTC().Format(time.RFC3339)
	}
	out, _ := json.Marshal(e)
	return out
}
