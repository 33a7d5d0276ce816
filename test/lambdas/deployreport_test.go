package lambdas

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	slackstub "github.com/pipebridge/pipebridge/test/slack"
)

const reportToken = "ghp_deployments-e2e-token"

type reportWorld struct {
	*world
	slack *slackstub.Server
	hook  string
	env   []string
}

func newReportWorld(t *testing.T) *reportWorld {
	w := &reportWorld{world: newWorld(t), slack: slackstub.Start()}
	t.Cleanup(w.slack.Close)
	w.hook = w.slack.Hook()
	ctx := context.Background()
	cfg := w.srv.Config(t)
	sm := secretsmanager.NewFromConfig(cfg)
	secret := func(name, value string) string {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	tokenARN, hookARN := secret("pipebridge/token", reportToken), secret("pipebridge/slack", w.hook)
	if _, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("ledger"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	w.gh.Valid(reportToken)
	table := fmt.Sprintf(`{"pipelines": {"hello-prod": {"app": "hello", "environment": "prod", "repository": "Codertocat/Hello-World",
	  "production": true, "url": "https://hello.example.com", "slack": {"webhookSecretArn": %q, "mention": "<!subteam^S0123ABC>"}}}}`, hookARN)
	w.env = []string{"PIPEBRIDGE_REPORTS=" + table, "GITHUB_TOKEN_SECRET_ARN=" + tokenARN, "REPORTS_TABLE=ledger"}
	return w
}

// The built deployreport, as Lambda runs it, after ghrelease started a release:
// the execution's events, some twice and out of order, end as one GitHub
// deployment with forward-only statuses and one Slack message per step; a second
// execution fails (with the mention) and a third is superseded.
func TestDeployReportBootstrap(t *testing.T) {
	w := newReportWorld(t)
	gh := w.start(t, "ghrelease", "PIPEBRIDGE_ROUTES="+ghRoutes, "WEBHOOK_SECRET_ARN="+w.webhookSecretARN(t))
	body, headers := signedRelease(t, webhookSecret)
	req, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", Headers: headers, Body: string(body)})
	if res := invoke(t, gh, req); res.Err != nil || !strings.Contains(string(res.Payload), "202") {
		t.Fatalf("ghrelease: %s %v", res.Payload, res.Err)
	}
	ex := w.cp.Executions()
	if len(ex) != 1 {
		t.Fatalf("%d executions", len(ex))
	}
	released := ex[0].ID
	failed, superseded := "5e0d1c2b-0000-4000-8000-000000000001", "5e0d1c2b-0000-4000-8000-000000000002"
	for _, id := range []string{failed, superseded} {
		w.cp.SetExecution("hello-prod", id, cpstubDetail(commit))
	}

	rt := w.start(t, "deployreport", w.env...)
	for _, ev := range [][]byte{
		cpstub.StateChangeEvent("hello-prod", released, "STARTED", "", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", released, "STARTED", "Approval", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", released, "STARTED", "Approval", time.Time{}), // twice
		cpstub.StateChangeEvent("hello-prod", released, "SUCCEEDED", "Approval", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", released, "SUCCEEDED", "", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", released, "STARTED", "Deploy", time.Time{}), // late
		cpstub.StateChangeEvent("hello-prod", failed, "FAILED", "", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", superseded, "STARTED", "", time.Time{}),
		cpstub.StateChangeEvent("hello-prod", superseded, "SUPERSEDED", "", time.Time{}),
		cpstub.StateChangeEvent("not-in-this-stack", released, "SUCCEEDED", "", time.Time{}),
	} {
		if res := invoke(t, rt, ev); res.Err != nil {
			t.Fatalf("deployreport failed: %v\n%s", res.Err, rt.Logs())
		}
	}
	deps := w.gh.Deployments("Codertocat/Hello-World")
	if len(deps) != 3 {
		t.Fatalf("%d deployments, want 3", len(deps))
	}
	want := map[string]string{released: "in_progress queued in_progress success", failed: "failure", superseded: "in_progress inactive"}
	for _, d := range deps {
		var p map[string]string
		json.Unmarshal(d.Payload, &p)
		var st []string
		for _, s := range d.Statuses {
			st = append(st, s.State)
		}
		if got := strings.Join(st, " "); got != want[p["executionId"]] || d.SHA != commit || !d.ProductionEnvironment {
			t.Errorf("deployment of %s: statuses %q, want %q (%+v)", p["executionId"], got, want[p["executionId"]], d)
		}
		if p["executionId"] == released && p["tag"] != "0.0.1" {
			t.Errorf("payload %s, want the release's tag", d.Payload)
		}
	}
	var heads []string
	mentions := 0
	for _, m := range w.slack.Messages() {
		heads = append(heads, m.Blocks[0].Text.Text)
		if strings.Contains(m.Text, "<!subteam^S0123ABC>") {
			mentions++
		}
	}
	if got := strings.Join(heads, " | "); got != "▶️ hello → prod: started | ⏸️ hello → prod: waiting for approval | ✅ hello → prod: succeeded | ❌ hello → prod: failed | ▶️ hello → prod: started | ▶️ hello → prod: superseded" {
		t.Errorf("Slack messages: %s", got)
	}
	if mentions != 1 {
		t.Errorf("%d mentions, want 1 (the failure)", mentions)
	}
	if logs := rt.Logs(); strings.Contains(logs, w.hook) || strings.Contains(logs, reportToken) {
		t.Errorf("a secret in deployreport's logs")
	}
}

func TestDeployReportRefusesToStart(t *testing.T) {
	w := newReportWorld(t)
	for _, tt := range []struct {
		name string
		env  []string
		says string
	}{
		{"no table", nil, "PIPEBRIDGE_REPORTS is not set"},
		{"bad table", []string{"PIPEBRIDGE_REPORTS={\"pipelines\": {}}"}, "no pipelines"},
		{"Slack without ledger", []string{w.env[0]}, "REPORTS_TABLE is not set"},
		{"App without key", []string{w.env[0], "REPORTS_TABLE=ledger", "GITHUB_APP_ID=4242", "GITHUB_APP_INSTALLATION_ID=77"}, "GITHUB_APP_KEY_SECRET_ARN is not set"},
		{"App id not a number", []string{w.env[0], "REPORTS_TABLE=ledger", "GITHUB_APP_ID=my-app"}, `my-app\": want the App's numeric id`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := w.start(t, "deployreport", tt.env...)
			if _, err := rt.Invoke(context.Background(), []byte(`{}`)); err == nil {
				t.Fatal("the function ran")
			}
			if !strings.Contains(rt.Logs(), tt.says) {
				t.Errorf("logs do not say %q:\n%s", tt.says, rt.Logs())
			}
		})
	}
}

func cpstubDetail(commit string) cpstub.ExecutionDetail {
	return cpstub.ExecutionDetail{Revisions: []cpstub.Revision{{Name: "Source", RevisionID: commit}}}
}
