package codepipeline

// The Lambda invoke action, as CodePipeline's user guide ("Invoke an AWS Lambda
// function in a pipeline") and API reference describe it. CodePipeline invokes
// the function with a "CodePipeline.job" event: the job id, the account, the
// action's configuration (FunctionName, UserParameters), the input and output
// artifacts (S3 locations of zip files), temporary artifactCredentials, the
// continuationToken of a job that continues an earlier one, and the artifact
// store's encryptionKey. The function answers with PutJobSuccessResult or
// PutJobFailureResult:
//
//   - jobId is required and must match [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12};
//     an unknown job is JobNotFoundException, a job already answered
//     InvalidJobStateException.
//   - PutJobSuccessResult: continuationToken 1-2048 characters;
//     executionDetails.summary 1-2048, percentComplete 0-100,
//     externalExecutionId 1-1500; outputVariables keys match [A-Za-z0-9@\-_]+
//     and "can be included only when there is no continuation token";
//     currentRevision is accepted, not checked here. With a continuationToken
//     the action is not done: CodePipeline starts a new job with that token
//     (Continue).
//   - PutJobFailureResult: failureDetails required, its type one of JobFailed,
//     ConfigurationError, PermissionError, RevisionOutOfSync, RevisionUnavailable,
//     SystemUnavailable, its message 1-5000 characters.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"unicode/utf8"
)

// Artifact is an input or output artifact of a job: an S3 object.
type Artifact struct {
	Name, Bucket, Key string
}

// JobSpec is what a job event carries.
type JobSpec struct {
	Function, UserParameters string
	Inputs, Outputs          []Artifact
	// Credentials for the artifacts: access key id, secret, session token.
	AccessKeyID, SecretAccessKey, SessionToken string
	KMSKeyARN                                  string // empty: no encryptionKey
	ContinuationToken                          string
}

// JobResult is how the function answered a job.
type JobResult struct {
	Answered          bool
	Success           bool
	ContinuationToken string
	Summary           string
	FailureType       string
	Message           string
}

type jobState struct {
	spec   JobSpec
	result JobResult
}

var outputVariableRE = regexp.MustCompile(`^[A-Za-z0-9@\-_]+$`)

var failureTypes = []string{"JobFailed", "ConfigurationError", "PermissionError", "RevisionOutOfSync", "RevisionUnavailable", "SystemUnavailable"}

// NewJob creates a job and returns its id and the event CodePipeline would
// invoke the function with.
func (s *Server) NewJob(spec JobSpec) (id string, event []byte) {
	id = newID()
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[string]*jobState{}
	}
	s.jobs[id] = &jobState{spec: spec}
	s.mu.Unlock()
	artifacts := func(as []Artifact) []any {
		out := []any{}
		for _, a := range as {
			out = append(out, map[string]any{
				"name": a.Name, "revision": nil,
				"location": map[string]any{"type": "S3", "s3Location": map[string]string{"bucketName": a.Bucket, "objectKey": a.Key}},
			})
		}
		return out
	}
	data := map[string]any{
		"actionConfiguration": map[string]any{"configuration": map[string]string{"FunctionName": spec.Function, "UserParameters": spec.UserParameters}},
		"inputArtifacts":      artifacts(spec.Inputs),
		"outputArtifacts":     artifacts(spec.Outputs),
		"artifactCredentials": map[string]string{"accessKeyId": spec.AccessKeyID, "secretAccessKey": spec.SecretAccessKey, "sessionToken": spec.SessionToken},
	}
	if spec.ContinuationToken != "" {
		data["continuationToken"] = spec.ContinuationToken
	}
	if spec.KMSKeyARN != "" {
		data["encryptionKey"] = map[string]string{"id": spec.KMSKeyARN, "type": "KMS"}
	}
	event, _ = json.Marshal(map[string]any{"CodePipeline.job": map[string]any{"id": id, "accountId": "123456789012", "data": data}})
	return id, event
}

// Job returns how the function answered job id.
func (s *Server) Job(id string) JobResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.result
	}
	return JobResult{}
}

