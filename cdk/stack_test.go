package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
)

func TestNoUnsuppressedNagFindings(t *testing.T) {
	s := example(t)
	errs := assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("cdk-nag: %s", nagFinding(e))
	}
}

func TestGitHubActionsRoleTrust(t *testing.T) {
	s := example(t)
	var role map[string]any
	for id, r := range s.resources("AWS::IAM::Role") {
		if strings.HasPrefix(id, "WebGitHubActionsRole") {
			role = r
		}
	}
	if role == nil {
		t.Fatal("no GitHub Actions role")
	}
	stmts := get(role, "AssumeRolePolicyDocument", "Statement").([]any)
	if len(stmts) != 1 {
		t.Fatalf("%d trust statements, want 1", len(stmts))
	}
	st := stmts[0]
	if got := get(st, "Action"); got != "sts:AssumeRoleWithWebIdentity" {
		t.Errorf("trust action %v", got)
	}
	if got := get(st, "Principal", "Federated"); !strings.Contains(jsonString(got), "GitHubOIDCProvider") {
		t.Errorf("federated principal %v, want the stack's OIDC provider", got)
	}
	want := map[string]any{"StringEquals": map[string]any{
		"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
		"token.actions.githubusercontent.com:sub": "repo:acme/web:ref:refs/heads/main",
	}}
	if diff := cmp.Diff(want, get(st, "Condition")); diff != "" {
		t.Errorf("trust conditions (-want +got):\n%s", diff)
	}
	if get(role, "MaxSessionDuration") != float64(3600) {
		t.Errorf("MaxSessionDuration %v, want 3600", get(role, "MaxSessionDuration"))
	}
	if get(role, "ManagedPolicyArns") != nil {
		t.Errorf("managed policies attached: %v", get(role, "ManagedPolicyArns"))
	}

	// Permissions: exactly the push set on the app's push repository (web builds,
	// so not the repository its builds push to), role chaining to the one
	// build-secrets role, and, in a policy of its own, the registry login.
	policies := get(role, "Policies").([]any)
	if len(policies) != 1 {
		t.Fatalf("%d inline policies, want 1", len(policies))
	}
	got := statements(get(policies[0], "PolicyDocument", "Statement"))
	wantStmts := []stmt{
		{"PushToOneRepository", []string{"ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"},
			[]string{`{"Fn::GetAtt":["WebPushRepository` + "*" + `","Arn"]}`}, ""},
		{"BuildSecretsRoleChaining", []string{"sts:AssumeRole"}, []string{"arn:aws:iam::123456789012:role/acme-build-secrets"}, ""},
	}
	compareStatements(t, wantStmts, got)
	compareStatements(t, []stmt{{"ECRLogin", []string{"ecr:GetAuthorizationToken"}, []string{"*"}, ""}}, s.policyOf(t, "WebGitHubActionsRole", "WebGitHubActionsLogin"))
}

func TestOIDCProviderIsPlain(t *testing.T) {
	s := example(t)
	providers := s.resources("AWS::IAM::OIDCProvider")
	if len(providers) != 1 {
		t.Fatalf("%d AWS::IAM::OIDCProvider, want 1", len(providers))
	}
	for _, p := range providers {
		if p["Url"] != "https://token.actions.githubusercontent.com" || !slices.Equal(strs(p["ClientIdList"]), []string{"sts.amazonaws.com"}) {
			t.Errorf("provider %v", p)
		}
	}
	if n := len(s.resources("Custom::AWSCDKOpenIdConnectProvider")); n != 0 {
		t.Errorf("the custom-resource provider is used")
	}
}

// stmt is a policy statement reduced to what these tests compare. A resource that
// ends in * in the want list matches by prefix (logical ids carry hashes).
type stmt struct {
	Sid       string
	Actions   []string
	Resources []string
	// Condition is the statement's condition block as JSON; "" for none.
	Condition string
}

func statements(v any) []stmt {
	var out []stmt
	for _, s := range v.([]any) {
		a := strs(get(s, "Action"))
		sort.Strings(a)
		r := strs(get(s, "Resource"))
		sort.Strings(r)
		sid, _ := get(s, "Sid").(string)
		var cond string
		if c := get(s, "Condition"); c != nil {
			cond = jsonString(c)
		}
		out = append(out, stmt{sid, a, r, cond})
	}
	return out
}

