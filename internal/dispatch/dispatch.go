// Package dispatch is the Lambdas' edge code around the pure route table: it
// loads the table from the function's environment (or SSM), sends the planned
// StartPipelineExecution requests, and writes the log lines that record each
// decision. Only the Lambdas use it; the CLI and the CDK app use internal/routes.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"

	"github.com/pipebridge/pipebridge/internal/routes"
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

// Outcome is what became of an event's matched routes.
type Outcome struct {
	Started []Started
	// Refused joins a *routes.PlanError for each matched route whose request
	// would be invalid (a value too long, a control character, no commit): the
	// same event would fail again, so it is not worth retrying, but it is never
	// reported as success.
	Refused error
	// Failed joins the CodePipeline calls that failed: worth retrying, and the
	// tokens make the ones that did start no-ops.
	Failed error
}

// Err is the outcome's failure, if any: the failed calls and the refusals.
func (o Outcome) Err() error { return errors.Join(o.Failed, o.Refused) }

// Run plans the matched decisions and starts their pipelines, logging one line
// per route: started, refused or start failed. It tries every request even after
// one fails.
func Run(ctx context.Context, client Starter, log *slog.Logger, ev routes.Event, matched []routes.Decision) Outcome {
	var o Outcome
	attrs := eventAttrs(ev)
	plans, refused := routes.Plans(ev, matched)
	var pe *routes.PlanError
	for _, err := range unjoin(refused) {
		if errors.As(err, &pe) {
			log.ErrorContext(ctx, "refused", append(attrs, "route", pe.Route, "field", pe.Field, "length", pe.Length, "reason", pe.Reason)...)
		}
	}
	o.Refused = refused
	var failed []error
	for _, p := range plans {
		a := append(attrs, "route", p.Route.Name, "pipeline", p.Route.Pipeline, "token", aws.ToString(p.Input.ClientRequestToken))
		for _, n := range p.Notes {
			a = append(a, "note", n)
		}
		out, err := client.StartPipelineExecution(ctx, p.Input)
		if err != nil {
			log.ErrorContext(ctx, "start failed", append(a, "error", err.Error())...)
			failed = append(failed, fmt.Errorf("start pipeline %s for route %s: %w", p.Route.Pipeline, p.Route.Name, err))
			continue
		}
		id := aws.ToString(out.PipelineExecutionId)
		log.InfoContext(ctx, "started", append(a, "executionId", id)...)
		o.Started = append(o.Started, Started{Route: p.Route.Name, Pipeline: p.Route.Pipeline, ExecutionID: id})
	}
	o.Failed = errors.Join(failed...)
	return o
}

// LogIgnored writes the one line that says why an event starts nothing: the
// reason, and when routes were consulted, each route's own reason.
func LogIgnored(ctx context.Context, log *slog.Logger, ev routes.Event, reason string, ds []routes.Decision) {
	attrs := append(eventAttrs(ev), "reason", reason)
	if len(ds) > 0 {
		attrs = append(attrs, "routes", routes.Reasons(ds))
	}
	log.InfoContext(ctx, "ignored", attrs...)
}

func eventAttrs(ev routes.Event) []any {
	a := []any{"event", ev.Kind, "eventId", ev.ID}
	if ev.Pipeline != "" {
		a = append(a, "pipeline", ev.Pipeline)
	}
	if ev.Repository != "" {
		a = append(a, "repository", ev.Repository)
	}
	if ev.Tag != "" {
		a = append(a, "tag", ev.Tag)
	} else if len(ev.Tags) > 0 {
		a = append(a, "tags", ev.Tags)
	}
	if ev.Digest != "" {
		a = append(a, "digest", ev.Digest)
	}
	if ev.CommitSHA != "" {
		a = append(a, "commit", ev.CommitSHA)
	}
	return a
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
