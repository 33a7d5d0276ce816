package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// The pipelines' source and deploy actions run with roles written here, passed
// to CDK without policy updates (Role.WithoutPolicyUpdates): CDK's own grants
// for the ECS deploy action are ecs:* actions and iam:PassRole on "*", and its
// connection grant uses the codestar-connections prefix whatever the ARN's.
// Each role trusts only its pipeline's role, and holds exactly these statements.

// statement is a policy statement; conditions may be nil.
func statement(sid string, conditions map[string]any, actions ...string) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: jsii.Strings("*")}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}

// scoped is a statement on the given resources.
func scoped(sid string, resources []*string, actions ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: &resources})
}

// wildcard attaches statements on "*" to role in a policy of their own, and
// suppresses cdk-nag's wildcard-resource finding on that policy only: their
// actions take no resource in the Service Authorization Reference (or, for
// ecs:ListTasks, only a cluster condition). A "*" added anywhere else, such as
// the role's default policy, stays a finding and fails make synth.
func wildcard(scope constructs.Construct, id string, role awsiam.IRole, statements ...awsiam.PolicyStatement) {
	var actions []string
	for _, st := range statements {
		for _, a := range *st.Actions() {
			actions = append(actions, *a)
		}
	}
	p := awsiam.NewPolicy(scope, jsii.String(id), &awsiam.PolicyProps{Roles: &[]awsiam.IRole{role}, Statements: &statements})
	suppress(p, "AwsSolutions-IAM5",
		"Only "+strings.Join(actions, ", ")+" on \"*\": the Service Authorization Reference lists no resource type for these actions (ecs:ListTasks is limited by its ecs:cluster condition instead)",
		`/^Resource::\*$/`)
}

// actionRole is a role only the pipeline's role may assume.
func actionRole(scope constructs.Construct, id string, pipelineRole awsiam.IRole, description string) awsiam.Role {
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewArnPrincipal(pipelineRole.RoleArn()),
		Description: jsii.String(description),
	})
}

// deployRole is the ECS deploy action's role: the one service, its family's
// task definitions, the task and execution roles the config names, and reading
// this app's artifacts.
func (ap *app) deployRole(scope constructs.Construct, pipelineRole awsiam.IRole, s *shared, e *config.Environment) awsiam.IRole {
	cfg := s.cfg
	arn := func(resource string) *string {
		return jsii.String(fmt.Sprintf("arn:%s:ecs:%s:%s:%s", *awscdk.Aws_PARTITION(), cfg.Region, cfg.Account, resource))
	}
	role := actionRole(scope, "Deploy", pipelineRole, "pipebridge: deploy "+ap.cfg.Name+" to ECS service "+e.Cluster+"/"+e.Service)
	role.AddToPolicy(scoped("UpdateOneService", []*string{serviceARN(cfg, e)}, "ecs:DescribeServices", "ecs:UpdateService"))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TagItsFamilysRevisions"),
		Actions:    jsii.Strings("ecs:TagResource"),
		Resources:  &[]*string{arn("task-definition/" + e.Family + ":*")},
		Conditions: &map[string]any{"StringEquals": map[string]any{"ecs:CreateAction": "RegisterTaskDefinition"}},
	}))
	role.AddToPolicy(scoped("WatchItsClustersTasks", []*string{arn("task/" + e.Cluster + "/*")}, "ecs:DescribeTasks"))
	var pass []*string
	for _, r := range []string{e.TaskRoleARN, e.ExecutionRoleARN} {
		if r != "" {
			pass = append(pass, jsii.String(r))
		}
	}
	if len(pass) > 0 {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PassTheTaskRoles"),
			Actions:    jsii.Strings("iam:PassRole"),
			Resources:  &pass,
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
		}))
	}
	role.AddToPolicy(scoped("ReadImageDefinitions", []*string{ap.artifacts.ArnForObjects(jsii.String("*"))}, "s3:GetObject", "s3:GetObjectVersion"))
	role.AddToPolicy(scoped("DecryptArtifacts", []*string{ap.key.KeyArn()}, "kms:Decrypt"))
	partitioned := func(resource string) string {
		return fmt.Sprintf("Resource::arn:<AWS::Partition>:ecs:%s:%s:%s", cfg.Region, cfg.Account, resource)
	}
	suppress(role, "AwsSolutions-IAM5",
		"Scoped to this environment: the revisions of its task definition family (tagged only while registering them), the tasks of its cluster, and the objects of its app's artifact bucket",
		partitioned("task-definition/"+e.Family+":*"), partitioned("task/"+e.Cluster+"/*"), ap.artifactObjects())
	wildcard(scope, "DeployUnscoped", role,
		statement("TaskDefinitions", nil, "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"),
		statement("ListTasksInItsCluster", map[string]any{"ArnEquals": map[string]any{"ecs:cluster": *arn("cluster/" + e.Cluster)}}, "ecs:ListTasks"))
	return role.WithoutPolicyUpdates(&awsiam.WithoutPolicyUpdatesOptions{})
}

// connectionAction is the UseConnection action whose service prefix matches the
// connection ARN's: AWS renamed CodeStar Connections to CodeConnections, and a
// grant with the other prefix does not authorize the call.
func connectionAction(connectionARN string) string {
	if strings.Contains(connectionARN, ":codestar-connections:") {
		return "codestar-connections:UseConnection"
	}
	return "codeconnections:UseConnection"
}

// connectionSourceRole is the GitHub source action's role: the one connection,
// and writing the source artifact to this app's bucket.
func (ap *app) connectionSourceRole(scope constructs.Construct, pipelineRole awsiam.IRole, connectionARN string) awsiam.IRole {
	role := actionRole(scope, "Source", pipelineRole, "pipebridge: check out "+ap.cfg.GitHub+" through the CodeConnections connection")
	role.AddToPolicy(scoped("UseTheConnection", []*string{jsii.String(connectionARN)}, connectionAction(connectionARN)))
	role.AddToPolicy(scoped("WriteSourceArtifact", []*string{ap.artifacts.ArnForObjects(jsii.String("*"))},
		"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl"))
	role.AddToPolicy(scoped("ArtifactBucket", []*string{ap.artifacts.BucketArn()}, "s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketVersioning"))
	role.AddToPolicy(scoped("EncryptArtifacts", []*string{ap.key.KeyArn()}, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"))
	suppress(role, "AwsSolutions-IAM5", "The objects of its app's artifact bucket, named per execution by CodePipeline", ap.artifactObjects())
	return role.WithoutPolicyUpdates(&awsiam.WithoutPolicyUpdatesOptions{})
}

// removeECRSourceRule deletes the EventBridge rule (and its role) that CDK's
// ECR source action adds to start the pipeline on a push of its tag: routes
// start image pipelines, through the ecrpush Lambda, and nothing else may.
func removeECRSourceRule(pipeline awscodepipeline.Pipeline) {
	for _, c := range *pipeline.Node().FindAll(constructs.ConstructOrder_POSTORDER) {
		if id := *c.Node().Id(); strings.HasSuffix(id, "SourceEventRule") {
			c.Node().Scope().Node().TryRemoveChild(jsii.String(id))
		}
	}
	pipeline.Node().TryRemoveChild(jsii.String("EventsRole"))
}
