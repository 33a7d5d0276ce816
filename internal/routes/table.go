// Package routes is pipebridge's route table: which release events start which
// pipelines, with which variables. It is pure: it parses and validates tables
// (Parse, New), selects the routes an event matches (Select) and plans their
// StartPipelineExecution requests (Plan), and does no I/O. The Lambdas, the CLI's
// explain command and the CDK app all use it, so a table the CDK app accepts is
// one the Lambdas serve. Loading a table from the environment and sending the
// requests is the Lambdas' edge code, in internal/dispatch.
//
// A table is JSON:
//
//	{"routes": [{
//	    "name": "web-prod",
//	    "github": {"repository": "acme/web", "events": ["release"]},
//	    "tags": {"semver": ">=2.0.0"},
//	    "pipeline": "web-prod",
//	    "sourceAction": "Source",
//	    "variables": {"RELEASE_TAG": "{{.Tag}}"}
//	}]}
//
// Parse validates strictly: unknown fields, bad patterns, and names that break
// CodePipeline's API constraints are errors naming the route and field.
package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/severity"
)

// Table is a validated route table.
type Table struct {
	Routes []*Route `json:"routes"`
}

// Route says which events start which pipeline.
type Route struct {
	// Name identifies the route in logs and idempotency tokens; unique in a table.
	Name string `json:"name"`
	// Exactly one of ECR, GitHub and CodePipeline is the event source.
	ECR          *ECRSource          `json:"ecr,omitempty"`
	GitHub       *GitHubSource       `json:"github,omitempty"`
	CodePipeline *CodePipelineSource `json:"codepipeline,omitempty"`
	// Tags filters on the image tag or Git tag; nil matches every tag.
	Tags *TagFilter `json:"tags,omitempty"`
	// Pipeline is the CodePipeline pipeline to start.
	Pipeline string `json:"pipeline"`
	// SourceAction, when set, gets a source revision override: the image digest
	// (ECR and CodePipeline events) or the commit SHA (GitHub events).
	SourceAction string `json:"sourceAction,omitempty"`
	// Variables are pipeline variables, each a {{.Field}} template over the event
	// (see TemplateData).
	Variables map[string]string `json:"variables,omitempty"`

	vars map[string]varTemplate
}

// ECRSource routes events from one ECR repository.
type ECRSource struct {
	Repository string `json:"repository"`
	// Account is the registry (account id) the events must come from.
	Account string `json:"account"`
	// Region, if set, is the only region whose events match.
	Region string `json:"region,omitempty"`
	// Events: "push" (the default) and/or "scan" (scan complete).
	Events []string `json:"events,omitempty"`
	// MaxSeverity is, for scan events, the highest finding severity an image may
	// have and still deploy: NONE, INFORMATIONAL, LOW, MEDIUM (the default) or HIGH.
	MaxSeverity string `json:"maxSeverity,omitempty"`
	// AllowUndefined lets findings of undefined severity (ECR's UNDEFINED,
	// Inspector's UNTRIAGED, unrecognised names) deploy; by default they block.
	AllowUndefined bool `json:"allowUndefined,omitempty"`
	// Untagged routes pushes without a tag (by digest) too.
	Untagged bool `json:"untagged,omitempty"`

	policy severity.Policy
}

// CodePipelineSource routes the successful executions of another pipeline:
// promotion. The event is CodePipeline's Pipeline Execution State Change with
// state SUCCEEDED; the Lambda confirms the execution with GetPipelineExecution
// (succeeded, not a rollback) and reads the image digest it deployed, which the
// route passes on as the source revision. The token is the source execution's
// id, so one execution never promotes twice.
type CodePipelineSource struct {
	// Pipeline is the pipeline whose successful executions are promoted.
	Pipeline string `json:"pipeline"`
}

