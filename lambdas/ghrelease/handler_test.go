package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/routes"
	"github.com/pipebridge/pipebridge/internal/secretcache"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/githubapi"
)

const (
	testSecret = "s3cr3t-webhook-value-9f2d"
	fixtures   = "../../internal/ghevent/testdata/"
	commitSHA  = "c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe"
	deliveryID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
)

const testRoutes = `{"routes": [
  {"name": "hello-prod", "github": {"repository": "Codertocat/Hello-World", "events": ["release", "tag-push", "tag-create"]},
   "pipeline": "hello-prod", "sourceAction": "Source",
   "variables": {"RELEASE_TAG": "{{.Tag}}", "RELEASE_URL": "{{.ReleaseURL}}"}},
  {"name": "hello-v2", "github": {"repository": "Codertocat/Hello-World", "events": ["tag-push"]},
   "tags": {"semver": ">=2.0.0"}, "pipeline": "hello-v2", "variables": {"RELEASE_TAG": "{{.Tag}}"}}
]}`

// fakeSecrets answers GetSecretValue as Secrets Manager does, with versions:
// AWSCURRENT carries its VersionId and CreatedDate, AWSPREVIOUS the value it
// replaced, and a secret without a value answers ResourceNotFoundException.
type fakeSecrets struct {
	value, previous string
	version         int
	created         time.Time
	err             error
	calls           int // AWSCURRENT reads
	prevCalls       int // AWSPREVIOUS reads
	noValue         bool
}

func (f *fakeSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.VersionStage) == "AWSPREVIOUS" {
		f.prevCalls++
		if f.previous == "" {
			return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS")}
		}
		return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.previous), VersionId: aws.String(fmt.Sprint("v", f.version-1))}, nil
	}
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if f.noValue {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value), VersionId: aws.String(fmt.Sprint("v", f.version)), CreatedDate: aws.Time(f.created)}, nil
}

// rotate puts a new value at time at, as PutSecretValue does.
func (f *fakeSecrets) rotate(value string, at time.Time) {
	f.previous, f.value, f.created = f.value, value, at
	f.version++
}

var _ secretcache.Getter = (*fakeSecrets)(nil)

type env struct {
	h        *handler
	secrets  *fakeSecrets
	pipeline *cpstub.Server
	gh       *githubapi.Server
	logs     *bytes.Buffer
	clock    *time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	table, err := routes.Parse([]byte(testRoutes))
	if err != nil {
		t.Fatal(err)
	}
	stub := cpstub.Start(
		cpstub.Pipeline{Name: "hello-prod", Variables: []string{"RELEASE_TAG", "RELEASE_URL"}, SourceActions: []string{"Source"}},
		cpstub.Pipeline{Name: "hello-v2", Variables: []string{"RELEASE_TAG"}},
	)
	t.Cleanup(stub.Close)
	gh := githubapi.Start()
	t.Cleanup(gh.Close)
	gh.Lightweight("Codertocat/Hello-World", "0.0.1", commitSHA)
	gh.Lightweight("Codertocat/Hello-World", "simple-tag", commitSHA)
	ghClient, err := github.NewClient(github.WithURLs(&gh.URL, nil))
	if err != nil {
		t.Fatal(err)
	}

	clock := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	secrets := &fakeSecrets{value: testSecret, version: 1, created: clock.Add(-24 * time.Hour)}
	logs := &bytes.Buffer{}
	e := &env{secrets: secrets, pipeline: stub, gh: gh, logs: logs, clock: &clock}
	sec := e.newCache()
	if _, err := sec.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.h = &handler{
		routes:    table,
		pipelines: stub.Client(func(o *codepipeline.Options) { o.Retryer = newRetryer() }),
		secret:    sec,
		commit: func(ctx context.Context, repository, tag string) (string, error) {
			return tagCommit(ctx, ghClient.Git, repository, tag)
		},
		log: slog.New(slog.NewJSONHandler(logs, nil)),
	}
	return e
}

