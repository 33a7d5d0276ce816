package main

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// pipelineAction is the stack's one pipelineaction function, a CodePipeline
// Lambda invoke action: the imagedefs step of image pipelines (instead of a
// CodeBuild container) and the Guard stage before Deploy. Its role may read
// only the repositories, services and pipelines that use it (finish).
type pipelineAction struct {
	fn                          awslambda.Function
	role                        awsiam.Role
	scope                       constructs.Construct
	repos, services, executions []*string
}

// needsPipelineAction: an image pipeline, or any guarded Deploy.
func needsPipelineAction(cfg *config.Config) bool {
	for i := range cfg.Apps {
		for _, e := range cfg.Apps[i].Environments {
			if e.DeploysImages() || !e.AllowDowngrade {
				return true
			}
		}
	}
	return false
}

func newPipelineAction(stack awscdk.Stack, p *triggersProps, asset string) *pipelineAction {
	scope := constructs.NewConstruct(stack, jsii.String("PipelineAction"))
	fn, role := baseFunction(scope, "Function", p, asset, &awslambda.FunctionProps{
		Description: jsii.String("pipebridge: pipeline action (imagedefinitions.json from an ECR source; the guard before Deploy)"),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(60)),
		// Each job is a few API calls; at most one per running pipeline.
		MemorySize: jsii.Number(128),
	})
	// CodePipeline's LambdaInvokeAction adds PutJobSuccessResult and
	// PutJobFailureResult on "*" to this role's default policy (the actions
	// take no resource); finish checks that nothing else is on "*" there.
	suppress(role, "AwsSolutions-IAM5", "codepipeline:PutJobSuccessResult and PutJobFailureResult only, added by CDK's LambdaInvokeAction: the Service Authorization Reference lists no resource type for them", `/^Resource::\*$/`)
	return &pipelineAction{fn: fn, role: role, scope: scope}
}

// use records what one pipeline's action may read: its repository and
// service, and, for a guarded pipeline, its executions.
func (pa *pipelineAction) use(repoARN, service, pipelineARN *string) {
	pa.repos = append(pa.repos, repoARN)
	pa.services = append(pa.services, service)
	if pipelineARN != nil {
		pa.executions = append(pa.executions, pipelineARN)
	}
}

// finish writes the role's statements, once every pipeline is defined.
func (pa *pipelineAction) finish() {
	pa.role.AddToPolicy(scoped("ImagesAndScans", *jsii.Strings(dedupe(pa.repos)...), "ecr:DescribeImages", "ecr:DescribeImageScanFindings"))
	pa.role.AddToPolicy(scoped("Services", *jsii.Strings(dedupe(pa.services)...), "ecs:DescribeServices"))
	if len(pa.executions) > 0 {
		pa.role.AddToPolicy(scoped("RollbackOrNot", *jsii.Strings(dedupe(pa.executions)...), "codepipeline:GetPipelineExecution"))
	}
	wildcard(pa.scope, "Unscoped", pa.role, statement("TaskDefinitions", nil, "ecs:DescribeTaskDefinition"))
}

// invoke is a LambdaInvokeAction of the function, with a role of its own that
// the pipeline assumes: invoking the function, and the artifacts (the job's
// artifact credentials are this role's).
func (ap *app) invoke(scope constructs.Construct, id string, pa *pipelineAction, pipelineRole awsiam.IRole, params map[string]any, in awscodepipeline.Artifact, out awscodepipeline.Artifact) awscodepipeline.IAction {
	role := actionRole(scope, id, pipelineRole, "pipebridge: the "+id+" action (pipelineaction Lambda)")
	role.AddToPolicy(scoped("InvokeTheAction", []*string{pa.fn.FunctionArn()}, "lambda:InvokeFunction"))
	objects := []*string{ap.artifacts.ArnForObjects(jsii.String("*"))}
	role.AddToPolicy(scoped("ReadInput", objects, "s3:GetObject", "s3:GetObjectVersion"))
	keyActions := []string{"kms:Decrypt"}
	var outputs *[]awscodepipeline.Artifact
	if out != nil {
		role.AddToPolicy(scoped("WriteOutput", objects, "s3:PutObject"))
		keyActions = append(keyActions, "kms:Encrypt", "kms:GenerateDataKey")
		outputs = &[]awscodepipeline.Artifact{out}
	}
	role.AddToPolicy(scoped("ArtifactKey", []*string{ap.key.KeyArn()}, keyActions...))
	suppress(role, "AwsSolutions-IAM5", "The objects of its app's artifact bucket, named per execution by CodePipeline", ap.artifactObjects())
	wildcard(scope, id+"Unscoped", role, statement("FindTheFunction", nil, "lambda:ListFunctions"))
	up, err := json.Marshal(params)
	if err != nil {
		panic(fmt.Sprintf("action parameters: %v", err))
	}
	return awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
		ActionName: jsii.String(id), Lambda: pa.fn, Inputs: &[]awscodepipeline.Artifact{in}, Outputs: outputs,
		UserParametersString: jsii.String(string(up)),
		Role:                 role.WithoutPolicyUpdates(&awsiam.WithoutPolicyUpdatesOptions{}),
	})
}

// imagedefsParams is what the imagedefs action is told: the container, the
// service whose task definition must have it, and the scan gate (none when off).
func imagedefsParams(a *config.App, e *config.Environment) map[string]any {
	p := map[string]any{"do": "imagedefs", "container": a.Containers[0], "service": e.Cluster + "/" + e.Service}
	if g := e.ScanGate; !g.Off {
		scan := map[string]any{"maxSeverity": g.MaxSeverity}
		if len(g.Ignore) > 0 {
			scan["ignore"] = g.Ignore
		}
		if g.AllowUndefined {
			scan["allowUndefined"] = true
		}
		p["scan"] = scan
	}
	return p
}

// guardParams: the guard compares the container's image with what the service
// runs, and asks CodePipeline whether its execution is a rollback.
func guardParams(a *config.App, e *config.Environment, pipeline string) map[string]any {
	return map[string]any{
		"do": "guard", "container": a.Containers[0], "service": e.Cluster + "/" + e.Service,
		"pipeline": pipeline, "execution": "#{codepipeline.PipelineExecutionId}",
	}
}
