package codepipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
)

func TestStandInEnforcesTheAPI(t *testing.T) {
	s := Start(Pipeline{Name: "web", Variables: []string{"TAG"}, SourceActions: []string{"Source"}})
	defer s.Close()
	client := s.Client(func(o *codepipeline.Options) { o.RetryMaxAttempts = 1 })
	v := func(n, val string) types.PipelineVariable {
		return types.PipelineVariable{Name: aws.String(n), Value: aws.String(val)}
	}
	many := make([]types.PipelineVariable, 51)
	for i := range many {
		many[i] = v("TAG", "x")
	}
	tests := []struct {
		name string
		in   codepipeline.StartPipelineExecutionInput
		want string // "" for success
	}{
		{"valid", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), ClientRequestToken: aws.String("abc-123"),
			Variables:       []types.PipelineVariable{v("TAG", "v1")},
			SourceRevisions: []types.SourceRevisionOverride{{ActionName: aws.String("Source"), RevisionType: types.SourceRevisionTypeCommitId, RevisionValue: aws.String("c0ffee")}}}, ""},
		{"unknown pipeline", codepipeline.StartPipelineExecutionInput{Name: aws.String("api")}, "PipelineNotFoundException"},
		{"bad name", codepipeline.StartPipelineExecutionInput{Name: aws.String("web prod")}, "name"},
		{"bad token", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), ClientRequestToken: aws.String("a_b")}, "clientRequestToken"},
		{"long token", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), ClientRequestToken: aws.String(strings.Repeat("a", 129))}, "clientRequestToken"},
		{"undeclared variable", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("OTHER", "x")}}, "does not declare variable OTHER"},
		{"empty value", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("TAG", "")}}, "value has length 0"},
		{"1,001 characters", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("TAG", strings.Repeat("x", 1001))}}, "value has length 1001"},
		{"600 non-ASCII characters (1,200 bytes)", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("TAG", strings.Repeat("é", 600))}}, ""},
		{"newline in a value", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("TAG", "v1\n")}}, "fails the pattern"},
		{"U+2028 in a value", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: []types.PipelineVariable{v("TAG", "v1\u2028")}}, "fails the pattern"},
		{"51 variables", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"), Variables: many}, "at most 50"},
		{"bad revision type", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"),
			SourceRevisions: []types.SourceRevisionOverride{{ActionName: aws.String("Source"), RevisionType: "BRANCH", RevisionValue: aws.String("main")}}}, "revisionType"},
		{"unknown source action", codepipeline.StartPipelineExecutionInput{Name: aws.String("web"),
			SourceRevisions: []types.SourceRevisionOverride{{ActionName: aws.String("Image"), RevisionType: types.SourceRevisionTypeImageDigest, RevisionValue: aws.String("sha256:a")}}}, "no source action Image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client.StartPipelineExecution(context.Background(), &tt.in)
			if tt.want == "" {
				if err != nil || aws.ToString(out.PipelineExecutionId) == "" {
					t.Fatalf("got %v, want an execution id", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// The same token again returns the same execution and starts none.
	in := tests[0].in
	first, _ := client.StartPipelineExecution(context.Background(), &in)
	if len(s.Executions()) != 2 || aws.ToString(first.PipelineExecutionId) != s.Executions()[0].ID {
		t.Errorf("a repeated token started a second execution")
	}
	s.Throttle(1)
	if _, err := client.StartPipelineExecution(context.Background(), &in); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("throttle: got %v", err)
	}
}

func TestStandInGetPipelineExecution(t *testing.T) {
	s := Start(Pipeline{Name: "web", Variables: []string{"TAG"}, SourceActions: []string{"Source"}})
	defer s.Close()
	c := s.Client(func(o *codepipeline.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	started, err := c.StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String("web"),
		Variables:       []types.PipelineVariable{{Name: aws.String("TAG"), Value: aws.String("v1")}},
		SourceRevisions: []types.SourceRevisionOverride{{ActionName: aws.String("Source"), RevisionType: types.SourceRevisionTypeCommitId, RevisionValue: aws.String("abc")}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("web"), PipelineExecutionId: started.PipelineExecutionId})
	if err != nil {
		t.Fatal(err)
	}
	pe := got.PipelineExecution
	if pe.Status != types.PipelineExecutionStatusInProgress || aws.ToString(pe.Variables[0].ResolvedValue) != "v1" || aws.ToString(pe.ArtifactRevisions[0].RevisionId) != "abc" {
		t.Errorf("execution %+v", pe)
	}
	var nf *types.PipelineExecutionNotFoundException
	if _, err := c.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("web"), PipelineExecutionId: aws.String("00000000-0000-4000-8000-000000000000")}); !errors.As(err, &nf) {
		t.Errorf("unknown execution: %v", err)
	}
	var ve *types.ValidationException
	if _, err := c.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("web"), PipelineExecutionId: aws.String("not-a-uuid")}); !errors.As(err, &ve) {
		t.Errorf("malformed id: %v", err)
	}
	var pnf *types.PipelineNotFoundException
	if _, err := c.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("other"), PipelineExecutionId: started.PipelineExecutionId}); !errors.As(err, &pnf) {
		t.Errorf("unknown pipeline: %v", err)
	}
}