// newCache is the webhook secret's cache on the env's clock.
func (e *env) newCache() *secretcache.Cache {
	c := secretcache.New(e.secrets, "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook")
	c.Now = func() time.Time { return *e.clock }
	return c
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delivery is a signed Function URL request as GitHub would send it.
func delivery(event string, body []byte) events.LambdaFunctionURLRequest {
	return events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/",
		Headers: map[string]string{
			"content-type": "application/json", "x-github-event": event, "x-github-delivery": deliveryID,
			"x-hub-signature-256": sign(testSecret, body), "user-agent": "GitHub-Hookshot/abc",
		},
		Body: string(body),
	}
}

func (e *env) call(t *testing.T, req events.LambdaFunctionURLRequest) (int, map[string]any) {
	t.Helper()
	resp, err := e.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error (Lambda would answer 502 with no body): %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("response body %q is not JSON: %v", resp.Body, err)
	}
	return resp.StatusCode, body
}

func TestSignatureTestVector(t *testing.T) {
	// GitHub's documented vector.
	e := newEnv(t)
	e.secrets.value = "It's a Secret to Everybody"
	e.h.secret = e.newCache()
	reason, err := e.h.verify(context.Background(), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!"))
	if err != nil || reason != "" {
		t.Fatalf("GitHub's test vector was refused: %q, %v", reason, err)
	}
	reason, _ = e.h.verify(context.Background(), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", []byte("Hello, World!"))
	if reason == "" {
		t.Fatal("a wrong signature was accepted")
	}
}

func TestReleasePublishedStarts(t *testing.T) {
	e := newEnv(t)
	status, body := e.call(t, delivery("release", fixture(t, "github/release.published.json")))
	if status != 202 {
		t.Fatalf("status %d, body %v; want 202", status, body)
	}
	started := body["started"].([]any)
	if len(started) != 1 || started[0].(map[string]any)["pipeline"] != "hello-prod" || started[0].(map[string]any)["executionId"] == "" {
		t.Fatalf("started = %v, want one hello-prod execution", started)
	}
	reqs := e.pipeline.Requests()
	if len(reqs) != 1 {
		t.Fatalf("CodePipeline got %d requests, want 1 (rejected: %v)", len(reqs), e.pipeline.Rejected())
	}
	r := reqs[0]
	if !strings.HasPrefix(r.ClientRequestToken, "gh-") || strings.Contains(r.ClientRequestToken, deliveryID) {
		t.Errorf("token %q, want one made from the signed payload, not the delivery id", r.ClientRequestToken)
	}
	if !strings.Contains(e.logs.String(), `"delivery":"`+deliveryID+`"`) {
		t.Errorf("the log does not keep the delivery id:\n%s", e.logs)
	}
	if len(r.SourceRevisions) != 1 || r.SourceRevisions[0] != (cpstub.SourceRevision{ActionName: "Source", RevisionType: "COMMIT_ID", RevisionValue: commitSHA}) {
		t.Errorf("source revisions = %+v, want Source COMMIT_ID %s (looked up through the API)", r.SourceRevisions, commitSHA)
	}
	want := []cpstub.Variable{{Name: "RELEASE_TAG", Value: "0.0.1"}, {Name: "RELEASE_URL", Value: "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1"}}
	if len(r.Variables) != 2 || r.Variables[0] != want[0] || r.Variables[1] != want[1] {
		t.Errorf("variables = %+v, want %+v", r.Variables, want)
	}

	// GitHub redelivers: no second execution.
	status, _ = e.call(t, delivery("release", fixture(t, "github/release.published.json")))
	if status != 202 || len(e.pipeline.Executions()) != 1 {
		t.Errorf("redelivery: status %d, %d executions; want 202 and still 1", status, len(e.pipeline.Executions()))
	}
}

// withDelivery is a signed delivery of body under another delivery id.
func withDelivery(event string, body []byte, id string) events.LambdaFunctionURLRequest {
	r := delivery(event, body)
	r.Headers["x-github-delivery"] = id
	return r
}

// One release, one execution per route: GitHub's published and released pair,
// a redelivery, and a captured delivery replayed under a new id all make the
// same token.
func TestReleaseDeploysOnce(t *testing.T) {
	e := newEnv(t)
	published := fixture(t, "github/release.published.json")
	released := fixture(t, "github/release.released.json")
	for i, req := range []events.LambdaFunctionURLRequest{
		delivery("release", published),
		withDelivery("release", released, "0b989ba4-242f-11e5-81e1-c7b6966d2516"),
		delivery("release", published),                                             // GitHub's redelivery
		withDelivery("release", published, "e8a5c1d0-0000-4000-8000-000000000001"), // a replay under a new id
	} {
		if status, b := e.call(t, req); status != 202 {
			t.Fatalf("delivery %d: %d %v, want 202", i, status, b)
		}
	}
	if n := len(e.pipeline.Executions()); n != 1 {
		t.Fatalf("%d executions, want 1 (requests: %d)", n, len(e.pipeline.Requests()))
	}
}

// A pre-release promoted to a release sends released (and edited), not
// published: the default route deploys it.
func TestPromotedPrereleaseDeploys(t *testing.T) {
	e := newEnv(t)
	if status, _ := e.call(t, delivery("release", fixture(t, "github/release.prereleased.json"))); status != 200 {
		t.Fatalf("the pre-release: status %d, want 200 (the route excludes pre-releases)", status)
	}
	if status, _ := e.call(t, withDelivery("release", fixture(t, "github/release.edited.json"), "d-edited")); status != 200 {
		t.Fatalf("edited: status %d, want 200", status)
	}
	if status, b := e.call(t, withDelivery("release", fixture(t, "github/release.released.json"), "d-released")); status != 202 {
		t.Fatalf("released alone: %d %v, want 202", status, b)
	}
	if n := len(e.pipeline.Executions()); n != 1 {
		t.Fatalf("%d executions, want 1", n)
	}
}

// tagPush is GitHub's tag push payload with another tag.
func tagPush(t *testing.T, tag string) []byte {
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "push.tag-created.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["ref"] = "refs/tags/" + tag
	b, _ := json.Marshal(p)
	return b
}

// A matched delivery that cannot become a valid request answers 422 with the
// reason, so GitHub shows it failed; it is never a 200 "ignored".
func TestRefusedDeliveries(t *testing.T) {
	tests := []struct {
		name, tag, says string
	}{
		{"1,001-character tag", "v2." + strings.Repeat("0", 998), "variables.RELEASE_TAG: value is 1001 characters; CodePipeline takes at most 1000 characters"},
		{"NUL", "v2.0.0\x00", "tag: control character U+0000"},
		{"newline", "v2.0.0\n", "tag: control character U+000A"},
		{"carriage return", "v2.0.0\r", "tag: control character U+000D"},
		{"line separator", "v2.0.0\u2028", "tag: control character U+2028"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			status, b := e.call(t, delivery("push", tagPush(t, tt.tag)))
			if status != 422 || !strings.Contains(fmt.Sprint(b["error"]), tt.says) {
				t.Fatalf("got %d %v, want 422 saying %q", status, b, tt.says)
			}
			if len(e.pipeline.Requests()) != 0 || len(e.gh.Tokens()) != 0 {
				t.Errorf("a refused delivery reached CodePipeline or GitHub")
			}
			if !strings.Contains(e.logs.String(), `"level":"ERROR","msg":"refused"`) || !strings.Contains(e.logs.String(), `"route":"hello-prod"`) {
				t.Errorf("no error-level refused line naming the route:\n%s", e.logs)
			}
		})
	}
	// 600 non-ASCII characters are 1,200 bytes; CodePipeline counts 600 and takes them.
	e := newEnv(t)
	tag := strings.Repeat("é", 600)
	if status, b := e.call(t, delivery("push", tagPush(t, tag))); status != 202 {
		t.Fatalf("600-character non-ASCII tag: %d %v, want 202", status, b)
	}
	if r := e.pipeline.Requests(); len(r) != 1 || r[0].Variables[0].Value != tag {
		t.Errorf("requests %+v", r)
	}
}

func TestTagPushFansOut(t *testing.T) {
	e := newEnv(t)
	status, body := e.call(t, delivery("push", fixture(t, "push.tag-created.json")))
	if status != 202 {
		t.Fatalf("status %d, body %v", status, body)
	}
	if got := len(e.pipeline.Executions()); got != 2 {
		t.Fatalf("%d executions, want 2 (hello-prod and hello-v2)", got)
	}
	for _, ex := range e.pipeline.Executions() {
		if ex.Request.Name == "hello-prod" && ex.Request.SourceRevisions[0].RevisionValue != "9fceb02d0ae598e95dc970b74767f19372d61af8" {
			t.Errorf("tag push used commit %s, want head_commit.id", ex.Request.SourceRevisions[0].RevisionValue)
		}
	}
	if len(e.gh.Tokens()) != 0 {
		t.Errorf("a push payload carries the commit; the API was called anyway")
	}
}

func TestAnswers(t *testing.T) {
	published := fixture(t, "github/release.published.json")
	draft := bytes.Replace(published, []byte(`"draft": false`), []byte(`"draft": true`), 1)
	otherRepo := bytes.ReplaceAll(published, []byte(`"full_name": "Codertocat/Hello-World"`), []byte(`"full_name": "Codertocat/Other"`))
	form := []byte("payload=" + url.QueryEscape(string(published)))
	big := append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), maxBody), []byte(`"}`)...)...)

	with := func(r events.LambdaFunctionURLRequest, f func(*events.LambdaFunctionURLRequest)) events.LambdaFunctionURLRequest {
		h := map[string]string{}
		for k, v := range r.Headers {
			h[k] = v
		}
		r.Headers = h
		f(&r)
		return r
	}
	tests := []struct {
		name   string
		req    events.LambdaFunctionURLRequest
		status int
		key    string // a key the JSON answer must have
		says   string // in the log
	}{
		{"ping", delivery("ping", fixture(t, "github/ping.json")), 200, "ok", `"msg":"ping"`},
		{"form-encoded", with(delivery("release", form), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["content-type"] = "application/x-www-form-urlencoded"
		}), 202, "started", "started"},
		{"base64 body", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString(published), true
		}), 202, "started", "started"},
		{"charset in content type", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["content-type"] = "application/json; charset=utf-8"
		}), 202, "started", "started"},
		{"no signature", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			delete(r.Headers, "x-hub-signature-256")
		}), 401, "error", "no X-Hub-Signature-256"},
		{"bad signature", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["x-hub-signature-256"] = sign("wrong secret", published)
		}), 401, "error", "signature does not match"},
		{"SHA-1 only", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			delete(r.Headers, "x-hub-signature-256")
			m := hmac.New(sha256.New, []byte(testSecret))
			r.Headers["x-hub-signature"] = "sha1=" + hex.EncodeToString(m.Sum(nil))[:40]
		}), 401, "error", "SHA-1 signatures are not accepted"},
		{"sha1 in the sha256 header", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["x-hub-signature-256"] = "sha1=" + strings.Repeat("a", 40)
		}), 401, "error", "not sha256="},
		{"signature over another body", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["x-hub-signature-256"] = sign(testSecret, draft)
		}), 401, "error", "signature does not match"},
		{"empty body", delivery("release", []byte{}), 400, "error", "malformed"},
		{"not JSON", delivery("release", []byte("this is not json")), 400, "error", "malformed"},
		{"unsupported content type", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Headers["content-type"] = "text/plain"
		}), 400, "error", "unsupported Content-Type"},
		{"no delivery id", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			delete(r.Headers, "x-github-delivery")
		}), 400, "error", "X-GitHub-Delivery"},
		{"bad base64", with(delivery("release", published), func(r *events.LambdaFunctionURLRequest) {
			r.Body, r.IsBase64Encoded = "%%%", true
		}), 400, "error", "base64"},
		{"oversized", delivery("release", big), 413, "error", "size limit"},
		{"unknown event type", delivery("issues", []byte(`{"action":"opened"}`)), 200, "ignored", `not one pipebridge handles`},
		{"release edited", delivery("release", fixture(t, "github/release.edited.json")), 200, "ignored", `release action \"edited\"`},
		{"release deleted", delivery("release", fixture(t, "github/release.deleted.json")), 200, "ignored", `release action \"deleted\"`},
		{"draft release", delivery("release", draft), 200, "ignored", "draft releases never deploy"},
		{"tag deleted", delivery("push", fixture(t, "github/push.json")), 200, "ignored", "was deleted"},
		{"repository in no route", delivery("release", otherRepo), 200, "ignored", "repository Codertocat/Other is not this route's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			status, body := e.call(t, tt.req)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %v\nlogs:\n%s", status, tt.status, body, e.logs)
			}
			if _, ok := body[tt.key]; !ok {
				t.Errorf("answer %v has no %q", body, tt.key)
			}
			if status == 401 && len(body) != 1 || status == 401 && body["error"] != "unauthorized" {
				t.Errorf("401 answer %v says more than unauthorized", body)
			}
			if !strings.Contains(e.logs.String(), tt.says) {
				t.Errorf("log does not say %q:\n%s", tt.says, e.logs)
			}
			if strings.Contains(e.logs.String(), testSecret) {
				t.Errorf("the webhook secret is in the log")
			}
		})
	}
}

