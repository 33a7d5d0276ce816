package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v90/github"
)

// hooksAPI is the part of go-github's RepositoriesService this function uses.
type hooksAPI interface {
	ListHooks(ctx context.Context, owner, repo string, opts *github.ListOptions) ([]*github.Hook, *github.Response, error)
	ListHookDeliveries(ctx context.Context, owner, repo string, id int64, opts *github.ListCursorOptions) ([]*github.HookDelivery, *github.Response, error)
	RedeliverHookDelivery(ctx context.Context, owner, repo string, hookID, deliveryID int64) (*github.HookDelivery, *github.Response, error)
}

// redeliverer finds the webhook's failed deliveries and asks GitHub to redeliver
// them. It keeps no state: GitHub's delivery list records every attempt (a
// redelivery is listed under the original's GUID), so the number of attempts and
// whether one succeeded are read from it on every run.
type redeliverer struct {
	hooks        hooksAPI
	webhookURL   string
	repositories []string
	// maxAttempts is how many redeliveries one delivery gets at most.
	maxAttempts int
	lookback    time.Duration
	now         func() time.Time
	log         *slog.Logger
	// token, if set, reads the GitHub token for this run; tokenSecret names it.
	token       func(context.Context) (string, error)
	tokenSecret string
}

// summary counts what a run did, for its one closing log line.
type summary struct {
	Deliveries, Failed, Redelivered, GaveUp, NotRetried int
}

// Run checks every repository and returns the repositories it could not check,
// joined, so Lambda reports the run as failed; the next run tries them again.
func (r *redeliverer) Run(ctx context.Context) (summary, error) {
	var total summary
	if r.token != nil {
		switch tok, err := r.token(ctx); {
		case err != nil:
			return total, fmt.Errorf("read the GitHub token: %w", err)
		case tok == "":
			// Not a failure of this run: nothing can be done until a person
			// stores a token. One line a run says so.
			r.log.WarnContext(ctx, "no GitHub token stored: listing and redelivering deliveries needs one (README: Redelivering failed deliveries); skipping this run",
				"secret", r.tokenSecret)
			return total, nil
		}
	}
	var errs []error
	for _, repo := range r.repositories {
		s, err := r.repository(ctx, repo)
		total.Deliveries += s.Deliveries
		total.Failed += s.Failed
		total.Redelivered += s.Redelivered
		total.GaveUp += s.GaveUp
		total.NotRetried += s.NotRetried
		if err != nil {
			r.log.ErrorContext(ctx, "repository not checked", "repository", repo, "error", err.Error())
			errs = append(errs, fmt.Errorf("%s: %w", repo, err))
		}
	}
	r.log.InfoContext(ctx, "done", "repositories", len(r.repositories), "deliveries", total.Deliveries, "failed", total.Failed,
		"redelivered", total.Redelivered, "gaveUp", total.GaveUp, "notRetried", total.NotRetried)
	return total, errors.Join(errs...)
}

func (r *redeliverer) repository(ctx context.Context, repository string) (summary, error) {
	var s summary
	owner, repo, _ := strings.Cut(repository, "/")
	hookID, err := r.findHook(ctx, owner, repo)
	if err != nil {
		return s, err
	}
	// Every attempt of the lookback window, grouped by GUID (one delivery and
	// its redeliveries).
	attempts := map[string][]*github.HookDelivery{}
	since := r.now().Add(-r.lookback)
	opts := &github.ListCursorOptions{PerPage: 100}
	for {
		page, resp, err := r.hooks.ListHookDeliveries(ctx, owner, repo, hookID, opts)
		if err != nil {
			return s, explain("list deliveries of hook "+fmt.Sprint(hookID), err)
		}
		old := false
		for _, d := range page {
			if d.GetDeliveredAt().Before(since) {
				old = true
				continue
			}
			attempts[d.GetGUID()] = append(attempts[d.GetGUID()], d)
		}
		// GitHub lists the newest first: past the window, stop.
		if old || resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	guids := make([]string, 0, len(attempts))
	for g := range attempts {
		guids = append(guids, g)
	}
	sort.Strings(guids)
	var errs []error
	for _, guid := range guids {
		all := attempts[guid]
		s.Deliveries++
		sort.Slice(all, func(i, j int) bool { return all[i].GetDeliveredAt().After(all[j].GetDeliveredAt().Time) })
		latest := all[0]
		if delivered(all) {
			continue
		}
		s.Failed++
		attrs := []any{"repository", repository, "guid", guid, "event", latest.GetEvent(), "action", latest.GetAction(),
			"statusCode", latest.GetStatusCode(), "status", latest.GetStatus(), "attempts", len(all)}
		switch {
		case !retryable(latest):
			s.NotRetried++
			r.log.InfoContext(ctx, "not retried", append(attrs, "reason", "the endpoint refused it: redelivering the same delivery gets the same answer")...)
		case len(all) > r.maxAttempts:
			s.GaveUp++
			r.log.ErrorContext(ctx, "gave up", append(attrs, "reason", fmt.Sprintf("redelivered %d times; redeliver it from the webhook's Recent Deliveries once the cause is fixed", len(all)-1))...)
		default:
			_, _, err := r.hooks.RedeliverHookDelivery(ctx, owner, repo, hookID, latest.GetID())
			var accepted *github.AcceptedError
			if err != nil && !errors.As(err, &accepted) {
				r.log.ErrorContext(ctx, "redelivery failed", append(attrs, "error", err.Error())...)
				errs = append(errs, explain("redeliver "+guid, err))
				continue
			}
			s.Redelivered++
			r.log.InfoContext(ctx, "redelivered", attrs...)
		}
	}
	return s, errors.Join(errs...)
}

// findHook is the id of the repository's webhook whose payload URL is ours.
func (r *redeliverer) findHook(ctx context.Context, owner, repo string) (int64, error) {
	opts := &github.ListOptions{PerPage: 100}
	for {
		hooks, resp, err := r.hooks.ListHooks(ctx, owner, repo, opts)
		if err != nil {
			return 0, explain("list webhooks", err)
		}
		for _, h := range hooks {
			if h.GetConfig().GetURL() == r.webhookURL {
				return h.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, fmt.Errorf("no webhook with payload URL %s: register it (README: Deploying, step 6)", r.webhookURL)
		}
		opts.Page = resp.NextPage
	}
}

// delivered reports whether one of the attempts succeeded.
func delivered(attempts []*github.HookDelivery) bool {
	for _, d := range attempts {
		if c := d.GetStatusCode(); c >= 200 && c < 300 {
			return true
		}
	}
	return false
}

// retryable: the endpoint failed or was not reached (5xx, 429, or no answer at
// all, which GitHub records with status code 0, as for a timeout). A 4xx answer
// other than 429 (400, 401, 413, 422) is the endpoint's verdict on the delivery
// itself: sending it again changes nothing.
func retryable(d *github.HookDelivery) bool {
	c := d.GetStatusCode()
	return c == 0 || c == http.StatusTooManyRequests || c >= 500
}

// explain adds what to do to GitHub's answers that need a person.
func explain(what string, err error) error {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil {
		switch ge.Response.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: %w (the token in GITHUB_TOKEN_SECRET_ARN is missing, expired or revoked)", what, err)
		case http.StatusForbidden, http.StatusNotFound:
			return fmt.Errorf("%s: %w (the token needs the admin:repo_hook scope, or a fine-grained token with Webhooks: read and write, on this repository)", what, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
