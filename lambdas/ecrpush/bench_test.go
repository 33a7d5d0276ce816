package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pipebridge/pipebridge/internal/routes"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/ecrevents"
)

// BenchmarkHandle measures the ECR handler in-process on AWS's push event for a
// repository no route takes (no AWS call): parse, select, the ignored line.
func BenchmarkHandle(b *testing.B) {
	e := newEnv(&testing.T{})
	e.h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	ev := ecrevents.Load(b, "push.json", nil, map[string]any{"repository-name": "api"})
	b.ReportAllocs()
	for b.Loop() {
		if err := e.h.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPromotion: what a promotion costs beside a routed push, in-process
// against the CodePipeline stand-in on loopback. push: parse, select, one
// StartPipelineExecution. promotion: parse, GetPipelineExecution, select, one
// StartPipelineExecution (the stand-in answers the repeated token with the
// first execution, as CodePipeline does).
func BenchmarkPromotion(b *testing.B) {
	table, err := routes.Parse([]byte(`{"routes": [
  {"name": "s", "ecr": {"repository": "web", "account": "123456789012"}, "pipeline": "s", "sourceAction": "Image", "variables": {"IMAGE_TAG": "{{.Tag}}"}},
  {"name": "p", "codepipeline": {"pipeline": "s"}, "pipeline": "p", "sourceAction": "Image", "variables": {"IMAGE_TAG": "{{.Tag}}"}}
]}`))
	if err != nil {
		b.Fatal(err)
	}
	stub := cpstub.Start(
		cpstub.Pipeline{Name: "s", Variables: []string{"IMAGE_TAG"}, SourceActions: []string{"Image"}},
		cpstub.Pipeline{Name: "p", Variables: []string{"IMAGE_TAG"}, SourceActions: []string{"Image"}},
	)
	defer stub.Close()
	h := &handler{routes: table, pipelines: stub.Client(), log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	push := ecrevents.Load(b, "push.json", map[string]any{"region": "us-east-1"}, nil)
	if err := h.Handle(context.Background(), push); err != nil {
		b.Fatal(err)
	}
	x := stub.Executions()[0].ID
	stub.SetStatus("s", x, "Succeeded")
	succeeded := cpstub.StateChangeEvent("s", x, "SUCCEEDED", "", time.Time{})
	for _, bc := range []struct {
		name  string
		event []byte
	}{{"push", push}, {"promotion", succeeded}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Handle(context.Background(), bc.event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if n := len(stub.Executions()); n != 2 {
		b.Fatalf("%d executions, want 2 (the tokens make the repeats no-ops)", n)
	}
}
