package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipebridge/pipebridge/internal/reports"
)

// The deploy report function hears only the stack's pipelines, and its table
// says what each one deploys, with the config's production, url and Slack
// settings (an environment's notify overriding its app's).
func TestDeployReport(t *testing.T) {
	s := example(t)
	var arns []string
	for _, n := range []string{"web-dev", "web-prod", "web-staging", "worker-prod", "worker-staging"} {
		arns = append(arns, `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":codepipeline:us-east-1:123456789012:`+n+`"]]}`)
	}
	rules := 0
	for id, r := range s.resources("AWS::Events::Rule") {
		if !strings.HasPrefix(id, "TriggersDeployReport") {
			continue
		}
		rules++
		p := r["EventPattern"].(map[string]any)
		if jsonString(p["source"]) != `["aws.codepipeline"]` || jsonString(p["account"]) != `["123456789012"]` {
			t.Errorf("%s: pattern %s", id, jsonString(p))
		}
		var got []string
		for _, a := range p["resources"].([]any) {
			got = append(got, jsonString(a))
		}
		if diff := cmp.Diff(arns, got); diff != "" {
			t.Errorf("%s: resources (-want +got):\n%s", id, diff)
		}
		switch jsonString(p["detail-type"]) {
		case `["CodePipeline Pipeline Execution State Change"]`:
			if p["detail"] != nil {
				t.Errorf("%s: execution rule filters details %v", id, p["detail"])
			}
		case `["CodePipeline Action Execution State Change"]`:
			if jsonString(p["detail"]) != `{"type":{"category":["Approval","Deploy"]}}` {
				t.Errorf("%s: action rule detail %s", id, jsonString(p["detail"]))
			}
		default:
			t.Errorf("%s: detail-type %v", id, p["detail-type"])
		}
		if get(r, "Targets", 0, "DeadLetterConfig") == nil {
			t.Errorf("%s: no dead-letter queue", id)
		}
	}
	if rules != 2 {
		t.Errorf("%d deploy report rules, want 2", rules)
	}

	var env map[string]any
	for id, f := range s.resources("AWS::Lambda::Function") {
		if strings.HasPrefix(id, "TriggersDeployReport") {
			env = get(f, "Environment", "Variables").(map[string]any)
		}
	}
	if env == nil {
		t.Fatal("no deployreport function")
	}
	// The table embeds the Slack secrets' ARNs as references; put ARNs in their place.
	table := jsonString(env["PIPEBRIDGE_REPORTS"])
	table = regexp.MustCompile(`\{"Ref":"(Triggers[A-Za-z0-9]+)"\}`).ReplaceAllString(table, `"arn:aws:secretsmanager:us-east-1:123456789012:secret:$1"`)
	var joined struct {
		Join []any `json:"Fn::Join"`
	}
	if err := json.Unmarshal([]byte(table), &joined); err != nil {
		t.Fatalf("PIPEBRIDGE_REPORTS %s: %v", table, err)
	}
	var text strings.Builder
	for _, part := range joined.Join[1].([]any) {
		text.WriteString(part.(string))
	}
	parsed, err := reports.Parse([]byte(text.String()))
	if err != nil {
		t.Fatalf("the function would refuse its table: %v\n%s", err, text.String())
	}
	prod, dev, worker := parsed.Pipelines["web-prod"], parsed.Pipelines["web-dev"], parsed.Pipelines["worker-prod"]
	if !prod.Production || prod.URL != "https://www.example.com" || prod.Repository != "acme/web" || prod.Slack == nil ||
		prod.Slack.Mention != "<!subteam^S0456DEF>" || !prod.Slack.Always || !strings.Contains(prod.Slack.WebhookSecretARN, "TriggersSlackWebProd") {
		t.Errorf("web-prod %+v %+v", prod, prod.Slack)
	}
	if dev.Production || dev.Slack == nil || dev.Slack.Mention != "<!subteam^S0123ABC>" || dev.Slack.Always || strings.Contains(dev.Slack.WebhookSecretARN, "WebProd") {
		t.Errorf("web-dev %+v %+v", dev, dev.Slack)
	}
	if !worker.Production || worker.Slack != nil || worker.Repository != "acme/worker" {
		t.Errorf("worker-prod %+v", worker)
	}
	if env["REPORTS_TABLE"] == nil || env["GITHUB_TOKEN_SECRET_ARN"] == nil {
		t.Errorf("environment %s", jsonString(env))
	}
}

