package codepipeline

// GetPipelineExecution, as the API reference describes it
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineExecution.html):
// pipelineName (1-100 of [A-Za-z0-9.@\-_]) and pipelineExecutionId (a UUID) are
// required; an unknown pipeline answers PipelineNotFoundException, an unknown
// execution PipelineExecutionNotFoundException. The answer carries the
// execution's status (Cancelled, InProgress, Stopped, Stopping, Succeeded,
// Superseded, Failed), its artifact revisions, its resolved pipeline variables
// and its trigger. An execution started through the stand-in resolves the
// variables and source revisions it was started with (StartPipelineExecution
// as TriggerType "StartPipelineExecution"); SetExecution describes others.

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
)

// Revision is one artifact revision of an execution.
type Revision struct {
	Name            string `json:"name"`
	RevisionID      string `json:"revisionId"`
	RevisionSummary string `json:"revisionSummary,omitempty"`
	RevisionURL     string `json:"revisionUrl,omitempty"`
}

// ExecutionDetail is what GetPipelineExecution tells of an execution.
type ExecutionDetail struct {
	Status      string // default InProgress
	Variables   map[string]string
	Revisions   []Revision
	TriggerType string // default StartPipelineExecution
	// ExecutionType is STANDARD (default) or ROLLBACK (a stage rollback).
	ExecutionType string
}

var (
	executionIDRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	executionStatuses = []string{"Cancelled", "InProgress", "Stopped", "Stopping", "Succeeded", "Superseded", "Failed"}
)

// SetExecution records (or replaces) what GetPipelineExecution answers for the
// execution id of pipeline, which must be declared.
func (s *Server) SetExecution(pipeline, id string, d ExecutionDetail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.details == nil {
		s.details = map[string]ExecutionDetail{}
	}
	s.details[pipeline+"\x00"+id] = d
}

// SetStatus sets the status GetPipelineExecution reports for an execution the
// stand-in started (Succeeded, Failed...), keeping its variables and source
// revisions: a started execution is InProgress until a test moves it on.
func (s *Server) SetStatus(pipeline, id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses = map[string]string{}
	}
	s.statuses[pipeline+"\x00"+id] = status
}

// GetExecutionCalls counts GetPipelineExecution requests answered.
func (s *Server) GetExecutionCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getCalls
}

func (s *Server) getPipelineExecution(w http.ResponseWriter, body []byte) {
	var req struct {
		PipelineName        string `json:"pipelineName"`
		PipelineExecutionID string `json:"pipelineExecutionId"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if !pipelineNameRE.MatchString(req.PipelineName) {
		s.reject(w, "ValidationException", "pipelineName: must match [A-Za-z0-9.@\\-_]{1,100}")
		return
	}
	if !executionIDRE.MatchString(req.PipelineExecutionID) {
		s.reject(w, "ValidationException", "pipelineExecutionId: must be a UUID")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getCalls++
	if _, ok := s.pipelines[req.PipelineName]; !ok {
		awsError(w, http.StatusBadRequest, "PipelineNotFoundException", "Account does not have a pipeline with name '"+req.PipelineName+"'")
		return
	}
	d, ok := s.details[req.PipelineName+"\x00"+req.PipelineExecutionID]
	if !ok {
		for _, e := range s.executions {
			if e.ID == req.PipelineExecutionID && e.Request.Name == req.PipelineName {
				d, ok = ExecutionDetail{Variables: map[string]string{}}, true
				for _, v := range e.Request.Variables {
					d.Variables[v.Name] = v.Value
				}
				for _, sr := range e.Request.SourceRevisions {
					d.Revisions = append(d.Revisions, Revision{Name: sr.ActionName + "Artifact", RevisionID: sr.RevisionValue})
				}
				d.Status = s.statuses[req.PipelineName+"\x00"+req.PipelineExecutionID]
			}
		}
	}
	if !ok {
		awsError(w, http.StatusBadRequest, "PipelineExecutionNotFoundException",
			"Pipeline execution "+req.PipelineExecutionID+" for pipeline "+req.PipelineName+" does not exist")
		return
	}
	if d.Status == "" {
		d.Status = "InProgress"
	}
	if !slices.Contains(executionStatuses, d.Status) {
		awsError(w, http.StatusInternalServerError, "InternalFailure", "stand-in misconfigured: status "+d.Status)
		return
	}
	if d.ExecutionType == "" {
		d.ExecutionType = "STANDARD"
	}
	if d.ExecutionType != "STANDARD" && d.ExecutionType != "ROLLBACK" {
		awsError(w, http.StatusInternalServerError, "InternalFailure", "stand-in misconfigured: executionType "+d.ExecutionType)
		return
	}
	if d.TriggerType == "" {
		d.TriggerType = "StartPipelineExecution"
	}
	vars := []map[string]string{}
	for k, v := range d.Variables {
		vars = append(vars, map[string]string{"name": k, "resolvedValue": v})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(map[string]any{"pipelineExecution": map[string]any{
		"pipelineName": req.PipelineName, "pipelineVersion": 1, "pipelineExecutionId": req.PipelineExecutionID,
		"status": d.Status, "executionType": d.ExecutionType, "artifactRevisions": append([]Revision{}, d.Revisions...), "variables": vars,
		"trigger":       map[string]string{"triggerType": d.TriggerType, "triggerDetail": "pipebridge stand-in"},
		"executionMode": "QUEUED",
	}})
}
