package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/ghevent"
	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/routes"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

// maxBody is the largest delivery accepted. Release, tag and create payloads are
// a few tens of KB; GitHub caps any payload at 25 MB and Function URLs at 6 MB.
const maxBody = 1 << 20

// budget is how long a delivery may take: GitHub gives up after 10 s, and a
// delivery it timed out on shows as failed even if the pipeline started.
const budget = 8 * time.Second

type handler struct {
	routes    *routes.Table
	pipelines dispatch.Starter
	secret    *secretcache.Cache
	tokens    *tokenSource
	// commit finds a tag's commit when the payload does not carry it.
	commit func(ctx context.Context, repository, tag string) (string, error)
	log    *slog.Logger
}

type response = events.LambdaFunctionURLResponse

func reply(status int, body any) response {
	b, _ := json.Marshal(body)
	return response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// Handle serves a Lambda Function URL request; API Gateway HTTP API (payload
// version 2.0) requests have the same shape and are served too. It reads top to
// bottom, each step once: check the signature header and the size, authenticate,
// decode, parse, select
// routes, resolve the commit (only when a route matched), plan and start, answer.
func (h *handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	headers := make(map[string]string, len(req.Headers))
	for k, v := range req.Headers {
		headers[strings.ToLower(k)] = v
	}
	delivery := headers["x-github-delivery"]
	log := h.log.With("delivery", delivery, "githubEvent", headers["x-github-event"])
	reject := func(status int, reason, answer string) (response, error) {
		log.WarnContext(ctx, "rejected", "reason", reason, "status", status)
		return reply(status, map[string]string{"error": answer}), nil
	}

	// Signature header, then size, then the body: an unsigned request costs a
	// map lookup; nothing is decoded before the signature is checked.
	sig := headers["x-hub-signature-256"]
	if reason := signatureFormat(sig); reason != "" {
		return reject(http.StatusUnauthorized, reason, "unauthorized")
	}
	if len(req.Body) > base64.StdEncoding.EncodedLen(maxBody) {
		return reject(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the size limit (%d bytes)", len(req.Body)), "payload too large")
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return reject(http.StatusBadRequest, "body is not valid base64", "body is not valid base64")
		}
	}
	if len(body) > maxBody {
		return reject(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the size limit (%d bytes)", len(body)), "payload too large")
	}

	// Authenticate, once, before reading anything else. The answer never says
	// why a signature failed; the log does.
	if reason, err := h.verify(ctx, sig, body); err != nil {
		log.ErrorContext(ctx, "secret unavailable", "error", err.Error())
		return reply(http.StatusBadGateway, map[string]string{"error": "cannot verify the signature now; redeliver later"}), nil
	} else if reason != "" {
		return reject(http.StatusUnauthorized, reason, "unauthorized")
	}
	if delivery == "" {
		return reject(http.StatusBadRequest, "no X-GitHub-Delivery header", "missing X-GitHub-Delivery header")
	}

	// Decode and parse.
	payload, err := decodePayload(headers["content-type"], body)
	if err != nil {
		return reject(http.StatusBadRequest, err.Error(), err.Error())
	}
	ev, err := ghevent.Parse(headers["x-github-event"], delivery, payload)
	var ds []routes.Decision
	switch {
	case errors.Is(err, ghevent.ErrPing):
		log.InfoContext(ctx, "ping")
		return reply(http.StatusOK, map[string]string{"ok": "pong"}), nil
	case errors.Is(err, ghevent.ErrIgnored):
	case err != nil:
		return reject(http.StatusBadRequest, err.Error(), err.Error())
	default:
		// Select routes; only a matched event costs a GitHub API call.
		ds = h.routes.Select(ev)
		if matched := routes.Matched(ds); len(matched) > 0 {
			return h.start(ctx, log, ev, matched)
		}
		err = fmt.Errorf("no route matched %s %s %s", ev.Kind, ev.Repository, ev.Tag)
	}
	dispatch.LogIgnored(ctx, log, ev, err.Error(), ds)
	return reply(http.StatusOK, map[string]string{"ignored": err.Error()}), nil
}

// start resolves the commit when the payload lacks it, then plans and starts the
// matched routes and answers: 202 when all started, 502 when CodePipeline or
// GitHub failed (GitHub shows a failed delivery, to redeliver), 422 when a
// matched route cannot become a valid request (redelivering will not help).
func (h *handler) start(ctx context.Context, log *slog.Logger, ev routes.Event, matched []routes.Decision) (response, error) {
	// A tag with a control character is refused by the plan below; no tag lookup
	// is worth making for it (and git itself never makes such a tag).
	if _, bad := names.ControlChar(ev.Tag); ev.CommitSHA == "" && bad < 0 {
		sha, err := h.commit(ctx, ev.Repository, ev.Tag)
		if err != nil {
			log.ErrorContext(ctx, "commit lookup failed", "error", err.Error(), "repository", ev.Repository, "tag", ev.Tag)
			return reply(http.StatusBadGateway, map[string]string{"error": "GitHub API: " + err.Error()}), nil
		}
		ev.CommitSHA = sha
	}
	o := dispatch.Run(ctx, h.pipelines, log, ev, matched)
	switch {
	case o.Failed != nil:
		return reply(http.StatusBadGateway, map[string]any{"error": o.Err().Error(), "started": o.Started}), nil
	case o.Refused != nil:
		return reply(http.StatusUnprocessableEntity, map[string]any{"error": o.Refused.Error(), "started": o.Started}), nil
	}
	return reply(http.StatusAccepted, map[string]any{"started": o.Started}), nil
}

// decodePayload returns the JSON payload of a delivery: the body itself
// (application/json) or its payload field (application/x-www-form-urlencoded),
// GitHub's two content types.
func decodePayload(contentType string, body []byte) ([]byte, error) {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	switch mediaType {
	case "application/json":
		return body, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form-encoded delivery: %v", err)
		}
		return []byte(form.Get("payload")), nil
	}
	return nil, fmt.Errorf("unsupported Content-Type %q: configure the webhook with application/json or application/x-www-form-urlencoded", contentType)
}
