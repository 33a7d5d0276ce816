package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/pipebridge/pipebridge/internal/ecrevent"
	"github.com/pipebridge/pipebridge/internal/routes"
)

// handler turns ECR EventBridge events into pipeline executions.
type handler struct {
	routes    *routes.Table
	pipelines routes.Starter
	log       *slog.Logger
}

// Handle returns nil for events that start nothing, and an error when an event is
// malformed or CodePipeline fails, so that Lambda retries it and then hands it to
// the function's failure destination: nothing is dropped silently.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) error {
	ev, err := ecrevent.Parse(raw)
	switch {
	case errors.Is(err, ecrevent.ErrIgnored):
		h.log.InfoContext(ctx, "ignored", "reason", err.Error(), "eventId", ev.ID)
		return nil
	case err != nil:
		h.log.ErrorContext(ctx, "malformed event", "error", err.Error(), "eventId", ev.ID)
		return err
	}
	_, err = routes.Start(ctx, h.pipelines, h.log, ev, h.routes.Match(ev))
	return err
}
