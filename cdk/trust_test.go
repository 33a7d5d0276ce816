package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// policyOf returns the statements of the policy whose logical id starts with
// policy and that is attached to the role whose logical id starts with role.
func (s *synthesized) policyOf(t *testing.T, role, policy string) []stmt {
	t.Helper()
	var out []stmt
	found := false
	for id, p := range s.resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, policy) && strings.Contains(jsonString(p["Roles"]), `"`+role) {
			out = append(out, statements(get(p, "PolicyDocument", "Statement"))...)
			found = true
		}
	}
	if !found {
		t.Fatalf("no policy %s* on role %s*", policy, role)
	}
	return out
}

const partitionARN = `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":`

func ecsARN(resource string) string {
	return partitionARN + `ecs:us-east-1:123456789012:` + resource + `"]]}`
}

// Only routes start pipelines: every rule targets one of the trigger functions,
// no pipeline has a webhook or a trigger except the branch pipelines' declared
// push trigger, and only the trigger functions may call StartPipelineExecution.
func TestOnlyRoutesStartPipelines(t *testing.T) {
	s := example(t)
	functions := s.resources("AWS::Lambda::Function")
	for id, r := range s.resources("AWS::Events::Rule") {
		for _, target := range r["Targets"].([]any) {
			arn := jsonString(get(target, "Arn"))
			ok := false
			for fn := range functions {
				if arn == `{"Fn::GetAtt":["`+fn+`","Arn"]}` && strings.HasPrefix(fn, "Triggers") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("rule %s targets %s: only the trigger functions may be targets", id, arn)
			}
		}
	}
	if w := s.resources("AWS::CodePipeline::Webhook"); len(w) > 0 {
		t.Errorf("pipeline webhooks: %v", w)
	}
	for _, p := range s.resources("AWS::CodePipeline::Pipeline") {
		if p["Triggers"] != nil && p["Name"] != "web-dev" {
			t.Errorf("pipeline %v has triggers %s; only branch pipelines may", p["Name"], jsonString(p["Triggers"]))
		}
		for _, st := range p["Stages"].([]any) {
			for _, a := range get(st, "Actions").([]any) {
				if get(a, "ActionTypeId", "Category") == "Source" && get(a, "Configuration", "DetectChanges") == true {
					t.Errorf("pipeline %v: source action detects changes itself", p["Name"])
				}
			}
		}
	}
	for id, p := range s.resources("AWS::IAM::Policy") {
		for _, st := range statements(get(p, "PolicyDocument", "Statement")) {
			for _, a := range st.Actions {
				if strings.HasPrefix(a, "codepipeline:Start") && !strings.HasPrefix(id, "TriggersECRPushRole") && !strings.HasPrefix(id, "TriggersGHReleaseRole") {
					t.Errorf("policy %s may start pipelines: %+v", id, st)
				}
			}
		}
	}
}

