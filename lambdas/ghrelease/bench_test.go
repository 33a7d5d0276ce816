package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/pipebridge/pipebridge/internal/routes"
)

// BenchmarkHandle measures the webhook handler in-process on GitHub's published
// release delivery, signed: "ignored" routes no route matches (no AWS or GitHub
// call), the whole path to the answer.
func BenchmarkHandle(b *testing.B) {
	e := newEnv(&testing.T{})
	e.h.routes, _ = routes.Parse([]byte(`{"routes": [{"name": "other", "github": {"repository": "acme/other"}, "pipeline": "hello-prod"}]}`))
	e.h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	req := delivery("release", mustRead(fixtures+"github/release.published.json"))
	b.ReportAllocs()
	for b.Loop() {
		if resp, _ := e.h.Handle(context.Background(), req); resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
