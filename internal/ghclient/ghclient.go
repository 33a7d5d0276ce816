// Package ghclient builds the go-github client the GitHub Lambdas use: for
// github.com, or for GitHub Enterprise Server when an API base URL is given.
package ghclient

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v90/github"
)

// New returns a client with the given per-request timeout. token may be empty
// (public repositories only); apiURL is GitHub Enterprise Server's API base
// (https://HOST/api/v3/, the trailing slash added when missing), or empty for
// github.com.
func New(apiURL, token string, timeout time.Duration) (*github.Client, error) {
	return NewWithToken(apiURL, func(context.Context) string { return token }, timeout)
}

// NewWithToken is New with the token looked up on every request, so a token
// stored (or rotated) in Secrets Manager takes effect in a warm function. An
// empty token makes an anonymous request.
func NewWithToken(apiURL string, token func(context.Context) string, timeout time.Duration) (*github.Client, error) {
	hc := &http.Client{Timeout: timeout, Transport: &tokenTransport{base: http.DefaultTransport, token: token}}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(hc)}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, github.WithURLs(&apiURL, nil))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("GitHub client: %w", err)
	}
	return gh, nil
}

type tokenTransport struct {
	base  http.RoundTripper
	token func(context.Context) string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok := t.token(req.Context()); tok != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.base.RoundTrip(req)
}
