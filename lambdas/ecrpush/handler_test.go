package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/codepipeline"

	"github.com/pipebridge/pipebridge/internal/ecrevent"
	"github.com/pipebridge/pipebridge/internal/routes"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/ecrevents"
)

const testRoutes = `{"routes": [
  {"name": "web-dev", "ecr": {"repository": "web", "account": "123456789012", "region": "us-west-2"},
   "tags": {"glob": "v*"}, "pipeline": "web-dev", "sourceAction": "Image",
   "variables": {"IMAGE_URI": "{{.ImageURI}}", "IMAGE_TAG": "{{.Tag}}"}},
  {"name": "web-audit", "ecr": {"repository": "web", "account": "123456789012"}, "pipeline": "web-audit"},
  {"name": "web-scanned", "ecr": {"repository": "web", "account": "123456789012", "events": ["scan"], "maxSeverity": "MEDIUM"},
   "tags": {"semver": ">=2"}, "pipeline": "web-prod", "variables": {"IMAGE_URI": "{{.ImageURI}}"}}
]}`

type env struct {
	h    *handler
	stub *cpstub.Server
	logs *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	table, err := routes.Parse([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	stub := cpstub.Start(
		cpstub.Pipeline{Name: "web-dev", Variables: []string{"IMAGE_URI", "IMAGE_TAG"}, SourceActions: []string{"Image"}},
		cpstub.Pipeline{Name: "web-audit"},
		cpstub.Pipeline{Name: "web-prod", Variables: []string{"IMAGE_URI"}},
	)
	t.Cleanup(stub.Close)
	logs := &bytes.Buffer{}
	return &env{
		h: &handler{
			routes:    table,
			pipelines: stub.Client(func(o *codepipeline.Options) { o.RetryMaxAttempts = 3 }),
			log:       slog.New(slog.NewJSONHandler(logs, nil)),
		},
		stub: stub, logs: logs,
	}
}

func TestPushFansOutOnce(t *testing.T) {
	e := newEnv(t)
	ev := ecrevents.Load(t, "push.json", nil, nil)
	if err := e.h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	// Lambda retries an async event after a timeout: no second execution.
	if err := e.h.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle (retry): %v", err)
	}
	ex := e.stub.Executions()
	if len(ex) != 2 {
		t.Fatalf("%d executions, want 2 (web-dev and web-audit once each); rejected: %v", len(ex), e.stub.Rejected())
	}
	dev := ex[0].Request
	const digest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678"
	if dev.Name != "web-dev" || len(dev.SourceRevisions) != 1 || dev.SourceRevisions[0] != (cpstub.SourceRevision{ActionName: "Image", RevisionType: "IMAGE_DIGEST", RevisionValue: digest}) {
		t.Errorf("web-dev request = %+v", dev)
	}
	if !strings.HasPrefix(dev.ClientRequestToken, "13cde686-328b-6117-af20-0e5566167482-") {
		t.Errorf("token %q is not derived from the event id", dev.ClientRequestToken)
	}
	if ex[1].Request.ClientRequestToken == dev.ClientRequestToken {
		t.Errorf("two routes share a token")
	}
	if n := strings.Count(e.logs.String(), `"msg":"started"`); n != 4 {
		t.Errorf("%d started lines, want one per decision (4)", n)
	}
}

func TestIgnored(t *testing.T) {
	tests := []struct {
		name string
		ev   func(t *testing.T) []byte
		says string
	}{
		{"delete", func(t *testing.T) []byte {
			return ecrevents.Load(t, "push.json", nil, map[string]any{"action-type": "DELETE"})
		}, "action-type DELETE"},
		{"archive", func(t *testing.T) []byte {
			return ecrevents.Load(t, "push.json", nil, map[string]any{"action-type": "UPDATE_STORAGE_CLASS", "image-tag": nil})
		}, "UPDATE_STORAGE_CLASS"},
		{"other account", func(t *testing.T) []byte {
			return ecrevents.Load(t, "push.json", map[string]any{"account": "999999999999"}, nil)
		}, "event is from account 999999999999"},
		{"untagged", func(t *testing.T) []byte {
			return ecrevents.Load(t, "push.json", nil, map[string]any{"image-tag": nil})
		}, "untagged image"},
		{"other repository", func(t *testing.T) []byte {
			return ecrevents.Load(t, "push.json", nil, map[string]any{"repository-name": "api"})
		}, "repository api is not this route's"},
		{"scan with HIGH findings", func(t *testing.T) []byte {
			return ecrevents.Load(t, "scan.json", nil, map[string]any{"finding-severity-counts": map[string]int{"HIGH": 1}})
		}, "scan found HIGH: 1; route allows at most MEDIUM"},
		{"scan with only UNDEFINED findings", func(t *testing.T) []byte {
			return ecrevents.Load(t, "scan.json", nil, map[string]any{"finding-severity-counts": map[string]int{"UNDEFINED": 3}})
		}, "scan found UNDEFINED: 3"},
		{"Inspector scan of an unrouted repository", func(t *testing.T) []byte {
			return ecrevents.Load(t, "inspector-scan.json", nil, nil)
		}, "repository amazon/amazon-ecs-sample is not this route's (web)"},
		{"Inspector scan in another account", func(t *testing.T) []byte {
			return ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{"repository-name": "arn:aws:ecr:us-west-2:999999999999:repository/web"})
		}, "event is from account 999999999999"},
		{"Inspector scan failed", func(t *testing.T) []byte {
			return ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{"scan-status": "FAILED"})
		}, "scan-status FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if err := e.h.Handle(context.Background(), tt.ev(t)); err != nil {
				t.Fatalf("Handle: %v, want nil (nothing to retry)", err)
			}
			if n := len(e.stub.Requests()); n != 0 {
				t.Errorf("%d pipeline starts, want 0", n)
			}
			lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], `"msg":"ignored"`) || !strings.Contains(lines[0], tt.says) {
				t.Errorf("want one ignored line saying %q, got:\n%s", tt.says, e.logs)
			}
		})
	}
}

