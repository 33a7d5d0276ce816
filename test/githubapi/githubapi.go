// Package githubapi is a stand-in for the GitHub REST endpoints pipebridge calls,
// written from GitHub's REST documentation (not from pipebridge's code):
//
//   - GET /repos/{owner}/{repo}/git/ref/tags/{tag} and
//     GET /repos/{owner}/{repo}/git/tags/{sha}: a tag's commit (annotated tags);
//   - GET /repos/{owner}/{repo}/hooks: the repository's webhooks, paged by
//     page/per_page (default 30, at most 100) with a Link header;
//   - GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries: the hook's
//     deliveries, newest first, paged by cursor/per_page (default 30, at most
//     100) with a Link header whose rel="next" URL carries the next cursor; a
//     redelivery is listed as a new delivery with the original's guid and
//     "redelivery": true;
//   - POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts:
//     redeliver, answered 202 Accepted;
//   - the Deployments API (deployments.go);
//   - GitHub App installation tokens (apps.go).
//
// The hooks endpoints require an Authorization header (401 "Requires
// authentication" without one), answer 404 for unknown hooks and deliveries, and
// can be made to fail with any status (Fail, FailHooks).
//
// Credentials, as GitHub documents them: once Valid names the tokens GitHub
// knows, a request with any other token is answered 401 {"message": "Bad
// credentials"} on every endpoint ("Authenticating to the REST API": invalid
// credentials get 401 Unauthorized; a bad token is not downgraded to
// anonymous), and a private repository (Private) answers 404 to anonymous
// requests ("Troubleshooting the REST API": 404 instead of 403, so as not to
// reveal private repositories).
package githubapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type object struct {
	Type string `json:"type"`
	SHA  string `json:"sha"`
}

// Server is the running stand-in.
type Server struct {
	URL string
	srv *httptest.Server

	mu      sync.Mutex
	refs    map[string]object // "owner/repo tag"
	tags    map[string]object // tag object sha -> target
	fail    bool
	tokens  []string
	valid   map[string]bool // nil: any token is accepted
	private map[string]bool // "owner/repo"

	hooks       map[string][]Hook // "owner/repo" -> hooks
	deliveries  map[int64][]Delivery
	nextID      int64
	hookFail    []int // statuses the next hooks requests answer with, in order
	redelivered []int64
	deployments []*Deployment
	apps        map[string]app // by App id
	minted      int
	// RedeliveryStatus is the status code the webhook endpoint answers a
	// redelivery with (default 202).
	redeliveryStatus int
}

// Hook is a repository webhook.
type Hook struct {
	ID  int64
	URL string
}

// Delivery is one delivery attempt of a hook, as GitHub lists it.
type Delivery struct {
	ID          int64     `json:"id"`
	GUID        string    `json:"guid"`
	DeliveredAt time.Time `json:"delivered_at"`
	Redelivery  bool      `json:"redelivery"`
	Duration    float64   `json:"duration"`
	Status      string    `json:"status"`
	StatusCode  int       `json:"status_code"`
	Event       string    `json:"event"`
	Action      string    `json:"action,omitempty"`
}

