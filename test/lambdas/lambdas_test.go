// Package lambdas runs the built bootstrap binaries exactly as Lambda does, under
// the Runtime API server, against moto (Secrets Manager, SSM) and the CodePipeline
// and GitHub stand-ins.
package lambdas

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/githubapi"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
	"github.com/pipebridge/pipebridge/test/moto"
)

var bins = map[string]string{}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		defer moto.StopShared()
		dir, err := os.MkdirTemp("", "pipebridge-lambdas-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		root, err := lambdaruntime.ModuleRoot()
		if err != nil {
			panic(err)
		}
		for name, pkg := range map[string]string{"ecrpush": "./lambdas/ecrpush", "ghrelease": "./lambdas/ghrelease", "ghredeliver": "./lambdas/ghredeliver", "deployreport": "./lambdas/deployreport", "pipelineaction": "./lambdas/pipelineaction", "hello": "./test/lambdaruntime/hello"} {
			out := filepath.Join(dir, name, "bootstrap")
			if err := lambdaruntime.Build(root, pkg, out, ""); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			bins[name] = out
		}
		return m.Run()
	}())
}

const (
	webhookSecret = "integration-webhook-secret-4c1d"
	commit        = "5e4b3a29c1d8f7e6a5b4c3d2e1f0a9b8c7d6e5f4"
	delivery      = "9a1b2c3d-0000-4000-8000-1234567890ab"
)

const ecrRoutes = `{"routes": [{"name": "web-dev", "ecr": {"repository": "web", "account": "123456789012"},
  "tags": {"glob": "v*"}, "pipeline": "web-dev", "sourceAction": "Image", "variables": {"IMAGE_URI": "{{.ImageURI}}"}}]}`

const ghRoutes = `{"routes": [{"name": "hello-prod", "github": {"repository": "Codertocat/Hello-World"},
  "pipeline": "hello-prod", "sourceAction": "Source", "variables": {"RELEASE_TAG": "{{.Tag}}"}}]}`

type world struct {
	srv *moto.Server
	cp  *cpstub.Server
	gh  *githubapi.Server
	env []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{srv: moto.Shared(t)}
	w.cp = cpstub.Start(
		cpstub.Pipeline{Name: "web-dev", Variables: []string{"IMAGE_URI"}, SourceActions: []string{"Image"}},
		cpstub.Pipeline{Name: "hello-prod", Variables: []string{"RELEASE_TAG"}, SourceActions: []string{"Source"}},
	)
	t.Cleanup(w.cp.Close)
	w.gh = githubapi.Start()
	t.Cleanup(w.gh.Close)
	w.gh.Annotated("Codertocat/Hello-World", "0.0.1", "ababababababababababababababababababab01", commit)
	w.env = append(w.srv.Env(), "AWS_ENDPOINT_URL_CODEPIPELINE="+w.cp.URL, "GITHUB_API_URL="+w.gh.URL)
	return w
}

// start runs a function; its logs are checked for secrets when the test ends.
func (w *world) start(t *testing.T, name string, env ...string) *lambdaruntime.Runtime {
	t.Helper()
	rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: name, Bootstrap: bins[name], Env: append(append([]string{}, w.env...), env...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rt.Stop()
		if strings.Contains(rt.Logs(), webhookSecret) {
			t.Errorf("%s logged the webhook secret", name)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, rt.Logs())
		}
	})
	return rt
}

func invoke(t *testing.T, rt *lambdaruntime.Runtime, payload []byte) lambdaruntime.Result {
	t.Helper()
	res, err := rt.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, rt.Logs())
	}
	return res
}

func pushEvent(tag string) []byte {
	return []byte(`{"version":"0","id":"13cde686-328b-6117-af20-0e5566167482","detail-type":"ECR Image Action","source":"aws.ecr",
"account":"123456789012","time":"2026-11-16T01:54:34Z","region":"us-east-1","resources":[],
"detail":{"result":"SUCCESS","repository-name":"web","image-digest":"sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678","action-type":"PUSH","image-tag":"` + tag + `"}}`)
}

