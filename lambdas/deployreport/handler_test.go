package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/slack-go/slack"

	"github.com/pipebridge/pipebridge/internal/ghclient"
	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/reports"
	"github.com/pipebridge/pipebridge/internal/secretcache"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/ecrregistry"
	"github.com/pipebridge/pipebridge/test/githubapi"
	"github.com/pipebridge/pipebridge/test/moto"
	slackstub "github.com/pipebridge/pipebridge/test/slack"
)

func TestMain(m *testing.M) {
	code := m.Run()
	moto.StopShared()
	os.Exit(code)
}

const (
	commit     = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	digest     = "sha256:1bf5173766410bc1d1690e1bf2f082580a90db377b10f509b8c864ef94bf7639"
	token      = "ghp_test-deployments-token"
	executionA = "3137f7cb-7cf7-4f6d-9b2a-2a3b4c5d6e7f"
	executionB = "4137f7cb-7cf7-4f6d-9b2a-2a3b4c5d6e7f"
)

type rig struct {
	h        *handler
	cp       *cpstub.Server
	gh       *githubapi.Server
	slack    *slackstub.Server
	hookURL  string
	logs     *bytes.Buffer
	sm       *secretsmanager.Client
	tokenARN string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := moto.Shared(t)
	cfg := srv.Config(t)
	ctx := context.Background()
	r := &rig{cp: cpstub.Start(cpstub.Pipeline{Name: "web-prod"}, cpstub.Pipeline{Name: "worker-staging"}, cpstub.Pipeline{Name: "other"}),
		gh: githubapi.Start(), slack: slackstub.Start(), logs: &bytes.Buffer{}}
	t.Cleanup(r.cp.Close)
	t.Cleanup(r.gh.Close)
	t.Cleanup(r.slack.Close)
	r.gh.Valid(token)
	r.hookURL = r.slack.Hook()
	r.sm = secretsmanager.NewFromConfig(cfg)
	secret := func(name, value string) string {
		out, err := r.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	r.tokenARN = secret("pipebridge/github-token", token)
	hookARN := secret("pipebridge/slack-web", r.hookURL)
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("reports"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	table, err := reports.Parse([]byte(fmt.Sprintf(`{"pipelines": {
	  "web-prod": {"app": "web", "environment": "prod", "repository": "acme/web", "production": true, "url": "https://web.example.com",
	    "slack": {"webhookSecretArn": %q, "mention": "<!subteam^S0123ABC>"}},
	  "worker-staging": {"app": "worker", "environment": "staging", "repository": "acme/worker", "imageRepository": "acme/worker",
	    "slack": {"webhookSecretArn": %q, "mention": "<@U024BE7LH>", "mentionAlways": true}}}}`, hookARN, hookARN)))
	if err != nil {
		t.Fatal(err)
	}
	tok := secretcache.New(r.sm, r.tokenARN)
	tok.Grace, tok.AllowEmpty = 0, true
	gh, err := ghclient.NewWithToken(r.gh.URL, requestToken, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r.h = &handler{
		table: table, pipelines: r.cp.Client(), github: &deployments{gh: gh, token: storedToken{tok}},
		slack: &poster{
			secrets:    func(arn string) *secretcache.Cache { return secretcache.New(r.sm, arn) },
			ledger:     &ledger{db: db, table: "reports", now: time.Now, staleAfter: time.Minute},
			http:       &http.Client{Timeout: 5 * time.Second},
			githubWeb:  "https://github.com/",
			maxBackoff: 2 * time.Second,
		},
		log: slog.New(slog.NewJSONHandler(r.logs, nil)),
	}
	// A release execution, started by ghrelease: commit and tag known.
	r.cp.SetExecution("web-prod", executionA, cpstub.ExecutionDetail{
		Variables: map[string]string{"RELEASE_TAG": "v2.1.0", "RELEASE_URL": "https://github.com/acme/web/releases/tag/v2.1.0", "TRIGGER_ID": "gh-1"},
		Revisions: []cpstub.Revision{{Name: "Source", RevisionID: commit}},
	})
	return r
}

// pipelineEv and actionEv are AWS's sample events for the pipeline and execution.
func pipelineEv(_ *testing.T, pipeline, execution, state string) []byte {
	return cpstub.StateChangeEvent(pipeline, execution, state, "", time.Time{})
}

func actionEv(_ *testing.T, pipeline, execution, category, state string) []byte {
	return cpstub.StateChangeEvent(pipeline, execution, state, category, time.Time{})
}

func (r *rig) handle(t *testing.T, payload []byte) error {
	t.Helper()
	return r.h.Handle(context.Background(), payload)
}

func (r *rig) mustHandle(t *testing.T, payload []byte) {
	t.Helper()
	if err := r.handle(t, payload); err != nil {
		t.Fatalf("Handle: %v\nlogs:\n%s", err, r.logs)
	}
}

func states(d githubapi.Deployment) []string {
	var out []string
	for _, s := range d.Statuses {
		out = append(out, s.State)
	}
	return out
}

func headers(msgs []slackstub.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Blocks[0].Text.Text)
	}
	return out
}

// A production release: started, waits for approval, is approved, deploys, succeeds.
func TestReleaseLifecycle(t *testing.T) {
	r := newRig(t)
	for _, ev := range [][]byte{
		pipelineEv(t, "web-prod", executionA, "STARTED"),
		actionEv(t, "web-prod", executionA, "Approval", "STARTED"),
		actionEv(t, "web-prod", executionA, "Approval", "SUCCEEDED"),
		actionEv(t, "web-prod", executionA, "Deploy", "STARTED"),
		pipelineEv(t, "web-prod", executionA, "SUCCEEDED"),
	} {
		r.mustHandle(t, ev)
	}
	deps := r.gh.Deployments("acme/web")
	if len(deps) != 1 {
		t.Fatalf("%d deployments, want 1", len(deps))
	}
	d := deps[0]
	if d.SHA != commit || d.Environment != "prod" || !d.ProductionEnvironment || d.TransientEnvironment {
		t.Errorf("deployment %+v", d)
	}
	var p map[string]string
	json.Unmarshal(d.Payload, &p)
	if p["executionId"] != executionA || p["pipeline"] != "web-prod" || p["tag"] != "v2.1.0" {
		t.Errorf("payload %s", d.Payload)
	}
	if got, want := strings.Join(states(d), " "), "in_progress queued in_progress in_progress success"; got != want {
		t.Errorf("statuses %q, want %q", got, want)
	}
	last := d.Statuses[len(d.Statuses)-1]
	if last.EnvironmentURL != "https://web.example.com" || !strings.Contains(last.LogURL, "/pipelines/web-prod/executions/"+executionA) {
		t.Errorf("last status %+v", last)
	}
	msgs := r.slack.Messages()
	if got, want := strings.Join(headers(msgs), " | "), "▶️ web → prod: started | ⏸️ web → prod: waiting for approval | ✅ web → prod: succeeded"; got != want {
		t.Errorf("Slack headers %q, want %q", got, want)
	}
	approval := string(msgs[1].Raw)
	for _, want := range []string{"Review and approve", "/pipelines/web-prod/view", "releases/tag/v2.1.0", "Release notes", "github.com/acme/web/commit/" + commit} {
		if !strings.Contains(approval, want) {
			t.Errorf("approval message lacks %q:\n%s", want, approval)
		}
	}
	for _, m := range msgs {
		if strings.Contains(string(m.Raw), "subteam") {
			t.Errorf("a mention on a message that is not a failure:\n%s", m.Raw)
		}
	}
	if strings.Contains(r.logs.String(), r.hookURL) || strings.Contains(r.logs.String(), token) {
		t.Errorf("a secret in the logs:\n%s", r.logs)
	}
}

// EventBridge delivers at least once and out of order.
func TestDuplicateAndLateEvents(t *testing.T) {
	r := newRig(t)
	succeeded := pipelineEv(t, "web-prod", executionA, "SUCCEEDED")
	r.mustHandle(t, succeeded)
	r.mustHandle(t, succeeded)
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "STARTED"))
	r.mustHandle(t, actionEv(t, "web-prod", executionA, "Approval", "STARTED"))
	deps := r.gh.Deployments("acme/web")
	if len(deps) != 1 || strings.Join(states(deps[0]), " ") != "success" {
		t.Fatalf("deployments %+v", deps)
	}
	if got := headers(r.slack.Messages()); len(got) != 1 || !strings.Contains(got[0], "succeeded") {
		t.Errorf("Slack messages %q, want one success", got)
	}
}