// Start serves the stand-in on 127.0.0.1.
func Start() *Server {
	s := &Server{refs: map[string]object{}, tags: map[string]object{}, hooks: map[string][]Hook{}, deliveries: map[int64][]Delivery{},
		nextID: 1000, redeliveryStatus: http.StatusAccepted}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/git/ref/tags/{tag...}", s.ref)
	mux.HandleFunc("GET /repos/{owner}/{repo}/git/tags/{sha}", s.tag)
	mux.HandleFunc("GET /repos/{owner}/{repo}/hooks", s.listHooks)
	mux.HandleFunc("GET /repos/{owner}/{repo}/hooks/{hook}/deliveries", s.listDeliveries)
	mux.HandleFunc("POST /repos/{owner}/{repo}/hooks/{hook}/deliveries/{delivery}/attempts", s.redeliver)
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", s.installationToken)
	mux.HandleFunc("POST /repos/{owner}/{repo}/deployments", s.createDeployment)
	mux.HandleFunc("GET /repos/{owner}/{repo}/deployments", s.listDeployments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/deployments/{id}/statuses", s.createStatus)
	mux.HandleFunc("GET /repos/{owner}/{repo}/deployments/{id}/statuses", s.listStatuses)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Lightweight adds a tag that points straight at a commit.
func (s *Server) Lightweight(repo, tag, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[repo+" "+tag] = object{"commit", commit}
}

// Annotated adds a tag object tagSHA that points at commit.
func (s *Server) Annotated(repo, tag, tagSHA, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[repo+" "+tag] = object{"tag", tagSHA}
	s.tags[tagSHA] = object{"commit", commit}
}

// Fail makes every request answer 503.
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = on
}

// Tokens returns the Authorization headers received.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// Valid sets the tokens GitHub accepts; any other token gets 401.
func (s *Server) Valid(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid = map[string]bool{}
	for _, t := range tokens {
		s.valid[t] = true
	}
}

// Private makes repo invisible (404) to anonymous requests.
func (s *Server) Private(repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.private == nil {
		s.private = map[string]bool{}
	}
	s.private[repo] = true
}

// credentials answers 401 for a token GitHub does not know.
func (s *Server) credentials(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" || s.valid == nil {
		return true
	}
	tok := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "token ")
	if !s.valid[tok] {
		writeStatus(w, http.StatusUnauthorized, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
		return false
	}
	return true
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, r.Header.Get("Authorization"))
	if s.fail {
		http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return false
	}
	if !s.credentials(w, r) {
		return false
	}
	if r.Header.Get("Authorization") == "" && s.private[r.PathValue("owner")+"/"+r.PathValue("repo")] {
		notFound(w)
		return false
	}
	return true
}

func (s *Server) ref(w http.ResponseWriter, r *http.Request) {
	if !s.check(w, r) {
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	tag := r.PathValue("tag")
	s.mu.Lock()
	obj, ok := s.refs[repo+" "+tag]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, map[string]any{"ref": "refs/tags/" + tag, "object": obj})
}

func (s *Server) tag(w http.ResponseWriter, r *http.Request) {
	if !s.check(w, r) {
		return
	}
	sha := r.PathValue("sha")
	s.mu.Lock()
	obj, ok := s.tags[sha]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, map[string]any{"sha": sha, "object": obj})
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil && !strings.Contains(err.Error(), "broken pipe") {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// AddHook adds a webhook with payload URL url to repo ("owner/name").
func (s *Server) AddHook(repo, url string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.hooks[strings.ToLower(repo)] = append(s.hooks[strings.ToLower(repo)], Hook{ID: s.nextID, URL: url})
	return s.nextID
}

// AddDelivery records a delivery attempt of hook and returns its id.
func (s *Server) AddDelivery(hook int64, d Delivery) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	if d.Status == "" {
		d.Status = statusText(d.StatusCode)
	}
	s.deliveries[hook] = append(s.deliveries[hook], d)
	return d.ID
}

// FailHooks makes the next hooks requests (list hooks, list deliveries,
// redeliver) answer with these statuses, one each, in order.
func (s *Server) FailHooks(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookFail = append(s.hookFail, statuses...)
}

// RedeliveryAnswers sets the status code the webhook endpoint gives redeliveries.
func (s *Server) RedeliveryAnswers(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redeliveryStatus = code
}

// Redelivered returns the delivery ids redelivery was asked for, in order.
func (s *Server) Redelivered() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.redelivered)
}

// statusText is the status GitHub shows for an endpoint's answer: "OK" for 2xx.
func statusText(code int) string {
	switch {
	case code >= 200 && code < 300:
		return "OK"
	case code == 0:
		return "timed out"
	}
	return fmt.Sprintf("Invalid HTTP Response: %d", code)
}