func TestHelloUnderRuntimeAPI(t *testing.T) {
	rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: "hello", Bootstrap: bins["hello"]})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop()
	for range 3 {
		if res := invoke(t, rt, []byte(`{}`)); res.Err != nil || string(res.Payload) != `"hello"` {
			t.Fatalf("got %q %v, want \"hello\"", res.Payload, res.Err)
		}
	}
}

func TestECRPushBootstrap(t *testing.T) {
	w := newWorld(t)
	rt := w.start(t, "ecrpush", "PIPEBRIDGE_ROUTES="+ecrRoutes)
	res := invoke(t, rt, pushEvent("v1.4.0"))
	if res.Err != nil || string(res.Payload) != "null" {
		t.Fatalf("got %s, %v; want null", res.Payload, res.Err)
	}
	// The same event again, as Lambda's retry would send it.
	invoke(t, rt, pushEvent("v1.4.0"))
	ex := w.cp.Executions()
	if len(ex) != 1 || len(w.cp.Requests()) != 2 {
		t.Fatalf("%d executions from %d requests, want 1 from 2 (rejected: %v)", len(ex), len(w.cp.Requests()), w.cp.Rejected())
	}
	if got := ex[0].Request.SourceRevisions[0]; got.RevisionType != "IMAGE_DIGEST" || got.ActionName != "Image" {
		t.Errorf("source revision %+v", got)
	}
	// Ignored: one structured line with the reason, and no error.
	if res := invoke(t, rt, pushEvent("latest")); res.Err != nil {
		t.Fatalf("ignored event returned %v", res.Err)
	}
	// Malformed: an error, so Lambda retries and then uses the failure destination.
	res = invoke(t, rt, []byte(`{"id":"x","source":"aws.ecr","account":"123456789012","region":"us-east-1","detail-type":"ECR Image Action","detail":{"action-type":"PUSH","result":"SUCCESS"}}`))
	if res.Err == nil || !strings.Contains(res.Err.ErrorMessage, "malformed ECR event") {
		t.Fatalf("malformed event: got %+v, want a function error", res)
	}
	// aws-lambda-go also logs the failed invocation, after answering the Runtime
	// API: wait for that line (it must be JSON too) before reading the log.
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(rt.Logs(), `"errorMessage"`) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var ignored, started int
	for _, line := range strings.Split(strings.TrimSpace(rt.Logs()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["message"] {
		case "ignored":
			ignored++
			if rec["requestId"] == nil || !strings.Contains(fmt.Sprint(rec["routes"]), `does not match glob`) {
				t.Errorf("ignored line lacks requestId or the route's reason: %s", line)
			}
		case "started":
			started++
		}
	}
	if ignored != 1 || started != 2 {
		t.Errorf("%d ignored and %d started lines, want 1 and 2", ignored, started)
	}
}

func TestECRPushRoutesFromSSM(t *testing.T) {
	w := newWorld(t)
	_, err := ssm.NewFromConfig(w.srv.Config(t)).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String("/pipebridge/routes"), Value: aws.String(ecrRoutes), Type: ssmtypes.ParameterTypeString,
	})
	if err != nil {
		t.Fatal(err)
	}
	rt := w.start(t, "ecrpush", "PIPEBRIDGE_ROUTES_PARAMETER=/pipebridge/routes")
	if res := invoke(t, rt, pushEvent("v2.0.0")); res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(w.cp.Executions()) != 1 {
		t.Fatalf("no execution started")
	}
}

