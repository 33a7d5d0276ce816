package main

import (
	"testing"
)

// The image pipelines' Imagedefs step and every Guard stage are the
// pipelineaction function, told what to do in UserParameters; its role reads
// only what those pipelines name, and the pipelines' action roles may only
// invoke it and reach their app's artifacts.
func TestPipelineActionWiring(t *testing.T) {
	s := example(t)
	params := func(pipeline, stage string) string {
		for _, st := range s.pipeline(t, pipeline)["Stages"].([]any) {
			if get(st, "Name") == stage {
				return get(st, "Actions", 0, "Configuration", "UserParameters").(string)
			}
		}
		t.Fatalf("%s has no %s stage", pipeline, stage)
		return ""
	}
	for _, tt := range []struct{ pipeline, stage, want string }{
		{"worker-staging", "Build", `{"container":"worker","do":"imagedefs","scan":{"maxSeverity":"MEDIUM"},"service":"staging/worker"}`},
		{"worker-prod", "Build", `{"container":"worker","do":"imagedefs","scan":{"maxSeverity":"MEDIUM"},"service":"prod/worker"}`},
		{"web-prod", "Guard", `{"container":"web","do":"guard","execution":"#{codepipeline.PipelineExecutionId}","pipeline":"web-prod","service":"prod/web"}`},
		{"worker-prod", "Guard", `{"container":"worker","do":"guard","execution":"#{codepipeline.PipelineExecutionId}","pipeline":"worker-prod","service":"prod/worker"}`},
	} {
		if got := params(tt.pipeline, tt.stage); got != tt.want {
			t.Errorf("%s %s UserParameters\n got %s\nwant %s", tt.pipeline, tt.stage, got, tt.want)
		}
	}
	for _, st := range s.pipeline(t, "web-dev")["Stages"].([]any) {
		if get(st, "Name") == "Guard" {
			t.Error("web-dev (allowDowngrade: true) has a Guard stage")
		}
	}

	pipelineARN := func(name string) string {
		return partitionARN + `codepipeline:us-east-1:123456789012:` + name + `"]]}`
	}
	compareStatements(t, []stmt{
		{"Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{`{"Fn::GetAtt":["PipelineActionFunctionLogs*","Arn"]}`}, ""},
		{"", []string{"codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"}, []string{"*"}, ""},
		{"ImagesAndScans", []string{"ecr:DescribeImageScanFindings", "ecr:DescribeImages"}, []string{`{"Fn::GetAtt":["WebRepository*","Arn"]}`, `{"Fn::GetAtt":["WorkerRepository*","Arn"]}`}, ""},
		{"Services", []string{"ecs:DescribeServices"}, []string{ecsARN("service/prod/web"), ecsARN("service/prod/worker"), ecsARN("service/staging/web"), ecsARN("service/staging/worker")}, ""},
		{"RollbackOrNot", []string{"codepipeline:GetPipelineExecution"}, []string{pipelineARN("web-prod"), pipelineARN("web-staging"), pipelineARN("worker-prod"), pipelineARN("worker-staging")}, ""},
	}, s.policyOf(t, "PipelineActionFunctionRole", "PipelineActionFunctionRoleDefaultPolicy"))
	compareStatements(t, []stmt{{"TaskDefinitions", []string{"ecs:DescribeTaskDefinition"}, []string{"*"}, ""}},
		s.policyOf(t, "PipelineActionFunctionRole", "PipelineActionUnscoped"))

	compareStatements(t, []stmt{
		{"InvokeTheAction", []string{"lambda:InvokeFunction"}, []string{`{"Fn::GetAtt":["PipelineActionFunction*","Arn"]}`}, ""},
		{"ReadInput", []string{"s3:GetObject", "s3:GetObjectVersion"}, []string{`{"Fn::Join":["",[{"Fn::GetAtt":["WorkerArtifacts*","Arn"]},"/*"]]}`}, ""},
		{"WriteOutput", []string{"s3:PutObject"}, []string{`{"Fn::Join":["",[{"Fn::GetAtt":["WorkerArtifacts*","Arn"]},"/*"]]}`}, ""},
		{"ArtifactKey", []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}, []string{`{"Fn::GetAtt":["WorkerKey*","Arn"]}`}, ""},
	}, s.policyOf(t, "WorkerProdRolesImagedefs", "WorkerProdRolesImagedefsDefaultPolicy"))
	compareStatements(t, []stmt{
		{"InvokeTheAction", []string{"lambda:InvokeFunction"}, []string{`{"Fn::GetAtt":["PipelineActionFunction*","Arn"]}`}, ""},
		{"ReadInput", []string{"s3:GetObject", "s3:GetObjectVersion"}, []string{`{"Fn::Join":["",[{"Fn::GetAtt":["WebArtifacts*","Arn"]},"/*"]]}`}, ""},
		{"ArtifactKey", []string{"kms:Decrypt"}, []string{`{"Fn::GetAtt":["WebKey*","Arn"]}`}, ""},
	}, s.policyOf(t, "WebProdRolesGuard", "WebProdRolesGuardDefaultPolicy"))

	// No CodeBuild project turns imageDetail.json into imagedefinitions.json any more.
	for id, p := range s.resources("AWS::CodeBuild::Project") {
		if p["Name"] != "web-build" {
			t.Errorf("CodeBuild project %s (%v): only web's build should remain", id, p["Name"])
		}
	}
}