func compareStatements(t *testing.T, want, got []stmt) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d statements, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Sid != "" && w.Sid != g.Sid || !slices.Equal(w.Actions, g.Actions) || len(w.Resources) != len(g.Resources) || w.Condition != g.Condition {
			t.Errorf("statement %d = %+v, want %+v", i, g, w)
			continue
		}
		for j, r := range w.Resources {
			if !matchWild(r, g.Resources[j]) {
				t.Errorf("statement %d resource %q, want %q", i, g.Resources[j], r)
			}
		}
	}
}

func matchWild(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, `[A-Za-z0-9*]*`) + "$"
	if pattern == "*" {
		re = `^\*$`
	}
	return regexp.MustCompile(re).MatchString(s)
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// Every IAM statement in the stack, checked: the Lambdas' roles in full, and no
// statement anywhere that grants a service's every action or is unconditioned
// on iam:PassRole.
func TestIAMStatements(t *testing.T) {
	s := example(t)
	policies := s.resources("AWS::IAM::Policy")
	byRole := map[string][]stmt{}
	for _, p := range policies {
		for _, r := range strs(p["Roles"]) {
			byRole[r] = append(byRole[r], statements(get(p, "PolicyDocument", "Statement"))...)
		}
	}
	find := func(prefix string) []stmt {
		for r, st := range byRole {
			if strings.Contains(r, prefix) {
				return st
			}
		}
		t.Fatalf("no policy for role %s", prefix)
		return nil
	}
	pipelineARN := func(name string) string {
		return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":codepipeline:us-east-1:123456789012:` + name + `"]]}`
	}
	compareStatements(t, []stmt{
		{"Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{`{"Fn::GetAtt":["TriggersECRPushLogs*","Arn"]}`}, ""},
		{"", []string{"sqs:SendMessage"}, []string{`{"Fn::GetAtt":["TriggersECRPushDeadLetters*","Arn"]}`}, ""},
		{"StartRoutedPipelines", []string{"codepipeline:StartPipelineExecution"}, []string{pipelineARN("worker-prod"), pipelineARN("worker-staging")}, ""},
		// Promotion reads back only the executions of the pipeline it promotes from.
		{"ReadPromotedExecutions", []string{"codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"}, []string{pipelineARN("worker-staging")}, ""},
	}, find("TriggersECRPushRole"))
	// The redelivery function reads the GitHub token and starts nothing.
	compareStatements(t, []stmt{
		{"Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{`{"Fn::GetAtt":["TriggersGHRedeliverLogs*","Arn"]}`}, ""},
		{"", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, []string{`{"Ref":"TriggersGitHubToken*"}`}, ""},
	}, find("TriggersGHRedeliverRole"))
	compareStatements(t, []stmt{
		{"Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{`{"Fn::GetAtt":["TriggersGHReleaseLogs*","Arn"]}`}, ""},
		{"StartRoutedPipelines", []string{"codepipeline:StartPipelineExecution"}, []string{pipelineARN("web-prod"), pipelineARN("web-staging")}, ""},
		{"", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, []string{`{"Ref":"TriggersGitHubToken*"}`, `{"Ref":"TriggersWebhookSecret*"}`}, ""},
	}, find("TriggersGHReleaseRole"))
	// The deploy report function reads executions of the stack's pipelines, the
	// token and the Slack secrets, and writes its ledger; it starts nothing.
	var all []string
	for _, n := range []string{"web-dev", "web-prod", "web-staging", "worker-prod", "worker-staging"} {
		all = append(all, pipelineARN(n))
	}
	compareStatements(t, []stmt{
		{"Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{`{"Fn::GetAtt":["TriggersDeployReportLogs*","Arn"]}`}, ""},
		{"", []string{"sqs:SendMessage"}, []string{`{"Fn::GetAtt":["TriggersDeployReportDeadLetters*","Arn"]}`}, ""},
		{"ReadExecutions", []string{"codepipeline:GetPipelineExecution"}, all, ""},
		{"", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, []string{`{"Ref":"TriggersGitHubToken*"}`, `{"Ref":"TriggersSlackWeb*"}`, `{"Ref":"TriggersSlackWebProd*"}`}, ""},
		{"ReadImageLabels", []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}, []string{`{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ecr:us-east-1:123456789012:repository/acme/worker"]]}`}, ""},
		{"SlackLedger", []string{"dynamodb:UpdateItem"}, []string{`{"Fn::GetAtt":["TriggersDeployReportLedger*","Arn"]}`}, ""},
	}, find("TriggersDeployReportRole"))
	// The secrets' key lets ghrelease decrypt only through Secrets Manager.
	viaSecrets := false
	for _, k := range s.resources("AWS::KMS::Key") {
		for _, st := range get(k, "KeyPolicy", "Statement").([]any) {
			if strings.Contains(jsonString(get(st, "Principal")), "TriggersGHReleaseRole") && slices.Contains(strs(get(st, "Action")), "kms:Decrypt") &&
				get(st, "Condition", "StringEquals", "kms:ViaService") == "secretsmanager.us-east-1.amazonaws.com" {
				viaSecrets = true
			}
		}
	}
	if !viaSecrets {
		t.Errorf("the key policy does not let ghrelease decrypt through Secrets Manager only")
	}

	for role, sts := range byRole {
		for _, st := range sts {
			for _, a := range st.Actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("role %s: action %s grants a whole service", role, a)
				}
			}
		}
	}
	for id, r := range s.resources("AWS::IAM::Role") {
		if r["ManagedPolicyArns"] != nil {
			t.Errorf("role %s has managed policies %v", id, r["ManagedPolicyArns"])
		}
	}
	for _, p := range policies {
		for _, st := range get(p, "PolicyDocument", "Statement").([]any) {
			if slices.Contains(strs(get(st, "Action")), "iam:PassRole") && get(st, "Condition") == nil {
				t.Errorf("unconditioned iam:PassRole: %v", st)
			}
		}
	}
}