func TestFailureMentions(t *testing.T) {
	r := newRig(t)
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "FAILED"))
	msgs := r.slack.Messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "<!subteam^S0123ABC>") || !strings.Contains(string(msgs[0].Raw), `"text":"\u003c!subteam^S0123ABC\u003e"`) && !strings.Contains(string(msgs[0].Raw), `<!subteam^S0123ABC>`) {
		t.Fatalf("failure message without the mention: %+v", msgs)
	}
	if st := states(r.gh.Deployments("acme/web")[0]); strings.Join(st, " ") != "failure" {
		t.Errorf("statuses %q", st)
	}
}

// An image pipeline whose image tag is not a commit: no GitHub deployment, one
// log line saying why; Slack still hears, with the mention the config asks on
// every message.
func TestImageWithoutCommit(t *testing.T) {
	r := newRig(t)
	r.cp.SetExecution("worker-staging", executionB, cpstub.ExecutionDetail{
		Variables: map[string]string{"IMAGE_TAG": "latest"},
		Revisions: []cpstub.Revision{{Name: "Image", RevisionID: digest}},
	})
	r.mustHandle(t, pipelineEv(t, "worker-staging", executionB, "SUCCEEDED"))
	if deps := r.gh.Deployments("acme/worker"); len(deps) != 0 {
		t.Errorf("%d deployments for an execution without a commit", len(deps))
	}
	if !strings.Contains(r.logs.String(), "its image tag is not a full commit SHA") {
		t.Errorf("no log line says why:\n%s", r.logs)
	}
	msgs := r.slack.Messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "<@U024BE7LH>") || !strings.Contains(string(msgs[0].Raw), imageref.ShortDigest(digest)) {
		t.Fatalf("Slack: %+v", msgs)
	}

	// The same with a full-SHA image tag: a transient deployment of that commit.
	r.cp.SetExecution("worker-staging", executionA, cpstub.ExecutionDetail{
		Variables: map[string]string{"IMAGE_TAG": commit}, Revisions: []cpstub.Revision{{Name: "Image", RevisionID: digest}},
	})
	r.mustHandle(t, pipelineEv(t, "worker-staging", executionA, "STARTED"))
	deps := r.gh.Deployments("acme/worker")
	if len(deps) != 1 || deps[0].SHA != commit || !deps[0].TransientEnvironment || deps[0].ProductionEnvironment {
		t.Errorf("deployments %+v", deps)
	}
}

