// Package codepipeline is a stand-in for AWS CodePipeline's
// StartPipelineExecution, GetPipelineExecution (execution.go),
// ListActionExecutions (actions.go) and the job API (jobs.go), which moto does
// not implement. It speaks the API's
// JSON 1.1 protocol, so the real SDK client talks to it, records every request,
// and rejects any request that breaks the API's documented constraints
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StartPipelineExecution.html):
// name, variable, action and token patterns and lengths, non-empty values,
// revisionType values, at most 50 variables and 50 source revisions; and any that
// names a pipeline it does not hold, a variable that pipeline does not declare, or
// a source action it does not have. A repeated clientRequestToken returns the
// first execution's id, as CodePipeline does.
//
// Its rules are written from the API reference (StartPipelineExecution,
// PipelineVariable, SourceRevisionOverride), not from pipebridge's code, and it
// keeps its own copies of them on purpose: it is the oracle internal/names is
// tested against, so it shares no code with it. Lengths are in characters, as
// AWS counts them. A variable value must match the documented pattern ".*",
// which AWS applies with Java's regular expressions: "." matches no line
// terminator (\n, \r, U+0085, U+2028, U+2029).
package codepipeline

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
)

// Pipeline is what the stand-in knows of a pipeline.
type Pipeline struct {
	Name          string
	Variables     []string // declared pipeline-level variables
	SourceActions []string // names of actions in the Source category
}

// Request is a StartPipelineExecution request as received.
type Request struct {
	Name               string           `json:"name"`
	Variables          []Variable       `json:"variables,omitempty"`
	ClientRequestToken string           `json:"clientRequestToken,omitempty"`
	SourceRevisions    []SourceRevision `json:"sourceRevisions,omitempty"`
	Unknown            map[string]any   `json:"-"`
}

type Variable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type SourceRevision struct {
	ActionName    string `json:"actionName"`
	RevisionType  string `json:"revisionType"`
	RevisionValue string `json:"revisionValue"`
}

// Execution is a started execution.
type Execution struct {
	ID      string
	Request Request
}

// Server is the running stand-in.
type Server struct {
	URL string
	srv *httptest.Server

	mu         sync.Mutex
	pipelines  map[string]Pipeline
	requests   []Request
	rejected   []string
	executions []Execution
	byToken    map[string]string
	throttle   int
	throttled  int
	details    map[string]ExecutionDetail  // "pipeline\x00id"
	statuses   map[string]string           // "pipeline\x00id" of started executions
	actions    map[string][]recordedAction // by pipeline
	jobs       map[string]*jobState
	getCalls   int
}

// Start serves the stand-in on 127.0.0.1.
func Start(pipelines ...Pipeline) *Server {
	s := &Server{pipelines: map[string]Pipeline{}, byToken: map[string]string{}}
	for _, p := range pipelines {
		s.pipelines[p.Name] = p
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Add declares a pipeline.
func (s *Server) Add(p Pipeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pipelines[p.Name] = p
}

// Throttle makes the next n requests fail with ThrottlingException.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Throttled returns how many requests were answered with ThrottlingException.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Requests returns every well-formed request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Rejected returns the reasons for every rejected request, in order.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// Executions returns the executions started (a repeated token starts none).
func (s *Server) Executions() []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.executions)
}

