package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipebridge/pipebridge/internal/ghclient"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

// A delivery signed with the secret's previous value: accepted while the grace
// lasts (the instance learns of the rotation within 5 minutes), refused after.
func TestPreviousSecretDuringGrace(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "github/release.published.json")
	old := delivery("release", body) // signed with testSecret
	start := *e.clock
	rotated := start.Add(time.Minute)
	e.secrets.rotate("the-new-secret", rotated)
	at := func(d time.Duration) int {
		*e.clock = start.Add(d)
		status, _ := e.call(t, old)
		return status
	}
	if s := at(4 * time.Minute); s != 202 {
		t.Errorf("4 min after the last read: status %d, want 202 (the instance has not re-read yet)", s)
	}
	if s := at(10 * time.Minute); s != 202 || !strings.Contains(e.logs.String(), "signed with the previous webhook secret") {
		t.Errorf("within the grace: status %d, want 202 with a warning; logs:\n%s", s, e.logs)
	}
	if s := at(time.Minute + secretcache.DefaultGrace + time.Second); s != 401 {
		t.Errorf("after the grace: status %d, want 401", s)
	}
	newReq := delivery("release", body)
	newReq.Headers["x-hub-signature-256"] = sign("the-new-secret", body)
	if status, _ := e.call(t, newReq); status != 202 {
		t.Errorf("the new secret: status %d, want 202", status)
	}
	if strings.Contains(e.logs.String(), "the-new-secret") || strings.Contains(e.logs.String(), testSecret) {
		t.Errorf("a secret value is in the log")
	}
}

// With the grace at 0, a rotated-out value is refused as soon as the instance
// re-reads the secret: within 5 minutes of the rotation, whatever the traffic.
func TestRotatedOutSecretWithoutGrace(t *testing.T) {
	e := newEnv(t)
	e.h.secret.Grace = 0
	body := fixture(t, "github/release.published.json")
	old := delivery("release", body)
	start := *e.clock
	e.secrets.rotate("the-new-secret", start.Add(time.Second))
	*e.clock = start.Add(secretcache.MaxAge + time.Second)
	if status, _ := e.call(t, old); status != 401 {
		t.Errorf("5 min after the rotation: status %d, want 401", status)
	}
	if e.secrets.prevCalls != 0 {
		t.Errorf("AWSPREVIOUS read %d times with the grace off", e.secrets.prevCalls)
	}
}

// 100 bad signatures while Secrets Manager fails: at most one read a minute.
func TestSecretReadsBounded(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "github/release.published.json")
	req := delivery("release", body)
	req.Headers["x-hub-signature-256"] = sign("forged", body)
	e.secrets.err = errors.New("ServiceUnavailable")
	before := e.secrets.calls
	start := *e.clock
	statuses := map[int]int{}
	for i := range 100 {
		*e.clock = start.Add(time.Duration(i) * time.Second)
		status, _ := e.call(t, req)
		statuses[status]++
	}
	if reads := e.secrets.calls - before; reads > 2 {
		t.Errorf("%d reads in 100 s, want at most one a minute", reads)
	}
	if statuses[202] > 0 || statuses[401]+statuses[502] != 100 {
		t.Errorf("statuses %v, want only 401 (mismatch) and 502 (secret unreadable)", statuses)
	}
}

// The GitHub token: empty means anonymous calls; a token GitHub rejects is one
// log line naming the secret, then anonymous calls; a token stored later is
// used without a cold start.
func TestGitHubToken(t *testing.T) {
	const tokenARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:github-token"
	for _, tt := range []struct {
		name, value string
		noValue     bool
		rejected    bool
	}{
		{name: "no value (the secret create makes)", noValue: true},
		{name: "empty", value: ""},
		{name: "placeholder", value: "REPLACE_ME", rejected: true},
		{name: "revoked", value: "ghp_revoked000000000000000000000000000000", rejected: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.gh.Valid("ghp_good")
			store := &fakeSecrets{value: tt.value, noValue: tt.noValue, version: 1, created: e.clock.Add(-time.Hour)}
			tokens := &tokenSource{log: e.h.log, cache: secretcache.New(store, tokenARN)}
			tokens.cache.Grace, tokens.cache.AllowEmpty = 0, true
			tokens.cache.Now = func() time.Time { return *e.clock }
			gh, err := ghclient.NewWithToken(e.gh.URL, tokens.token, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			e.h.commit = commitLookup(gh, tokens)
			body := fixture(t, "github/release.published.json")
			for i := range 2 {
				if status, b := e.call(t, delivery("release", body)); status != 202 {
					t.Fatalf("delivery %d: status %d (%v), want 202: a public repository needs no token", i, status, b)
				}
			}
			if n := strings.Count(e.logs.String(), "GitHub rejected the token"); tt.rejected && n != 1 || !tt.rejected && n != 0 {
				t.Errorf("%d rejection lines, want %v:\n%s", n, tt.rejected, e.logs)
			}
			if tt.rejected && !strings.Contains(e.logs.String(), tokenARN) {
				t.Errorf("the rejection line does not name the secret:\n%s", e.logs)
			}
			if tt.value != "" && strings.Contains(e.logs.String(), tt.value) {
				t.Errorf("the token is in the log")
			}

			// A valid token stored later is used within 5 minutes, warm.
			store.rotate("ghp_good", *e.clock)
			store.noValue = false
			*e.clock = e.clock.Add(secretcache.MaxAge)
			if status, b := e.call(t, delivery("release", body)); status != 202 {
				t.Fatalf("status %d (%v) with the new token", status, b)
			}
			if toks := e.gh.Tokens(); toks[len(toks)-1] != "Bearer ghp_good" {
				t.Errorf("last request's Authorization %q, want the stored token", toks[len(toks)-1])
			}
		})
	}
}

// An instance started after the rotation never held the old value: a delivery
// signed with it costs one AWSPREVIOUS read, once per version, during the grace.
func TestPreviousSecretAfterColdStart(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "github/release.published.json")
	old := delivery("release", body)
	e.secrets.rotate("the-new-secret", *e.clock)
	e.h.secret = e.newCache() // a cold start after the rotation
	for range 3 {
		if status, _ := e.call(t, old); status != 202 {
			t.Fatalf("status %d, want 202 during the grace", status)
		}
	}
	if e.secrets.prevCalls != 1 {
		t.Errorf("AWSPREVIOUS read %d times, want once", e.secrets.prevCalls)
	}
	newReq := delivery("release", body)
	newReq.Headers["x-hub-signature-256"] = sign("the-new-secret", body)
	if status, _ := e.call(t, newReq); status != 202 || e.secrets.prevCalls != 1 {
		t.Errorf("new secret: status %d, AWSPREVIOUS reads %d; want 202 and no read", status, e.secrets.prevCalls)
	}
}
