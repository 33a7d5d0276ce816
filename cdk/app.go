package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// unpushedTag is the tag the ECR source action watches. CDK's ECR source action
// always adds a rule that starts the pipeline when that tag is pushed; the
// ecrpush Lambda starts image pipelines instead, with the pushed digest, so the
// action watches a tag that nobody pushes.
const unpushedTag = "pipebridge-started-by-lambda"

// app is one application's constructs: its repository, and its own artifact
// bucket and KMS key, which no other app's role can reach.
type app struct {
	cfg        *config.App
	scope      constructs.Construct
	repository awsecr.IRepository
	key        awskms.IKey
	artifacts  awss3.IBucket
	pipelines  []string
}

func newApp(stack awscdk.Stack, a *config.App, s *shared) *app {
	scope := constructs.NewConstruct(stack, jsii.String(cfnID(a.Name)))
	out := &app{cfg: a, scope: scope, repository: newRepository(scope, "Repository", a.ECR.Repository, a)}
	out.key = awskms.NewKey(scope, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("pipebridge: " + a.Name + "'s pipeline artifacts and build outputs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	out.artifacts = newArtifactBucket(scope, a.Name, out.key, s.accessLogs)
	awscdk.NewCfnOutput(stack, jsii.String(cfnID(a.Name)+"RepositoryUri"), &awscdk.CfnOutputProps{
		Value: out.repository.RepositoryUri(), Description: jsii.String(a.Name + ": ECR repository URI"),
	})

	var build awscodebuild.PipelineProject
	for j := range a.Environments {
		e := &a.Environments[j]
		if !e.DeploysImages() && build == nil {
			build = out.newBuildProject(scope, s)
		}
		out.pipelines = append(out.pipelines, out.newPipeline(scope, e, s, build))
	}
	return out
}

// pushRepository is the repository the GitHub Actions push role writes to: the
// app's own, or, when the app builds and does not trust pushed images, one of
// its own that no build reads (config.App.PushRepository).
func (ap *app) pushRepository() awsecr.IRepository {
	name := ap.cfg.PushRepository()
	if name == ap.cfg.ECR.Repository {
		return ap.repository
	}
	return newRepository(ap.scope, "PushRepository", name, &config.App{ECR: config.ECR{KeepImages: ap.cfg.ECR.KeepImages}})
}

// newRepository creates the app's repository (immutable tags, scan on push,
// encrypted, with a lifecycle policy) or imports an existing one.
func newRepository(scope constructs.Construct, id, name string, a *config.App) awsecr.IRepository {
	if a.ECR.Import {
		return awsecr.Repository_FromRepositoryName(scope, jsii.String(id), jsii.String(name))
	}
	repo := awsecr.NewRepository(scope, jsii.String(id), &awsecr.RepositoryProps{
		RepositoryName:     jsii.String(name),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		ImageScanOnPush:    jsii.Bool(true),
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awsecr.LifecycleRule{
			{
				RulePriority: jsii.Number(1), Description: jsii.String("untagged images go after 14 days"),
				TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(14)),
			},
			{
				RulePriority: jsii.Number(2), Description: jsii.String(fmt.Sprintf("keep the newest %d images", a.ECR.KeepImages)),
				TagStatus: awsecr.TagStatus_ANY, MaxImageCount: jsii.Number(float64(a.ECR.KeepImages)),
			},
		},
	})
	// AES-256 is ECR's default, which CDK leaves out of the template; say it.
	repo.Node().DefaultChild().(awsecr.CfnRepository).AddPropertyOverride(jsii.String("EncryptionConfiguration"), map[string]any{"EncryptionType": "AES256"})
	return repo
}

// newCacheRepository holds the app build's BuildKit layer cache: mutable tags
// (the cache tag is rewritten by every build, which the app's immutable
// repository forbids), untagged manifests gone after a day, nothing scanned
// (it holds layers, not images anyone runs). Only the app's build role may
// use it.
func newCacheRepository(scope constructs.Construct, a *config.App) awsecr.Repository {
	repo := awsecr.NewRepository(scope, jsii.String("CacheRepository"), &awsecr.RepositoryProps{
		RepositoryName:     jsii.String(a.ECR.Repository + "-cache"),
		ImageTagMutability: awsecr.TagMutability_MUTABLE,
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		// Retained like the app's repository: CloudFormation cannot delete a
		// repository that holds images.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awsecr.LifecycleRule{{
			RulePriority: jsii.Number(1), Description: jsii.String("replaced cache manifests go after a day"),
			TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	repo.Node().DefaultChild().(awsecr.CfnRepository).AddPropertyOverride(jsii.String("EncryptionConfiguration"), map[string]any{"EncryptionType": "AES256"})
	return repo
}

// buildLogs is a build project's log group, with the configured retention.
func buildLogs(scope constructs.Construct, id string, s *shared) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     s.logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// newBuildProject runs buildspec.yml: build, push, scan gate, imagedefinitions.json.
// Per-environment settings (the service to check, the scan gate) come from the
// pipeline's build action.
func (ap *app) newBuildProject(scope constructs.Construct, s *shared) awscodebuild.PipelineProject {
	a, repo := ap.cfg, ap.repository
	env := map[string]*awscodebuild.BuildEnvironmentVariable{
		"REPOSITORY_URI":     {Value: repo.RepositoryUri()},
		"CONTAINER_NAME":     {Value: jsii.String(a.Containers[0])},
		"PIPEBRIDGE_CLI_URL": {Value: s.cli.S3ObjectUrl()},
	}
	if a.BuildSecretsRoleARN != "" {
		env["BUILD_SECRETS_ROLE_ARN"] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(a.BuildSecretsRoleARN)}
	}
	cache := newCacheRepository(scope, a)
	env["CACHE_REPOSITORY_URI"] = &awscodebuild.BuildEnvironmentVariable{Value: cache.RepositoryUri()}
	p := awscodebuild.NewPipelineProject(scope, jsii.String("Build"), &awscodebuild.PipelineProjectProps{
		ProjectName: jsii.String(a.Name + "-build"),
		Description: jsii.String("pipebridge: build, push, scan-gate and pin " + a.Name),
		BuildSpec:   awscodebuild.BuildSpec_FromObjectToYaml(&s.buildspec),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxArmBuildImage_AMAZON_LINUX_2023_STANDARD_3_0(),
			ComputeType: awscodebuild.ComputeType_SMALL,
			Privileged:  jsii.Bool(true), // docker buildx needs the Docker daemon
		},
		EnvironmentVariables: &env,
		EncryptionKey:        ap.key,
		Timeout:              awscdk.Duration_Minutes(jsii.Number(60)),
		Logging:              &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: buildLogs(scope, "Build", s)}},
	})
	ap.suppressProject(p)
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("PushPullOneRepository"),
		Actions: jsii.Strings("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"),
		Resources: jsii.Strings(*repo.RepositoryArn()),
	}))
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("LayerCache"),
		Actions: jsii.Strings("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"),
		Resources: jsii.Strings(*cache.RepositoryArn()),
	}))
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ScanGateAndDigests"),
		Actions:   jsii.Strings("ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:StartImageScan"),
		Resources: jsii.Strings(*repo.RepositoryArn()),
	}))
	if a.BuildSecretsRoleARN != "" {
		p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("BuildSecretsRoleChaining"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(a.BuildSecretsRoleARN),
		}))
	}
	ap.grantBuildCommon(scope, "Build", p, s, func(e *config.Environment) bool { return !e.DeploysImages() })
	return p
}

