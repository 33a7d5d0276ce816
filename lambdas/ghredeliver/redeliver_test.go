package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/test/githubapi"
)

const (
	webhookURL = "https://abc123.lambda-url.us-east-1.on.aws/"
	repo       = "acme/web"
)

type env struct {
	r    *redeliverer
	gh   *githubapi.Server
	hook int64
	logs *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gh := githubapi.Start()
	t.Cleanup(gh.Close)
	gh.AddHook(repo, "https://elsewhere.example/hook")
	hook := gh.AddHook(repo, webhookURL)
	client, err := github.NewClient(github.WithURLs(&gh.URL, nil), github.WithAuthToken("ghp_test-token"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return &env{
		r: &redeliverer{hooks: client.Repositories, webhookURL: webhookURL, repositories: []string{repo}, maxAttempts: 3,
			lookback: 24 * time.Hour, now: time.Now, log: slog.New(slog.NewJSONHandler(logs, nil))},
		gh: gh, hook: hook, logs: logs,
	}
}

func (e *env) deliver(guid string, code int, ago time.Duration) int64 {
	return e.gh.AddDelivery(e.hook, githubapi.Delivery{GUID: guid, DeliveredAt: time.Now().Add(-ago).UTC(), StatusCode: code, Event: "release", Action: "published"})
}

func TestRedeliversWhatIsWorthRetrying(t *testing.T) {
	e := newEnv(t)
	ids := map[string]int64{
		"5xx":     e.deliver("g-500", 500, time.Hour),
		"429":     e.deliver("g-429", 429, time.Hour),
		"timeout": e.deliver("g-timeout", 0, time.Hour),
	}
	e.deliver("g-401", 401, time.Hour)     // our 401: a bad signature stays bad
	e.deliver("g-400", 400, time.Hour)     // malformed stays malformed
	e.deliver("g-422", 422, time.Hour)     // refused by a route: same answer again
	e.deliver("g-ok", 202, time.Hour)      // delivered
	e.deliver("g-fixed", 502, 2*time.Hour) // failed, then a redelivery succeeded
	e.gh.AddDelivery(e.hook, githubapi.Delivery{GUID: "g-fixed", DeliveredAt: time.Now().Add(-time.Hour).UTC(), StatusCode: 202, Redelivery: true, Event: "release"})
	e.deliver("g-old", 500, 30*time.Hour) // outside the lookback window
	for i := range 4 {                    // the original and three redeliveries, all failed: give up
		e.gh.AddDelivery(e.hook, githubapi.Delivery{GUID: "g-exhausted", DeliveredAt: time.Now().Add(-time.Duration(4-i) * time.Minute).UTC(), StatusCode: 503, Redelivery: i > 0, Event: "release"})
	}

	s, err := e.r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := e.gh.Redelivered()
	want := []int64{ids["429"], ids["5xx"], ids["timeout"]} // in GUID order
	if !slices.Equal(got, want) {
		t.Errorf("redelivered %v, want %v", got, want)
	}
	if s != (summary{Deliveries: 9, Failed: 7, Redelivered: 3, GaveUp: 1, NotRetried: 3}) {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(e.logs.String(), `"msg":"gave up"`) || !strings.Contains(e.logs.String(), `"guid":"g-exhausted"`) {
		t.Errorf("no gave-up line for g-exhausted:\n%s", e.logs)
	}
	if strings.Contains(e.logs.String(), "ghp_test-token") {
		t.Errorf("the token is in the log")
	}
}

// Runs keep no state: GitHub's list says what was tried. A delivery whose
// endpoint keeps failing is redelivered maxAttempts times over the runs, and a
// delivery whose redelivery succeeded is left alone.
func TestBoundedAcrossRuns(t *testing.T) {
	e := newEnv(t)
	e.gh.RedeliveryAnswers(500)
	e.deliver("g-1", 502, time.Minute)
	for range 6 {
		if _, err := e.r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.gh.Redelivered()); n != 3 {
		t.Errorf("%d redeliveries over six runs, want 3 (maxAttempts)", n)
	}

	e = newEnv(t)
	e.deliver("g-2", 502, time.Minute)
	for range 3 {
		e.r.Run(context.Background())
	}
	if n := len(e.gh.Redelivered()); n != 1 {
		t.Errorf("%d redeliveries, want 1: the first redelivery succeeded", n)
	}
}

// The delivery list is paged by cursor; every page within the window is read.
func TestPagesByCursor(t *testing.T) {
	e := newEnv(t)
	for i := range 250 {
		e.deliver(fmt.Sprintf("g-%03d", i), 202, time.Duration(i+1)*time.Minute)
	}
	first := e.deliver("g-first", 500, 260*time.Minute) // on the third page
	s, err := e.r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Deliveries != 251 || !slices.Equal(e.gh.Redelivered(), []int64{first}) {
		t.Errorf("read %d deliveries, redelivered %v; want 251 and [%d]", s.Deliveries, e.gh.Redelivered(), first)
	}
}

func TestGitHubFailures(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		says     string
	}{
		{"list hooks 500", []int{500}, "list webhooks"},
		{"list hooks 401", []int{401}, "the token in GITHUB_TOKEN_SECRET_ARN is missing, expired or revoked"},
		{"list deliveries 429", []int{0, 429}, "list deliveries"},
		{"redeliver 500", []int{0, 0, 500}, "redeliver g-1"},
		{"redeliver 404", []int{0, 0, 404}, "admin:repo_hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.deliver("g-1", 500, time.Minute)
			// Calls are list hooks, list deliveries, redeliver: a 0 lets that call
			// through, another status is what GitHub answers it.
			e.r.hooks = &countingHooks{hooksAPI: e.r.hooks, gh: e.gh, statuses: tt.statuses}
			_, err := e.r.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Run: %v, want an error saying %q", err, tt.says)
			}
			if !strings.Contains(e.logs.String(), `"level":"ERROR"`) {
				t.Errorf("no error line:\n%s", e.logs)
			}
		})
	}
}