func TestTagMatchesNoRoute(t *testing.T) {
	e := newEnv(t)
	e.h.routes, _ = routes.Parse([]byte(`{"routes": [{"name": "v-only", "github": {"repository": "Codertocat/Hello-World"}, "tags": {"glob": "v*"}, "pipeline": "hello-prod"}]}`))
	status, body := e.call(t, delivery("release", fixture(t, "github/release.published.json")))
	if status != 200 || !strings.Contains(body["ignored"].(string), "no route matched") {
		t.Fatalf("status %d, body %v", status, body)
	}
	if !strings.Contains(e.logs.String(), `tag \"0.0.1\" does not match glob \"v*\"`) {
		t.Errorf("the log does not give the route's reason:\n%s", e.logs)
	}
	if len(e.gh.Tokens()) != 0 {
		t.Errorf("the GitHub API was called for an event no route takes")
	}
}

func TestRotatedSecret(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "github/release.published.json")
	e.secrets.rotate("the-new-secret", *e.clock)
	req := delivery("release", body)
	req.Headers["x-hub-signature-256"] = sign("the-new-secret", body)

	// Within a minute of the last read, the secret is not re-read.
	*e.clock = e.clock.Add(30 * time.Second)
	if status, _ := e.call(t, req); status != 401 || e.secrets.calls != 1 {
		t.Fatalf("status %d after %d reads; want 401 and no re-read", status, e.secrets.calls)
	}
	*e.clock = e.clock.Add(31 * time.Second)
	// The instance held the old value: no AWSPREVIOUS read is needed.
	if status, b := e.call(t, req); status != 202 || e.secrets.calls != 2 || e.secrets.prevCalls != 0 {
		t.Fatalf("status %d (%v) after %d reads; want 202 after one re-read", status, b, e.secrets.calls)
	}
	if strings.Contains(e.logs.String(), "the-new-secret") {
		t.Errorf("the secret is in the log")
	}
}