// grantBuildCommon grants a build project what both kinds need: the one CLI
// asset object, the services of the environments it builds for (the container
// check), and, in policies of their own, the actions that take no resource.
func (ap *app) grantBuildCommon(scope constructs.Construct, id string, p awscodebuild.PipelineProject, s *shared, serves func(*config.Environment) bool) {
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadThePipebridgeCLI"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(*s.cli.Bucket().ArnForObjects(s.cli.S3ObjectKey())),
	}))
	var services []*string
	for j := range ap.cfg.Environments {
		if e := &ap.cfg.Environments[j]; serves(e) {
			services = append(services, serviceARN(s.cfg, e))
		}
	}
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CheckContainerNames"),
		Actions:   jsii.Strings("ecs:DescribeServices"),
		Resources: &services,
	}))
	wildcard(scope, id+"Unscoped", p.Role(), statement("EcrLoginAndTaskDefinitions", nil,
		"ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"))
}

// serviceARN is the environment's ECS service.
func serviceARN(cfg *config.Config, e *config.Environment) *string {
	return jsii.String(fmt.Sprintf("arn:%s:ecs:%s:%s:service/%s/%s", *awscdk.Aws_PARTITION(), cfg.Region, cfg.Account, e.Cluster, e.Service))
}

// newPipeline is one environment's pipeline: Source, Build, [Approve], Deploy.
// The pipeline's role and its source and deploy action roles are ours, each
// with exactly the statements in roles.go; CDK adds only the pipeline role's
// sts:AssumeRole on its action roles and the grants to this app's bucket and key.
func (ap *app) newPipeline(scope constructs.Construct, e *config.Environment, s *shared, build awscodebuild.PipelineProject) string {
	a, repo, cfg := ap.cfg, ap.repository, s.cfg
	name := config.PipelineName(a, e)
	id := cfnID(e.Name)
	pscope := constructs.NewConstruct(scope, jsii.String(id+"Roles"))
	pipelineRole := awsiam.NewRole(pscope, jsii.String("Pipeline"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("codepipeline.amazonaws.com"), nil),
		Description: jsii.String("pipebridge: pipeline " + name),
	})
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	built := awscodepipeline.NewArtifact(jsii.String("ImageDefinitions"), nil)
	props := &awscodepipeline.PipelineProps{
		PipelineName:             jsii.String(name),
		PipelineType:             awscodepipeline.PipelineType_V2,
		ExecutionMode:            executionMode(a.ExecutionMode),
		ArtifactBucket:           ap.artifacts,
		Role:                     pipelineRole,
		RestartExecutionOnUpdate: jsii.Bool(false),
	}
	buildEnv := map[string]*awscodebuild.BuildEnvironmentVariable{
		"ECS_SERVICE":     {Value: jsii.String(e.Cluster + "/" + e.Service)},
		"SCAN_GATE_FLAGS": {Value: jsii.String(e.ScanGate.Flags())},
		"SCAN_GATE":       {Value: jsii.String(map[bool]string{true: "off", false: "on"}[e.ScanGate.Off])},
	}
	var stages []*awscodepipeline.StageProps
	// What the approval shows: a link to what is deployed, and its tag, commit and
	// image, as pipeline and action variables CodePipeline resolves.
	var approvalLink, approvalInfo string
	switch {
	case e.DeploysImages():
		src := awscodepipelineactions.NewEcrSourceAction(&awscodepipelineactions.EcrSourceActionProps{
			ActionName: jsii.String(config.ECRSourceAction), Repository: repo, ImageTag: jsii.String(unpushedTag), Output: source,
		})
		stages = append(stages,
			&awscodepipeline.StageProps{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src}},
			&awscodepipeline.StageProps{StageName: jsii.String("Build"), Actions: &[]awscodepipeline.IAction{
				ap.invoke(pscope, "Imagedefs", s.action, pipelineRole, imagedefsParams(a, e), source, built),
			}},
		)
		s.action.use(repo.RepositoryArn(), serviceARN(cfg, e), nil)
		trigger := "EventBridge event id that started the execution"
		if e.PromoteFrom != "" {
			trigger = "the execution of " + config.PipelineName(a, &config.Environment{Name: e.PromoteFrom}) + " whose image this one promotes"
		}
		props.Variables = &[]awscodepipeline.Variable{
			variable(config.VarImageTag, "image tag that started the execution (set by the ecrpush Lambda)"),
			variable(config.VarTriggerID, trigger),
		}
		digest := *src.Variables().ImageDigest
		approvalLink = fmt.Sprintf("https://%s.console.aws.amazon.com/ecr/repositories/private/%s/%s/_/image/%s/details?region=%s",
			cfg.Region, cfg.Account, a.ECR.Repository, digest, cfg.Region)
		approvalInfo = fmt.Sprintf("image tag #{variables.%s}, digest %s", config.VarImageTag, digest)
		if e.PromoteFrom != "" {
			approvalInfo += fmt.Sprintf(", promoted from %s (execution #{variables.%s})", e.PromoteFrom, config.VarTriggerID)
		}
	default:
		owner, repoName, _ := strings.Cut(a.GitHub, "/")
		branch := "main"
		if e.Trigger.On == "branch" {
			branch = e.Trigger.Branch
		}
		src := awscodepipelineactions.NewCodeStarConnectionsSourceAction(&awscodepipelineactions.CodeStarConnectionsSourceActionProps{
			ActionName:    jsii.String(config.GitHubSourceAction),
			Owner:         jsii.String(owner),
			Repo:          jsii.String(repoName),
			Branch:        jsii.String(branch),
			ConnectionArn: jsii.String(cfg.ConnectionARN),
			Output:        source,
			Role:          ap.connectionSourceRole(pscope, pipelineRole, cfg.ConnectionARN),
			// Branch pipelines start from the V2 trigger below; release and tag
			// pipelines only when ghrelease starts them with a commit.
			TriggerOnPush: jsii.Bool(false),
		})
		if e.Trigger.On != "branch" {
			buildEnv["RELEASE_TAG"] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String("#{variables." + config.VarReleaseTag + "}")}
			props.Variables = &[]awscodepipeline.Variable{
				variable(config.VarReleaseTag, "release or tag that started the execution (set by the ghrelease Lambda)"),
				variable(config.VarTriggerID, "GitHub delivery id that started the execution"),
				variable(config.VarReleaseURL, "the release's (or tag's) page on GitHub (set by the ghrelease Lambda)"),
			}
		} else {
			props.Triggers = &[]*awscodepipeline.TriggerProps{{
				ProviderType: awscodepipeline.ProviderType_CODE_STAR_SOURCE_CONNECTION,
				GitConfiguration: &awscodepipeline.GitConfiguration{
					SourceAction: src,
					PushFilter:   &[]*awscodepipeline.GitPushFilter{{BranchesIncludes: jsii.Strings(branch)}},
				},
			}}
		}
		buildAction := awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
			ActionName: jsii.String("Build"), Project: build, Input: source, Outputs: &[]awscodepipeline.Artifact{built},
			EnvironmentVariables: &buildEnv,
		})
		stages = append(stages,
			&awscodepipeline.StageProps{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src}},
			&awscodepipeline.StageProps{StageName: jsii.String("Build"), Actions: &[]awscodepipeline.IAction{buildAction}},
		)
		commit, image := *src.Variables().CommitId, *buildAction.Variable(jsii.String("IMAGE_URI"))
		if e.Trigger.On == "branch" {
			approvalLink = cfg.GitHubWeb() + a.GitHub + "/commit/" + commit
			approvalInfo = fmt.Sprintf("branch %s, commit %s, image %s", branch, commit, image)
		} else {
			approvalLink = "#{variables." + config.VarReleaseURL + "}"
			approvalInfo = fmt.Sprintf("tag #{variables.%s}, commit %s, image %s", config.VarReleaseTag, commit, image)
		}
	}
	if e.Approval {
		stages = append(stages, &awscodepipeline.StageProps{StageName: jsii.String("Approve"), Actions: &[]awscodepipeline.IAction{
			awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{
				ActionName:            jsii.String("Approve"),
				AdditionalInformation: jsii.String(fmt.Sprintf("Deploy %s to %s (cluster %s, service %s): %s?", a.Name, e.Name, e.Cluster, e.Service, approvalInfo)),
				ExternalEntityLink:    jsii.String(approvalLink),
			}),
		}})
	}
	if !e.AllowDowngrade {
		// Just before Deploy, after any approval: never an older image over a
		// newer one. A stage of its own, so a refusal fails the execution
		// without triggering the Deploy stage's rollback.
		stages = append(stages, &awscodepipeline.StageProps{StageName: jsii.String("Guard"), Actions: &[]awscodepipeline.IAction{
			ap.invoke(pscope, "Guard", s.action, pipelineRole, guardParams(a, e, name), built, nil),
		}})
		s.action.use(repo.RepositoryArn(), serviceARN(cfg, e), awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(name)}))
	}
	service := awsecs.BaseService_FromServiceArnWithCluster(scope, jsii.String(id+"Service"), serviceARN(cfg, e))
	deploy := &awscodepipeline.StageProps{StageName: jsii.String("Deploy"), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewEcsDeployAction(&awscodepipelineactions.EcsDeployActionProps{
			ActionName: jsii.String("Deploy"), Service: service, Input: built,
			DeploymentTimeout: awscdk.Duration_Minutes(jsii.Number(float64(e.TimeoutMinutes()))),
			Role:              ap.deployRole(pscope, pipelineRole, s, e),
		}),
	}}
	safeDeploy(deploy, pipelineRole, e)
	stages = append(stages, deploy)
	props.Stages = &stages
	pipeline := awscodepipeline.NewPipeline(scope, jsii.String(id+"Pipeline"), props)
	if e.DeploysImages() {
		removeECRSourceRule(pipeline)
	}
	ap.suppressPipeline(pipeline)
	ap.suppressPipeline(pipelineRole)
	return name
}

