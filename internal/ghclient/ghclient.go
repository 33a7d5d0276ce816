// Package ghclient builds the go-github client the GitHub Lambdas use: for
// github.com, or for GitHub Enterprise Server when an API base URL is given.
package ghclient

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v90/github"
)

// New returns a client with the given per-request timeout. token may be empty
// (public repositories only); apiURL is GitHub Enterprise Server's API base
// (https://HOST/api/v3/, the trailing slash added when missing), or empty for
// github.com.
func New(apiURL, token string, timeout time.Duration) (*github.Client, error) {
	opts := []github.ClientOptionsFunc{github.WithTimeout(timeout)}
	if token != "" {
		opts = append(opts, github.WithAuthToken(token))
	}
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