// Each app has its own artifact bucket, encrypted with its own key.
func TestArtifactBuckets(t *testing.T) {
	s := example(t)
	for _, app := range []string{"Web", "Worker"} {
		var bucket map[string]any
		var bucketID string
		for id, b := range s.resources("AWS::S3::Bucket") {
			if strings.HasPrefix(id, app+"Artifacts") {
				bucket, bucketID = b, id
			}
		}
		if bucket == nil {
			t.Fatalf("no artifact bucket for %s", app)
		}
		enc := get(bucket, "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault")
		if get(enc, "SSEAlgorithm") != "aws:kms" || !strings.Contains(jsonString(get(enc, "KMSMasterKeyID")), `"`+app+`Key`) {
			t.Errorf("%s: encryption %v, want aws:kms with the app's own key", app, enc)
		}
		want := map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
		if diff := cmp.Diff(want, bucket["PublicAccessBlockConfiguration"]); diff != "" {
			t.Errorf("%s: public access block (-want +got):\n%s", app, diff)
		}
		if get(bucket, "LoggingConfiguration", "DestinationBucketName") == nil {
			t.Errorf("%s: no access logging", app)
		}
		sslOnly := false
		for _, p := range s.resources("AWS::S3::BucketPolicy") {
			if !strings.Contains(jsonString(p["Bucket"]), bucketID) {
				continue
			}
			for _, st := range get(p, "PolicyDocument", "Statement").([]any) {
				if get(st, "Effect") == "Deny" && get(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
					sslOnly = true
				}
			}
		}
		if !sslOnly {
			t.Errorf("%s: artifact bucket policy does not deny plain HTTP", app)
		}
		// The app's pipelines store artifacts there.
		for _, p := range s.resources("AWS::CodePipeline::Pipeline") {
			if strings.HasPrefix(p["Name"].(string), strings.ToLower(app)+"-") && !strings.Contains(jsonString(get(p, "ArtifactStore", "Location")), bucketID) {
				t.Errorf("pipeline %v does not use %s's artifact bucket", p["Name"], app)
			}
		}
	}
}

