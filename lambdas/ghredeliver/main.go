// Ghredeliver redelivers the GitHub webhook's failed deliveries. GitHub never
// redelivers by itself: a release that arrived while CodePipeline or GitHub's
// API failed for longer than ghrelease's budget would be lost unless a person
// noticed. An EventBridge schedule runs this function (every 5 minutes by
// default); each run lists the recent deliveries of the webhook whose payload URL
// is ghrelease's, in each routed repository, and redelivers those that failed
// for a reason worth retrying (5xx, 429, no answer), a bounded number of times.
//
// Environment: GITHUB_TOKEN_SECRET_ARN (required: a token with admin:repo_hook,
// or a fine-grained token with Webhooks read and write), WEBHOOK_URL (required:
// ghrelease's Function URL), GITHUB_REPOSITORIES (required: owner/name, comma
// separated), MAX_ATTEMPTS (default 3), LOOKBACK_HOURS (default 24),
// GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3/).
package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipebridge/pipebridge/internal/ghclient"
	"github.com/pipebridge/pipebridge/internal/lambdaenv"
	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

func main() {
	// aws-lambda-go reports a failed invocation through the standard logger too;
	// without its date prefix that line is JSON like every other line.
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	r, err := setup(context.Background(), os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	r.log = log
	log.Info("ready", "repositories", len(r.repositories), "maxAttempts", r.maxAttempts, "lookback", r.lookback.String())
	lambda.Start(func(ctx context.Context) error {
		_, err := r.Run(ctx)
		return err
	})
}

// setup reads the environment and builds the GitHub client once, at cold start.
func setup(ctx context.Context, getenv func(string) string) (*redeliverer, error) {
	r := &redeliverer{webhookURL: getenv("WEBHOOK_URL"), maxAttempts: 3, lookback: 24 * time.Hour, now: time.Now}
	tokenARN := getenv("GITHUB_TOKEN_SECRET_ARN")
	switch {
	case tokenARN == "":
		return nil, errors.New("GITHUB_TOKEN_SECRET_ARN is not set: listing and redelivering webhook deliveries takes a GitHub token")
	case r.webhookURL == "":
		return nil, errors.New("WEBHOOK_URL is not set: the webhook's payload URL (ghrelease's Function URL) finds the webhook")
	}
	for _, repo := range strings.Split(getenv("GITHUB_REPOSITORIES"), ",") {
		if repo = strings.TrimSpace(repo); repo == "" {
			continue
		}
		if err := names.GitHubRepository(repo); err != nil {
			return nil, fmt.Errorf("GITHUB_REPOSITORIES: %w", err)
		}
		r.repositories = append(r.repositories, repo)
	}
	if len(r.repositories) == 0 {
		return nil, errors.New("GITHUB_REPOSITORIES is empty: give the owner/name of each repository with the webhook")
	}
	for _, n := range []struct {
		key string
		dst *int
		min int
		max int
	}{{"MAX_ATTEMPTS", &r.maxAttempts, 1, 10}, {"LOOKBACK_HOURS", nil, 1, 72}} {
		v := getenv(n.key)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < n.min || i > n.max {
			return nil, fmt.Errorf("%s=%q: want a whole number from %d to %d", n.key, v, n.min, n.max)
		}
		if n.dst != nil {
			*n.dst = i
		} else {
			r.lookback = time.Duration(i) * time.Hour
		}
	}
	cfg, err := lambdaenv.Config(getenv)
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { lambdaenv.SetEndpoint(getenv, &o.BaseEndpoint, "Secrets Manager") })
	// The token is read on each run (at most every 5 minutes, secretcache): one
	// stored after the deploy takes effect without a cold start.
	tokens := secretcache.New(sm, tokenARN)
	tokens.Grace, tokens.AllowEmpty = 0, true
	r.token = func(ctx context.Context) (string, error) {
		v, err := tokens.Get(ctx)
		return string(v), err
	}
	r.tokenSecret = tokenARN
	gh, err := ghclient.NewWithToken(getenv("GITHUB_API_URL"), func(ctx context.Context) string {
		tok, _ := r.token(ctx)
		return tok
	}, 10*time.Second)
	if err != nil {
		return nil, err
	}
	r.hooks = gh.Repositories
	return r, nil
}