func TestSecretsManagerFailing(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "github/release.published.json")
	req := delivery("release", body)
	req.Headers["x-hub-signature-256"] = sign("unknown", body)
	e.secrets.err = errors.New("ServiceUnavailable")
	*e.clock = e.clock.Add(2 * time.Minute)
	if status, _ := e.call(t, req); status != 502 {
		t.Fatalf("status %d, want 502 so GitHub shows a failed delivery to redeliver", status)
	}
}

func TestUpstreamFailures(t *testing.T) {
	body := fixture(t, "github/release.published.json")
	t.Run("CodePipeline throttling within the budget", func(t *testing.T) {
		e := newEnv(t)
		e.pipeline.Throttle(2)
		if status, b := e.call(t, delivery("release", body)); status != 202 {
			t.Fatalf("status %d (%v), want 202 after retries", status, b)
		}
		if e.pipeline.Throttled() != 2 {
			t.Errorf("throttled %d times, want 2", e.pipeline.Throttled())
		}
	})
	t.Run("CodePipeline throttling that does not stop", func(t *testing.T) {
		e := newEnv(t)
		e.pipeline.Throttle(1000)
		status, b := e.call(t, delivery("release", body))
		if status != 502 {
			t.Fatalf("status %d (%v), want 502", status, b)
		}
		if n := e.pipeline.Throttled(); n != 4 {
			t.Errorf("%d attempts, want 4 (bounded to fit GitHub's 10 s)", n)
		}
	})
	t.Run("pipeline does not exist", func(t *testing.T) {
		e := newEnv(t)
		e.h.routes, _ = routes.Parse([]byte(`{"routes": [{"name": "gone", "github": {"repository": "Codertocat/Hello-World"}, "pipeline": "deleted-pipeline"}]}`))
		status, b := e.call(t, delivery("release", body))
		if status != 502 || !strings.Contains(b["error"].(string), "PipelineNotFoundException") {
			t.Fatalf("status %d, body %v; want 502 naming PipelineNotFoundException", status, b)
		}
	})
	t.Run("GitHub API failing", func(t *testing.T) {
		e := newEnv(t)
		e.gh.Fail(true)
		status, b := e.call(t, delivery("release", body))
		if status != 502 || !strings.Contains(b["error"].(string), "GitHub API") {
			t.Fatalf("status %d, body %v; want 502", status, b)
		}
		if len(e.pipeline.Requests()) != 0 {
			t.Errorf("a pipeline started without its commit")
		}
	})
}

