package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/routes"
)

// maxInlineRoutes is how large a route table may be and still travel in the
// function's environment (Lambda allows 4 KB for all variables); a larger one goes
// to an SSM parameter the function reads at cold start.
const maxInlineRoutes = 3000

// routeTable is one Lambda's route table: the JSON it reads, and its parse.
type routeTable struct {
	JSON  []byte
	Table *routes.Table
}

type triggersProps struct {
	cfg                                                             *config.Config
	key                                                             awskms.IKey
	logRetention                                                    awslogs.RetentionDays
	ecrPushAsset, ghReleaseAsset, redeliverAsset, deployReportAsset string
	ecrRoutes, githubRoutes                                         *routeTable
	// pipelines are the stack's pipelines, for deploy reports.
	pipelines []string

	token     awssecretsmanager.ISecret
	tokenMade bool
}

// githubToken is the GitHub token secret the functions share, made once: nil
// with githubTokenSecret: none.
func (p *triggersProps) githubToken(scope constructs.Construct) awssecretsmanager.ISecret {
	if p.tokenMade {
		return p.token
	}
	p.tokenMade = true
	switch p.cfg.GitHubTokenSecret {
	case "none":
	case "create":
		p.token = p.pasteSecret(scope, "GitHubToken",
			"pipebridge: a GitHub token: Contents read (tag commits), Deployments write (deploy reports), Webhooks (redelivery); put the token here; empty: anonymous calls",
			"Holds a token that GitHub issues; it is rotated in GitHub and then stored here, which Secrets Manager rotation cannot do")
	default:
		p.token = awssecretsmanager.Secret_FromSecretCompleteArn(scope, jsii.String("GitHubToken"), jsii.String(p.cfg.GitHubTokenSecret))
	}
	return p.token
}

// pasteSecret is a secret, encrypted with the stack's key, that a person fills
// with a value another service issues (a token, a webhook URL, a private key),
// so Secrets Manager rotation cannot apply (reason says why, for cdk-nag). It is
// created without a value: CDK would generate a random password by default,
// which GitHub would reject as a token and Slack as a webhook URL. Without
// GenerateSecretString and SecretString, CloudFormation creates an empty secret,
// which the functions read as "not set yet".
func (p *triggersProps) pasteSecret(scope constructs.Construct, id, description, reason string) awssecretsmanager.Secret {
	s := awssecretsmanager.NewSecret(scope, jsii.String(id), &awssecretsmanager.SecretProps{
		Description: jsii.String(description), EncryptionKey: p.key,
	})
	s.Node().DefaultChild().(awssecretsmanager.CfnSecret).AddPropertyDeletionOverride(jsii.String("GenerateSecretString"))
	suppress(s, "AwsSolutions-SMG4", reason)
	return s
}

// newTriggers defines the Lambdas that start the release, tag and image pipelines:
// ecrpush behind EventBridge rules for the routed repositories, and ghrelease
// behind a Function URL for the GitHub webhook. Each gets only its own routes.
func newTriggers(stack awscdk.Stack, p *triggersProps) {
	reports := reportsNeeded(p.cfg)
	if p.ecrRoutes == nil && p.githubRoutes == nil && !reports {
		return
	}
	scope := constructs.NewConstruct(stack, jsii.String("Triggers"))
	if p.ecrRoutes != nil {
		newECRPush(scope, p, p.ecrRoutes)
	}
	if p.githubRoutes != nil {
		newGHRelease(scope, p, p.githubRoutes)
	}
	if reports {
		newDeployReport(scope, p)
	}
}

// function is a trigger Lambda with its own role (no managed policies), log group,
// and the permission to start only its routes' pipelines.
func function(scope constructs.Construct, id string, p *triggersProps, asset string, rt *routeTable, props *awslambda.FunctionProps) awslambda.Function {
	rs := rt.Table.Routes
	stack := awscdk.Stack_Of(scope)
	fn, role := baseFunction(scope, id, p, asset, props)
	var arns []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.Pipeline] {
			seen[r.Pipeline] = true
			arns = append(arns, *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(r.Pipeline)}))
		}
	}
	sort.Strings(arns)
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("StartRoutedPipelines"),
		Actions:   jsii.Strings("codepipeline:StartPipelineExecution"),
		Resources: jsii.Strings(arns...),
	}))
	table := rt.JSON
	if len(table) <= maxInlineRoutes {
		fn.AddEnvironment(jsii.String(dispatch.EnvRoutes), jsii.String(string(table)), nil)
	} else {
		param := awsssm.NewStringParameter(scope, jsii.String(id+"Routes"), &awsssm.StringParameterProps{
			Description: jsii.String("pipebridge " + id + " route table"), StringValue: jsii.String(string(table)),
			Tier: awsssm.ParameterTier_ADVANCED,
		})
		param.GrantRead(role)
		fn.AddEnvironment(jsii.String(dispatch.EnvRoutesParameter), param.ParameterName(), nil)
	}
	return fn
}