func TestRefusesToStart(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name, fn string
		env      []string
		says     string
	}{
		{"bad route table", "ecrpush", []string{`PIPEBRIDGE_ROUTES={"routes":[{"name":"a","ecr":{"repository":"web","account":"123"},"pipeline":"p"}]}`}, `ecr.account \"123\"`},
		{"no route table", "ecrpush", nil, "no route table"},
		{"missing SSM parameter", "ecrpush", []string{"PIPEBRIDGE_ROUTES_PARAMETER=/nope"}, "read route table from SSM parameter /nope"},
		{"no webhook secret", "ghrelease", []string{"PIPEBRIDGE_ROUTES=" + ghRoutes}, "WEBHOOK_SECRET_ARN is not set"},
		{"secret not in Secrets Manager", "ghrelease", []string{"PIPEBRIDGE_ROUTES=" + ghRoutes, "WEBHOOK_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:gone"}, "read secret arn:aws:secretsmanager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := w.start(t, tt.fn, tt.env...)
			_, err := rt.Invoke(context.Background(), []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), "runtime exited") {
				t.Fatalf("invoke: %v, want the runtime to have exited", err)
			}
			if !strings.Contains(rt.Logs(), "refusing to start") || !strings.Contains(rt.Logs(), tt.says) {
				t.Errorf("logs do not say %q:\n%s", tt.says, rt.Logs())
			}
		})
	}
}

