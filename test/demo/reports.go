package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/githubapi"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
	slackstub "github.com/pipebridge/pipebridge/test/slack"
)

const demoToken = "ghp_demo-deployments-token"

// reportsDemo runs deployreport, with the report table the stack gives it, on the
// CodePipeline events of the release execution ghrelease started, and shows the
// GitHub deployment and the Slack messages they became.
func (d *demo) reportsDemo(ctx context.Context, root string, template []byte, env []string, cp *cpstub.Server, gh *githubapi.Server) error {
	step("The release's execution reports back: deployreport turns its CodePipeline events into a GitHub deployment and Slack messages")
	cfg, err := d.srv.SDKConfig(ctx)
	if err != nil {
		return err
	}
	slack := slackstub.Start()
	defer slack.Close()
	sm := secretsmanager.NewFromConfig(cfg)
	secret := func(name, value string) (string, error) {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		return aws.ToString(out.ARN), err
	}
	// The stack's table names its Slack secrets by reference: make each one, with
	// a webhook on the Slack stand-in, as a person pasting the URL would.
	table, refs, err := reportTable(template)
	if err != nil {
		return err
	}
	arns := map[string]string{}
	for _, ref := range refs {
		if arns[ref], err = secret("pipebridge/"+ref, slack.Hook()); err != nil {
			return err
		}
	}
	for ref, arn := range arns {
		table = strings.ReplaceAll(table, "{ref:"+ref+"}", arn)
	}
	tokenARN, err := secret("pipebridge/github-token", demoToken)
	if err != nil {
		return err
	}
	if _, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("pipebridge-deploy-reports"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		return err
	}
	bin := filepath.Join(d.work, "lambda-deployreport", "bootstrap")
	if err := lambdaruntime.Build(root, "./lambdas/deployreport", bin, ""); err != nil {
		return err
	}
	reportEnv := append(slices.Clone(env), "PIPEBRIDGE_REPORTS="+table, "GITHUB_TOKEN_SECRET_ARN="+tokenARN, "REPORTS_TABLE=pipebridge-deploy-reports")
	fmt.Println("  deployreport built; its table from the template, Slack webhooks on the stand-in, the GitHub token in Secrets Manager")

	var release cpstub.Execution
	for _, ex := range cp.Executions() {
		if ex.Request.Name == "web-prod" {
			release = ex
		}
	}
	if release.ID == "" {
		return fmt.Errorf("no web-prod execution to report")
	}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	event := func(state, category string, after time.Duration) []byte {
		return cpstub.StateChangeEvent(release.Request.Name, release.ID, state, category, start.Add(after))
	}
	fmt.Println("  web-prod's events: started; the approval waits; approved; the ECS deploy starts; succeeded (and the success delivered twice)")
	if err := invokeAndShow(ctx, "deployreport", bin, reportEnv,
		event("STARTED", "", 0), event("STARTED", "Approval", 3*time.Minute), event("SUCCEEDED", "Approval", 9*time.Minute),
		event("STARTED", "Deploy", 9*time.Minute), event("SUCCEEDED", "", 14*time.Minute), event("SUCCEEDED", "", 14*time.Minute)); err != nil {
		return err
	}

	step("What GitHub and Slack now show")
	deps := gh.Deployments("acme/web")
	var states []string
	for _, dep := range deps {
		fmt.Printf("  GitHub deployment %d of %s to %s (production %v), payload %s\n", dep.ID, dep.SHA[:7], dep.Environment, dep.ProductionEnvironment, dep.Payload)
		for _, st := range dep.Statuses {
			fmt.Printf("    %-11s %s  %s\n", st.State, st.Description, st.EnvironmentURL)
			states = append(states, st.State)
		}
	}
	msgs := slack.Messages()
	for _, m := range msgs {
		fmt.Printf("  Slack: %s\n", m.Text)
		for _, b := range m.Blocks {
			for _, f := range b.Fields {
				fmt.Printf("    %s\n", strings.ReplaceAll(f.Text, "\n", ": "))
			}
		}
	}
	if len(deps) != 1 || strings.Join(states, " ") != "in_progress queued in_progress in_progress success" || len(msgs) != 3 {
		return fmt.Errorf("want one deployment ending in success and 3 Slack messages, got %d deployments (%v) and %d messages", len(deps), states, len(msgs))
	}
	return nil
}

// reportTable returns deployreport's PIPEBRIDGE_REPORTS from the template, with
// each {"Ref": ID} written as {ref:ID}, and the ids.
func reportTable(template []byte) (string, []string, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Environment struct{ Variables map[string]any }
			}
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return "", nil, err
	}
	for id, r := range t.Resources {
		if r.Type != "AWS::Lambda::Function" || !strings.HasPrefix(id, "TriggersDeployReport") {
			continue
		}
		switch v := r.Properties.Environment.Variables["PIPEBRIDGE_REPORTS"].(type) {
		case string:
			return v, nil, nil
		case map[string]any:
			parts, _ := v["Fn::Join"].([]any)
			if len(parts) != 2 {
				break
			}
			var b strings.Builder
			var refs []string
			for _, p := range parts[1].([]any) {
				switch p := p.(type) {
				case string:
					b.WriteString(p)
				case map[string]any:
					ref, _ := p["Ref"].(string)
					b.WriteString("{ref:" + ref + "}")
					if !slices.Contains(refs, ref) {
						refs = append(refs, ref)
					}
				}
			}
			return b.String(), refs, nil
		}
	}
	return "", nil, fmt.Errorf("the template has no deployreport function with a PIPEBRIDGE_REPORTS table")
}