// baseFunction is a pipebridge Lambda: provided.al2023 on arm64, its own role
// (no managed policies) and log group with the configured retention.
func baseFunction(scope constructs.Construct, id string, p *triggersProps, asset string, props *awslambda.FunctionProps) (awslambda.Function, awsiam.Role) {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: p.logRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("pipebridge " + id + " Lambda"),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Logs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	props.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	props.Architecture = awslambda.Architecture_ARM_64()
	props.Handler = jsii.String("bootstrap")
	props.Code = awslambda.Code_FromAsset(jsii.String(asset), nil)
	props.Role = role
	props.LogGroup = logs
	props.LoggingFormat = awslambda.LoggingFormat_JSON
	if props.MemorySize == nil {
		props.MemorySize = jsii.Number(128)
	}
	if props.ReservedConcurrentExecutions == nil {
		props.ReservedConcurrentExecutions = jsii.Number(float64(p.cfg.LambdaConcurrency))
	}
	if props.Description == nil {
		props.Description = jsii.String("pipebridge " + id)
	}
	return awslambda.NewFunction(scope, jsii.String(id), props), role
}

func newECRPush(scope constructs.Construct, p *triggersProps, rt *routeTable) {
	stack := awscdk.Stack_Of(scope)
	// SQS-managed encryption, not the stack's KMS key: Lambda's and EventBridge's
	// dead-letter deliveries would need grants on the key that CDK does not add,
	// and a dead-letter queue that cannot be written loses exactly the events it
	// is there to keep.
	dlq := awssqs.NewQueue(scope, jsii.String("ECRPushDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	fn := function(scope, "ECRPush", p, p.ecrPushAsset, rt, &awslambda.FunctionProps{
		Description:     jsii.String(fmt.Sprintf("pipebridge ECRPush: %d route(s)", len(rt.Table.Routes))),
		Timeout:         awscdk.Duration_Seconds(jsii.Number(30)),
		DeadLetterQueue: dlq, // async invocations that fail after Lambda's retries
		RetryAttempts:   jsii.Number(2),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(6)),
	})
	var pushRepos, scanRepos, scanRepoARNs, promoted, promotedARNs []*string
	for _, r := range rt.Table.Routes {
		if r.CodePipeline != nil {
			promoted = append(promoted, jsii.String(r.CodePipeline.Pipeline))
			promotedARNs = append(promotedARNs, stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(r.CodePipeline.Pipeline)}))
			continue
		}
		for _, e := range r.ECR.Events {
			if e == "push" {
				pushRepos = append(pushRepos, jsii.String(r.ECR.Repository))
			} else {
				scanRepos = append(scanRepos, jsii.String(r.ECR.Repository))
				// Inspector names the repository by ARN, in the route's registry.
				region := r.ECR.Region
				if region == "" {
					region = *stack.Region()
				}
				scanRepoARNs = append(scanRepoARNs, stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecr"), Region: jsii.String(region),
					Account: jsii.String(r.ECR.Account), Resource: jsii.String("repository"), ResourceName: jsii.String(r.ECR.Repository)}))
			}
		}
	}
	target := func() awsevents.IRuleTarget {
		return awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: dlq, RetryAttempts: jsii.Number(8), MaxEventAge: awscdk.Duration_Hours(jsii.Number(6)),
		})
	}
	account := jsii.Strings(*stack.Account())
	if len(pushRepos) > 0 {
		awsevents.NewRule(scope, jsii.String("ECRPushRule"), &awsevents.RuleProps{
			Description: jsii.String("pipebridge: successful pushes to routed ECR repositories"),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.ecr"), DetailType: jsii.Strings("ECR Image Action"), Account: account,
				Detail: &map[string]any{"action-type": []string{"PUSH"}, "result": []string{"SUCCESS"}, "repository-name": dedupe(pushRepos)},
			},
			Targets: &[]awsevents.IRuleTarget{target()},
		})
	}
	if len(scanRepos) > 0 {
		awsevents.NewRule(scope, jsii.String("ECRScanRule"), &awsevents.RuleProps{
			Description: jsii.String("pipebridge: completed scans in routed ECR repositories"),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.ecr"), DetailType: jsii.Strings("ECR Image Scan"), Account: account,
				Detail: &map[string]any{"scan-status": []string{"COMPLETE"}, "repository-name": dedupe(scanRepos)},
			},
			Targets: &[]awsevents.IRuleTarget{target()},
		})
		// Enhanced scanning: Amazon Inspector scans the image and ECR sends no
		// scan event of its own.
		awsevents.NewRule(scope, jsii.String("InspectorScanRule"), &awsevents.RuleProps{
			Description: jsii.String("pipebridge: Amazon Inspector's first scan of images in routed ECR repositories (enhanced scanning)"),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.inspector2"), DetailType: jsii.Strings("Inspector2 Scan"), Account: account,
				Detail: &map[string]any{"scan-status": []string{"INITIAL_SCAN_COMPLETE"}, "repository-name": dedupe(scanRepoARNs)},
			},
			Targets: &[]awsevents.IRuleTarget{target()},
		})
	}
	if len(promoted) > 0 {
		// Promotions: a source pipeline's success, after its bake (CodePipeline
		// sends SUCCEEDED only once the Deploy stage's onSuccess condition
		// passed). The function reads the execution back before it promotes.
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadPromotedExecutions"),
			Actions:   jsii.Strings("codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"),
			Resources: jsii.Strings(dedupe(promotedARNs)...),
		}))
		awsevents.NewRule(scope, jsii.String("PromotionRule"), &awsevents.RuleProps{
			Description: jsii.String("pipebridge: successful executions of pipelines that other environments promote from"),
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings("aws.codepipeline"), DetailType: jsii.Strings("CodePipeline Pipeline Execution State Change"), Account: account,
				Detail: &map[string]any{"state": []string{"SUCCEEDED"}, "pipeline": dedupe(promoted)},
			},
			Targets: &[]awsevents.IRuleTarget{target()},
		})
	}
	deadLetterAlarm(scope, p, dlq, "ECRPushDeadLetters", "ECR events the ecrpush Lambda could not handle are waiting in its dead-letter queue (README: Dead letters)")
	awscdk.NewCfnOutput(stack, jsii.String("ECRPushDeadLetterQueueUrl"), &awscdk.CfnOutputProps{
		Value: dlq.QueueUrl(), Description: jsii.String("ECR events the ecrpush Lambda could not handle"),
	})
}

