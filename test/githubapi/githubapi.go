// Package githubapi is a stand-in for the two GitHub REST endpoints pipebridge
// calls to find a tag's commit: GET /repos/{owner}/{repo}/git/ref/tags/{tag} and
// GET /repos/{owner}/{repo}/git/tags/{sha} (annotated tags).
package githubapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

type object struct {
	Type string `json:"type"`
	SHA  string `json:"sha"`
}

// Server is the running stand-in.
type Server struct {
	URL string
	srv *httptest.Server

	mu     sync.Mutex
	refs   map[string]object // "owner/repo tag"
	tags   map[string]object // tag object sha -> target
	fail   bool
	tokens []string
}

// Start serves the stand-in on 127.0.0.1.
func Start() *Server {
	s := &Server{refs: map[string]object{}, tags: map[string]object{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/git/ref/tags/{tag...}", s.ref)
	mux.HandleFunc("GET /repos/{owner}/{repo}/git/tags/{sha}", s.tag)
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

func (s *Server) check(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, r.Header.Get("Authorization"))
	if s.fail {
		http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
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
