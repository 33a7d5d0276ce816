package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// unpushedTag is the tag the ECR source action watches. CDK's ECR source action
// always adds a rule that starts the pipeline when that tag is pushed; the
// ecrpush Lambda starts image pipelines instead, with the pushed digest, so the
// action watches a tag that nobody pushes.
const unpushedTag = "pipebridge-started-by-lambda"

// app is one application's constructs.
type app struct {
	repository awsecr.IRepository
	pipelines  []string
}

func newApp(stack awscdk.Stack, a *config.App, s *shared) *app {
	scope := constructs.NewConstruct(stack, jsii.String(cfnID(a.Name)))
	out := &app{repository: newRepository(scope, a)}
	awscdk.NewCfnOutput(stack, jsii.String(cfnID(a.Name)+"RepositoryUri"), &awscdk.CfnOutputProps{
		Value: out.repository.RepositoryUri(), Description: jsii.String(a.Name + ": ECR repository URI"),
	})

	var build, imagedefs awscodebuild.PipelineProject
	for j := range a.Environments {
		e := &a.Environments[j]
		if e.Trigger.On == "image" {
			if imagedefs == nil {
				imagedefs = newImagedefsProject(scope, a, s, out.repository)
			}
		} else if build == nil {
			build = newBuildProject(scope, a, s, out.repository)
		}
		out.pipelines = append(out.pipelines, newPipeline(scope, a, e, s, out.repository, build, imagedefs))
	}
	return out
}

// newRepository creates the app's repository (immutable tags, scan on push,
// encrypted, with a lifecycle policy) or imports an existing one.
func newRepository(scope constructs.Construct, a *config.App) awsecr.IRepository {
	if a.ECR.Import {
		return awsecr.Repository_FromRepositoryName(scope, jsii.String("Repository"), jsii.String(a.ECR.Repository))
	}
	repo := awsecr.NewRepository(scope, jsii.String("Repository"), &awsecr.RepositoryProps{
		RepositoryName:     jsii.String(a.ECR.Repository),
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

// buildLogs is a build project's log group, with the configured retention.
func buildLogs(scope constructs.Construct, id string, s *shared) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     s.logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// newBuildProject runs buildspec.yml: build, push, scan gate, imagedefinitions.json.
func newBuildProject(scope constructs.Construct, a *config.App, s *shared, repo awsecr.IRepository) awscodebuild.PipelineProject {
	env := map[string]*awscodebuild.BuildEnvironmentVariable{
		"REPOSITORY_URI":     {Value: repo.RepositoryUri()},
		"CONTAINER_NAME":     {Value: jsii.String(a.Containers[0])},
		"PIPEBRIDGE_CLI_URL": {Value: s.cli.S3ObjectUrl()},
	}
	if a.BuildSecretsRoleARN != "" {
		env["BUILD_SECRETS_ROLE_ARN"] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(a.BuildSecretsRoleARN)}
	}
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
		EncryptionKey:        s.key,
		Timeout:              awscdk.Duration_Minutes(jsii.Number(60)),
		Logging:              &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: buildLogs(scope, "Build", s)}},
	})
	repo.GrantPullPush(p)
	suppressBuildProject(p)
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
	s.cli.GrantRead(p)
	return p
}

// newImagedefsProject turns an ECR source action's imageDetail.json into the
// deploy artifact. An image pipeline has no application source to build the CLI
// from, so the project downloads it: the same binary, uploaded as an asset.
func newImagedefsProject(scope constructs.Construct, a *config.App, s *shared, repo awsecr.IRepository) awscodebuild.PipelineProject {
	spec := map[string]any{
		"version": "0.2",
		"phases": map[string]any{
			"install": map[string]any{"commands": []any{
				`aws s3 cp "$PIPEBRIDGE_CLI_URL" /usr/local/bin/pipebridge && chmod 0755 /usr/local/bin/pipebridge`,
			}},
			"build": map[string]any{"commands": []any{
				`pipebridge imagedefs --container "$CONTAINER_NAME" --source-image-detail "$CODEBUILD_SRC_DIR/imageDetail.json" --output imagedefinitions.json`,
			}},
		},
		"artifacts": map[string]any{"files": []any{"imagedefinitions.json"}},
	}
	env := map[string]*awscodebuild.BuildEnvironmentVariable{
		"CONTAINER_NAME":     {Value: jsii.String(a.Containers[0])},
		"PIPEBRIDGE_CLI_URL": {Value: s.cli.S3ObjectUrl()},
	}
	p := awscodebuild.NewPipelineProject(scope, jsii.String("Imagedefs"), &awscodebuild.PipelineProjectProps{
		ProjectName: jsii.String(a.Name + "-imagedefs"),
		Description: jsii.String("pipebridge: pin the pushed image of " + a.Name + " for the ECS deploy"),
		BuildSpec:   awscodebuild.BuildSpec_FromObjectToYaml(&spec),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxArmBuildImage_AMAZON_LINUX_2023_STANDARD_3_0(),
			ComputeType: awscodebuild.ComputeType_SMALL,
		},
		EnvironmentVariables: &env,
		EncryptionKey:        s.key,
		Timeout:              awscdk.Duration_Minutes(jsii.Number(10)),
		Logging:              &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: buildLogs(scope, "Imagedefs", s)}},
	})
	suppressBuildProject(p)
	p.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ResolveDigest"),
		Actions:   jsii.Strings("ecr:DescribeImages"),
		Resources: jsii.Strings(*repo.RepositoryArn()),
	}))
	s.cli.GrantRead(p)
	return p
}

