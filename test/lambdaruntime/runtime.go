// Package lambdaruntime runs a Lambda function's bootstrap binary the way AWS
// Lambda does, for tests: it serves the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on 127.0.0.1,
// starts the binary with AWS_LAMBDA_RUNTIME_API pointing at it, hands it
// invocations through /runtime/invocation/next, and collects its responses,
// function errors and init errors. AWS's Runtime Interface Emulator cannot be
// had here; this is the small documented API it serves.
package lambdaruntime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lambda's documented limit on a synchronous response payload.
const maxResponse = 6 << 20

// Function describes the function to run.
type Function struct {
	Name      string
	Bootstrap string   // path to the executable
	Env       []string // the function's environment
	Timeout   time.Duration
}

// FunctionError is what the runtime reported for a failed invocation.
type FunctionError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.ErrorType + ": " + e.ErrorMessage }

// Result of one invocation: a payload, or the function's error.
type Result struct {
	Payload []byte
	Err     *FunctionError
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Result
}

// Runtime is a running function.
type Runtime struct {
	fn        Function
	ln        net.Listener
	srv       *http.Server
	cmd       *exec.Cmd
	queue     chan *invocation
	exited    chan struct{}
	exitErr   error
	mu        sync.Mutex
	pending   map[string]*invocation
	initErr   *FunctionError
	logs      syncBuffer
	StartedAt time.Time
}

// Start serves the Runtime API and starts the bootstrap. It does not wait for the
// function to initialise: the first Invoke does.
func Start(fn Function) (*Runtime, error) {
	if fn.Timeout == 0 {
		fn.Timeout = 10 * time.Second
	}
	if fn.Name == "" {
		fn.Name = "function"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Runtime{fn: fn, ln: ln, queue: make(chan *invocation), exited: make(chan struct{}), pending: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", r.initError)
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)

	r.cmd = exec.Command(fn.Bootstrap)
	r.cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=test",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
	}, fn.Env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.logs, &r.logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r.StartedAt = time.Now()
	if err := r.cmd.Start(); err != nil {
		r.srv.Close()
		return nil, fmt.Errorf("start %s: %w", fn.Bootstrap, err)
	}
	go func() { r.exitErr = r.cmd.Wait(); close(r.exited) }()
	return r, nil
}

// Invoke sends payload to the function and waits for its result. It fails when
// the function exits (an init failure or a crash) or times out.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (Result, error) {
	inv := &invocation{id: newID(), payload: payload, deadline: time.Now().Add(r.fn.Timeout), done: make(chan Result, 1)}
	ctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()
	select {
	case r.queue <- inv:
	case <-r.exited:
		return Result{}, r.exitError()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("function did not ask for the invocation within %s", r.fn.Timeout)
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-r.exited:
		return Result{}, r.exitError()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("task timed out after %s", r.fn.Timeout)
	}
}

func (r *Runtime) exitError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.initErr != nil {
		return fmt.Errorf("init error: %w (process: %v)", r.initErr, r.exitErr)
	}
	return fmt.Errorf("runtime exited: %v", r.exitErr)
}

// Exited is closed when the process ends.
func (r *Runtime) Exited() <-chan struct{} { return r.exited }

// Logs is everything the function wrote to stdout and stderr so far.
func (r *Runtime) Logs() string { return r.logs.String() }

// Stop kills the function and stops serving.
func (r *Runtime) Stop() {
	if r.cmd.Process != nil {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.srv.Close()
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return
	}
	r.mu.Lock()
	r.pending[inv.id] = inv
	r.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:"+r.fn.Name)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+inv.id[:8]+"-"+inv.id[9:]+";Sampled=0")
	h.Set("Content-Type", "application/json")
	w.Write(inv.payload)
}

func (r *Runtime) take(w http.ResponseWriter, id string) *invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	inv, ok := r.pending[id]
	if !ok {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "unknown request id "+id)
		return nil
	}
	delete(r.pending, id)
	return inv
}

func (r *Runtime) response(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxResponse+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	inv := r.take(w, req.PathValue("id"))
	if inv == nil {
		return
	}
	if len(body) > maxResponse {
		inv.done <- Result{Err: &FunctionError{ErrorType: "Function.ResponseSizeTooLarge", ErrorMessage: "response over 6 MB"}}
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response over 6 MB")
		return
	}
	inv.done <- Result{Payload: body}
	accepted(w)
}

func (r *Runtime) invocationError(w http.ResponseWriter, req *http.Request) {
	fe := readFunctionError(req)
	inv := r.take(w, req.PathValue("id"))
	if inv == nil {
		return
	}
	inv.done <- Result{Err: fe}
	accepted(w)
}

func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	fe := readFunctionError(req)
	r.mu.Lock()
	r.initErr = fe
	r.mu.Unlock()
	accepted(w)
}

func readFunctionError(req *http.Request) *FunctionError {
	fe := &FunctionError{}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if json.Unmarshal(body, fe) != nil || fe.ErrorType == "" {
		fe.ErrorType = req.Header.Get("Lambda-Runtime-Function-Error-Type")
		if fe.ErrorMessage == "" {
			fe.ErrorMessage = string(body)
		}
	}
	return fe
}

// accepted is the Runtime API's answer to a response, an error or an init error.
func accepted(w http.ResponseWriter) {
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"OK"}`))
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// syncBuffer is a bytes.Buffer safe for the process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CPUTime is the CPU time the function's process has used so far, summed over its
// threads from /proc/PID/task/*/schedstat (nanoseconds; Linux only). A Go process
// keeps its threads, so differences between two readings are what ran between them.
func (r *Runtime) CPUTime() (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", r.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("read CPU time of %s: %v (Linux /proc needed)", r.fn.Name, err)
	}
	var total time.Duration
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just ended
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err != nil {
			return 0, fmt.Errorf("read %s: %v", p, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// PeakRSS is the most resident memory the function's process has used, in bytes
// (VmHWM in /proc/PID/status; Linux only).
func (r *Runtime) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", r.cmd.Process.Pid)
}