// deadLetterAlarm goes off while a dead-letter queue holds messages, so a failed
// event is noticed, and notifies alarmTopicArn when the config names one.
func deadLetterAlarm(scope constructs.Construct, p *triggersProps, q awssqs.Queue, id, description string) {
	alarm := awscloudwatch.NewAlarm(scope, jsii.String(id+"Alarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if p.cfg.AlarmTopicARN != "" {
		topic := awssns.Topic_FromTopicArn(scope, jsii.String(id+"AlarmTopic"), jsii.String(p.cfg.AlarmTopicARN))
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	}
}

func dedupe(in []*string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[*s] {
			seen[*s] = true
			out = append(out, *s)
		}
	}
	sort.Strings(out)
	return out
}

func newGHRelease(scope constructs.Construct, p *triggersProps, rt *routeTable) {
	stack := awscdk.Stack_Of(scope)
	secret := awssecretsmanager.NewSecret(scope, jsii.String("WebhookSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("pipebridge: the GitHub webhook secret (paste it into the webhook's Secret field)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true),
		},
		EncryptionKey: p.key,
	})
	suppress(secret, "AwsSolutions-SMG4",
		"The webhook secret is also stored in GitHub's webhook settings, so rotation needs a person to paste the new value there; ghrelease re-reads it at least every 5 minutes and accepts the previous value for the configured grace (README: rotating the webhook secret)")
	env := map[string]*string{
		"WEBHOOK_SECRET_ARN":           secret.SecretArn(),
		"WEBHOOK_SECRET_GRACE_MINUTES": jsii.String(strconv.Itoa(*p.cfg.WebhookSecretGraceMinutes)),
	}
	if p.cfg.GitHubAPIURL != "" {
		env["GITHUB_API_URL"] = jsii.String(p.cfg.GitHubAPIURL)
	}
	token := p.githubToken(scope)
	if token != nil {
		env["GITHUB_TOKEN_SECRET_ARN"] = token.SecretArn()
	}
	fn := function(scope, "GHRelease", p, p.ghReleaseAsset, rt, &awslambda.FunctionProps{
		Description: jsii.String(fmt.Sprintf("pipebridge GHRelease: %d route(s)", len(rt.Table.Routes))),
		// GitHub waits 10 s for an answer; the handler budgets 8 s.
		Timeout:     awscdk.Duration_Seconds(jsii.Number(10)),
		Environment: &env,
		// The URL is public: its cost per refused request is CPU time
		// (BenchmarkRejectedDelivery), and Lambda's CPU grows with memory.
		MemorySize: jsii.Number(float64(p.cfg.WebhookMemoryMB)),
	})
	secret.GrantRead(fn, nil)
	if token != nil {
		token.GrantRead(fn, nil)
	}
	url := fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{
		// GitHub cannot sign requests with SigV4: the function authenticates each
		// delivery by its X-Hub-Signature-256 HMAC and refuses to run without a secret.
		AuthType: awslambda.FunctionUrlAuthType_NONE,
	})
	awscdk.NewCfnOutput(stack, jsii.String("WebhookUrl"), &awscdk.CfnOutputProps{
		Value: url.Url(), Description: jsii.String("GitHub webhook Payload URL (content type application/json; events: releases, pushes, branch or tag creation)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("WebhookSecretArn"), &awscdk.CfnOutputProps{
		Value: secret.SecretArn(), Description: jsii.String("the webhook's Secret: aws secretsmanager get-secret-value --secret-id <this>"),
	})
	if token != nil {
		awscdk.NewCfnOutput(stack, jsii.String("GitHubTokenSecretArn"), &awscdk.CfnOutputProps{
			Value: token.SecretArn(), Description: jsii.String("secret for a GitHub token (private repositories, redelivery)"),
		})
	}
	if r := p.cfg.Redelivery; r != nil && token != nil {
		newRedeliver(scope, p, rt, token, url.Url())
	}
}