func TestScanClean(t *testing.T) {
	e := newEnv(t)
	if err := e.h.Handle(context.Background(), ecrevents.Load(t, "scan.json", nil, nil)); err != nil {
		t.Fatal(err)
	}
	ex := e.stub.Executions()
	if len(ex) != 1 || ex[0].Request.Name != "web-prod" {
		t.Fatalf("executions = %+v, want web-prod", ex)
	}
}

// With enhanced scanning, Inspector's event for a routed repository starts the
// scan route like ECR's own scan event (AWS's sample, pointed at the route's
// repository, with its counts within the route's limit).
func TestInspectorScan(t *testing.T) {
	e := newEnv(t)
	ev := ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{
		"repository-name":         "arn:aws:ecr:us-west-2:123456789012:repository/web",
		"image-tags":              []string{"latest", "v2.1.0"},
		"finding-severity-counts": map[string]int{"MEDIUM": 2, "TOTAL": 2},
	})
	if err := e.h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ex := e.stub.Executions()
	if len(ex) != 1 || ex[0].Request.Name != "web-prod" {
		t.Fatalf("executions = %+v, want web-prod; logs:\n%s", ex, e.logs)
	}
	// The same scan with findings TOTAL does not account for: unknown severity, blocked.
	e = newEnv(t)
	ev = ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{
		"repository-name":         "arn:aws:ecr:us-west-2:123456789012:repository/web",
		"image-tags":              []string{"v2.1.0"},
		"finding-severity-counts": map[string]int{"MEDIUM": 2, "TOTAL": 5},
	})
	if err := e.h.Handle(context.Background(), ev); err != nil || len(e.stub.Requests()) != 0 {
		t.Fatalf("err %v, %d requests; want nothing started", err, len(e.stub.Requests()))
	}
	if !strings.Contains(e.logs.String(), "UNDEFINED: 3") {
		t.Errorf("the log does not say why:\n%s", e.logs)
	}
}