func TestTagCommit(t *testing.T) {
	gh := githubapi.Start()
	defer gh.Close()
	gh.Lightweight("acme/web", "v1.0.0", "1111111111111111111111111111111111111111")
	gh.Annotated("acme/web", "v2.0.0", "aaaa000000000000000000000000000000000000", "2222222222222222222222222222222222222222")
	client, _ := github.NewClient(github.WithURLs(&gh.URL, nil))
	tests := []struct{ tag, want, err string }{
		{"v1.0.0", "1111111111111111111111111111111111111111", ""},
		{"v2.0.0", "2222222222222222222222222222222222222222", ""},
		{"v9.9.9", "", "tag v9.9.9 not found in acme/web"},
	}
	for _, tt := range tests {
		got, err := tagCommit(context.Background(), client.Git, "acme/web", tt.tag)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.tag, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.tag, got, err, tt.want)
		}
	}
}

func TestSetupRefusesWithoutSecret(t *testing.T) {
	_, err := setup(context.Background(), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET_ARN is not set") {
		t.Fatalf("got %v", err)
	}
	if _, err := secretcache.New(&fakeSecrets{value: ""}, "arn").Get(context.Background()); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("an empty secret was accepted: %v", err)
	}
}

// FuzzHandle varies the event type, body, signature header, delivery id,
// base64 flag and content type. Whatever the input, nothing that is not signed
// with the secret starts anything, and the handler never fails.
func FuzzHandle(f *testing.F) {
	f.Add("release", string(mustRead(fixtures+"github/release.published.json")), uint8(0), deliveryID, false, "application/json")
	f.Add("push", string(mustRead(fixtures+"push.tag-created.json")), uint8(0), "", true, "application/json")
	f.Add("release", string(mustRead(fixtures+"github/release.released.json")), uint8(1), deliveryID, false, "application/json")
	f.Add("ping", `{"zen":"x"}`, uint8(2), "x", false, "application/x-www-form-urlencoded")
	f.Add("create", `{"ref":"v1","ref_type":"tag","repository":{"full_name":"Codertocat/Hello-World"}}`, uint8(3), "d", true, "text/plain")
	f.Fuzz(func(t *testing.T, event, body string, sigMode uint8, id string, b64 bool, contentType string) {
		e := newEnv(t)
		req := delivery(event, []byte(body))
		req.Headers["content-type"] = contentType
		req.Headers["x-github-delivery"] = id
		signed := false
		switch sigMode % 5 {
		case 0:
			signed = true
		case 1:
			req.Headers["x-hub-signature-256"] = sign("not the secret", []byte(body))
		case 2:
			delete(req.Headers, "x-hub-signature-256")
		case 3:
			req.Headers["x-hub-signature-256"] = "sha256=" + body
		case 4:
			req.Headers["x-hub-signature-256"] = "sha1=" + sign(testSecret, []byte(body))[7:47]
		}
		if b64 {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
		}
		resp, err := e.h.Handle(context.Background(), req)
		if err != nil {
			t.Fatalf("Handle error: %v", err)
		}
		if !signed && (resp.StatusCode < 400 || len(e.pipeline.Requests()) > 0) {
			t.Fatalf("an unauthenticated delivery got %d and sent %d requests", resp.StatusCode, len(e.pipeline.Requests()))
		}
		if resp.StatusCode >= 500 && resp.StatusCode != 502 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if rej := e.pipeline.Rejected(); len(rej) > 0 {
			t.Fatalf("CodePipeline rejected a request: %v", rej)
		}
	})
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}