// newRedeliver is the scheduled function that redelivers the webhook's failed
// deliveries (GitHub never does by itself), in the routed repositories.
func newRedeliver(scope constructs.Construct, p *triggersProps, rt *routeTable, token awssecretsmanager.ISecret, webhookURL *string) {
	r := p.cfg.Redelivery
	var repos []*string
	for _, route := range rt.Table.Routes {
		repos = append(repos, jsii.String(route.GitHub.Repository))
	}
	env := map[string]*string{
		"GITHUB_TOKEN_SECRET_ARN": token.SecretArn(),
		"WEBHOOK_URL":             webhookURL,
		"GITHUB_REPOSITORIES":     jsii.String(strings.Join(dedupe(repos), ",")),
		"MAX_ATTEMPTS":            jsii.String(fmt.Sprint(r.MaxAttempts)),
		"LOOKBACK_HOURS":          jsii.String(fmt.Sprint(r.LookbackHours)),
	}
	if p.cfg.GitHubAPIURL != "" {
		env["GITHUB_API_URL"] = jsii.String(p.cfg.GitHubAPIURL)
	}
	fn, _ := baseFunction(scope, "GHRedeliver", p, p.redeliverAsset, &awslambda.FunctionProps{
		Description: jsii.String(fmt.Sprintf("pipebridge GHRedeliver: failed webhook deliveries, every %d min, at most %d times each", r.EveryMinutes, r.MaxAttempts)),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(120)),
		Environment: &env,
		// A failed run is retried by the next one: no Lambda retries on top.
		RetryAttempts: jsii.Number(0),
	})
	token.GrantRead(fn, nil)
	awsevents.NewRule(scope, jsii.String("GHRedeliverSchedule"), &awsevents.RuleProps{
		Description: jsii.String("pipebridge: look for failed webhook deliveries to redeliver"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(float64(r.EveryMinutes)))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
}
