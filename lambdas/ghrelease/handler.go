package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/ghevent"
	"github.com/pipebridge/pipebridge/internal/routes"
)

// maxBody is the largest delivery accepted. Release, tag and create payloads are
// a few tens of KB; GitHub caps any payload at 25 MB and Function URLs at 6 MB.
const maxBody = 1 << 20

// budget is how long a delivery may take: GitHub gives up after 10 s, and a
// delivery it timed out on shows as failed even if the pipeline started.
const budget = 8 * time.Second

type handler struct {
	routes    *routes.Table
	pipelines routes.Starter
	secret    *secret
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
// version 2.0) requests have the same shape and are served too.
func (h *handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	headers := make(map[string]string, len(req.Headers))
	for k, v := range req.Headers {
		headers[strings.ToLower(k)] = v
	}
	delivery := headers["x-github-delivery"]
	log := h.log.With("delivery", delivery, "githubEvent", headers["x-github-event"])

	if len(req.Body) > base64.StdEncoding.EncodedLen(maxBody) {
		log.WarnContext(ctx, "rejected", "reason", "body over the size limit", "bytes", len(req.Body))
		return reply(http.StatusRequestEntityTooLarge, map[string]string{"error": "payload too large"}), nil
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			log.WarnContext(ctx, "rejected", "reason", "body is not valid base64")
			return reply(http.StatusBadRequest, map[string]string{"error": "body is not valid base64"}), nil
		}
	}
	if len(body) > maxBody {
		log.WarnContext(ctx, "rejected", "reason", "body over the size limit", "bytes", len(body))
		return reply(http.StatusRequestEntityTooLarge, map[string]string{"error": "payload too large"}), nil
	}

	// Authenticate before reading anything else. The response never says why a
	// signature failed; the log does.
	if reason, err := h.verify(ctx, headers["x-hub-signature-256"], body); err != nil {
		log.ErrorContext(ctx, "secret unavailable", "error", err.Error())
		return reply(http.StatusBadGateway, map[string]string{"error": "cannot verify the signature now; redeliver later"}), nil
	} else if reason != "" {
		log.WarnContext(ctx, "rejected", "reason", reason)
		return reply(http.StatusUnauthorized, map[string]string{"error": "unauthorized"}), nil
	}

	mediaType, _, _ := mime.ParseMediaType(headers["content-type"])
	payload, err := github.ValidatePayloadFromBody(mediaType, bytes.NewReader(body), headers["x-hub-signature-256"], h.secret.get())
	if err != nil {
		log.WarnContext(ctx, "rejected", "reason", err.Error())
		return reply(http.StatusBadRequest, map[string]string{"error": "unsupported content type: configure the webhook with application/json or application/x-www-form-urlencoded"}), nil
	}
	if delivery == "" {
		log.WarnContext(ctx, "rejected", "reason", "no X-GitHub-Delivery header")
		return reply(http.StatusBadRequest, map[string]string{"error": "missing X-GitHub-Delivery header"}), nil
	}

	ev, err := ghevent.Parse(headers["x-github-event"], delivery, payload)
	switch {
	case errors.Is(err, ghevent.ErrPing):
		log.InfoContext(ctx, "ping")
		return reply(http.StatusOK, map[string]string{"ok": "pong"}), nil
	case errors.Is(err, ghevent.ErrIgnored):
		log.InfoContext(ctx, "ignored", "reason", err.Error())
		return reply(http.StatusOK, map[string]string{"ignored": err.Error()}), nil
	case err != nil:
		log.WarnContext(ctx, "rejected", "reason", err.Error())
		return reply(http.StatusBadRequest, map[string]string{"error": err.Error()}), nil
	}

	if !h.routes.Any(ev) {
		routes.LogIgnored(ctx, log, ev, h.routes.Match(ev))
		return reply(http.StatusOK, map[string]string{"ignored": "no route matched " + ev.Kind + " " + ev.Repository + " " + ev.Tag}), nil
	}
	if ev.CommitSHA == "" {
		if ev.CommitSHA, err = h.commit(ctx, ev.Repository, ev.Tag); err != nil {
			log.ErrorContext(ctx, "commit lookup failed", "error", err.Error(), "repository", ev.Repository, "tag", ev.Tag)
			return reply(http.StatusBadGateway, map[string]string{"error": "GitHub API: " + err.Error()}), nil
		}
	}
	started, err := routes.Start(ctx, h.pipelines, log, ev, h.routes.Match(ev))
	if err != nil {
		return reply(http.StatusBadGateway, map[string]any{"error": err.Error(), "started": started}), nil
	}
	if len(started) == 0 {
		return reply(http.StatusOK, map[string]string{"ignored": "no route could start for " + ev.Kind + " " + ev.Tag}), nil
	}
	return reply(http.StatusAccepted, map[string]any{"started": started}), nil
}

// verify checks the sha256 signature over the exact body. It returns a reason when
// the signature is missing or wrong, and an error only when the secret cannot be
// read. After a mismatch it re-reads the secret (at most once a minute), so a
// rotated secret takes effect.
func (h *handler) verify(ctx context.Context, sig string, body []byte) (string, error) {
	if sig == "" {
		return "no X-Hub-Signature-256 header (SHA-1 signatures are not accepted)", nil
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return "X-Hub-Signature-256 is not sha256=<hex>", nil
	}
	// go-github's check uses hmac.Equal (constant time). The secret is never
	// empty: newSecret refuses one, which closes go-github's skip-if-empty path.
	if github.ValidateSignature(sig, body, h.secret.get()) == nil {
		return "", nil
	}
	switch err := h.secret.refresh(ctx); {
	case errors.Is(err, errTooSoon):
		return "signature does not match", nil
	case err != nil:
		return "", err
	}
	if github.ValidateSignature(sig, body, h.secret.get()) == nil {
		h.log.InfoContext(ctx, "webhook secret was rotated; using the new one")
		return "", nil
	}
	return "signature does not match (secret re-read)", nil
}