// Approvals link what they approve and name its tag, commit and image.
func TestApprovalsHaveContext(t *testing.T) {
	s := example(t)
	approval := func(name string) map[string]any {
		for _, st := range s.pipeline(t, name)["Stages"].([]any) {
			if get(st, "Name") == "Approve" {
				return get(st, "Actions", 0, "Configuration").(map[string]any)
			}
		}
		t.Fatalf("%s has no approval", name)
		return nil
	}
	web := approval("web-prod")
	if web["ExternalEntityLink"] != "#{variables.RELEASE_URL}" {
		t.Errorf("web-prod link %v", web["ExternalEntityLink"])
	}
	for _, want := range []string{"tag #{variables.RELEASE_TAG}", ".CommitId}", ".IMAGE_URI}"} {
		if !strings.Contains(web["CustomData"].(string), want) {
			t.Errorf("web-prod CustomData %q lacks %q", web["CustomData"], want)
		}
	}
	worker := approval("worker-prod")
	link, _ := worker["ExternalEntityLink"].(string)
	if !strings.HasPrefix(link, "https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/acme/worker/_/image/#{") || !strings.Contains(link, ".ImageDigest}") {
		t.Errorf("worker-prod link %q", link)
	}
	// The routes send the release page.
	for _, r := range s.resources("AWS::Lambda::Function") {
		if v, ok := get(r, "Environment", "Variables", "PIPEBRIDGE_ROUTES").(string); ok && strings.Contains(v, "acme/web") && !strings.Contains(v, `"RELEASE_URL":"{{.ReleaseURL}}"`) {
			t.Errorf("ghrelease routes do not send RELEASE_URL: %s", v)
		}
	}
}

// With githubApp, deploy reports authenticate as the App installation: its ids
// and key secret in the environment, no token secret, the key readable.
func TestDeployReportGitHubApp(t *testing.T) {
	s := synthYAML(t, "app.yaml", `
account: "123456789012"
region: eu-west-1
connectionArn: arn:aws:codeconnections:eu-west-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11
githubApp: {appId: 4242, installationId: 77, privateKeySecret: create}
apps:
  - name: api
    github: acme/api
    containers: [api]
    environments:
      - {name: prod, cluster: prod, service: api, production: true, trigger: {on: branch, branch: main}}
`)
	var env map[string]any
	for id, f := range s.resources("AWS::Lambda::Function") {
		if strings.HasPrefix(id, "TriggersDeployReport") {
			env = get(f, "Environment", "Variables").(map[string]any)
		}
	}
	if env["GITHUB_APP_ID"] != "4242" || env["GITHUB_APP_INSTALLATION_ID"] != "77" || !strings.Contains(jsonString(env["GITHUB_APP_KEY_SECRET_ARN"]), "TriggersGitHubAppKey") || env["GITHUB_TOKEN_SECRET_ARN"] != nil {
		t.Errorf("environment %s", jsonString(env))
	}
	if !strings.Contains(jsonString(env["PIPEBRIDGE_REPORTS"]), `\"repository\":\"acme/api\"`) {
		t.Errorf("the table has no repository: %s", jsonString(env["PIPEBRIDGE_REPORTS"]))
	}
	if _, ok := s.json["Outputs"].(map[string]any)["GitHubAppKeySecretArn"]; !ok {
		t.Error("no output for the App key secret")
	}
}
