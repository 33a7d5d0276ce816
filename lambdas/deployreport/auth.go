package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/pipebridge/pipebridge/internal/secretcache"
)

// tokenSource gives the token for GitHub's Deployments API: a stored token, or a
// GitHub App installation's token (what organisations prefer: no person's token,
// permissions per installation, an hour's life).
type tokenSource interface {
	// token returns the token, or "" with a reason when there is none to use.
	token(ctx context.Context) (tok, why string, err error)
}

// storedToken is a token in a Secrets Manager secret (githubTokenSecret).
type storedToken struct{ cache *secretcache.Cache }

func (s storedToken) token(ctx context.Context) (string, string, error) {
	tok, err := s.cache.Get(ctx)
	if err != nil && len(tok) == 0 {
		return "", "", fmt.Errorf("read the GitHub token secret %s: %w", s.cache.ID(), err)
	}
	if len(tok) == 0 {
		return "", "the GitHub token secret " + s.cache.ID() + " is empty: store a token with Deployments: write", nil
	}
	return string(tok), "", nil
}

// appToken is a GitHub App installation's token, minted by ghinstallation from
// the App's private key (a PEM in Secrets Manager) and renewed before it expires.
// A new key in the secret takes effect within the secret's 5-minute freshness.
type appToken struct {
	appID, installationID int64
	key                   *secretcache.Cache
	apiURL                string // GitHub Enterprise Server's API base; empty for github.com
	base                  http.RoundTripper

	mu  sync.Mutex
	pem []byte
	tr  *ghinstallation.Transport
}

func (a *appToken) token(ctx context.Context) (string, string, error) {
	pem, err := a.key.Get(ctx)
	if len(pem) == 0 {
		if err == nil {
			err = errors.New("it is empty: store the App's private key (PEM)")
		}
		return "", "", fmt.Errorf("read the GitHub App key secret %s: %w", a.key.ID(), err)
	}
	a.mu.Lock()
	if a.tr == nil || !bytes.Equal(pem, a.pem) {
		tr, err := ghinstallation.New(a.base, a.appID, a.installationID, pem)
		if err != nil {
			a.mu.Unlock()
			return "", "", fmt.Errorf("the GitHub App key in %s is not a usable private key (%v): store the PEM GitHub generated", a.key.ID(), err)
		}
		if a.apiURL != "" {
			tr.BaseURL = strings.TrimSuffix(a.apiURL, "/")
		}
		a.tr, a.pem = tr, pem
	}
	tr := a.tr
	a.mu.Unlock()
	tok, err := tr.Token(ctx)
	if err != nil {
		return "", "", fmt.Errorf("GitHub App %d, installation %d: no installation token (%w): check the app id, the installation id and that the key is the App's", a.appID, a.installationID, err)
	}
	return tok, "", nil
}
