package githubapi

// The Deployments API, as GitHub's REST documentation describes it
// (https://docs.github.com/en/rest/deployments/deployments and
// .../deployments/statuses):
//
//   - POST /repos/{owner}/{repo}/deployments: ref is required and must name a
//     commit, branch or tag of the repository (422 "No ref found for: X"
//     otherwise); auto_merge defaults to true, and then GitHub merges the default
//     branch into the ref instead of deploying when the ref is behind it (202
//     with a message, no deployment: here, whenever auto_merge is not false);
//     required_contexts defaults to every status context of the commit, and a
//     context that is not green answers 409 (here: the commit has a failing
//     context unless the request sends "required_contexts": []). payload is an
//     object or a JSON string; environment defaults to "production".
//   - GET /repos/{owner}/{repo}/deployments?sha&ref&task&environment: newest
//     first, paged by page/per_page.
//   - POST /repos/{owner}/{repo}/deployments/{id}/statuses: state is one of
//     error, failure, inactive, in_progress, queued, pending, success (422
//     otherwise); description at most 140 characters (422); 404 for an unknown
//     deployment.
//   - GET /repos/{owner}/{repo}/deployments/{id}/statuses: newest first.
//
// Every one of them requires authentication, like the hooks endpoints, and
// answers the failures FailHooks injects.

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Deployment is a deployment as the stand-in stores it.
type Deployment struct {
	ID                    int64              `json:"id"`
	SHA                   string             `json:"sha"`
	Ref                   string             `json:"ref"`
	Task                  string             `json:"task"`
	Environment           string             `json:"environment"`
	Description           string             `json:"description"`
	Payload               json.RawMessage    `json:"payload"`
	ProductionEnvironment bool               `json:"production_environment"`
	TransientEnvironment  bool               `json:"transient_environment"`
	CreatedAt             time.Time          `json:"created_at"`
	Repo                  string             `json:"-"`
	Statuses              []DeploymentStatus `json:"-"`
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64     `json:"id"`
	State          string    `json:"state"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	LogURL         string    `json:"log_url"`
	EnvironmentURL string    `json:"environment_url"`
	CreatedAt      time.Time `json:"created_at"`
}

var (
	deploymentStates = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
	shaRE            = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Deployments returns the repository's deployments, oldest first, each with its
// statuses, oldest first.
func (s *Server) Deployments(repo string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.deployments {
		if strings.EqualFold(d.Repo, repo) {
			d.Statuses = slices.Clone(d.Statuses)
			out = append(out, *d)
		}
	}
	return out
}

// Branch makes name a branch of repo pointing at commit (a deployable ref).
func (s *Server) Branch(repo, name, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[repo+" heads/"+name] = object{"commit", commit}
}

// resolveRef returns the commit a deployment's ref names: a full SHA is taken as
// a commit of the repository; branches and tags must be known.
func (s *Server) resolveRef(repo, ref string) (string, bool) {
	if shaRE.MatchString(ref) {
		return ref, true
	}
	for _, k := range []string{repo + " heads/" + ref, repo + " " + ref} {
		if o, ok := s.refs[k]; ok {
			if o.Type == "tag" {
				o = s.tags[o.SHA]
			}
			return o.SHA, true
		}
	}
	return "", false
}

func unprocessable(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest/deployments/deployments"})
	writeStatus(w, http.StatusUnprocessableEntity, string(b))
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	var req struct {
		Ref                   *string         `json:"ref"`
		Task                  *string         `json:"task"`
		AutoMerge             *bool           `json:"auto_merge"`
		RequiredContexts      *[]string       `json:"required_contexts"`
		Payload               json.RawMessage `json:"payload"`
		Environment           *string         `json:"environment"`
		Description           *string         `json:"description"`
		TransientEnvironment  *bool           `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, `{"message":"Problems parsing JSON"}`)
		return
	}
	if req.Ref == nil || *req.Ref == "" {
		unprocessable(w, `Invalid request. "ref" wasn't supplied.`)
		return
	}
	if len(req.Payload) > 0 && req.Payload[0] != '{' && req.Payload[0] != '"' {
		unprocessable(w, "Invalid request. For 'properties/payload', is not an object or a string.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.resolveRef(repo, *req.Ref)
	if !ok {
		unprocessable(w, "No ref found for: "+*req.Ref)
		return
	}
	if req.AutoMerge == nil || *req.AutoMerge {
		writeStatus(w, http.StatusAccepted, `{"message":"Auto-merged main into `+*req.Ref+` on deployment."}`)
		return
	}
	if req.RequiredContexts == nil || len(*req.RequiredContexts) > 0 {
		writeStatus(w, http.StatusConflict, `{"message":"Conflict: Commit status checks failed for `+*req.Ref+`.","errors":[{"contexts":[{"context":"ci/legacy","state":"failure"}],"resource":"Deployment","field":"required_contexts","code":"invalid"}]}`)
		return
	}
	d := &Deployment{SHA: sha, Ref: *req.Ref, Task: "deploy", Environment: "production", Payload: req.Payload, Repo: repo, CreatedAt: time.Now().UTC()}
	if req.Task != nil {
		d.Task = *req.Task
	}
	if req.Environment != nil {
		d.Environment = *req.Environment
	}
	if req.Description != nil {
		d.Description = *req.Description
	}
	d.ProductionEnvironment = d.Environment == "production"
	if req.ProductionEnvironment != nil {
		d.ProductionEnvironment = *req.ProductionEnvironment
	}
	if req.TransientEnvironment != nil {
		d.TransientEnvironment = *req.TransientEnvironment
	}
	if len(d.Payload) == 0 {
		d.Payload = json.RawMessage(`{}`)
	}
	s.nextID++
	d.ID = s.nextID
	s.deployments = append(s.deployments, d)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(d)
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	q := r.URL.Query()
	s.mu.Lock()
	var list []Deployment
	for i := len(s.deployments) - 1; i >= 0; i-- { // newest first
		d := s.deployments[i]
		if !strings.EqualFold(d.Repo, repo) ||
			(q.Get("sha") != "" && d.SHA != q.Get("sha")) || (q.Get("ref") != "" && d.Ref != q.Get("ref")) ||
			(q.Get("task") != "" && d.Task != q.Get("task")) || (q.Get("environment") != "" && d.Environment != q.Get("environment")) {
			continue
		}
		list = append(list, *d)
	}
	s.mu.Unlock()
	start, end := s.pageOf(w, r, len(list))
	writeJSON(w, append([]Deployment{}, list[start:end]...))
}

func (s *Server) deployment(w http.ResponseWriter, r *http.Request) *Deployment {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	for _, d := range s.deployments {
		if err == nil && d.ID == id && strings.EqualFold(d.Repo, repo) {
			return d
		}
	}
	notFound(w)
	return nil
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	var req struct {
		State          string  `json:"state"`
		Description    *string `json:"description"`
		LogURL         *string `json:"log_url"`
		EnvironmentURL *string `json:"environment_url"`
		Environment    *string `json:"environment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, `{"message":"Problems parsing JSON"}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployment(w, r)
	if d == nil {
		return
	}
	if !slices.Contains(deploymentStates, req.State) {
		unprocessable(w, "Invalid request. For 'properties/state', \""+req.State+"\" is not a valid state.")
		return
	}
	st := DeploymentStatus{State: req.State, Environment: d.Environment, CreatedAt: time.Now().UTC()}
	if req.Description != nil {
		if utf8.RuneCountInString(*req.Description) > 140 {
			unprocessable(w, "Validation Failed: description is too long (maximum is 140 characters)")
			return
		}
		st.Description = *req.Description
	}
	if req.LogURL != nil {
		st.LogURL = *req.LogURL
	}
	if req.EnvironmentURL != nil {
		st.EnvironmentURL = *req.EnvironmentURL
	}
	if req.Environment != nil {
		st.Environment = *req.Environment
	}
	s.nextID++
	st.ID = s.nextID
	d.Statuses = append(d.Statuses, st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(st)
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	if !s.hookGate(w, r) {
		return
	}
	s.mu.Lock()
	d := s.deployment(w, r)
	if d == nil {
		s.mu.Unlock()
		return
	}
	list := slices.Clone(d.Statuses)
	s.mu.Unlock()
	slices.Reverse(list) // newest first
	start, end := s.pageOf(w, r, len(list))
	writeJSON(w, append([]DeploymentStatus{}, list[start:end]...))
}