// GitHubSource routes webhook deliveries from one GitHub repository.
type GitHubSource struct {
	// Repository is owner/name.
	Repository string `json:"repository"`
	// Events: "release" (the default), "tag-push", "tag-create".
	Events []string `json:"events,omitempty"`
	// ReleaseActions: any of published, released, prereleased (the three are the
	// default) and created.
	ReleaseActions []string `json:"releaseActions,omitempty"`
	// Prereleases: exclude (the default), include, or only.
	Prereleases string `json:"prereleases,omitempty"`
}

// TagFilter matches tags by exactly one of a glob, a regular expression or a
// semantic version constraint.
type TagFilter struct {
	// Glob is a path.Match pattern: "v*", "release/*".
	Glob string `json:"glob,omitempty"`
	// Regex is an RE2 regular expression, anchored by you: "^v[0-9]+\\.".
	Regex string `json:"regex,omitempty"`
	// Semver is a constraint such as ">=2.0.0, <3"; tags that are not semantic
	// versions (a leading v is allowed) do not match.
	Semver string `json:"semver,omitempty"`
	// Prerelease, with Semver: exclude (the default) or include. Included
	// prereleases are checked by their core version: 2.0.0-rc.1 satisfies >=2.0.0.
	Prerelease string `json:"prerelease,omitempty"`

	re         *regexp.Regexp
	constraint *semver.Constraints
}

// CodePipeline's limits on a StartPipelineExecution request.
const (
	MaxVariables       = 50
	MaxSourceRevisions = 50
)

// routeNameRE is the route table's own rule (names appear in logs and tokens).
var routeNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// New validates typed routes into a table, filling in defaults: the CDK app
// builds its tables this way and marshals them once. Parse does the same for
// JSON.
func New(routes []Route) (*Table, error) {
	t := &Table{}
	names := map[string]int{}
	for i := range routes {
		r := routes[i]
		if err := r.validate(); err != nil {
			label := fmt.Sprintf("routes[%d]", i)
			if r.Name != "" {
				label += " (" + r.Name + ")"
			}
			return nil, fmt.Errorf("route table: %s: %w", label, err)
		}
		if j, dup := names[r.Name]; dup {
			return nil, fmt.Errorf("route table: routes[%d]: name %q is already used by routes[%d]: names must be unique", i, r.Name, j)
		}
		names[r.Name] = i
		t.Routes = append(t.Routes, &r)
	}
	if len(t.Routes) == 0 {
		return nil, errors.New("route table: no routes: add at least one to \"routes\"")
	}
	if err := t.promotionCycle(); err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	return t, nil
}

// PromotedFrom returns the routes that promote the pipeline's successful
// executions, in table order.
func (t *Table) PromotedFrom(pipeline string) []*Route {
	var out []*Route
	for _, r := range t.Routes {
		if r.CodePipeline != nil && r.CodePipeline.Pipeline == pipeline {
			out = append(out, r)
		}
	}
	return out
}

// promotionCycle refuses promotion routes that lead back to where they
// started: each success would start the next pipeline for ever.
func (t *Table) promotionCycle() error {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var walk func(p string, path []string) error
	walk = func(p string, path []string) error {
		switch state[p] {
		case visiting:
			return fmt.Errorf("promotion routes form a cycle (%s): each success would start the next pipeline for ever", strings.Join(append(path, p), " -> "))
		case done:
			return nil
		}
		state[p] = visiting
		for _, r := range t.PromotedFrom(p) {
			if err := walk(r.Pipeline, append(path, p)); err != nil {
				return err
			}
		}
		state[p] = done
		return nil
	}
	for _, r := range t.Routes {
		if r.CodePipeline == nil {
			continue
		}
		p := r.CodePipeline.Pipeline
		if err := walk(p, nil); err != nil {
			return err
		}
	}
	return nil
}

