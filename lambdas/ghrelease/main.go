// Ghrelease is the Lambda behind the GitHub webhook: it verifies each delivery's
// X-Hub-Signature-256 with the secret in Secrets Manager (WEBHOOK_SECRET_ARN) and
// starts the pipelines that the route table (PIPEBRIDGE_ROUTES or
// PIPEBRIDGE_ROUTES_PARAMETER) gives for releases, tag pushes and tag creation.
//
// Optional: GITHUB_TOKEN_SECRET_ARN, a secret holding a GitHub token for looking up
// tag commits in private repositories (empty: anonymous calls); GITHUB_API_URL,
// the API base for GitHub Enterprise Server (https://HOST/api/v3/);
// WEBHOOK_SECRET_GRACE_MINUTES, how long the previous webhook secret is still
// accepted after a rotation (default 15, 0 for never).
package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/ghclient"
	"github.com/pipebridge/pipebridge/internal/lambdaenv"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

func main() {
	// aws-lambda-go reports a failed invocation through the standard logger too;
	// without its date prefix that line is JSON like every other line.
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	h, err := setup(context.Background(), os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	h.log = log
	h.tokens.log = log
	log.Info("ready", "routes", len(h.routes.Routes))
	lambda.Start(h) // h.Invoke: see invoke.go
}

// newRetryer bounds AWS retries so they fit GitHub's 10 s: throttling and 5xx
// answers are retried up to 4 attempts with at most 800 ms between them.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 4
		o.MaxBackoff = 800 * time.Millisecond
	})
}

// setup builds the handler's clients once, at cold start. It fails without a
// webhook secret: serving unverified deliveries is never an option.
func setup(ctx context.Context, getenv func(string) string) (*handler, error) {
	secretARN := getenv("WEBHOOK_SECRET_ARN")
	if secretARN == "" {
		return nil, errors.New("WEBHOOK_SECRET_ARN is not set: the webhook secret is required")
	}
	cfg, err := lambdaenv.Config(getenv)
	if err != nil {
		return nil, err
	}
	// Retries must fit GitHub's 10 s: a few quick attempts, short backoff, and a
	// per-attempt HTTP timeout.
	cfg.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	cfg.Retryer = newRetryer
	endpoint := func(dst **string, serviceID string) { lambdaenv.SetEndpoint(getenv, dst, serviceID) }
	// Build encoding/json's decoders for the webhook payloads (about 1 ms of a cold
	// process's first delivery) while the secret is read over the network.
	warm := make(chan struct{})
	go func() {
		defer close(warm)
		for _, ev := range []string{"release", "push", "create"} {
			github.ParseWebHook(ev, []byte(`{}`))
		}
	}()
	defer func() { <-warm }()
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { endpoint(&o.BaseEndpoint, "Secrets Manager") })
	sec := secretcache.New(sm, secretARN)
	if sec.Grace, err = graceFromEnv(getenv); err != nil {
		return nil, err
	}
	if _, err := sec.Get(ctx); err != nil {
		return nil, err
	}
	table, err := dispatch.Load(ctx, getenv, func() dispatch.ParameterGetter {
		return ssm.NewFromConfig(cfg, func(o *ssm.Options) { endpoint(&o.BaseEndpoint, "SSM") })
	})
	if err != nil {
		return nil, err
	}
	// The token is read on first use and kept fresh like the webhook secret: an
	// empty secret means anonymous calls, and a token stored later takes effect
	// without a cold start.
	tokens := &tokenSource{log: slog.Default()}
	if tokenARN := getenv("GITHUB_TOKEN_SECRET_ARN"); tokenARN != "" {
		tokens.cache = secretcache.New(sm, tokenARN)
		tokens.cache.Grace, tokens.cache.AllowEmpty = 0, true
	}
	gh, err := ghclient.NewWithToken(getenv("GITHUB_API_URL"), tokens.token, 3*time.Second)
	if err != nil {
		return nil, err
	}
	return &handler{
		routes:    table,
		pipelines: codepipeline.NewFromConfig(cfg, func(o *codepipeline.Options) { endpoint(&o.BaseEndpoint, "CodePipeline") }),
		secret:    sec,
		tokens:    tokens,
		commit:    commitLookup(gh, tokens),
	}, nil
}

// commitLookup finds a tag's commit; when GitHub rejects the stored token it
// says so once and tries again without it (public repositories still work).
func commitLookup(gh *github.Client, tokens *tokenSource) func(ctx context.Context, repository, tag string) (string, error) {
	return func(ctx context.Context, repository, tag string) (string, error) {
		sha, err := tagCommit(ctx, gh.Git, repository, tag)
		if isUnauthorized(err) && tokens.rejectedNow(ctx) {
			sha, err = tagCommit(ctx, gh.Git, repository, tag)
		}
		return sha, err
	}
}

// graceFromEnv reads WEBHOOK_SECRET_GRACE_MINUTES: how long after a rotation
// the previous webhook secret is still accepted (default 15; 0 turns it off).
func graceFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv("WEBHOOK_SECRET_GRACE_MINUTES")
	if v == "" {
		return secretcache.DefaultGrace, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1440 {
		return 0, fmt.Errorf("WEBHOOK_SECRET_GRACE_MINUTES=%q: want 0 to 1440 minutes", v)
	}
	return time.Duration(n) * time.Minute, nil
}
