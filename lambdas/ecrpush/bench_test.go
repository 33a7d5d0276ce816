package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

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