// A matched event that cannot become a valid request returns an error (so it
// reaches the dead-letter queue) and logs at error level naming the route, the
// field and the value's length.
func TestRefusedIsAnError(t *testing.T) {
	for _, tt := range []struct {
		name, tag, field string
		length           int
		audit            bool // web-audit, which has no variables, still starts
	}{
		{"tag too long for a variable", "v" + strings.Repeat("1", 1000), "variables.IMAGE_TAG", 1001, true},
		{"newline in the tag", "v1\n", "tag", 3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			err := e.h.Handle(context.Background(), ecrevents.Load(t, "push.json", nil, map[string]any{"image-tag": tt.tag}))
			var pe *routes.PlanError
			if !errors.As(err, &pe) || pe.Route != "web-dev" || pe.Field != tt.field {
				t.Fatalf("Handle: %v, want a PlanError for web-dev %s", err, tt.field)
			}
			var refused map[string]any
			for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
				var rec map[string]any
				json.Unmarshal([]byte(line), &rec)
				if rec["msg"] == "refused" && rec["route"] == "web-dev" {
					refused = rec
				}
			}
			if refused == nil || refused["level"] != "ERROR" || refused["route"] != "web-dev" || refused["field"] != tt.field || refused["length"] != float64(tt.length) {
				t.Errorf("want an ERROR refused line naming route, field and length %d:\n%s", tt.length, e.logs)
			}
			if ex := e.stub.Executions(); tt.audit && (len(ex) != 1 || ex[0].Request.Name != "web-audit") || !tt.audit && len(ex) != 0 {
				t.Errorf("executions %+v; web-audit started: want %v", ex, tt.audit)
			}
		})
	}
}

func TestErrorsAreReturnedForRetry(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		e := newEnv(t)
		err := e.h.Handle(context.Background(), ecrevents.Load(t, "push.json", nil, map[string]any{"image-digest": nil}))
		if !errors.Is(err, ecrevent.ErrMalformed) {
			t.Fatalf("got %v, want ErrMalformed", err)
		}
	})
	t.Run("pipeline missing", func(t *testing.T) {
		e := newEnv(t)
		e.h.routes, _ = routes.Parse([]byte(`{"routes": [{"name": "gone", "ecr": {"repository": "web", "account": "123456789012"}, "pipeline": "gone"}]}`))
		err := e.h.Handle(context.Background(), ecrevents.Load(t, "push.json", nil, nil))
		if err == nil || !strings.Contains(err.Error(), "PipelineNotFoundException") {
			t.Fatalf("got %v, want PipelineNotFoundException", err)
		}
	})
	t.Run("throttled, then through", func(t *testing.T) {
		e := newEnv(t)
		e.stub.Throttle(1)
		if err := e.h.Handle(context.Background(), ecrevents.Load(t, "push.json", nil, nil)); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if len(e.stub.Executions()) != 2 || e.stub.Throttled() != 1 {
			t.Errorf("executions %d, throttled %d", len(e.stub.Executions()), e.stub.Throttled())
		}
	})
}