var (
	pipelineNameRE = regexp.MustCompile(`^[A-Za-z0-9.@\-_]{1,100}$`)
	actionNameRE   = regexp.MustCompile(`^[A-Za-z0-9.@\-_]{1,100}$`)
	variableNameRE = regexp.MustCompile(`^[A-Za-z0-9@\-_]{1,128}$`)
	tokenRE        = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)
	revisionTypes  = []string{"COMMIT_ID", "IMAGE_DIGEST", "S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"}
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && target == "CodePipeline_20150709.GetPipelineExecution" {
		s.getPipelineExecution(w, body)
		return
	}
	if r.Method == http.MethodPost && target == "CodePipeline_20150709.ListActionExecutions" {
		s.listActionExecutions(w, body)
		return
	}
	if op, ok := strings.CutPrefix(target, "CodePipeline_20150709."); ok && r.Method == http.MethodPost && (op == "PutJobSuccessResult" || op == "PutJobFailureResult") {
		s.putJobResult(w, op, body)
		return
	}
	if r.Method != http.MethodPost || target != "CodePipeline_20150709.StartPipelineExecution" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "the stand-in serves only StartPipelineExecution, GetPipelineExecution, ListActionExecutions, PutJobSuccessResult and PutJobFailureResult, got "+target)
		return
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	for k := range raw {
		switch k {
		case "name", "variables", "clientRequestToken", "sourceRevisions":
		default:
			s.reject(w, "ValidationException", "unknown field "+k)
			return
		}
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	s.mu.Lock()
	if s.throttle > 0 {
		s.throttle--
		s.throttled++
		s.mu.Unlock()
		awsError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	s.mu.Unlock()

	if msg := validate(req); msg != "" {
		s.reject(w, "ValidationException", msg)
		return
	}
	s.mu.Lock()
	p, ok := s.pipelines[req.Name]
	s.mu.Unlock()
	if !ok {
		s.reject(w, "PipelineNotFoundException", "Account does not have a pipeline with name '"+req.Name+"'")
		return
	}
	for _, v := range req.Variables {
		if !slices.Contains(p.Variables, v.Name) {
			s.reject(w, "ValidationException", fmt.Sprintf("pipeline %s does not declare variable %s", p.Name, v.Name))
			return
		}
	}
	for _, sr := range req.SourceRevisions {
		if !slices.Contains(p.SourceActions, sr.ActionName) {
			s.reject(w, "ValidationException", fmt.Sprintf("pipeline %s has no source action %s", p.Name, sr.ActionName))
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	key := req.Name + "\x00" + req.ClientRequestToken
	id, seen := s.byToken[key]
	if !seen || req.ClientRequestToken == "" {
		id = newID()
		s.byToken[key] = id
		s.executions = append(s.executions, Execution{ID: id, Request: req})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(map[string]string{"pipelineExecutionId": id})
}

func validate(req Request) string {
	switch {
	case !pipelineNameRE.MatchString(req.Name):
		return fmt.Sprintf("name %q fails [A-Za-z0-9.@\\-_]{1,100}", req.Name)
	case req.ClientRequestToken != "" && !tokenRE.MatchString(req.ClientRequestToken):
		return fmt.Sprintf("clientRequestToken %q fails ^[a-zA-Z0-9-]+$ with length 1-128", req.ClientRequestToken)
	case len(req.Variables) > 50:
		return fmt.Sprintf("%d variables; at most 50", len(req.Variables))
	case len(req.SourceRevisions) > 50:
		return fmt.Sprintf("%d sourceRevisions; at most 50", len(req.SourceRevisions))
	}
	seen := map[string]bool{}
	for _, v := range req.Variables {
		switch {
		case !variableNameRE.MatchString(v.Name):
			return fmt.Sprintf("variable name %q fails [A-Za-z0-9@\\-_]{1,128}", v.Name)
		case v.Value == "" || utf8.RuneCountInString(v.Value) > 1000:
			return fmt.Sprintf("variable %s value has length %d; want 1-1000", v.Name, utf8.RuneCountInString(v.Value))
		case strings.ContainsAny(v.Value, "\n\r\u0085\u2028\u2029"):
			return fmt.Sprintf("variable %s value fails the pattern .* (a line terminator)", v.Name)
		case seen[v.Name]:
			return fmt.Sprintf("variable %s given twice", v.Name)
		}
		seen[v.Name] = true
	}
	for _, sr := range req.SourceRevisions {
		switch {
		case !actionNameRE.MatchString(sr.ActionName):
			return fmt.Sprintf("sourceRevisions actionName %q fails [A-Za-z0-9.@\\-_]{1,100}", sr.ActionName)
		case !slices.Contains(revisionTypes, sr.RevisionType):
			return fmt.Sprintf("revisionType %q is not one of %v", sr.RevisionType, revisionTypes)
		case sr.RevisionValue == "" || utf8.RuneCountInString(sr.RevisionValue) > 1500:
			return fmt.Sprintf("revisionValue of %s has length %d; want 1-1500", sr.ActionName, utf8.RuneCountInString(sr.RevisionValue))
		}
	}
	return ""
}

func (s *Server) reject(w http.ResponseWriter, typ, msg string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, typ+": "+msg)
	s.mu.Unlock()
	awsError(w, http.StatusBadRequest, typ, msg)
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Client is an SDK client that talks to the stand-in, with test credentials and
// the SDK's default retries. optFns set the retry policy the code under test uses
// (a non-zero RetryMaxAttempts here would override any Retryer they set).
func (s *Server) Client(optFns ...func(*codepipeline.Options)) *codepipeline.Client {
	return codepipeline.New(codepipeline.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	}, optFns...)
}
