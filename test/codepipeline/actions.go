package codepipeline

// ListActionExecutions, as the API reference describes it
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html):
// pipelineName (1-100 of [A-Za-z0-9.@\-_]) is required; maxResults is 1-100
// (default 100); nextToken 1-2048 characters, one this stand-in returned
// (else InvalidNextTokenException); filter.pipelineExecutionId, when given, a
// UUID; filter.latestInPipelineExecution needs its pipelineExecutionId and a
// startTimeRange of Latest or All. An unknown pipeline answers
// PipelineNotFoundException, an unknown execution in the filter
// PipelineExecutionNotFoundException. Each ActionExecutionDetail carries the
// execution id, action execution id, stage and action names, times, status
// (InProgress, Abandoned, Succeeded, Failed), input.actionTypeId and
// output.outputVariables, newest first.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// ActionExecution is one action execution of a pipeline execution.
type ActionExecution struct {
	Stage, Action string
	// Category is the action type's category (Source, Build, Deploy, Invoke...).
	Category string
	// Status: InProgress, Abandoned, Succeeded or Failed.
	Status          string
	OutputVariables map[string]string
	// Updated is the action execution's last update (newest listed first).
	Updated time.Time
}

type recordedAction struct {
	execution, id string
	ActionExecution
}

var actionStatuses = []string{"InProgress", "Abandoned", "Succeeded", "Failed"}

// AddActionExecutions records action executions of a pipeline execution (a
// stage retried has several of one action).
func (s *Server) AddActionExecutions(pipeline, executionID string, xs ...ActionExecution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.actions == nil {
		s.actions = map[string][]recordedAction{}
	}
	for _, x := range xs {
		s.actions[pipeline] = append(s.actions[pipeline], recordedAction{execution: executionID, id: newID(), ActionExecution: x})
	}
}

func (s *Server) listActionExecutions(w http.ResponseWriter, body []byte) {
	var req struct {
		PipelineName string `json:"pipelineName"`
		MaxResults   *int   `json:"maxResults"`
		NextToken    string `json:"nextToken"`
		Filter       *struct {
			PipelineExecutionID string `json:"pipelineExecutionId"`
			Latest              *struct {
				PipelineExecutionID string `json:"pipelineExecutionId"`
				StartTimeRange      string `json:"startTimeRange"`
			} `json:"latestInPipelineExecution"`
		} `json:"filter"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	max := 100
	switch {
	case !pipelineNameRE.MatchString(req.PipelineName):
		s.reject(w, "ValidationException", "pipelineName: must match [A-Za-z0-9.@\\-_]{1,100}")
		return
	case req.MaxResults != nil && (*req.MaxResults < 1 || *req.MaxResults > 100):
		s.reject(w, "ValidationException", "maxResults: must be 1-100")
		return
	case len(req.NextToken) > 2048:
		s.reject(w, "ValidationException", "nextToken: at most 2048 characters")
		return
	}
	if req.MaxResults != nil {
		max = *req.MaxResults
	}
	execution := ""
	if f := req.Filter; f != nil {
		execution = f.PipelineExecutionID
		if l := f.Latest; l != nil {
			if !executionIDRE.MatchString(l.PipelineExecutionID) || (l.StartTimeRange != "Latest" && l.StartTimeRange != "All") {
				s.reject(w, "ValidationException", "filter.latestInPipelineExecution: needs a pipelineExecutionId and startTimeRange Latest or All")
				return
			}
			execution = l.PipelineExecutionID
		}
		if execution != "" && !executionIDRE.MatchString(execution) {
			s.reject(w, "ValidationException", "filter.pipelineExecutionId: must be a UUID")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pipelines[req.PipelineName]; !ok {
		awsError(w, http.StatusBadRequest, "PipelineNotFoundException", "Account does not have a pipeline with name '"+req.PipelineName+"'")
		return
	}
	var out []recordedAction
	known := false
	for _, a := range s.actions[req.PipelineName] {
		if execution == "" || a.execution == execution {
			known = true
			out = append(out, a)
		}
	}
	if execution != "" && !known {
		_, started := s.details[req.PipelineName+"\x00"+execution]
		for _, e := range s.executions {
			started = started || e.ID == execution && e.Request.Name == req.PipelineName
		}
		if !started {
			awsError(w, http.StatusBadRequest, "PipelineExecutionNotFoundException", "Pipeline execution "+execution+" for pipeline "+req.PipelineName+" does not exist")
			return
		}
	}
	slices.SortStableFunc(out, func(a, b recordedAction) int { return b.Updated.Compare(a.Updated) })
	start := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n <= 0 || n > len(out) {
			awsError(w, http.StatusBadRequest, "InvalidNextTokenException", "The next token was invalid")
			return
		}
		start = n
	}
	end := min(start+max, len(out))
	details := []map[string]any{}
	for _, a := range out[start:end] {
		if !slices.Contains(actionStatuses, a.Status) {
			awsError(w, http.StatusInternalServerError, "InternalFailure", "stand-in misconfigured: action status "+a.Status)
			return
		}
		details = append(details, map[string]any{
			"pipelineExecutionId": a.execution, "actionExecutionId": a.id, "pipelineVersion": 1,
			"stageName": a.Stage, "actionName": a.Action, "status": a.Status,
			"startTime": float64(a.Updated.Add(-time.Minute).Unix()), "lastUpdateTime": float64(a.Updated.Unix()),
			"input":  map[string]any{"actionTypeId": map[string]string{"category": a.Category, "owner": "AWS", "provider": a.Category, "version": "1"}},
			"output": map[string]any{"outputVariables": a.OutputVariables},
		})
	}
	resp := map[string]any{"actionExecutionDetails": details}
	if end < len(out) {
		resp["nextToken"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}