// The deploy roles, every statement: the one service, the family's revisions,
// the cluster's tasks, the roles the config names, and the app's artifacts.
func TestDeployRoles(t *testing.T) {
	s := example(t)
	for _, tt := range []struct {
		app, env, cluster, service, family string
		pass                               []string
	}{
		{"Web", "Prod", "prod", "web", "web", []string{"arn:aws:iam::123456789012:role/web-prod-execution", "arn:aws:iam::123456789012:role/web-prod-task"}},
		{"Web", "Dev", "dev", "web", "web", nil},
		{"Worker", "Staging", "staging", "worker", "worker-staging", []string{"arn:aws:iam::123456789012:role/worker-execution"}},
	} {
		t.Run(tt.app+tt.env, func(t *testing.T) {
			role := tt.app + tt.env + "RolesDeploy"
			want := []stmt{
				{"UpdateOneService", []string{"ecs:DescribeServices", "ecs:UpdateService"}, []string{ecsARN("service/" + tt.cluster + "/" + tt.service)}, ""},
				{"TagItsFamilysRevisions", []string{"ecs:TagResource"}, []string{ecsARN("task-definition/" + tt.family + ":*")},
					`{"StringEquals":{"ecs:CreateAction":"RegisterTaskDefinition"}}`},
				{"WatchItsClustersTasks", []string{"ecs:DescribeTasks"}, []string{ecsARN("task/" + tt.cluster + "/*")}, ""},
			}
			if tt.pass != nil {
				want = append(want, stmt{"PassTheTaskRoles", []string{"iam:PassRole"}, tt.pass, `{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`})
			}
			want = append(want,
				stmt{"ReadImageDefinitions", []string{"s3:GetObject", "s3:GetObjectVersion"}, []string{`{"Fn::Join":["",[{"Fn::GetAtt":["` + tt.app + `Artifacts*","Arn"]},"/*"]]}`}, ""},
				stmt{"DecryptArtifacts", []string{"kms:Decrypt"}, []string{`{"Fn::GetAtt":["` + tt.app + `Key*","Arn"]}`}, ""},
			)
			compareStatements(t, want, s.policyOf(t, role, role+"DefaultPolicy"))
			compareStatements(t, []stmt{
				{"TaskDefinitions", []string{"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}, []string{"*"}, ""},
				{"ListTasksInItsCluster", []string{"ecs:ListTasks"}, []string{"*"}, `{"ArnEquals":{"ecs:cluster":` + ecsARN("cluster/"+tt.cluster) + `}}`},
			}, s.policyOf(t, role, role+"Unscoped"))
		})
	}
}

// The GitHub source role: the one connection, with the action whose prefix
// matches the ARN's, and writing this app's artifacts.
func TestSourceRoles(t *testing.T) {
	s := example(t)
	compareStatements(t, []stmt{
		{"UseTheConnection", []string{"codeconnections:UseConnection"}, []string{"arn:aws:codeconnections:us-east-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11"}, ""},
		{"WriteSourceArtifact", []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl"}, []string{`{"Fn::Join":["",[{"Fn::GetAtt":["WebArtifacts*","Arn"]},"/*"]]}`}, ""},
		{"ArtifactBucket", []string{"s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketVersioning"}, []string{`{"Fn::GetAtt":["WebArtifacts*","Arn"]}`}, ""},
		{"EncryptArtifacts", []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}, []string{`{"Fn::GetAtt":["WebKey*","Arn"]}`}, ""},
	}, s.policyOf(t, "WebProdRolesSource", "WebProdRolesSourceDefaultPolicy"))
	for arn, want := range map[string]string{
		"arn:aws:codeconnections:us-east-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11":      "codeconnections:UseConnection",
		"arn:aws:codestar-connections:us-east-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11": "codestar-connections:UseConnection",
	} {
		if got := connectionAction(arn); got != want {
			t.Errorf("connectionAction(%s) = %s, want %s", arn, got, want)
		}
	}
}

// The build roles read the one CLI asset object, check their environments'
// services, and hold nothing unscoped but the registry login and
// DescribeTaskDefinition.
func TestBuildRoles(t *testing.T) {
	s := example(t)
	for _, tt := range []struct{ role, policy, services string }{
		{"WebBuildRole", "WebBuildUnscoped", "dev/web prod/web staging/web"},
	} {
		var assetReads, services []string
		for _, st := range s.policyOf(t, tt.role, tt.role+"DefaultPolicy") {
			for _, r := range st.Resources {
				if strings.Contains(r, "cdk-hnb659fds-assets") {
					if st.Sid != "ReadThePipebridgeCLI" || len(st.Actions) != 1 || st.Actions[0] != "s3:GetObject" {
						t.Errorf("%s: %+v reaches the CDK asset bucket", tt.role, st)
					}
					assetReads = append(assetReads, r)
				}
			}
			if st.Sid == "CheckContainerNames" {
				for _, r := range st.Resources {
					_, after, _ := strings.Cut(r, ":service/")
					services = append(services, strings.TrimSuffix(after, `"]]}`))
				}
			}
			if strings.Join(st.Resources, "") == "*" {
				t.Errorf("%s: %+v on * in the default policy", tt.role, st)
			}
		}
		if len(assetReads) != 1 || !regexp.MustCompile(`assets-123456789012-us-east-1/[0-9a-f]{64}\.[0-9a-f]{64}"`).MatchString(assetReads[0]) {
			t.Errorf("%s reads assets %v, want the one CLI object", tt.role, assetReads)
		}
		if strings.Join(services, " ") != tt.services {
			t.Errorf("%s checks services %v, want %s", tt.role, services, tt.services)
		}
		compareStatements(t, []stmt{
			{"EcrLoginAndTaskDefinitions", []string{"ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"}, []string{"*"}, ""},
		}, s.policyOf(t, tt.role, tt.policy))
	}
}

// No role of one app reaches the other's bucket, key or repositories, and no
// role reaches S3 or KMS on "*".
func TestAppsIsolated(t *testing.T) {
	s := example(t)
	owner := map[string]string{} // role logical id -> app
	for id := range s.resources("AWS::IAM::Role") {
		for _, app := range []string{"Web", "Worker"} {
			if strings.HasPrefix(id, app) {
				owner[id] = app
			}
		}
	}
	other := map[string]string{"Web": "Worker", "Worker": "Web"}
	checked := 0
	for id, p := range s.resources("AWS::IAM::Policy") {
		for _, r := range strs(p["Roles"]) {
			role := strings.TrimSuffix(strings.TrimPrefix(r, `{"Ref":"`), `"}`)
			app, ok := owner[role]
			if !ok {
				continue
			}
			checked++
			for _, st := range statements(get(p, "PolicyDocument", "Statement")) {
				for _, res := range st.Resources {
					for _, theirs := range []string{"Artifacts", "Key", "Repository", "PushRepository", "Build", "Imagedefs"} {
						if strings.Contains(res, `"`+other[app]+theirs) {
							t.Errorf("%s (%s) policy %s reaches %s's %s: %+v", role, app, id, other[app], theirs, st)
						}
					}
					if res == "*" {
						for _, a := range st.Actions {
							if strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "kms:") {
								t.Errorf("%s: %s on *", role, a)
							}
						}
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d role policies; the test lost track of the roles", checked)
	}
	// The keys delegate to IAM (the account root) and name no app's role.
	for id, k := range s.resources("AWS::KMS::Key") {
		if strings.HasPrefix(id, "Web") || strings.HasPrefix(id, "Worker") {
			if st := get(k, "KeyPolicy", "Statement").([]any); len(st) != 1 || !strings.Contains(jsonString(get(st[0], "Principal")), ":root") {
				t.Errorf("key %s policy %s, want only the account root (IAM policies decide)", id, jsonString(st))
			}
		}
	}
}

// A new wildcard in a role's default policy fails cdk-nag: the suppressions
// name their findings, and no role-wide "*" suppression exists. The smaller
// config also covers the codestar-connections ARN form.
func TestNewWildcardFailsNag(t *testing.T) {
	cfg, err := config.Parse("mini.yaml", []byte(`
account: "123456789012"
region: eu-west-1
connectionArn: arn:aws:codestar-connections:eu-west-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11
apps:
  - name: api
    github: acme/api
    containers: [api]
    environments:
      - {name: prod, cluster: prod, service: api, trigger: {on: release}}
`))
	if err != nil {
		t.Fatal(err)
	}
	props, err := LoadStackProps(cfg, "../dist", "../buildspec.yml")
	if err != nil {
		t.Fatal(err)
	}
	findings := func(addWildcard bool) []string {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), PostCliContext: &featureFlags})
		stack := NewPipebridgeStack(app, cfg.StackName, props)
		if addWildcard {
			build := stack.Node().FindChild(jsii.String("Api")).Node().FindChild(jsii.String("Build")).(awscodebuild.PipelineProject)
			build.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings("*"),
			}))
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
		tmpl := assertions.Template_FromStack(stack, nil)
		if !addWildcard {
			if got := jsonString(tmpl.ToJSON()); !strings.Contains(got, `"Action":"codestar-connections:UseConnection"`) || strings.Contains(got, "codeconnections:UseConnection") {
				t.Errorf("a codestar-connections ARN: want only codestar-connections:UseConnection granted")
			}
		}
		var out []string
		for _, e := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			out = append(out, nagFinding(e))
		}
		return out
	}
	if f := findings(false); len(f) > 0 {
		t.Fatalf("the config alone has findings: %v", f)
	}
	f := findings(true)
	if len(f) != 1 || !strings.Contains(f[0], "/Api/Build/Role/DefaultPolicy/") || !strings.Contains(f[0], "Resource::*") {
		t.Errorf("findings %v, want one: the new Resource::* on the build role's default policy", f)
	}
}

// nagFinding is a cdk-nag annotation: the construct path and its message.
func nagFinding(e any) string {
	b, _ := json.Marshal(e)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	data, _ := get(m, "entry", "data").(string)
	return fmt.Sprintf("%v: %s", m["id"], strings.TrimSpace(data))
}

// githubTokenSecret: create makes an empty secret: no generated value that
// ghrelease would send to GitHub as a token.
func TestGitHubTokenSecretIsEmpty(t *testing.T) {
	s := example(t)
	found := false
	for id, sec := range s.resources("AWS::SecretsManager::Secret") {
		if strings.HasPrefix(id, "TriggersGitHubToken") {
			found = true
			if sec["GenerateSecretString"] != nil || sec["SecretString"] != nil {
				t.Errorf("token secret %s has a value: %s", id, jsonString(sec))
			}
		}
	}
	if !found {
		t.Fatal("no GitHub token secret")
	}
}

// buildEnvs returns, for every pipeline action that sets ECS_SERVICE, its
// CodeBuild environment variables, keyed by that service.
func buildEnvs(t *testing.T, s *synthesized) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, p := range s.resources("AWS::CodePipeline::Pipeline") {
		for _, st := range p["Stages"].([]any) {
			for _, a := range get(st, "Actions").([]any) {
				raw, ok := get(a, "Configuration", "EnvironmentVariables").(string)
				if !ok {
					continue
				}
				var vars []struct{ Name, Value string }
				if err := json.Unmarshal([]byte(raw), &vars); err != nil {
					t.Fatalf("EnvironmentVariables %s: %v", raw, err)
				}
				m := map[string]string{}
				for _, v := range vars {
					m[v.Name] = v.Value
				}
				if svc := m["ECS_SERVICE"]; svc != "" {
					out[svc] = m
				}
			}
		}
	}
	return out
}

// Every generated build checks the service's containers and gates on the config's
// scan settings; an environment deploys ungated only with scanGate: {off: true}.
func TestBuildsUseConfigGates(t *testing.T) {
	envs := buildEnvs(t, example(t))
	want := map[string][2]string{ // ECS_SERVICE: SCAN_GATE, SCAN_GATE_FLAGS
		"dev/web":     {"on", "--severity HIGH"},
		"prod/web":    {"on", "--severity MEDIUM --ignore-finding CVE-2023-45853"},
		"staging/web": {"on", "--severity HIGH"},
	}
	for svc, w := range want {
		if got := envs[svc]; got["SCAN_GATE"] != w[0] || got["SCAN_GATE_FLAGS"] != w[1] {
			t.Errorf("%s: SCAN_GATE %q, SCAN_GATE_FLAGS %q; want %q, %q", svc, got["SCAN_GATE"], got["SCAN_GATE_FLAGS"], w[0], w[1])
		}
	}

	s := synthYAML(t, "off.yaml", `
account: "123456789012"
region: eu-west-1
connectionArn: arn:aws:codeconnections:eu-west-1:123456789012:connection/4f0f3d1c-5c2e-4a6b-9d1e-2b7c8a9e0f11
apps:
  - name: api
    github: acme/api
    containers: [api]
    environments:
      - {name: sandbox, cluster: sandbox, service: api, scanGate: {off: true}, trigger: {on: branch, branch: main}}
`)
	got := buildEnvs(t, s)["sandbox/api"]
	if got == nil || got["SCAN_GATE"] != "off" || got["SCAN_GATE_FLAGS"] != "" {
		t.Errorf("scanGate off: build environment %v, want SCAN_GATE=off and no flags", got)
	}
}
