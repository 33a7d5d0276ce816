package main

import (
	"strings"

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
			if strings.HasPrefix(re, "/") {
				a = append(a, &cdknag.RegexAppliesTo{Regex: jsii.String(re)})
			} else {
				a = append(a, re) // an exact finding id
			}
		}
		s.AppliesTo = &a
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// artifactActions are the action patterns of CDK's grants to an artifact
// bucket and its key.
const artifactActions = `/^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)|kms:(GenerateDataKey|ReEncrypt))\*$/`

// artifactObjects matches the objects of this app's artifact bucket only.
func (ap *app) artifactObjects() string {
	return `/^Resource::<` + cfnID(ap.cfg.Name) + `Artifacts[0-9A-F]{8}\.Arn>\/\*$/`
}

// suppressPipeline covers a pipeline's role, its CDK-made action roles (build,
// ECR source, approval) and their policies: CDK's grants to this app's own
// artifact bucket and key. No "*" resource is suppressed here.
func (ap *app) suppressPipeline(c constructs.IConstruct) {
	suppress(c, "AwsSolutions-IAM5",
		"CDK's grants to "+ap.cfg.Name+"'s own artifact bucket and KMS key: object-level actions on objects whose keys CodePipeline generates per execution; no other app's bucket or key is reachable",
		artifactActions, ap.artifactObjects())
}

// suppressProject covers a CodeBuild project's role policy: CDK's grants to
// this app's artifact bucket and key, and CodeBuild's own log and report
// permissions. The unscoped actions are in a policy of their own (wildcard).
func (ap *app) suppressProject(project constructs.IConstruct) {
	suppress(project, "AwsSolutions-IAM5",
		"CDK's grants to "+ap.cfg.Name+"'s own artifact bucket and KMS key: object-level actions on objects named per execution",
		artifactActions, ap.artifactObjects())
	suppress(project, "AwsSolutions-IAM5",
		"CodeBuild's default log-stream and report-group permissions, scoped to names that start with this project's name",
		`/^Resource::arn:<AWS::Partition>:logs:[a-z0-9-]+:[0-9]+:log-group:\/aws\/codebuild\/<[A-Za-z0-9]+>:\*$/`,
		`/^Resource::arn:<AWS::Partition>:codebuild:[a-z0-9-]+:[0-9]+:report-group\/<[A-Za-z0-9]+>-\*$/`)
}
