package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

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
