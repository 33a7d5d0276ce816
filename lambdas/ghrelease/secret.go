package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/secretcache"
)

// verify checks the sha256 signature over the exact body against the webhook
// secret: its current value, and its previous one during the rotation grace. It
// returns a reason when the signature is wrong, and an error only
// when the secret cannot be read. The secret is re-read every 5 minutes whatever
// the traffic, and after a mismatch at most once a minute (secretcache).
//
// Handle has checked the header's form (signatureFormat) before reading the body.
func (h *handler) verify(ctx context.Context, sig string, body []byte) (string, error) {
	current, err := h.secret.Get(ctx)
	if err != nil {
		if !h.secret.Loaded() {
			return "", err
		}
		h.log.WarnContext(ctx, "webhook secret re-read failed; using the value read before", "secret", h.secret.ID(), "error", err.Error())
	}
	// go-github's check uses hmac.Equal (constant time); values are never empty
	// (secretcache refuses an empty signing secret), which closes go-github's
	// skip-if-empty path.
	if github.ValidateSignature(sig, body, current) == nil {
		return "", nil
	}
	if prev := h.secret.Previous(ctx); prev != nil && github.ValidateSignature(sig, body, prev) == nil {
		h.log.WarnContext(ctx, "accepted a delivery signed with the previous webhook secret (rotation grace): update the webhook's secret on GitHub",
			"secret", h.secret.ID())
		return "", nil
	}
	switch current, err = h.secret.Refresh(ctx); {
	case errors.Is(err, secretcache.ErrTooSoon):
		return "signature does not match", nil
	case err != nil:
		return "", err
	}
	if github.ValidateSignature(sig, body, current) == nil {
		h.log.InfoContext(ctx, "webhook secret was rotated; using the new one")
		return "", nil
	}
	return "signature does not match (secret re-read)", nil
}

// signatureFormat returns why sig cannot be a sha256 signature, or "".
func signatureFormat(sig string) string {
	if sig == "" {
		return "no X-Hub-Signature-256 header (SHA-1 signatures are not accepted)"
	}
	if len(sig) != len("sha256=")+64 || sig[:7] != "sha256=" {
		return "X-Hub-Signature-256 is not sha256=<64 hex digits>"
	}
	return ""
}

// tokenSource gives the GitHub token for each API request: the secret's current
// value, or none (anonymous calls, enough for public repositories) when the
// secret is empty, unreadable, or holds a token GitHub rejected.
type tokenSource struct {
	cache *secretcache.Cache // nil: no token secret configured
	log   *slog.Logger

	mu       sync.Mutex
	rejected [sha256.Size]byte // hash of the token GitHub last rejected
}

func (t *tokenSource) token(ctx context.Context) string {
	if t == nil || t.cache == nil {
		return ""
	}
	tok, err := t.cache.Get(ctx)
	if err != nil {
		t.log.WarnContext(ctx, "GitHub token secret unreadable; calling GitHub without a token", "secret", t.cache.ID(), "error", err.Error())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(tok) == 0 || sha256.Sum256(tok) == t.rejected {
		return ""
	}
	return string(tok)
}

// rejectedNow records that GitHub answered 401 to the current token: one log
// line per rejected value (naming the secret, never the value), a re-read of
// the secret (bounded), and anonymous calls until the value changes. It says
// whether a retry may help.
func (t *tokenSource) rejectedNow(ctx context.Context) bool {
	if t == nil || t.cache == nil {
		return false
	}
	tok, _ := t.cache.Get(ctx)
	if len(tok) == 0 {
		return false
	}
	sum := sha256.Sum256(tok)
	t.mu.Lock()
	if sum == t.rejected {
		t.mu.Unlock()
		return false
	}
	t.rejected = sum
	t.mu.Unlock()
	t.log.ErrorContext(ctx, "GitHub rejected the token stored in the secret (401 Bad credentials): store a valid token there, or empty it for anonymous calls; calling without a token until it changes",
		"secret", t.cache.ID())
	t.cache.Refresh(ctx)
	return true
}

// isUnauthorized says whether err is GitHub's 401.
func isUnauthorized(err error) bool {
	var e *github.ErrorResponse
	return errors.As(err, &e) && e.Response != nil && e.Response.StatusCode == http.StatusUnauthorized
}