func TestIgnored(t *testing.T) {
	r := newRig(t)
	r.mustHandle(t, pipelineEv(t, "not-ours", executionA, "SUCCEEDED"))
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "STOPPING"))
	r.mustHandle(t, actionEv(t, "web-prod", executionA, "Build", "STARTED"))
	if r.cp.GetExecutionCalls() != 0 || len(r.slack.Messages()) != 0 || len(r.gh.Deployments("acme/web")) != 0 {
		t.Errorf("an ignored event made calls")
	}
	if err := r.handle(t, []byte(`{"source": "aws.ecr"}`)); err == nil {
		t.Error("a non-CodePipeline event was accepted")
	}
}

// GitHub's and Slack's failures fail the invocation, with an error that says what
// to do; neither leaks a secret.
func TestFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *rig)
		want  string
	}{
		{"GitHub 401", func(r *rig) { r.gh.Valid("another-token") }, "GitHub rejected the token (401"},
		{"GitHub 404", func(r *rig) { r.gh.FailHooks(404) }, "the token cannot see it"},
		{"GitHub 422", func(r *rig) { r.gh.FailHooks(422) }, "GitHub refused it (422"},
		{"GitHub 502", func(r *rig) { r.gh.FailHooks(502) }, "GitHub answered 502"},
		{"Slack no_service", func(r *rig) { r.slack.Remove(r.hookURL) }, "answered 404 no_service: the webhook no longer works"},
		{"Slack 429 too long", func(r *rig) { r.slack.RateLimit(1, 30) }, "rate limited (429, retry after 30s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			tt.setup(r)
			err := r.handle(t, pipelineEv(t, "web-prod", executionA, "SUCCEEDED"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error()+r.logs.String(), r.hookURL) || strings.Contains(err.Error()+r.logs.String(), token) {
				t.Errorf("a secret in the error or logs")
			}
		})
	}
}