func (w *world) webhookSecretARN(t *testing.T) string {
	out, err := secretsmanager.NewFromConfig(w.srv.Config(t)).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("pipebridge/webhook"), SecretString: aws.String(webhookSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func signedRelease(t *testing.T, secret string) (body []byte, headers map[string]string) {
	body, err := os.ReadFile("../../internal/ghevent/testdata/github/release.published.json")
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return body, map[string]string{
		"content-type": "application/json", "x-github-event": "release", "x-github-delivery": delivery,
		"x-hub-signature-256": "sha256=" + hex.EncodeToString(m.Sum(nil)),
	}
}

func TestGHReleaseBootstrap(t *testing.T) {
	w := newWorld(t)
	rt := w.start(t, "ghrelease", "PIPEBRIDGE_ROUTES="+ghRoutes, "WEBHOOK_SECRET_ARN="+w.webhookSecretARN(t))

	body, headers := signedRelease(t, webhookSecret)
	urlReq, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: headers, Body: string(body)})
	gwReq, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /webhook", RawPath: "/webhook", Headers: headers, Body: string(body)})
	_, badHeaders := signedRelease(t, "not the secret")
	badReq, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", Headers: badHeaders, Body: string(body)})

	tests := []struct {
		name    string
		payload []byte
		status  int
		has     string
	}{
		{"function URL delivery", urlReq, 202, `"started"`},
		{"API Gateway HTTP API delivery (a redelivery: same id)", gwReq, 202, `"started"`},
		{"bad signature", badReq, 401, `{"error":"unauthorized"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := invoke(t, rt, tt.payload)
			if res.Err != nil {
				t.Fatalf("function error %v", res.Err)
			}
			var resp events.LambdaFunctionURLResponse
			if err := json.Unmarshal(res.Payload, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.has) {
				t.Fatalf("got %d %s, want %d with %s", resp.StatusCode, resp.Body, tt.status, tt.has)
			}
		})
	}
	ex := w.cp.Executions()
	if len(ex) != 1 {
		t.Fatalf("%d executions, want 1 (the redelivery must not start another)", len(ex))
	}
	if got := ex[0].Request.SourceRevisions[0].RevisionValue; got != commit {
		t.Errorf("COMMIT_ID %s, want %s (the annotated tag dereferenced through the API)", got, commit)
	}
	if tok := ex[0].Request.ClientRequestToken; !strings.HasPrefix(tok, "gh-") || strings.Contains(tok, delivery) {
		t.Errorf("token %s, want one made from the signed payload", tok)
	}
}

// functionURLRequest is a signed delivery of body as a Function URL request.
func functionURLRequest(t *testing.T, event, id string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write(body)
	req, err := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Body: string(body), Headers: map[string]string{
		"content-type": "application/json", "x-github-event": event, "x-github-delivery": id,
		"x-hub-signature-256": "sha256=" + hex.EncodeToString(m.Sum(nil)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func answer(t *testing.T, rt *lambdaruntime.Runtime, payload []byte) events.LambdaFunctionURLResponse {
	t.Helper()
	res := invoke(t, rt, payload)
	if res.Err != nil {
		t.Fatalf("function error %v", res.Err)
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// The built ghrelease, as Lambda runs it: GitHub's published and released
// deliveries of one release and a replay under a new delivery id start one
// execution; a release whose tag cannot be a variable answers 422.
func TestGHReleaseBootstrapDeploysOnce(t *testing.T) {
	w := newWorld(t)
	rt := w.start(t, "ghrelease", "PIPEBRIDGE_ROUTES="+ghRoutes, "WEBHOOK_SECRET_ARN="+w.webhookSecretARN(t))
	read := func(name string) []byte {
		b, err := os.ReadFile("../../internal/ghevent/testdata/github/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, req := range [][]byte{
		functionURLRequest(t, "release", "11111111-0000-4000-8000-000000000001", read("release.published.json")),
		functionURLRequest(t, "release", "11111111-0000-4000-8000-000000000002", read("release.released.json")),
		functionURLRequest(t, "release", "11111111-0000-4000-8000-000000000003", read("release.published.json")),
	} {
		if resp := answer(t, rt, req); resp.StatusCode != 202 {
			t.Fatalf("delivery %d: %d %s, want 202", i, resp.StatusCode, resp.Body)
		}
	}
	if n := len(w.cp.Executions()); n != 1 {
		t.Fatalf("%d executions, want 1", n)
	}

	var rel map[string]any
	json.Unmarshal(read("release.published.json"), &rel)
	rel["release"].(map[string]any)["tag_name"] = "v1\n"
	body, _ := json.Marshal(rel)
	resp := answer(t, rt, functionURLRequest(t, "release", "11111111-0000-4000-8000-000000000004", body))
	if resp.StatusCode != 422 || !strings.Contains(resp.Body, "control character U+000A") {
		t.Fatalf("tag with a newline: %d %s, want 422 naming the control character", resp.StatusCode, resp.Body)
	}
}

// The built ghredeliver, as Lambda runs it on its schedule: it reads the token
// from Secrets Manager, finds the webhook by URL and redelivers the failed
// delivery; a second run finds it delivered and does nothing.
func TestGHRedeliverBootstrap(t *testing.T) {
	w := newWorld(t)
	out, err := secretsmanager.NewFromConfig(w.srv.Config(t)).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("pipebridge/github-token"), SecretString: aws.String("ghp_integration-token"),
	})
	if err != nil {
		t.Fatal(err)
	}
	const hookURL = "https://abc.lambda-url.us-east-1.on.aws/"
	hook := w.gh.AddHook("Codertocat/Hello-World", hookURL)
	failed := w.gh.AddDelivery(hook, githubapi.Delivery{GUID: "g-1", DeliveredAt: time.Now().Add(-time.Minute).UTC(), StatusCode: 502, Event: "release", Action: "published"})
	w.gh.AddDelivery(hook, githubapi.Delivery{GUID: "g-2", DeliveredAt: time.Now().Add(-time.Minute).UTC(), StatusCode: 401, Event: "release"})
	rt := w.start(t, "ghredeliver", "GITHUB_TOKEN_SECRET_ARN="+aws.ToString(out.ARN), "WEBHOOK_URL="+hookURL, "GITHUB_REPOSITORIES=Codertocat/Hello-World")
	scheduled := []byte(`{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-23T10:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/redeliver"],"detail":{}}`)
	for range 2 {
		if res := invoke(t, rt, scheduled); res.Err != nil {
			t.Fatalf("run: %v", res.Err)
		}
	}
	if got := w.gh.Redelivered(); len(got) != 1 || got[0] != failed {
		t.Fatalf("redelivered %v, want [%d] once", got, failed)
	}
	if strings.Contains(rt.Logs(), "ghp_integration-token") {
		t.Errorf("the token is in the log")
	}
}