// hookGate checks authentication and injected failures for the hooks and
// deployments endpoints.
func (s *Server) hookGate(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") == "" {
		writeStatus(w, http.StatusUnauthorized, `{"message":"Requires authentication","documentation_url":"https://docs.github.com/rest"}`)
		return false
	}
	if !s.credentials(w, r) {
		return false
	}
	if len(s.hookFail) > 0 {
		code := s.hookFail[0]
		s.hookFail = s.hookFail[1:]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeStatus(w, code, fmt.Sprintf(`{"message":"injected %d"}`, code))
		return false
	}
	return true
}

// perPage reads per_page as GitHub does: default 30, at most 100.
func perPage(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("per_page"))
	if err != nil || n <= 0 {
		return 30
	}
	return min(n, 100)
}

// linkNext sets the Link header GitHub sends when another page follows: the
// request's URL with the next page's key (page or cursor) and per_page.
func (s *Server) linkNext(w http.ResponseWriter, r *http.Request, key, value string, size int) {
	u := *r.URL
	q := u.Query()
	q.Set(key, value)
	q.Set("per_page", strconv.Itoa(size))
	u.RawQuery = q.Encode()
	w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, strings.TrimSuffix(s.URL, "/"), u.RequestURI()))
}

// pageOf is the slice [start:end) of n items the request's page/per_page asks
// for; it sets the Link header when another page follows.
func (s *Server) pageOf(w http.ResponseWriter, r *http.Request, n int) (start, end int) {
	size := perPage(r)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	start = min((page-1)*size, n)
	end = min(start+size, n)
	if end < n {
		s.linkNext(w, r, "page", strconv.Itoa(page+1), size)
	}
	return start, end
}

func (s *Server) listHooks(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	s.mu.Lock()
	hooks := slices.Clone(s.hooks[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))])
	s.mu.Unlock()
	start, end := s.pageOf(w, r, len(hooks))
	out := []map[string]any{}
	for _, h := range hooks[start:end] {
		out = append(out, map[string]any{"id": h.ID, "type": "Repository", "name": "web", "active": true,
			"events": []string{"release", "push", "create"}, "config": map[string]string{"url": h.URL, "content_type": "json", "insecure_ssl": "0"}})
	}
	writeJSON(w, out)
}

func (s *Server) hookOf(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("hook"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hooks[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))] {
		if err == nil && h.ID == id {
			return id, true
		}
	}
	notFound(w)
	return 0, false
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	hook, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	all := slices.Clone(s.deliveries[hook])
	s.mu.Unlock()
	// Newest first; the cursor is the id of the first delivery of the page.
	slices.SortFunc(all, func(a, b Delivery) int { return b.DeliveredAt.Compare(a.DeliveredAt) })
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		start = -1
		for i, d := range all {
			if strconv.FormatInt(d.ID, 10) == c {
				start = i
			}
		}
		if start < 0 {
			writeStatus(w, http.StatusBadRequest, `{"message":"Invalid cursor"}`)
			return
		}
	}
	end := min(start+perPage(r), len(all))
	if end < len(all) {
		s.linkNext(w, r, "cursor", strconv.FormatInt(all[end].ID, 10), perPage(r))
	}
	writeJSON(w, all[start:end])
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	hook, ok := s.hookOf(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	s.mu.Lock()
	var orig *Delivery
	for i := range s.deliveries[hook] {
		if s.deliveries[hook][i].ID == id {
			orig = &s.deliveries[hook][i]
		}
	}
	if orig == nil {
		s.mu.Unlock()
		notFound(w)
		return
	}
	s.redelivered = append(s.redelivered, id)
	s.nextID++
	again := Delivery{ID: s.nextID, GUID: orig.GUID, DeliveredAt: time.Now().UTC(), Redelivery: true, Duration: 0.2,
		StatusCode: s.redeliveryStatus, Status: statusText(s.redeliveryStatus), Event: orig.Event, Action: orig.Action}
	s.deliveries[hook] = append(s.deliveries[hook], again)
	s.mu.Unlock()
	writeStatus(w, http.StatusAccepted, `{}`)
}

func writeStatus(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write([]byte(body))
}