// A 429 with a short Retry-After is waited out; a failed post is posted again on
// EventBridge's retry, once.
func TestSlackRetries(t *testing.T) {
	r := newRig(t)
	r.slack.RateLimit(1, 1)
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "SUCCEEDED"))
	if n := len(r.slack.Messages()); n != 1 || r.slack.Requests() != 2 {
		t.Fatalf("%d messages after %d requests, want 1 after 2", n, r.slack.Requests())
	}

	r.slack.RateLimit(1, 60)
	failed := pipelineEv(t, "web-prod", executionB, "FAILED")
	r.cp.SetExecution("web-prod", executionB, cpstub.ExecutionDetail{Revisions: []cpstub.Revision{{RevisionID: commit}}})
	if err := r.handle(t, failed); err == nil {
		t.Fatal("no error when Slack refused")
	}
	r.mustHandle(t, failed) // EventBridge's retry
	r.mustHandle(t, failed) // and a duplicate
	if n := len(r.slack.Messages()); n != 2 {
		t.Errorf("%d messages, want 2 (one per execution)", n)
	}
}

// Fields too long for Block Kit are cut, never refused.
func TestLongValuesTruncated(t *testing.T) {
	r := newRig(t)
	long := strings.Repeat("ü", 5000)
	r.cp.SetExecution("web-prod", executionB, cpstub.ExecutionDetail{
		Variables: map[string]string{"RELEASE_TAG": long}, Revisions: []cpstub.Revision{{RevisionID: commit}},
	})
	r.h.table.Pipelines["web-prod"] = func(t reports.Target) reports.Target { t.App = strings.Repeat("a", 300); return t }(r.h.table.Pipelines["web-prod"])
	r.mustHandle(t, pipelineEv(t, "web-prod", executionB, "SUCCEEDED"))
	if n := len(r.slack.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

// The final message says how long the execution ran, from the first event seen.
func TestDurationOnEnd(t *testing.T) {
	r := newRig(t)
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r.mustHandle(t, cpstub.StateChangeEvent("web-prod", executionA, "STARTED", "", start))
	r.mustHandle(t, cpstub.StateChangeEvent("web-prod", executionA, "SUCCEEDED", "", start.Add(95*time.Second)))
	msgs := r.slack.Messages()
	if len(msgs) != 2 || strings.Contains(string(msgs[0].Raw), "Duration") || !strings.Contains(string(msgs[1].Raw), `*Duration*\n1m35s`) {
		t.Errorf("messages: %s", func() string {
			var s []string
			for _, m := range msgs {
				s = append(s, string(m.Raw))
			}
			return strings.Join(s, "\n")
		}())
	}
}

// A Slack secret that does not exist, or a message Slack refuses as
// invalid_blocks, fails the invocation with the reason.
func TestSlackBadInputs(t *testing.T) {
	r := newRig(t)
	target := r.h.table.Pipelines["web-prod"]
	target.Slack = &reports.Slack{WebhookSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"}
	r.h.table.Pipelines["web-prod"] = target
	err := r.handle(t, pipelineEv(t, "web-prod", executionA, "SUCCEEDED"))
	if err == nil || !strings.Contains(err.Error(), "read the Slack webhook secret arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf") {
		t.Errorf("missing secret: %v", err)
	}

	r = newRig(t)
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	err = r.h.slack.post(context.Background(), r.hookURL, &slack.WebhookMessage{Text: "x", Blocks: &slack.Blocks{BlockSet: many}})
	if err == nil || !strings.Contains(err.Error(), "answered 400 invalid_blocks: pipebridge built a message Slack refuses") {
		t.Errorf("invalid_blocks: %v", err)
	}
}

// A GitHub App installation instead of a stored token: ghinstallation mints the
// installation token from the App's key in Secrets Manager, and keeps it.
func TestGitHubApp(t *testing.T) {
	r := newRig(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	newApp := func(name string, key []byte) *appToken {
		out, err := r.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(key))})
		if err != nil {
			t.Fatal(err)
		}
		return &appToken{appID: 4242, installationID: 77, key: secretcache.New(r.sm, aws.ToString(out.ARN)), apiURL: r.gh.URL, base: http.DefaultTransport}
	}
	r.gh.App(4242, 77, &key.PublicKey)
	r.h.github.token = newApp("pipebridge/app-key", pemKey)
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "STARTED"))
	r.mustHandle(t, pipelineEv(t, "web-prod", executionA, "SUCCEEDED"))
	if deps := r.gh.Deployments("acme/web"); len(deps) != 1 || len(deps[0].Statuses) != 2 {
		t.Fatalf("deployments %+v", deps)
	}
	if n := r.gh.InstallationTokens(); n != 1 {
		t.Errorf("%d installation tokens minted, want 1 (kept until it nears expiry)", n)
	}
	for _, h := range r.gh.Tokens() {
		if h != "" && !strings.HasPrefix(h, "Bearer ghs_") && !strings.HasPrefix(h, "Bearer ey") {
			t.Errorf("a request authenticated with %q", h)
		}
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	r.h.github.token = newApp("pipebridge/other-key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	if err := r.handle(t, pipelineEv(t, "web-prod", executionA, "FAILED")); err == nil || !strings.Contains(err.Error(), "GitHub App 4242, installation 77: no installation token") {
		t.Errorf("a key that is not the App's: %v", err)
	}
	r.h.github.token = newApp("pipebridge/not-a-key", []byte("not a PEM"))
	if err := r.handle(t, pipelineEv(t, "web-prod", executionA, "FAILED")); err == nil || !strings.Contains(err.Error(), "is not a usable private key") {
		t.Errorf("a secret that is not a key: %v", err)
	}
	if strings.Contains(r.logs.String(), "PRIVATE KEY") {
		t.Error("the key in the logs")
	}
}