// Continue is what CodePipeline does after a success with a continuation
// token: a new job, with the same action and artifacts, carrying the token.
func (s *Server) Continue(id string) (newID string, event []byte, err error) {
	s.mu.Lock()
	j, ok := s.jobs[id]
	s.mu.Unlock()
	if !ok || !j.result.Success || j.result.ContinuationToken == "" {
		return "", nil, fmt.Errorf("job %s did not succeed with a continuation token: %+v", id, j)
	}
	spec := j.spec
	spec.ContinuationToken = j.result.ContinuationToken
	newID, event = s.NewJob(spec)
	return newID, event, nil
}

func (s *Server) putJobResult(w http.ResponseWriter, target string, body []byte) {
	var req struct {
		JobID             *string `json:"jobId"`
		ContinuationToken *string `json:"continuationToken"`
		ExecutionDetails  *struct {
			Summary             *string `json:"summary"`
			ExternalExecutionID *string `json:"externalExecutionId"`
			PercentComplete     *int    `json:"percentComplete"`
		} `json:"executionDetails"`
		FailureDetails *struct {
			Type                string  `json:"type"`
			Message             *string `json:"message"`
			ExternalExecutionID *string `json:"externalExecutionId"`
		} `json:"failureDetails"`
		CurrentRevision json.RawMessage   `json:"currentRevision"`
		OutputVariables map[string]string `json:"outputVariables"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	length := func(p *string, lo, hi int) bool {
		return p == nil || utf8.RuneCountInString(*p) >= lo && utf8.RuneCountInString(*p) <= hi
	}
	success := target == "PutJobSuccessResult"
	switch {
	case req.JobID == nil || !executionIDRE.MatchString(*req.JobID):
		s.reject(w, "ValidationException", "jobId: required, [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
		return
	case success && req.FailureDetails != nil, !success && (req.ContinuationToken != nil || req.ExecutionDetails != nil):
		s.reject(w, "ValidationException", "unknown field for "+target)
		return
	case success && !length(req.ContinuationToken, 1, 2048):
		s.reject(w, "ValidationException", "continuationToken: length 1-2048")
		return
	case success && req.ExecutionDetails != nil && (!length(req.ExecutionDetails.Summary, 1, 2048) || !length(req.ExecutionDetails.ExternalExecutionID, 1, 1500) ||
		req.ExecutionDetails.PercentComplete != nil && (*req.ExecutionDetails.PercentComplete < 0 || *req.ExecutionDetails.PercentComplete > 100)):
		s.reject(w, "ValidationException", "executionDetails: summary 1-2048, externalExecutionId 1-1500, percentComplete 0-100")
		return
	case success && len(req.OutputVariables) > 0 && req.ContinuationToken != nil:
		s.reject(w, "ValidationException", "outputVariables can be included only when there is no continuation token")
		return
	case success && slices.ContainsFunc(slices.Collect(maps.Keys(req.OutputVariables)), func(k string) bool { return !outputVariableRE.MatchString(k) }):
		s.reject(w, "ValidationException", "outputVariables: keys must match [A-Za-z0-9@\\-_]+")
		return
	case !success && req.FailureDetails == nil:
		s.reject(w, "ValidationException", "failureDetails: required")
		return
	case !success && !slices.Contains(failureTypes, req.FailureDetails.Type):
		s.reject(w, "ValidationException", fmt.Sprintf("failureDetails.type %q: want one of %v", req.FailureDetails.Type, failureTypes))
		return
	case !success && (req.FailureDetails.Message == nil || !length(req.FailureDetails.Message, 1, 5000) || !length(req.FailureDetails.ExternalExecutionID, 1, 1500)):
		s.reject(w, "ValidationException", "failureDetails: message required, 1-5000; externalExecutionId 1-1500")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[*req.JobID]
	switch {
	case !ok:
		awsError(w, http.StatusBadRequest, "JobNotFoundException", "The job was specified in an invalid format or cannot be found.")
		return
	case j.result.Answered:
		awsError(w, http.StatusBadRequest, "InvalidJobStateException", "The job state was specified in an invalid format.")
		return
	}
	r := JobResult{Answered: true, Success: success}
	if success {
		if req.ContinuationToken != nil {
			r.ContinuationToken = *req.ContinuationToken
		}
		if req.ExecutionDetails != nil && req.ExecutionDetails.Summary != nil {
			r.Summary = *req.ExecutionDetails.Summary
		}
	} else {
		r.FailureType, r.Message = req.FailureDetails.Type, *req.FailureDetails.Message
	}
	j.result = r
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write([]byte("{}"))
}