func TestRepositories(t *testing.T) {
	s := example(t)
	repos := s.resources("AWS::ECR::Repository")
	var names []string
	for _, r := range repos {
		names = append(names, r["RepositoryName"].(string))
	}
	sort.Strings(names)
	// acme/web-ci: web builds its images, so GitHub Actions pushes elsewhere;
	// acme/web-cache: its build's layer cache.
	if want := []string{"acme/web", "acme/web-cache", "acme/web-ci", "acme/worker"}; !slices.Equal(names, want) {
		t.Fatalf("repositories %v, want %v", names, want)
	}
	for _, r := range repos {
		if r["RepositoryName"] == "acme/web-cache" {
			// The cache tag is rewritten by every build: mutable, not scanned,
			// replaced manifests expire after a day.
			if r["ImageTagMutability"] != "MUTABLE" || get(r, "EncryptionConfiguration", "EncryptionType") != "AES256" ||
				!strings.Contains(jsonString(get(r, "LifecyclePolicy", "LifecyclePolicyText")), `\"countNumber\":1`) {
				t.Errorf("cache repository %s", jsonString(r))
			}
			continue
		}
		if r["ImageTagMutability"] != "IMMUTABLE" || get(r, "ImageScanningConfiguration", "ScanOnPush") != true ||
			get(r, "EncryptionConfiguration", "EncryptionType") != "AES256" || get(r, "LifecyclePolicy", "LifecyclePolicyText") == nil {
			t.Errorf("repository %v: want immutable tags, scan on push, AES256 and a lifecycle policy", r["RepositoryName"])
		}
	}
}

type action struct {
	Stage, Name, Category, Provider string
}

func pipelineActions(p map[string]any) []action {
	var out []action
	for _, st := range p["Stages"].([]any) {
		for _, a := range get(st, "Actions").([]any) {
			out = append(out, action{get(st, "Name").(string), get(a, "Name").(string), get(a, "ActionTypeId", "Category").(string), get(a, "ActionTypeId", "Provider").(string)})
		}
	}
	return out
}

func TestPipelines(t *testing.T) {
	s := example(t)
	gh := []action{{"Source", "Source", "Source", "CodeStarSourceConnection"}, {"Build", "Build", "Build", "CodeBuild"}}
	approve := action{"Approve", "Approve", "Approval", "Manual"}
	deploy := action{"Deploy", "Deploy", "Deploy", "ECS"}
	guard := action{"Guard", "Guard", "Invoke", "Lambda"}
	image := []action{{"Source", "Image", "Source", "ECR"}, {"Build", "Imagedefs", "Invoke", "Lambda"}}
	tests := []struct {
		name    string
		actions []action
		vars    []string
		trigger string // the branch a V2 push trigger watches
		cluster string
	}{
		{"web-dev", append(slices.Clone(gh), deploy), nil, "develop", "dev"},
		{"web-staging", append(slices.Clone(gh), guard, deploy), []string{"RELEASE_TAG", "TRIGGER_ID", "RELEASE_URL"}, "", "staging"},
		{"web-prod", append(slices.Clone(gh), approve, guard, deploy), []string{"RELEASE_TAG", "TRIGGER_ID", "RELEASE_URL"}, "", "prod"},
		{"worker-staging", append(slices.Clone(image), guard, deploy), []string{"IMAGE_TAG", "TRIGGER_ID"}, "", "staging"},
		{"worker-prod", append(slices.Clone(image), approve, guard, deploy), []string{"IMAGE_TAG", "TRIGGER_ID"}, "", "prod"},
	}
	if n := len(s.resources("AWS::CodePipeline::Pipeline")); n != len(tests) {
		t.Errorf("%d pipelines, want %d", n, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := s.pipeline(t, tt.name)
			if p["PipelineType"] != "V2" || p["ExecutionMode"] != "QUEUED" {
				t.Errorf("type %v mode %v, want V2 QUEUED", p["PipelineType"], p["ExecutionMode"])
			}
			if diff := cmp.Diff(tt.actions, pipelineActions(p)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			var vars []string
			declared, _ := p["Variables"].([]any)
			for _, v := range declared {
				vars = append(vars, get(v, "Name").(string))
				if get(v, "DefaultValue") != nil {
					t.Errorf("variable %v has a default: an execution must say what it deploys", get(v, "Name"))
				}
			}
			if !slices.Equal(tt.vars, vars) {
				t.Errorf("variables %v, want %v", vars, tt.vars)
			}
			branches := strs(get(p, "Triggers", 0, "GitConfiguration", "Push", 0, "Branches", "Includes"))
			if tt.trigger != "" && !slices.Equal(branches, []string{tt.trigger}) || tt.trigger == "" && p["Triggers"] != nil {
				t.Errorf("triggers %v, want a push trigger on %q", jsonString(p["Triggers"]), tt.trigger)
			}
			for _, st := range p["Stages"].([]any) {
				a := get(st, "Actions", 0)
				switch get(a, "ActionTypeId", "Provider") {
				case "ECS":
					if get(a, "Configuration", "ClusterName") != tt.cluster {
						t.Errorf("deploys to cluster %v, want %s", get(a, "Configuration", "ClusterName"), tt.cluster)
					}
				case "CodeStarSourceConnection":
					if c := get(a, "Configuration"); get(c, "DetectChanges") != false || get(c, "FullRepositoryId") != "acme/web" {
						t.Errorf("source %v: want acme/web with change detection off (starts come from triggers)", c)
					}
				}
			}
		})
	}
}

