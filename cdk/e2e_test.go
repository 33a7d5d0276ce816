package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/routes"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/githubapi"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
	"github.com/pipebridge/pipebridge/test/moto"
)

// functionRoutes returns each trigger Lambda's route table as the template gives
// it, keyed by the function's logical id prefix (TriggersECRPush, TriggersGHRelease).
func functionRoutes(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	envs, err := cpstub.FunctionEnvironments(s.raw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, env := range envs {
		for _, name := range []string{"TriggersECRPush", "TriggersGHRelease"} {
			if !strings.HasPrefix(id, name) {
				continue
			}
			v, ok := env[dispatch.EnvRoutes]
			if !ok {
				t.Fatalf("function %s has no literal %s", id, dispatch.EnvRoutes)
			}
			out[name] = v
		}
	}
	return out
}

// Every pipeline, variable and source action a route can send exists in the
// synthesized pipeline it names.
func TestRoutesMatchPipelines(t *testing.T) {
	s := example(t)
	tables := functionRoutes(t, s)
	if len(tables) != 2 {
		t.Fatalf("route tables for %d functions, want 2", len(tables))
	}
	n := 0
	for fn, raw := range tables {
		table, err := routes.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%s: the Lambda would refuse its table: %v", fn, err)
		}
		n += len(table.Routes)
		checkRoutesAgainstPipelines(t, s, fn, table)
	}
	if n != 4 {
		t.Errorf("%d routes, want 4 (web-staging, web-prod, worker-staging, worker-prod)", n)
	}
}

func checkRoutesAgainstPipelines(t *testing.T, s *synthesized, what string, table *routes.Table) {
	t.Helper()
	pipelines, err := cpstub.FromTemplate(s.raw)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpstub.Pipeline{}
	for _, p := range pipelines {
		byName[p.Name] = p
	}
	for _, r := range table.Routes {
		p, ok := byName[r.Pipeline]
		if !ok {
			t.Errorf("%s: route %s starts pipeline %s, which the stack does not define", what, r.Name, r.Pipeline)
			continue
		}
		for v := range r.Variables {
			if !slices.Contains(p.Variables, v) {
				t.Errorf("%s: route %s sends variable %s; pipeline %s declares %v", what, r.Name, v, p.Name, p.Variables)
			}
		}
		if r.SourceAction != "" && !slices.Contains(p.SourceActions, r.SourceAction) {
			t.Errorf("%s: route %s overrides source action %s; pipeline %s has %v", what, r.Name, r.SourceAction, p.Name, p.SourceActions)
		}
	}
}

const e2eSecret = "e2e-webhook-secret-8b1f"

