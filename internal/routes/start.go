package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
)

// Starter is the CodePipeline call the Lambdas make.
type Starter interface {
	StartPipelineExecution(ctx context.Context, in *codepipeline.StartPipelineExecutionInput, optFns ...func(*codepipeline.Options)) (*codepipeline.StartPipelineExecutionOutput, error)
}

// Started is one execution that was started.
type Started struct {
	Route       string `json:"route"`
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"executionId"`
}

// Any reports whether some route matches ev before planning, so a caller can
// fetch what planning needs (a commit SHA) only when it will be used.
func (t *Table) Any(ev Event) bool {
	candidates := ev.Tags
	if len(candidates) == 0 {
		candidates = []string{ev.Tag}
	}
	for _, r := range t.Routes {
		for _, tag := range candidates {
			e := ev
			e.Tag = tag
			if ok, _ := r.matches(e); ok {
				return true
			}
		}
	}
	return false
}

// Start sends the matched decisions' requests, logging one line per decision. It
// tries every request even after one fails, and returns the failures joined: the
// caller's retry resends them all, and the idempotency tokens make the ones that
// already started no-ops.
func Start(ctx context.Context, client Starter, log *slog.Logger, ev Event, decisions []Decision) ([]Started, error) {
	var started []Started
	var errs []error
	for _, d := range decisions {
		if !d.Matched {
			continue
		}
		attrs := []any{"route", d.Route.Name, "pipeline", d.Route.Pipeline, "event", ev.Kind, "eventId", ev.ID,
			"repository", ev.Repository, "tag", ev.Tag, "token", aws.ToString(d.Input.ClientRequestToken)}
		if ev.Digest != "" {
			attrs = append(attrs, "digest", ev.Digest)
		}
		if ev.CommitSHA != "" {
			attrs = append(attrs, "commit", ev.CommitSHA)
		}
		for _, n := range d.Notes {
			attrs = append(attrs, "note", n)
		}
		out, err := client.StartPipelineExecution(ctx, d.Input)
		if err != nil {
			log.ErrorContext(ctx, "start failed", append(attrs, "error", err.Error())...)
			errs = append(errs, fmt.Errorf("start pipeline %s for route %s: %w", d.Route.Pipeline, d.Route.Name, err))
			continue
		}
		id := aws.ToString(out.PipelineExecutionId)
		log.InfoContext(ctx, "started", append(attrs, "executionId", id)...)
		started = append(started, Started{Route: d.Route.Name, Pipeline: d.Route.Pipeline, ExecutionID: id})
	}
	if len(started) == 0 && len(errs) == 0 {
		LogIgnored(ctx, log, ev, decisions)
	}
	return started, errors.Join(errs...)
}

// LogIgnored writes the one line that says why an event started nothing, with
// each route's reason.
func LogIgnored(ctx context.Context, log *slog.Logger, ev Event, decisions []Decision) {
	reasons := map[string]string{}
	for _, d := range decisions {
		reasons[d.Route.Name] = d.Reason
	}
	log.InfoContext(ctx, "ignored", "reason", "no route matched", "event", ev.Kind, "eventId", ev.ID,
		"repository", ev.Repository, "tag", ev.Tag, "routes", reasons)
}