// A template whose stage has two entry conditions, or six rules in one, is one
// CodePipeline refuses: FromTemplate says so.
func TestFromTemplateChecksConditions(t *testing.T) {
	rule := `{"Name":"R"}`
	tmpl := func(entry string) []byte {
		return []byte(`{"Resources":{"P":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"Name":"web","Stages":[{"Name":"Deploy","Actions":[],"BeforeEntry":` + entry + `}]}}}}`)
	}
	for _, tt := range []struct{ entry, want string }{
		{`{"Conditions":[{"Result":"FAIL","Rules":[` + rule + `]}]}`, ""},
		{`{"Conditions":[{"Result":"FAIL","Rules":[` + rule + `]},{"Result":"FAIL","Rules":[` + rule + `]}]}`, "BeforeEntry has 2 conditions"},
		{`{"Conditions":[{"Result":"FAIL","Rules":[` + strings.Repeat(rule+",", 5) + rule + `]}]}`, "6 rules"},
		{`{"Conditions":[{"Result":"ROLLBACK","Rules":[` + rule + `]}]}`, `result "ROLLBACK"`},
	} {
		_, err := FromTemplate(tmpl(tt.entry))
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.entry, err, tt.want)
		}
	}
}

func TestStandInJobs(t *testing.T) {
	s := Start()
	defer s.Close()
	client := s.Client(func(o *codepipeline.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	id, event := s.NewJob(JobSpec{Function: "f", UserParameters: `{"do":"x"}`, Inputs: []Artifact{{Name: "In", Bucket: "b", Key: "k"}}, KMSKeyARN: "arn:aws:kms:us-east-1:123456789012:key/k"})
	for _, want := range []string{`"CodePipeline.job"`, `"id":"` + id + `"`, `"UserParameters":"{\"do\":\"x\"}"`, `"bucketName":"b"`, `"type":"KMS"`} {
		if !strings.Contains(string(event), want) {
			t.Errorf("event lacks %s: %s", want, event)
		}
	}
	var invalid *types.ValidationException
	if _, err := client.PutJobSuccessResult(ctx, &codepipeline.PutJobSuccessResultInput{JobId: aws.String(id), ContinuationToken: aws.String(`{"n":1}`),
		OutputVariables: map[string]string{"DIGEST": "sha256:x"}}); !errors.As(err, &invalid) {
		t.Errorf("output variables with a continuation token: %v, want ValidationException", err)
	}
	if _, err := client.PutJobSuccessResult(ctx, &codepipeline.PutJobSuccessResultInput{JobId: aws.String(id), ContinuationToken: aws.String(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	var state *types.InvalidJobStateException
	if _, err := client.PutJobSuccessResult(ctx, &codepipeline.PutJobSuccessResultInput{JobId: aws.String(id)}); !errors.As(err, &state) {
		t.Errorf("second answer: %v, want InvalidJobStateException", err)
	}
	next, event, err := s.Continue(id)
	if err != nil || !strings.Contains(string(event), `"continuationToken":"{\"n\":1}"`) {
		t.Fatalf("continue: %v %s", err, event)
	}
	var notFound *types.JobNotFoundException
	if _, err := client.PutJobFailureResult(ctx, &codepipeline.PutJobFailureResultInput{JobId: aws.String("00000000-0000-0000-0000-000000000000"),
		FailureDetails: &types.FailureDetails{Type: types.FailureTypeJobFailed, Message: aws.String("m")}}); !errors.As(err, &notFound) {
		t.Errorf("unknown job: %v", err)
	}
	if _, err := client.PutJobFailureResult(ctx, &codepipeline.PutJobFailureResultInput{JobId: aws.String(next),
		FailureDetails: &types.FailureDetails{Type: "Oops", Message: aws.String("m")}}); !errors.As(err, &invalid) {
		t.Errorf("bad failure type: %v", err)
	}
	if _, err := client.PutJobFailureResult(ctx, &codepipeline.PutJobFailureResultInput{JobId: aws.String(next),
		FailureDetails: &types.FailureDetails{Type: types.FailureTypeJobFailed, Message: aws.String("older")}}); err != nil {
		t.Fatal(err)
	}
	if r := s.Job(next); !r.Answered || r.Success || r.FailureType != "JobFailed" || r.Message != "older" {
		t.Errorf("job result %+v", r)
	}
}

// ListActionExecutions: the API reference's bounds and errors, newest first,
// and pages through nextToken.
func TestStandInListActionExecutions(t *testing.T) {
	s := Start(Pipeline{Name: "web"})
	defer s.Close()
	client := s.Client(func(o *codepipeline.Options) { o.RetryMaxAttempts = 1 })
	const x = "2b3c4d5e-6f70-4a8b-9cad-becfd0e1f203"
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s.AddActionExecutions("web", x,
		ActionExecution{Stage: "Build", Action: "Build", Category: "Build", Status: "Failed", Updated: at},
		ActionExecution{Stage: "Build", Action: "Build", Category: "Build", Status: "Succeeded", OutputVariables: map[string]string{"IMAGE_DIGEST": "sha256:x"}, Updated: at.Add(time.Hour)},
		ActionExecution{Stage: "Deploy", Action: "Deploy", Category: "Deploy", Status: "InProgress", Updated: at.Add(2 * time.Hour)},
	)
	filter := &types.ActionExecutionFilter{PipelineExecutionId: aws.String(x)}
	page, err := client.ListActionExecutions(context.Background(), &codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), Filter: filter, MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.ActionExecutionDetails) != 2 || page.ActionExecutionDetails[0].Status != types.ActionExecutionStatusInProgress ||
		page.ActionExecutionDetails[1].Output.OutputVariables["IMAGE_DIGEST"] != "sha256:x" || page.NextToken == nil {
		t.Fatalf("first page %+v", page)
	}
	next, err := client.ListActionExecutions(context.Background(), &codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), Filter: filter, NextToken: page.NextToken})
	if err != nil || len(next.ActionExecutionDetails) != 1 || next.ActionExecutionDetails[0].Status != types.ActionExecutionStatusFailed || next.NextToken != nil {
		t.Fatalf("second page %+v, %v", next, err)
	}
	for _, tt := range []struct {
		name string
		in   codepipeline.ListActionExecutionsInput
		want string
	}{
		{"maxResults 0", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), MaxResults: aws.Int32(0)}, "maxResults"},
		{"maxResults 101", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), MaxResults: aws.Int32(101)}, "maxResults"},
		{"bad name", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web prod")}, "pipelineName"},
		{"unknown pipeline", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("api")}, "PipelineNotFoundException"},
		{"unknown execution", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), Filter: &types.ActionExecutionFilter{PipelineExecutionId: aws.String("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")}}, "PipelineExecutionNotFoundException"},
		{"execution not a UUID", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), Filter: &types.ActionExecutionFilter{PipelineExecutionId: aws.String("x")}}, "UUID"},
		{"forged token", codepipeline.ListActionExecutionsInput{PipelineName: aws.String("web"), NextToken: aws.String("99")}, "InvalidNextTokenException"},
	} {
		_, err := client.ListActionExecutions(context.Background(), &tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
