package main

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// cdk-nag's AwsSolutions rules run on the whole app (main.go). Where a finding
// does not apply, the resource that raises it records why, below; each
// suppression matches only the findings it names (a regular expression over
// cdk-nag's finding ids), so any new wildcard still fails the synth.

func suppress(c constructs.IConstruct, id, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		var a []any
		for _, re := range appliesTo {
			a = append(a, &cdknag.RegexAppliesTo{Regex: jsii.String(re)})
		}
		s.AppliesTo = &a
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// Patterns of the grants CDK writes for the artifact bucket and its key.
const (
	artifactActions = `/^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)|kms:(GenerateDataKey|ReEncrypt))\*$/`
	artifactObjects = `/^Resource::<Artifacts[0-9A-F]+\.Arn>\/\*$/`
)

// suppressPipeline covers a pipeline's role, its action roles and their policies.
func suppressPipeline(pipeline constructs.IConstruct) {
	suppress(pipeline, "AwsSolutions-IAM5",
		"CDK's grants to the pipeline's own artifact bucket and KMS key: object-level actions on objects whose keys CodePipeline generates per execution; no other bucket or key is reachable",
		artifactActions, artifactObjects)
	suppress(pipeline, "AwsSolutions-IAM5",
		"The ECS deploy action: ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition do not support resource-level permissions, and CDK conditions iam:PassRole on ecs-tasks.amazonaws.com",
		`/^Resource::\*$/`)
}

// suppressBuildProject covers a CodeBuild project's role policy.
func suppressBuildProject(project constructs.IConstruct) {
	suppress(project, "AwsSolutions-IAM5",
		"CDK's grants to the artifact bucket and KMS key (objects named per execution) and to the CDK asset bucket's objects, for reading the pipebridge CLI asset",
		artifactActions, artifactObjects, `/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[0-9]+-[a-z0-9-]+\/\*$/`)
	suppress(project, "AwsSolutions-IAM5",
		"CodeBuild's default log-stream and report-group permissions, scoped to names that start with this project's name",
		`/^Resource::arn:<AWS::Partition>:logs:[a-z0-9-]+:[0-9]+:log-group:\/aws\/codebuild\/<[A-Za-z0-9]+>:\*$/`,
		`/^Resource::arn:<AWS::Partition>:codebuild:[a-z0-9-]+:[0-9]+:report-group\/<[A-Za-z0-9]+>-\*$/`)
	suppress(project, "AwsSolutions-IAM5",
		"ecr:GetAuthorizationToken does not support resource-level permissions; pushes and scans are granted on the one repository",
		`/^Resource::\*$/`)
}
