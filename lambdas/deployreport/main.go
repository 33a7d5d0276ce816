// Deployreport reports each pipeline execution of the stack back to the team:
// a GitHub deployment on the commit, with statuses as the execution moves
// (queued while an approval waits, in_progress, success, failure, inactive), and
// a Slack message per outcome, with a mention where the config asks for one.
//
// It runs on EventBridge's CodePipeline Pipeline Execution and Action Execution
// State Change events for the stack's pipelines. Environment:
//
//	PIPEBRIDGE_REPORTS       the report table (internal/reports), required
//	GITHUB_TOKEN_SECRET_ARN  a token with Deployments: write; unset: no GitHub deployments
//	GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID, GITHUB_APP_KEY_SECRET_ARN
//	                         a GitHub App installation instead of a token
//	GITHUB_API_URL           GitHub Enterprise Server's API base (https://HOST/api/v3/)
//	REPORTS_TABLE            the DynamoDB table that records Slack messages (required with Slack)
//
// It never fails or blocks a pipeline: a GitHub or Slack failure fails the
// invocation, EventBridge retries it, and the dead-letter queue keeps the rest.
package main

import (
	"context"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipebridge/pipebridge/internal/ghclient"
	"github.com/pipebridge/pipebridge/internal/lambdaenv"
	"github.com/pipebridge/pipebridge/internal/reports"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

func main() {
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	h, err := setup(os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	h.log = log
	log.Info("ready", "pipelines", len(h.table.Pipelines), "github", h.github != nil)
	lambda.Start(func(ctx context.Context, payload json.RawMessage) error { return h.Handle(ctx, payload) })
}

func setup(getenv func(string) string) (*handler, error) {
	raw := getenv("PIPEBRIDGE_REPORTS")
	if raw == "" {
		return nil, errors.New("PIPEBRIDGE_REPORTS is not set: the CDK app sets it to the report table")
	}
	table, err := reports.Parse([]byte(raw))
	if err != nil {
		return nil, err
	}
	cfg, err := lambdaenv.Config(getenv)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	endpoint := func(dst **string, serviceID string) { lambdaenv.SetEndpoint(getenv, dst, serviceID) }
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { endpoint(&o.BaseEndpoint, "Secrets Manager") })
	h := &handler{
		table:     table,
		pipelines: codepipeline.NewFromConfig(cfg, func(o *codepipeline.Options) { endpoint(&o.BaseEndpoint, "CodePipeline") }),
		log:       slog.Default(),
	}
	var tokens tokenSource
	switch appID, tokenARN := getenv("GITHUB_APP_ID"), getenv("GITHUB_TOKEN_SECRET_ARN"); {
	case appID != "":
		a := &appToken{apiURL: getenv("GITHUB_API_URL"), base: http.DefaultTransport}
		if a.appID, err = strconv.ParseInt(appID, 10, 64); err != nil || a.appID <= 0 {
			return nil, fmt.Errorf("GITHUB_APP_ID %q: want the App's numeric id", appID)
		}
		if a.installationID, err = strconv.ParseInt(getenv("GITHUB_APP_INSTALLATION_ID"), 10, 64); err != nil || a.installationID <= 0 {
			return nil, fmt.Errorf("GITHUB_APP_INSTALLATION_ID %q: want the installation's numeric id", getenv("GITHUB_APP_INSTALLATION_ID"))
		}
		keyARN := getenv("GITHUB_APP_KEY_SECRET_ARN")
		if keyARN == "" {
			return nil, errors.New("GITHUB_APP_KEY_SECRET_ARN is not set: the App's private key is needed to mint installation tokens")
		}
		a.key = secretcache.New(sm, keyARN)
		a.key.Grace = 0
		tokens = a
	case tokenARN != "":
		tok := secretcache.New(sm, tokenARN)
		tok.Grace, tok.AllowEmpty = 0, true
		tokens = storedToken{tok}
	}
	if tokens != nil {
		gh, err := ghclient.NewWithToken(getenv("GITHUB_API_URL"), func(ctx context.Context) string { return requestToken(ctx) }, 5*time.Second)
		if err != nil {
			return nil, err
		}
		h.github = &deployments{gh: gh, token: tokens}
	}
	images := false
	for _, t := range table.Pipelines {
		images = images || t.ImageRepository != ""
	}
	if images {
		h.revisions = &revisions{
			ecr:  ecr.NewFromConfig(cfg, func(o *ecr.Options) { endpoint(&o.BaseEndpoint, "ECR") }),
			http: &http.Client{Timeout: 5 * time.Second},
		}
	}
	slackUsed := false
	for _, t := range table.Pipelines {
		slackUsed = slackUsed || t.Slack != nil
	}
	if slackUsed {
		tableName := getenv("REPORTS_TABLE")
		if tableName == "" {
			return nil, errors.New("REPORTS_TABLE is not set: Slack messages need the table that records them")
		}
		db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { endpoint(&o.BaseEndpoint, "DynamoDB") })
		h.slack = &poster{
			secrets: func(arn string) *secretcache.Cache {
				c := secretcache.New(sm, arn)
				c.Grace = 0
				return c
			},
			ledger:     &ledger{db: db, table: tableName, now: time.Now, staleAfter: time.Minute},
			http:       &http.Client{Timeout: 5 * time.Second},
			githubWeb:  reports.GitHubWeb(getenv("GITHUB_API_URL")),
			maxBackoff: 5 * time.Second,
		}
	}
	return h, nil
}