func TestECRRules(t *testing.T) {
	s := example(t)
	rules := s.resources("AWS::Events::Rule")
	if len(rules) != 6 {
		t.Fatalf("%d rules, want 6 (scan, Inspector and promotion triggers, the redelivery schedule, two deploy report rules)", len(rules))
	}
	triggers := 0
	for id, r := range rules {
		if strings.HasPrefix(id, "TriggersDeployReport") {
			continue // TestDeployReport
		}
		if strings.HasPrefix(id, "TriggersGHRedeliverSchedule") {
			if r["ScheduleExpression"] != "rate(5 minutes)" {
				t.Errorf("redelivery schedule %v, want rate(5 minutes)", r["ScheduleExpression"])
			}
			continue
		}
		if strings.HasPrefix(id, "Triggers") {
			triggers++
			want := map[string]any{
				"source": []any{"aws.codepipeline"}, "detail-type": []any{"CodePipeline Pipeline Execution State Change"}, "account": []any{"123456789012"},
				"detail": map[string]any{"state": []any{"SUCCEEDED"}, "pipeline": []any{"worker-staging"}},
			}
			if strings.HasPrefix(id, "TriggersECRScanRule") {
				want["source"] = []any{"aws.ecr"}
				want["detail-type"] = []any{"ECR Image Scan"}
				want["detail"] = map[string]any{"scan-status": []any{"COMPLETE"}, "repository-name": []any{"acme/worker"}}
			}
			if strings.HasPrefix(id, "TriggersInspectorScanRule") {
				want["source"] = []any{"aws.inspector2"}
				want["detail-type"] = []any{"Inspector2 Scan"}
				want["detail"] = map[string]any{"scan-status": []any{"INITIAL_SCAN_COMPLETE"},
					"repository-name": []any{map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ecr:us-east-1:123456789012:repository/acme/worker"}}}}}
			}
			if diff := cmp.Diff(want, r["EventPattern"]); diff != "" {
				t.Errorf("%s event pattern (-want +got):\n%s", id, diff)
			}
			if get(r, "Targets", 0, "DeadLetterConfig") == nil {
				t.Errorf("%s target has no dead-letter queue", id)
			}
			continue
		}
		t.Errorf("unexpected rule %s: %s", id, jsonString(r))
	}
	if triggers != 3 {
		t.Errorf("%d trigger rules, want 3", triggers)
	}
	// A dead letter is noticed: an alarm on the queue's visible messages.
	alarms := s.resources("AWS::CloudWatch::Alarm")
	if len(alarms) != 2 {
		t.Fatalf("%d alarms, want 2 (ecrpush's and deployreport's dead-letter queues)", len(alarms))
	}
	for _, a := range alarms {
		if a["MetricName"] != "ApproximateNumberOfMessagesVisible" || a["Threshold"] != float64(0) || a["ComparisonOperator"] != "GreaterThanThreshold" ||
			!strings.Contains(jsonString(a["Dimensions"]), "TriggersECRPushDeadLetters") && !strings.Contains(jsonString(a["Dimensions"]), "TriggersDeployReportDeadLetters") {
			t.Errorf("dead-letter alarm %v", jsonString(a))
		}
	}
	for _, q := range s.resources("AWS::SQS::Queue") {
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %v is not encrypted", q)
		}
	}
}

func TestLambdas(t *testing.T) {
	s := example(t)
	fns := s.resources("AWS::Lambda::Function")
	if len(fns) != 5 {
		t.Fatalf("%d functions, want 5 (ecrpush, ghrelease, ghredeliver, deployreport, pipelineaction)", len(fns))
	}
	for id, f := range fns {
		if f["Runtime"] != "provided.al2023" || !slices.Equal(strs(f["Architectures"]), []string{"arm64"}) || f["Handler"] != "bootstrap" {
			t.Errorf("%s: %v %v %v, want provided.al2023 arm64 bootstrap", id, f["Runtime"], f["Architectures"], f["Handler"])
		}
		// deployreport runs one at a time (reports.go); the triggers take lambdaConcurrency.
		wantConc := map[bool]float64{true: 1, false: 5}[strings.HasPrefix(id, "TriggersDeployReport")]
		if f["ReservedConcurrentExecutions"] != wantConc || get(f, "LoggingConfig", "LogFormat") != "JSON" || get(f, "LoggingConfig", "LogGroup") == nil {
			t.Errorf("%s: concurrency %v logging %v", id, f["ReservedConcurrentExecutions"], f["LoggingConfig"])
		}
		// The webhook's memory buys CPU to refuse forged deliveries quickly (config
		// default); the others wait on AWS and need little.
		if wantMem := map[bool]float64{true: 1024, false: 128}[strings.HasPrefix(id, "TriggersGHRelease")]; f["MemorySize"] != wantMem {
			t.Errorf("%s: MemorySize %v, want %v", id, f["MemorySize"], wantMem)
		}
		if strings.HasPrefix(id, "TriggersECRPush") && get(f, "DeadLetterConfig", "TargetArn") == nil {
			t.Errorf("ecrpush has no dead-letter queue")
		}
		if strings.HasPrefix(id, "TriggersGHRedeliver") {
			env := get(f, "Environment", "Variables")
			if get(env, "GITHUB_REPOSITORIES") != "acme/web" || get(env, "MAX_ATTEMPTS") != "3" || !strings.Contains(jsonString(get(env, "WEBHOOK_URL")), "TriggersGHReleaseFunctionUrl") {
				t.Errorf("ghredeliver environment %v", jsonString(env))
			}
		}
	}
	urls := s.resources("AWS::Lambda::Url")
	if len(urls) != 1 {
		t.Fatalf("%d function URLs, want 1", len(urls))
	}
	for _, u := range urls {
		if !strings.Contains(jsonString(u["TargetFunctionArn"]), "GHRelease") {
			t.Errorf("the function URL is not ghrelease's")
		}
	}
	for _, lg := range s.resources("AWS::Logs::LogGroup") {
		if lg["RetentionInDays"] != float64(90) {
			t.Errorf("log group retention %v, want 90", lg["RetentionInDays"])
		}
	}
}

func TestOutputs(t *testing.T) {
	s := example(t)
	var got []string
	for k := range s.json["Outputs"].(map[string]any) {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{"DeployReportDeadLetterQueueUrl", "ECRPushDeadLetterQueueUrl", "GitHubTokenSecretArn", "PipelineWebDev", "PipelineWebProd", "PipelineWebStaging", "PipelineWorkerProd", "PipelineWorkerStaging",
		"SlackWebProdWebhookSecretArn", "SlackWebWebhookSecretArn", "WebGitHubActionsRoleArn", "WebRepositoryUri", "WebhookSecretArn", "WebhookUrl", "WorkerGitHubActionsRoleArn", "WorkerRepositoryUri"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

// The synthesized template, with asset hashes masked, against a golden file:
// go test -update rewrites it after a deliberate change.
func TestTemplateGolden(t *testing.T) {
	s := example(t)
	got := regexp.MustCompile(`[0-9a-f]{64}`).ReplaceAll(s.raw, []byte("<asset-hash>"))
	got = append(got, '\n')
	const golden = "testdata/pipebridge.template.golden.json"
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("template differs from %s (-want +got); if intended, run go test -update:\n%s", golden, diff)
	}
}