// newPipeline is one environment's pipeline: Source, Build, [Approve], Deploy.
func newPipeline(scope constructs.Construct, a *config.App, e *config.Environment, s *shared, repo awsecr.IRepository, build, imagedefs awscodebuild.PipelineProject) string {
	cfg := s.cfg
	name := config.PipelineName(a, e)
	id := cfnID(e.Name)
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	built := awscodepipeline.NewArtifact(jsii.String("ImageDefinitions"), nil)
	props := &awscodepipeline.PipelineProps{
		PipelineName:             jsii.String(name),
		PipelineType:             awscodepipeline.PipelineType_V2,
		ExecutionMode:            executionMode(a.ExecutionMode),
		ArtifactBucket:           s.artifacts,
		RestartExecutionOnUpdate: jsii.Bool(false),
	}
	var stages []*awscodepipeline.StageProps
	switch e.Trigger.On {
	case "image":
		src := awscodepipelineactions.NewEcrSourceAction(&awscodepipelineactions.EcrSourceActionProps{
			ActionName: jsii.String(config.ECRSourceAction), Repository: repo, ImageTag: jsii.String(unpushedTag), Output: source,
		})
		stages = append(stages,
			&awscodepipeline.StageProps{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src}},
			&awscodepipeline.StageProps{StageName: jsii.String("Build"), Actions: &[]awscodepipeline.IAction{
				awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
					ActionName: jsii.String("Imagedefs"), Project: imagedefs, Input: source, Outputs: &[]awscodepipeline.Artifact{built},
				}),
			}},
		)
		props.Variables = &[]awscodepipeline.Variable{
			variable(config.VarImageTag, "image tag that started the execution (set by the ecrpush Lambda)"),
			variable(config.VarTriggerID, "EventBridge event id that started the execution"),
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
			// Branch pipelines start from the V2 trigger below; release and tag
			// pipelines only when ghrelease starts them with a commit.
			TriggerOnPush: jsii.Bool(false),
		})
		buildEnv := map[string]*awscodebuild.BuildEnvironmentVariable{}
		if e.Trigger.On != "branch" {
			buildEnv["RELEASE_TAG"] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String("#{variables." + config.VarReleaseTag + "}")}
			props.Variables = &[]awscodepipeline.Variable{
				variable(config.VarReleaseTag, "release or tag that started the execution (set by the ghrelease Lambda)"),
				variable(config.VarTriggerID, "GitHub delivery id that started the execution"),
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
		stages = append(stages,
			&awscodepipeline.StageProps{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src}},
			&awscodepipeline.StageProps{StageName: jsii.String("Build"), Actions: &[]awscodepipeline.IAction{
				awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
					ActionName: jsii.String("Build"), Project: build, Input: source, Outputs: &[]awscodepipeline.Artifact{built},
					EnvironmentVariables: &buildEnv,
				}),
			}},
		)
	}
	if e.Approval {
		stages = append(stages, &awscodepipeline.StageProps{StageName: jsii.String("Approve"), Actions: &[]awscodepipeline.IAction{
			awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{
				ActionName:            jsii.String("Approve"),
				AdditionalInformation: jsii.String(fmt.Sprintf("Deploy %s to %s (cluster %s, service %s)?", a.Name, e.Name, e.Cluster, e.Service)),
			}),
		}})
	}
	service := awsecs.BaseService_FromServiceArnWithCluster(scope, jsii.String(id+"Service"),
		jsii.String(fmt.Sprintf("arn:%s:ecs:%s:%s:service/%s/%s", *awscdk.Aws_PARTITION(), cfg.Region, cfg.Account, e.Cluster, e.Service)))
	stages = append(stages, &awscodepipeline.StageProps{StageName: jsii.String("Deploy"), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewEcsDeployAction(&awscodepipelineactions.EcsDeployActionProps{
			ActionName: jsii.String("Deploy"), Service: service, Input: built,
			DeploymentTimeout: awscdk.Duration_Minutes(jsii.Number(30)),
		}),
	}})
	props.Stages = &stages
	suppressPipeline(awscodepipeline.NewPipeline(scope, jsii.String(id+"Pipeline"), props))
	return name
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