// End to end: the synthesized pipelines in the CodePipeline stand-in; the built
// Lambdas, with the route tables the stack gives them, under the Runtime API
// server; an ECR scan event and signed GitHub releases through them.
func TestEndToEnd(t *testing.T) {
	s := example(t)
	srv := moto.Shared(t)
	pipelines, err := cpstub.FromTemplate(s.raw)
	if err != nil {
		t.Fatal(err)
	}
	cp := cpstub.Start(pipelines...)
	defer cp.Close()
	gh := githubapi.Start()
	defer gh.Close()
	gh.Lightweight("acme/web", "v2.1.0", "1111111111111111111111111111111111111111")
	gh.Annotated("acme/web", "v2.2.0-rc.1", "aaaa000000000000000000000000000000000000", "2222222222222222222222222222222222222222")

	secret, err := secretsmanager.NewFromConfig(srv.Config(t)).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("pipebridge/webhook"), SecretString: aws.String(e2eSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	// githubTokenSecret: create, as deployed: an empty secret (no value). GitHub
	// knows no token here, so any token sent would be answered 401: the
	// releases below start only if ghrelease calls the public repository
	// anonymously.
	token, err := secretsmanager.NewFromConfig(srv.Config(t)).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("pipebridge/github-token"),
	})
	if err != nil {
		t.Fatal(err)
	}
	gh.Valid("ghp_the-only-token-github-knows")
	tables := functionRoutes(t, s)
	dir := t.TempDir()
	env := append(srv.Env(), "AWS_ENDPOINT_URL_CODEPIPELINE="+cp.URL, "GITHUB_API_URL="+gh.URL)
	run := func(name, pkg string, extra ...string) *lambdaruntime.Runtime {
		bin := filepath.Join(dir, name, "bootstrap")
		if err := lambdaruntime.Build("..", pkg, bin, ""); err != nil {
			t.Fatal(err)
		}
		rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: name, Bootstrap: bin, Env: append(slices.Clone(env), extra...)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, rt.Logs())
			}
			rt.Stop()
		})
		return rt
	}
	ecrpush := run("ecrpush", "./lambdas/ecrpush", dispatch.EnvRoutes+"="+tables["TriggersECRPush"])
	ghrelease := run("ghrelease", "./lambdas/ghrelease", dispatch.EnvRoutes+"="+tables["TriggersGHRelease"], "WEBHOOK_SECRET_ARN="+aws.ToString(secret.ARN), "GITHUB_TOKEN_SECRET_ARN="+aws.ToString(token.ARN))

	// acme/worker:v1.4.2 is pushed (staging waits for the scan), then its scan
	// completes clean (staging); staging's success promotes it to prod.
	push := `{"version":"0","id":"13cde686-328b-6117-af20-0e5566167482","detail-type":"ECR Image Action","source":"aws.ecr",
"account":"123456789012","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":[],
"detail":{"result":"SUCCESS","repository-name":"acme/worker","image-digest":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","action-type":"PUSH","image-tag":"v1.4.2"}}`
	if res, err := ecrpush.Invoke(context.Background(), []byte(push)); err != nil || res.Err != nil {
		t.Fatalf("ecrpush push: %v %v", err, res.Err)
	}
	scan := `{"version":"0","id":"85fc3613-e913-7fc4-a80c-a3753e4aa9ae","detail-type":"ECR Image Scan","source":"aws.ecr",
"account":"123456789012","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":[],
"detail":{"scan-status":"COMPLETE","repository-name":"acme/worker","finding-severity-counts":{"LOW":3},
"image-digest":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","image-tags":["4f6c1a2","v1.4.2"]}}`
	res, err := ecrpush.Invoke(context.Background(), []byte(scan))
	if err != nil || res.Err != nil {
		t.Fatalf("ecrpush: %v %v", err, res.Err)
	}

	var staging string
	for _, ex := range cp.Executions() {
		if ex.Request.Name == "worker-staging" {
			staging = ex.ID
		}
	}
	if staging == "" {
		t.Fatalf("the scan did not start worker-staging: %+v", cp.Executions())
	}
	promote := func(state string) lambdaruntime.Result {
		t.Helper()
		res, err := ecrpush.Invoke(context.Background(), cpstub.StateChangeEvent("worker-staging", staging, state, "", time.Time{}))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Staging fails: nothing is promoted. Its SUCCEEDED event while CodePipeline
	// still reports it in progress: refused (an error, for the dead-letter queue).
	if res := promote("FAILED"); res.Err != nil {
		t.Errorf("FAILED event: %v", res.Err)
	}
	if res := promote("SUCCEEDED"); res.Err == nil || !strings.Contains(res.Err.ErrorMessage, "only a successful execution promotes") {
		t.Errorf("unconfirmed SUCCEEDED event: %+v", res.Err)
	}
	for _, ex := range cp.Executions() {
		if ex.Request.Name == "worker-prod" {
			t.Fatalf("worker-prod started before worker-staging succeeded")
		}
	}
	// Staging succeeds (after its bake); the event comes twice: one prod start.
	cp.SetStatus("worker-staging", staging, "Succeeded")
	for range 2 {
		if res := promote("SUCCEEDED"); res.Err != nil {
			t.Fatalf("promotion: %v", res.Err)
		}
	}
	prods := 0
	for _, ex := range cp.Executions() {
		if ex.Request.Name == "worker-prod" {
			prods++
		}
	}
	if prods != 1 {
		t.Errorf("%d worker-prod executions, want 1", prods)
	}

	for _, rel := range []struct {
		tag, action string
		prerelease  bool
		want        string
	}{
		{"v2.1.0", "published", false, "web-prod"},
		{"v2.2.0-rc.1", "prereleased", true, "web-staging"},
	} {
		status, body := deliverRelease(t, ghrelease, rel.tag, rel.action, rel.prerelease)
		if status != 202 || !strings.Contains(body, `"pipeline":"`+rel.want+`"`) {
			t.Errorf("release %s: %d %s, want 202 starting %s", rel.tag, status, body, rel.want)
		}
	}

	if rej := cp.Rejected(); len(rej) != 0 {
		t.Fatalf("the stand-in rejected requests: %v", rej)
	}
	got := map[string]cpstub.Request{}
	for _, ex := range cp.Executions() {
		got[ex.Request.Name] = ex.Request
	}
	if len(got) != 4 {
		t.Fatalf("executions of %v, want worker-staging, worker-prod, web-prod and web-staging", got)
	}
	if r := got["worker-staging"]; !slices.Contains(r.Variables, cpstub.Variable{Name: "IMAGE_TAG", Value: "v1.4.2"}) {
		t.Errorf("worker-staging request %+v", r)
	}
	if r := got["worker-prod"]; r.SourceRevisions[0] != (cpstub.SourceRevision{ActionName: "Image", RevisionType: "IMAGE_DIGEST",
		RevisionValue: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}) || !slices.Contains(r.Variables, cpstub.Variable{Name: "IMAGE_TAG", Value: "v1.4.2"}) ||
		!slices.Contains(r.Variables, cpstub.Variable{Name: "TRIGGER_ID", Value: staging}) {
		t.Errorf("worker-prod request %+v", r)
	}
	if r := got["web-staging"]; r.SourceRevisions[0].RevisionValue != "2222222222222222222222222222222222222222" {
		t.Errorf("web-staging deployed %s, want the commit behind the annotated tag", r.SourceRevisions[0].RevisionValue)
	}
}

func deliverRelease(t *testing.T, rt *lambdaruntime.Runtime, tag, action string, prerelease bool) (int, string) {
	t.Helper()
	raw, err := os.ReadFile("../internal/ghevent/testdata/github/release.published.json")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	json.Unmarshal(raw, &payload)
	payload["action"] = action
	rel := payload["release"].(map[string]any)
	rel["tag_name"], rel["prerelease"], rel["html_url"] = tag, prerelease, "https://github.com/acme/web/releases/tag/"+tag
	payload["repository"].(map[string]any)["full_name"] = "acme/web"
	body, _ := json.Marshal(payload)
	mac := hmac.New(sha256.New, []byte(e2eSecret))
	mac.Write(body)
	req, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", Body: string(body), Headers: map[string]string{
		"content-type": "application/json", "x-github-event": "release", "x-github-delivery": "d-" + strings.ReplaceAll(tag, ".", "-"),
		"x-hub-signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}})
	res, err := rt.Invoke(context.Background(), req)
	if err != nil || res.Err != nil {
		t.Fatalf("ghrelease: %v %v", err, res.Err)
	}
	var resp events.LambdaFunctionURLResponse
	json.Unmarshal(res.Payload, &resp)
	return resp.StatusCode, resp.Body
}