// safeDeploy adds the Deploy stage's conditions (CodePipeline V2 stage
// conditions): roll back on failure; refuse to enter while an alarm fires or
// outside the deploy window; after success, watch the alarms for the bake time
// and roll back if one fires.
func safeDeploy(stage *awscodepipeline.StageProps, pipelineRole awsiam.IRole, e *config.Environment) {
	if e.RollsBack() {
		stage.OnFailure = &awscodepipeline.FailureConditions{Result: awscodepipeline.Result_ROLLBACK}
	}
	alarmRules := func(prefix string, wait int) *[]awscodepipeline.Rule {
		var rules []awscodepipeline.Rule
		for i, name := range e.Alarms {
			rules = append(rules, awscodepipeline.NewRule(&awscodepipeline.RuleProps{
				Name: jsii.String(fmt.Sprintf("%s%d", prefix, i+1)), Provider: jsii.String("CloudWatchAlarm"), Version: jsii.String("1"),
				Configuration: &map[string]any{"AlarmName": name, "AlarmStates": "ALARM", "WaitTime": strconv.Itoa(wait)},
			}))
		}
		return &rules
	}
	// CodePipeline takes exactly one entry condition: the quiet alarms and the
	// window are its rules (at most 5, checked by the config).
	var entry []awscodepipeline.Rule
	if len(e.Alarms) > 0 {
		entry = append(entry, *alarmRules("AlarmQuiet", 0)...)
		stage.OnSuccess = &awscodepipeline.Conditions{Conditions: &[]*awscodepipeline.Condition{
			{Result: awscodepipeline.Result_ROLLBACK, Rules: alarmRules("Bake", e.BakeMinutes())},
		}}
		var arns []*string
		for _, name := range e.Alarms {
			arns = append(arns, awscdk.Stack_Of(pipelineRole).FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"), ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}))
		}
		pipelineRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WatchAlarms"), Actions: jsii.Strings("cloudwatch:DescribeAlarms"), Resources: &arns,
		}))
	}
	if w := e.DeployWindow; w != nil {
		entry = append(entry, awscodepipeline.NewRule(&awscodepipeline.RuleProps{
			Name: jsii.String("DeployWindow"), Provider: jsii.String("DeploymentWindow"), Version: jsii.String("1"),
			Configuration: &map[string]any{"Cron": w.Cron, "TimeZone": w.TimeZone},
		}))
	}
	if len(entry) > 0 {
		stage.BeforeEntry = &awscodepipeline.Conditions{Conditions: &[]*awscodepipeline.Condition{
			{Result: awscodepipeline.Result_FAIL, Rules: &entry},
		}}
	}
}

func variable(name, description string) awscodepipeline.Variable {
	// No default: the Lambda always sets these, and an execution started another
	// way must say what it deploys.
	return awscodepipeline.NewVariable(&awscodepipeline.VariableProps{VariableName: jsii.String(name), Description: jsii.String(description)})
}

func executionMode(m string) awscodepipeline.ExecutionMode {
	switch m {
	case "SUPERSEDED":
		return awscodepipeline.ExecutionMode_SUPERSEDED
	case "PARALLEL":
		return awscodepipeline.ExecutionMode_PARALLEL
	}
	return awscodepipeline.ExecutionMode_QUEUED
}