// countingHooks makes GitHub fail the calls at the positions statuses gives.
type countingHooks struct {
	hooksAPI
	gh       *githubapi.Server
	statuses []int
	calls    int
}

func (c *countingHooks) arm() {
	if c.calls < len(c.statuses) && c.statuses[c.calls] != 0 {
		c.gh.FailHooks(c.statuses[c.calls])
	}
	c.calls++
}

func (c *countingHooks) ListHooks(ctx context.Context, owner, repo string, opts *github.ListOptions) ([]*github.Hook, *github.Response, error) {
	c.arm()
	return c.hooksAPI.ListHooks(ctx, owner, repo, opts)
}

func (c *countingHooks) ListHookDeliveries(ctx context.Context, owner, repo string, id int64, opts *github.ListCursorOptions) ([]*github.HookDelivery, *github.Response, error) {
	c.arm()
	return c.hooksAPI.ListHookDeliveries(ctx, owner, repo, id, opts)
}

func (c *countingHooks) RedeliverHookDelivery(ctx context.Context, owner, repo string, hookID, deliveryID int64) (*github.HookDelivery, *github.Response, error) {
	c.arm()
	return c.hooksAPI.RedeliverHookDelivery(ctx, owner, repo, hookID, deliveryID)
}

func TestNoWebhook(t *testing.T) {
	e := newEnv(t)
	e.r.webhookURL = "https://not-registered.example/"
	if _, err := e.r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no webhook with payload URL https://not-registered.example/") {
		t.Fatalf("Run: %v", err)
	}
}

func TestSetupRefuses(t *testing.T) {
	env := map[string]string{"GITHUB_TOKEN_SECRET_ARN": "arn:x", "WEBHOOK_URL": webhookURL, "GITHUB_REPOSITORIES": "acme/web"}
	tests := []struct {
		name, key, value, says string
	}{
		{"no token", "GITHUB_TOKEN_SECRET_ARN", "", "GITHUB_TOKEN_SECRET_ARN is not set"},
		{"no URL", "WEBHOOK_URL", "", "WEBHOOK_URL is not set"},
		{"no repositories", "GITHUB_REPOSITORIES", " , ", "GITHUB_REPOSITORIES is empty"},
		{"bad repository", "GITHUB_REPOSITORIES", "acme", `GITHUB_REPOSITORIES: "acme": want owner/name`},
		{"bad attempts", "MAX_ATTEMPTS", "99", `MAX_ATTEMPTS="99": want a whole number from 1 to 10`},
		{"bad lookback", "LOOKBACK_HOURS", "x", `LOOKBACK_HOURS="x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := setup(context.Background(), func(k string) string {
				if k == tt.key {
					return tt.value
				}
				return env[k]
			})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("setup: %v, want %q", err, tt.says)
			}
		})
	}
}

// With the token secret still empty (as githubTokenSecret: create makes it), a
// run says so once and calls nothing; it is not a failed run.
func TestRunWithoutToken(t *testing.T) {
	var logs strings.Builder
	r := &redeliverer{repositories: []string{"acme/web"}, log: slog.New(slog.NewJSONHandler(&logs, nil)), tokenSecret: "arn:token",
		token: func(context.Context) (string, error) { return "", nil }}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Count(logs.String(), "no GitHub token stored") != 1 || !strings.Contains(logs.String(), "arn:token") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