// Parse decodes and validates a route table.
func Parse(data []byte) (*Table, error) {
	var raw struct {
		Routes []json.RawMessage `json:"routes"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	rs := make([]Route, len(raw.Routes))
	for i, rr := range raw.Routes {
		if err := decodeStrict(rr, &rs[i]); err != nil {
			return nil, fmt.Errorf("route table: routes[%d]: %w", i, err)
		}
	}
	return New(rs)
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (r *Route) validate() error {
	switch {
	case r.Name == "":
		return errors.New("name: required")
	case len(r.Name) > 64 || !routeNameRE.MatchString(r.Name):
		return fmt.Errorf("name %q: use 1-64 letters, digits, '.', '_' or '-'", r.Name)
	case r.Pipeline == "":
		return errors.New("pipeline: required: the name of the pipeline to start")
	}
	if n := btoi(r.ECR != nil) + btoi(r.GitHub != nil) + btoi(r.CodePipeline != nil); n != 1 {
		return errors.New("give exactly one of \"ecr\", \"github\" and \"codepipeline\" as the event source")
	}
	if err := names.Pipeline(r.Pipeline); err != nil {
		return fmt.Errorf("pipeline %w", err)
	}
	if r.SourceAction != "" {
		if err := names.Action(r.SourceAction); err != nil {
			return fmt.Errorf("sourceAction %w", err)
		}
	}
	if r.ECR != nil {
		if err := r.ECR.validate(); err != nil {
			return fmt.Errorf("ecr.%w", err)
		}
	}
	if r.GitHub != nil {
		if err := r.GitHub.validate(); err != nil {
			return fmt.Errorf("github.%w", err)
		}
	}
	if c := r.CodePipeline; c != nil {
		if err := names.Pipeline(c.Pipeline); err != nil {
			return fmt.Errorf("codepipeline.pipeline %w", err)
		}
		if c.Pipeline == r.Pipeline {
			return fmt.Errorf("codepipeline.pipeline %q: a pipeline cannot promote its own executions", c.Pipeline)
		}
	}
	if r.Tags != nil {
		if err := r.Tags.Validate(); err != nil {
			return fmt.Errorf("tags.%w", err)
		}
	}
	if len(r.Variables) > MaxVariables {
		return fmt.Errorf("variables: %d given; CodePipeline takes at most %d", len(r.Variables), MaxVariables)
	}
	r.vars = map[string]varTemplate{}
	for name, text := range r.Variables {
		if err := names.Variable(name); err != nil {
			return fmt.Errorf("variables: name %w", err)
		}
		if c, at := names.ControlChar(text); at >= 0 {
			return fmt.Errorf("variables.%s: control character %U at character %d: pipeline variables never carry control characters", name, c, at)
		}
		tmpl, err := parseVarTemplate(text)
		if err != nil {
			return fmt.Errorf("variables.%s: %w", name, err)
		}
		r.vars[name] = tmpl
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *ECRSource) validate() error {
	switch {
	case s.Repository == "":
		return errors.New("repository: required")
	case s.Account == "":
		return errors.New("account: required: the 12-digit account whose registry the events must come from")
	}
	if err := names.ECRRepository(s.Repository); err != nil {
		return fmt.Errorf("repository %w", err)
	}
	if err := names.Account(s.Account); err != nil {
		return fmt.Errorf("account %w", err)
	}
	if s.Region != "" {
		if err := names.Region(s.Region); err != nil {
			return fmt.Errorf("region %w", err)
		}
	}
	if len(s.Events) == 0 {
		s.Events = []string{"push"}
	}
	for _, e := range s.Events {
		if e != "push" && e != "scan" {
			return fmt.Errorf("events: %q: want \"push\" or \"scan\"", e)
		}
	}
	if s.MaxSeverity == "" {
		s.MaxSeverity = "MEDIUM"
	}
	l, err := severity.ParseKnown(s.MaxSeverity)
	if err != nil || l == severity.Critical {
		return fmt.Errorf("maxSeverity %q: want NONE, INFORMATIONAL, LOW, MEDIUM or HIGH", s.MaxSeverity)
	}
	s.MaxSeverity = l.String()
	s.policy = severity.Policy{Max: l, AllowUndefined: s.AllowUndefined}
	return nil
}

// ReleaseActions are the release actions a route may take. GitHub sends several
// for one release (README: "Release actions"); the idempotency token, which
// leaves the action out, makes them start one execution.
var ReleaseActions = []string{"published", "released", "prereleased", "created"}

// DefaultReleaseActions deploy every published release exactly once: a release
// published directly sends published and released (or prereleased); a
// pre-release promoted to a release sends only released (and edited).
var DefaultReleaseActions = []string{"published", "released", "prereleased"}

func (s *GitHubSource) validate() error {
	if s.Repository == "" {
		return errors.New("repository: required: owner/name")
	}
	if err := names.GitHubRepository(s.Repository); err != nil {
		return fmt.Errorf("repository %w", err)
	}
	if len(s.Events) == 0 {
		s.Events = []string{"release"}
	}
	for _, e := range s.Events {
		if e != "release" && e != "tag-push" && e != "tag-create" {
			return fmt.Errorf("events: %q: want \"release\", \"tag-push\" or \"tag-create\"", e)
		}
	}
	if len(s.ReleaseActions) == 0 {
		s.ReleaseActions = slices.Clone(DefaultReleaseActions)
	}
	for _, a := range s.ReleaseActions {
		if !slices.Contains(ReleaseActions, a) {
			return fmt.Errorf("releaseActions: %q: want published, released, prereleased or created (edits and deletions never deploy)", a)
		}
	}
	switch s.Prereleases {
	case "":
		s.Prereleases = "exclude"
	case "exclude", "include", "only":
	default:
		return fmt.Errorf("prereleases %q: want exclude, include or only", s.Prereleases)
	}
	return nil
}

// Validate checks the filter and compiles it. The CDK config checks a trigger's
// filter with it, so both accept exactly the same filters.
func (f *TagFilter) Validate() error {
	n := 0
	for _, s := range []string{f.Glob, f.Regex, f.Semver} {
		if s != "" {
			n++
		}
		if c, at := names.ControlChar(s); at >= 0 {
			return fmt.Errorf("control character %U at character %d in %q: tags never carry control characters", c, at, s)
		}
	}
	if n != 1 {
		return errors.New("give exactly one of glob, regex and semver")
	}
	switch {
	case f.Glob != "":
		if _, err := path.Match(f.Glob, ""); err != nil {
			return fmt.Errorf("glob %q: %w", f.Glob, err)
		}
	case f.Regex != "":
		re, err := regexp.Compile(f.Regex)
		if err != nil {
			return fmt.Errorf("regex %q: %w", f.Regex, err)
		}
		f.re = re
	case f.Semver != "":
		c, err := semver.NewConstraint(f.Semver)
		if err != nil {
			return fmt.Errorf("semver %q: %w", f.Semver, err)
		}
		f.constraint = c
	}
	switch f.Prerelease {
	case "":
		f.Prerelease = "exclude"
	case "exclude", "include":
	default:
		return fmt.Errorf("prerelease %q: want exclude or include", f.Prerelease)
	}
	if f.Semver == "" && f.Prerelease == "include" {
		return errors.New("prerelease: only applies with semver")
	}
	return nil
}

// Match reports whether tag passes the filter, and if not, why.
func (f *TagFilter) Match(tag string) (bool, string) {
	switch {
	case f.Glob != "":
		if ok, _ := path.Match(f.Glob, tag); ok {
			return true, ""
		}
		return false, fmt.Sprintf("tag %q does not match glob %q", tag, f.Glob)
	case f.re != nil:
		if f.re.MatchString(tag) {
			return true, ""
		}
		return false, fmt.Sprintf("tag %q does not match regex %q", tag, f.Regex)
	case f.constraint != nil:
		v, err := semver.NewVersion(tag)
		if err != nil {
			return false, fmt.Sprintf("tag %q is not a semantic version", tag)
		}
		if v.Prerelease() != "" {
			if f.Prerelease != "include" {
				return false, fmt.Sprintf("tag %q is a prerelease and the route excludes prereleases", tag)
			}
			core, _ := v.SetPrerelease("")
			v = &core
		}
		if f.constraint.Check(v) {
			return true, ""
		}
		return false, fmt.Sprintf("version %s does not satisfy %q", tag, f.Semver)
	}
	return true, ""
}
