package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
	"github.com/pipebridge/pipebridge/internal/reports"
)

// reportsNeeded says whether the stack reports deploys: to GitHub (a token
// secret) or to Slack (an app or environment with notify).
func reportsNeeded(cfg *config.Config) bool {
	if cfg.GitHubTokenSecret != "none" || cfg.GitHubApp != nil {
		for _, a := range cfg.Apps {
			if a.GitHub != "" {
				return true
			}
		}
	}
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		for j := range a.Environments {
			if a.Environments[j].Notification(a) != nil {
				return true
			}
		}
	}
	return false
}

// newDeployReport is the function that reports each execution of the stack's
// pipelines to GitHub (deployments) and Slack, behind EventBridge rules that
// match only those pipelines' execution and approval/deploy action events.
func newDeployReport(scope constructs.Construct, p *triggersProps) {
	stack := awscdk.Stack_Of(scope)
	cfg := p.cfg
	// GitHub: an App installation if configured, else the token secret.
	var token, appKey awssecretsmanager.ISecret
	if g := cfg.GitHubApp; g != nil {
		if g.PrivateKeySecret == "create" {
			appKey = p.pasteSecret(scope, "GitHubAppKey", "pipebridge: the GitHub App's private key (PEM) for deploy reports (paste it here)",
				"Holds a private key that GitHub generates for the App; a new one is made in the App's settings and pasted here, which Secrets Manager rotation cannot do")
			awscdk.NewCfnOutput(stack, jsii.String("GitHubAppKeySecretArn"), &awscdk.CfnOutputProps{
				Value: appKey.SecretArn(), Description: jsii.String("paste the GitHub App's private key here: aws secretsmanager put-secret-value --secret-id <this> --secret-string file://app.pem"),
			})
		} else {
			appKey = awssecretsmanager.Secret_FromSecretCompleteArn(scope, jsii.String("GitHubAppKey"), jsii.String(g.PrivateKeySecret))
		}
	} else {
		token = p.githubToken(scope)
	}
	table := reports.Table{Pipelines: map[string]reports.Target{}}
	slackSecrets := map[*config.Notify]awssecretsmanager.ISecret{}
	var secrets []awssecretsmanager.ISecret
	slackSecret := func(a *config.App, e *config.Environment, n *config.Notify) awssecretsmanager.ISecret {
		if s, ok := slackSecrets[n]; ok {
			return s
		}
		id := "Slack" + cfnID(a.Name)
		if e.Notify != nil {
			id += cfnID(e.Name)
		}
		var s awssecretsmanager.ISecret
		if n.Slack == "create" {
			s = p.pasteSecret(scope, id, fmt.Sprintf("pipebridge: the Slack incoming-webhook URL for %s's deploy reports (paste it here)", a.Name),
				"Holds an incoming-webhook URL that Slack issues; a new one is made in Slack and pasted here, which Secrets Manager rotation cannot do")
			awscdk.NewCfnOutput(stack, jsii.String(id+"WebhookSecretArn"), &awscdk.CfnOutputProps{
				Value: s.SecretArn(), Description: jsii.String("paste " + a.Name + "'s Slack incoming-webhook URL here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <url>"),
			})
		} else {
			s = awssecretsmanager.Secret_FromSecretCompleteArn(scope, jsii.String(id), jsii.String(n.Slack))
		}
		slackSecrets[n] = s
		secrets = append(secrets, s)
		return s
	}
	var arns, imageRepos []string
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		for j := range a.Environments {
			e := &a.Environments[j]
			name := config.PipelineName(a, e)
			t := reports.Target{App: a.Name, Environment: e.Name, Production: e.Production, URL: e.URL}
			if e.DeploysImages() {
				// The commit of an image whose tag is not one is its revision label.
				t.ImageRepository = a.ECR.Repository
				imageRepos = append(imageRepos, *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecr"), Resource: jsii.String("repository"), ResourceName: jsii.String(a.ECR.Repository)}))
			}
			if token != nil || appKey != nil {
				t.Repository = a.GitHub
			}
			if n := e.Notification(a); n != nil {
				t.Slack = &reports.Slack{WebhookSecretARN: *slackSecret(a, e, n).SecretArn(), Mention: n.Mention, Always: n.MentionAlways}
			}
			table.Pipelines[name] = t
			arns = append(arns, *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(name)}))
		}
	}
	sort.Strings(arns)
	raw, err := json.Marshal(table)
	if err != nil {
		panic(err)
	}
	env := map[string]*string{"PIPEBRIDGE_REPORTS": jsii.String(string(raw))}
	if token != nil {
		env["GITHUB_TOKEN_SECRET_ARN"] = token.SecretArn()
	}
	if appKey != nil {
		env["GITHUB_APP_ID"] = jsii.String(strconv.FormatInt(cfg.GitHubApp.AppID, 10))
		env["GITHUB_APP_INSTALLATION_ID"] = jsii.String(strconv.FormatInt(cfg.GitHubApp.InstallationID, 10))
		env["GITHUB_APP_KEY_SECRET_ARN"] = appKey.SecretArn()
	}
	if cfg.GitHubAPIURL != "" {
		env["GITHUB_API_URL"] = jsii.String(cfg.GitHubAPIURL)
	}
	var ledger awsdynamodb.Table
	if len(secrets) > 0 {
		ledger = awsdynamodb.NewTable(scope, jsii.String("DeployReportLedger"), &awsdynamodb.TableProps{
			PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("id"), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
			TimeToLiveAttribute: jsii.String("expires"),
			// AWS-managed: the table holds execution ids and step numbers only.
			Encryption:    awsdynamodb.TableEncryption_AWS_MANAGED,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		suppress(ledger, "AwsSolutions-DDB3", "Point-in-time recovery is not needed: the table only records which Slack messages were posted, for 14 days; losing it at worst repeats a message")
		env["REPORTS_TABLE"] = ledger.TableName()
	}
	dlq := awssqs.NewQueue(scope, jsii.String("DeployReportDeadLetters"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true), RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	fn, role := baseFunction(scope, "DeployReport", p, p.deployReportAsset, &awslambda.FunctionProps{
		Description: jsii.String(fmt.Sprintf("pipebridge DeployReport: executions of %d pipeline(s) to GitHub deployments and Slack", len(arns))),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(30)),
		Environment: &env,
		// One at a time: two events of one execution never race to create its
		// GitHub deployment. Throttled events wait in Lambda's async queue.
		ReservedConcurrentExecutions: jsii.Number(1),
		DeadLetterQueue:              dlq,
		RetryAttempts:                jsii.Number(2),
		MaxEventAge:                  awscdk.Duration_Hours(jsii.Number(6)),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadExecutions"),
		Actions:   jsii.Strings("codepipeline:GetPipelineExecution"),
		Resources: jsii.Strings(arns...),
	}))
	for _, s := range []awssecretsmanager.ISecret{token, appKey} {
		if s != nil {
			s.GrantRead(fn, nil)
		}
	}
	for _, s := range secrets {
		s.GrantRead(fn, nil)
	}
	if imageRepos = dedupe(*jsii.Strings(imageRepos...)); len(imageRepos) > 0 && (token != nil || appKey != nil) {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadImageLabels"), Actions: jsii.Strings("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), Resources: jsii.Strings(imageRepos...),
		}))
	}
	if ledger != nil {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SlackLedger"), Actions: jsii.Strings("dynamodb:UpdateItem"), Resources: jsii.Strings(*ledger.TableArn()),
		}))
	}
	target := awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq, RetryAttempts: jsii.Number(8), MaxEventAge: awscdk.Duration_Hours(jsii.Number(6)),
	})
	account := jsii.Strings(*stack.Account())
	awsevents.NewRule(scope, jsii.String("DeployReportExecutionRule"), &awsevents.RuleProps{
		Description: jsii.String("pipebridge: execution state changes of the stack's pipelines, for deploy reports"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.codepipeline"), DetailType: jsii.Strings("CodePipeline Pipeline Execution State Change"),
			Account: account, Resources: jsii.Strings(arns...),
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	awsevents.NewRule(scope, jsii.String("DeployReportActionRule"), &awsevents.RuleProps{
		Description: jsii.String("pipebridge: approval and deploy actions of the stack's pipelines, for deploy reports"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.codepipeline"), DetailType: jsii.Strings("CodePipeline Action Execution State Change"),
			Account: account, Resources: jsii.Strings(arns...),
			Detail: &map[string]any{"type": map[string]any{"category": []string{"Approval", "Deploy"}}},
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	deadLetterAlarm(scope, p, dlq, "DeployReportDeadLetters", "Pipeline events the deployreport Lambda could not report are waiting in its dead-letter queue (README: Deploy reports)")
	awscdk.NewCfnOutput(stack, jsii.String("DeployReportDeadLetterQueueUrl"), &awscdk.CfnOutputProps{
		Value: dlq.QueueUrl(), Description: jsii.String("pipeline events the deployreport Lambda could not report"),
	})
}