// An image pipeline whose tag is not a commit: the commit comes from the image's
// org.opencontainers.image.revision label, read from ECR.
func TestImageRevisionLabel(t *testing.T) {
	r := newRig(t)
	reg := ecrregistry.Start()
	defer reg.Close()
	r.h.revisions = &revisions{
		ecr: ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(reg.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")}),
		http: &http.Client{Timeout: 5 * time.Second},
	}
	labelled := reg.Image("acme/worker", "v1.4.2", map[string]string{revisionLabel: commit, "org.opencontainers.image.source": "https://github.com/acme/worker"})
	unlabelled := reg.Image("acme/worker", "v1.4.3", map[string]string{"maintainer": "acme"})
	for id, d := range map[string]string{executionA: labelled, executionB: unlabelled} {
		r.cp.SetExecution("worker-staging", id, cpstub.ExecutionDetail{Variables: map[string]string{"IMAGE_TAG": "v1"}, Revisions: []cpstub.Revision{{Name: "Image", RevisionID: d}}})
	}
	r.mustHandle(t, pipelineEv(t, "worker-staging", executionA, "SUCCEEDED"))
	deps := r.gh.Deployments("acme/worker")
	if len(deps) != 1 || deps[0].SHA != commit {
		t.Fatalf("deployments %+v, want one of the labelled commit", deps)
	}
	r.mustHandle(t, pipelineEv(t, "worker-staging", executionB, "SUCCEEDED"))
	if n := len(r.gh.Deployments("acme/worker")); n != 1 {
		t.Errorf("%d deployments: the unlabelled image got one", n)
	}
	if !strings.Contains(r.logs.String(), "the image has no org.opencontainers.image.revision label with one") {
		t.Errorf("no log line says why:\n%s", r.logs)
	}
	missing := "5e0d1c2b-0000-4000-8000-0000000000aa"
	r.cp.SetExecution("worker-staging", missing, cpstub.ExecutionDetail{Revisions: []cpstub.Revision{{RevisionID: digest}}})
	r.mustHandle(t, pipelineEv(t, "worker-staging", missing, "SUCCEEDED"))
	if !strings.Contains(r.logs.String(), "label could not be read: ECR has no image") {
		t.Errorf("no log line for an image ECR does not hold:\n%s", r.logs)
	}
}
