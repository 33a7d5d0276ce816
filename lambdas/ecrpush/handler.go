package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/ecrevent"
	"github.com/pipebridge/pipebridge/internal/routes"
)

// handler turns ECR and Inspector EventBridge events into pipeline executions,
// and CodePipeline's successful executions into promotions.
type handler struct {
	routes    *routes.Table
	pipelines pipelines
	log       *slog.Logger
}

// Handle reads top to bottom: parse, select routes, plan and start. It returns
// nil for events that start nothing, and an error when an event is malformed,
// a matched route cannot become a valid request, or CodePipeline fails, so that
// Lambda retries it and then hands it to the function's dead-letter queue:
// nothing is dropped silently.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) error {
	ev, err := ecrevent.Parse(raw)
	var ds []routes.Decision
	switch {
	case errors.Is(err, ecrevent.ErrIgnored):
	case err != nil:
		h.log.ErrorContext(ctx, "malformed event", "error", err.Error(), "eventId", ev.ID)
		return err
	case ev.Kind == routes.KindPromotion && len(h.routes.PromotedFrom(ev.Pipeline)) == 0:
		err = errors.New("no route promotes this pipeline")
	default:
		if ev.Kind == routes.KindPromotion {
			if err := h.resolve(ctx, &ev); errors.Is(err, errNotPromoted) {
				dispatch.LogIgnored(ctx, h.log, ev, err.Error(), nil)
				return nil
			} else if err != nil {
				h.log.ErrorContext(ctx, "promotion refused", "pipeline", ev.Pipeline, "executionId", ev.ID, "error", err.Error())
				return err
			}
		}
		ds = h.routes.Select(ev)
		if matched := routes.Matched(ds); len(matched) > 0 {
			return dispatch.Run(ctx, h.pipelines, h.log, ev, matched).Err()
		}
		err = errors.New("no route matched")
	}
	dispatch.LogIgnored(ctx, h.log, ev, err.Error(), ds)
	return nil
}