func FuzzHandle(f *testing.F) {
	for _, name := range []string{"push.json", "scan.json", "inspector-scan.json"} {
		f.Add(ecrevents.Load(f, name, nil, nil))
	}
	f.Add([]byte(`{"source":"aws.ecr","id":"1","account":"123456789012","region":"us-west-2","detail-type":"ECR Image Action","detail":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnv(t)
		err := e.h.Handle(context.Background(), data)
		var pe *routes.PlanError
		if err != nil && !errors.Is(err, ecrevent.ErrMalformed) && !errors.As(err, &pe) {
			t.Fatalf("unexpected error: %v", err)
		}
		if rej := e.stub.Rejected(); len(rej) > 0 {
			t.Fatalf("CodePipeline rejected a request: %v", rej)
		}
	})
}

// Promotion end to end against the CodePipeline stand-in: a push starts
// staging; staging's success (and only its success, confirmed by
// GetPipelineExecution) starts prod with exactly the digest staging deployed,
// once per staging execution however often the event comes.
func TestPromotion(t *testing.T) {
	table, err := routes.Parse([]byte(`{"routes": [
  {"name": "worker-staging", "ecr": {"repository": "web", "account": "123456789012"}, "pipeline": "worker-staging", "sourceAction": "Image",
   "variables": {"IMAGE_TAG": "{{.Tag}}", "TRIGGER_ID": "{{.EventID}}"}},
  {"name": "worker-prod", "codepipeline": {"pipeline": "worker-staging"}, "pipeline": "worker-prod", "sourceAction": "Image",
   "variables": {"IMAGE_TAG": "{{.Tag}}", "TRIGGER_ID": "{{.EventID}}"}}
]}`))
	if err != nil {
		t.Fatal(err)
	}
	vars := []string{"IMAGE_TAG", "TRIGGER_ID"}
	stub := cpstub.Start(
		cpstub.Pipeline{Name: "worker-staging", Variables: vars, SourceActions: []string{"Image"}},
		cpstub.Pipeline{Name: "worker-prod", Variables: vars, SourceActions: []string{"Image"}},
		cpstub.Pipeline{Name: "api-staging"},
	)
	t.Cleanup(stub.Close)
	logs := &bytes.Buffer{}
	h := &handler{routes: table, pipelines: stub.Client(), log: slog.New(slog.NewJSONHandler(logs, nil))}
	ctx := context.Background()
	const digest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678" // push.json's
	byPipeline := func(name string) []cpstub.Execution {
		var out []cpstub.Execution
		for _, x := range stub.Executions() {
			if x.Request.Name == name {
				out = append(out, x)
			}
		}
		return out
	}
	if err := h.Handle(ctx, ecrevents.Load(t, "push.json", nil, nil)); err != nil {
		t.Fatal(err)
	}
	staging := byPipeline("worker-staging")
	if len(staging) != 1 {
		t.Fatalf("staging executions %+v; logs:\n%s", staging, logs)
	}
	x := staging[0].ID
	succeeded := cpstub.StateChangeEvent("worker-staging", x, "SUCCEEDED", "", time.Time{})

	// Staging failed: its FAILED event promotes nothing.
	if err := h.Handle(ctx, cpstub.StateChangeEvent("worker-staging", x, "FAILED", "", time.Time{})); err != nil || len(byPipeline("worker-prod")) != 0 {
		t.Fatalf("FAILED: err %v, prod executions %d", err, len(byPipeline("worker-prod")))
	}
	// A SUCCEEDED event that CodePipeline does not confirm (the execution is
	// still in progress, or failed): refused, returned for retry, nothing starts.
	for _, status := range []string{"", "Failed"} {
		if status != "" {
			stub.SetStatus("worker-staging", x, status)
		}
		err := h.Handle(ctx, succeeded)
		if err == nil || !strings.Contains(err.Error(), "not Succeeded: only a successful execution promotes its image") {
			t.Errorf("unconfirmed success (%q): %v", status, err)
		}
		if n := len(byPipeline("worker-prod")); n != 0 {
			t.Fatalf("prod started %d times without a successful staging execution", n)
		}
	}

	stub.SetStatus("worker-staging", x, "Succeeded")
	for i := range 3 { // EventBridge's retries and a replay: one prod execution
		if err := h.Handle(ctx, succeeded); err != nil {
			t.Fatalf("Handle %d: %v", i, err)
		}
	}
	prod := byPipeline("worker-prod")
	if len(prod) != 1 {
		t.Fatalf("prod executions %d, want 1; logs:\n%s", len(prod), logs)
	}
	req := prod[0].Request
	if len(req.SourceRevisions) != 1 || req.SourceRevisions[0] != (cpstub.SourceRevision{ActionName: "Image", RevisionType: "IMAGE_DIGEST", RevisionValue: digest}) {
		t.Errorf("prod source revisions %+v, want staging's digest", req.SourceRevisions)
	}
	got := map[string]string{}
	for _, v := range req.Variables {
		got[v.Name] = v.Value
	}
	if got["IMAGE_TAG"] != "v2.3.0" || got["TRIGGER_ID"] != x {
		t.Errorf("prod variables %v, want IMAGE_TAG v2.3.0 and TRIGGER_ID %s (the staging execution)", got, x)
	}
	if !strings.HasPrefix(req.ClientRequestToken, x+"-") {
		t.Errorf("token %q is not derived from the staging execution %s", req.ClientRequestToken, x)
	}

	// A rollback's success re-deployed an older image: never promoted.
	const rollback = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	stub.SetExecution("worker-staging", rollback, cpstub.ExecutionDetail{Status: "Succeeded", ExecutionType: "ROLLBACK",
		Revisions: []cpstub.Revision{{Name: "Image", RevisionID: "sha256:" + strings.Repeat("0", 64)}}})
	logs.Reset()
	if err := h.Handle(ctx, cpstub.StateChangeEvent("worker-staging", rollback, "SUCCEEDED", "", time.Time{})); err != nil {
		t.Fatal(err)
	}
	if len(byPipeline("worker-prod")) != 1 || !strings.Contains(logs.String(), "is a rollback") {
		t.Errorf("a rollback was promoted, or not said:\n%s", logs)
	}
	// A success without a digest (a build pipeline's): refused, not guessed.
	const built = "1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	stub.SetExecution("worker-staging", built, cpstub.ExecutionDetail{Status: "Succeeded",
		Revisions: []cpstub.Revision{{Name: "Source", RevisionID: "4f6c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b"}}})
	if err := h.Handle(ctx, cpstub.StateChangeEvent("worker-staging", built, "SUCCEEDED", "", time.Time{})); err == nil || !strings.Contains(err.Error(), "no image digest") {
		t.Errorf("success without a digest: %v", err)
	}
	// A pipeline no route promotes: ignored without asking CodePipeline.
	calls := stub.GetExecutionCalls()
	logs.Reset()
	if err := h.Handle(ctx, cpstub.StateChangeEvent("api-staging", x, "SUCCEEDED", "", time.Time{})); err != nil {
		t.Fatal(err)
	}
	if stub.GetExecutionCalls() != calls || !strings.Contains(logs.String(), "no route promotes this pipeline") {
		t.Errorf("unpromoted pipeline: %d GetPipelineExecution calls, logs:\n%s", stub.GetExecutionCalls()-calls, logs)
	}
	if len(byPipeline("worker-prod")) != 1 || len(stub.Rejected()) != 0 {
		t.Errorf("prod executions %d, rejected %v", len(byPipeline("worker-prod")), stub.Rejected())
	}
}

// A pipeline that builds records the commit, not the image: the digest is its
// latest successful Build action's IMAGE_DIGEST output variable (a retried
// build's, not the failed one's), read with ListActionExecutions.
func TestPromotionFromABuild(t *testing.T) {
	table, err := routes.Parse([]byte(`{"routes": [
  {"name": "web-prod", "codepipeline": {"pipeline": "web-staging"}, "pipeline": "web-prod", "sourceAction": "Image",
   "variables": {"IMAGE_TAG": "{{.Tag}}", "TRIGGER_ID": "{{.EventID}}"}}
]}`))
	if err != nil {
		t.Fatal(err)
	}
	stub := cpstub.Start(
		cpstub.Pipeline{Name: "web-staging", Variables: []string{"RELEASE_TAG"}, SourceActions: []string{"Source"}},
		cpstub.Pipeline{Name: "web-prod", Variables: []string{"IMAGE_TAG", "TRIGGER_ID"}, SourceActions: []string{"Image"}},
	)
	t.Cleanup(stub.Close)
	logs := &bytes.Buffer{}
	h := &handler{routes: table, pipelines: stub.Client(), log: slog.New(slog.NewJSONHandler(logs, nil))}
	const x = "2b3c4d5e-6f70-4a8b-9cad-becfd0e1f203"
	failed, built := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	stub.SetExecution("web-staging", x, cpstub.ExecutionDetail{Status: "Succeeded", Variables: map[string]string{"RELEASE_TAG": "v2.4.0-rc.1"},
		Revisions: []cpstub.Revision{{Name: "Source", RevisionID: "9fceb02d0ae598e95dc970b74767f19372d61af8"}}})
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	// More action executions than one page, so the paginator is exercised.
	var noise []cpstub.ActionExecution
	for i := range 120 {
		noise = append(noise, cpstub.ActionExecution{Stage: "Deploy", Action: "Deploy", Category: "Deploy", Status: "Succeeded", Updated: at.Add(time.Duration(i) * time.Second)})
	}
	stub.AddActionExecutions("web-staging", x, noise...)
	stub.AddActionExecutions("web-staging", x,
		cpstub.ActionExecution{Stage: "Build", Action: "Build", Category: "Build", Status: "Failed", OutputVariables: map[string]string{"IMAGE_DIGEST": failed}, Updated: at.Add(-time.Hour)},
		cpstub.ActionExecution{Stage: "Build", Action: "Build", Category: "Build", Status: "Succeeded", OutputVariables: map[string]string{"IMAGE_DIGEST": built, "IMAGE_URI": "x"}, Updated: at},
		cpstub.ActionExecution{Stage: "Source", Action: "Source", Category: "Source", Status: "Succeeded", OutputVariables: map[string]string{"IMAGE_DIGEST": failed}, Updated: at.Add(time.Hour)},
	)
	if err := h.Handle(context.Background(), cpstub.StateChangeEvent("web-staging", x, "SUCCEEDED", "", time.Time{})); err != nil {
		t.Fatalf("Handle: %v\n%s", err, logs)
	}
	ex := stub.Executions()
	if len(ex) != 1 || ex[0].Request.Name != "web-prod" || ex[0].Request.SourceRevisions[0].RevisionValue != built {
		t.Fatalf("executions %+v, want web-prod with the built digest %s", ex, built)
	}
	if !slices.Contains(ex[0].Request.Variables, cpstub.Variable{Name: "IMAGE_TAG", Value: "v2.4.0-rc.1"}) {
		t.Errorf("variables %+v, want the release tag as IMAGE_TAG", ex[0].Request.Variables)
	}
	// A build without the output variable (a custom buildspec): refused, named.
	const y = "3c4d5e6f-7081-4b9c-adbe-cfd0e1f20314"
	stub.SetExecution("web-staging", y, cpstub.ExecutionDetail{Status: "Succeeded"})
	stub.AddActionExecutions("web-staging", y, cpstub.ActionExecution{Stage: "Build", Action: "Build", Category: "Build", Status: "Succeeded", OutputVariables: map[string]string{"IMAGE_URI": "x"}, Updated: at})
	err = h.Handle(context.Background(), cpstub.StateChangeEvent("web-staging", y, "SUCCEEDED", "", time.Time{}))
	if err == nil || !strings.Contains(err.Error(), "no successful Build action exported IMAGE_DIGEST") {
		t.Errorf("build without IMAGE_DIGEST: %v", err)
	}
	if len(stub.Executions()) != 1 || len(stub.Rejected()) != 0 {
		t.Errorf("executions %d, rejected %v", len(stub.Executions()), stub.Rejected())
	}
}
