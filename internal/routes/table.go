// Package routes is pipebridge's route table: which release events start which
// pipelines, with which variables. The Lambdas, the CLI's explain command and the
// CDK app all load and validate tables with this package, so a table the CDK app
// accepts is one the Lambdas serve.
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
)

// Table is a validated route table.
type Table struct {
	Routes []*Route `json:"routes"`
}

// Route says which events start which pipeline.
type Route struct {
	// Name identifies the route in logs and idempotency tokens; unique in a table.
	Name string `json:"name"`
	// Exactly one of ECR and GitHub is the event source.
	ECR    *ECRSource    `json:"ecr,omitempty"`
	GitHub *GitHubSource `json:"github,omitempty"`
	// Tags filters on the image tag or Git tag; nil matches every tag.
	Tags *TagFilter `json:"tags,omitempty"`
	// Pipeline is the CodePipeline pipeline to start.
	Pipeline string `json:"pipeline"`
	// SourceAction, when set, gets a source revision override: the image digest
	// (ECR events) or the commit SHA (GitHub events).
	SourceAction string `json:"sourceAction,omitempty"`
	// Variables are pipeline variables, each a Go template over the event (see
	// TemplateData).
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
	// Untagged routes pushes without a tag (by digest) too.
	Untagged bool `json:"untagged,omitempty"`
}

// GitHubSource routes webhook deliveries from one GitHub repository.
type GitHubSource struct {
	// Repository is owner/name.
	Repository string `json:"repository"`
	// Events: "release" (the default), "tag-push", "tag-create".
	Events []string `json:"events,omitempty"`
	// ReleaseActions: any of published (the default), created, released, prereleased.
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

// CodePipeline's API constraints (StartPipelineExecution). Lengths are checked
// apart from the patterns: a counted repetition such as {1,100} compiles into a
// program a hundred states long, which costs the Lambdas a millisecond of cold
// start.
var (
	pipelineNameRE = limited(`^[A-Za-z0-9.@\-_]+$`, 1, 100)
	actionNameRE   = limited(`^[A-Za-z0-9.@\-_]+$`, 1, 100)
	variableNameRE = limited(`^[A-Za-z0-9@\-_]+$`, 1, 128)
	tokenRE        = limited(`^[a-zA-Z0-9-]+$`, 1, 128)
)

// CodePipeline's limits on a StartPipelineExecution request.
const (
	MaxVariables        = 50
	MaxVariableValueLen = 1000
	MaxSourceRevisions  = 50
)

var (
	routeNameRE  = limited(`^[A-Za-z0-9._-]+$`, 1, 64)
	ecrRepoRE    = limited(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`, 2, 256)
	accountRE    = limited(`^[0-9]+$`, 12, 12)
	regionRE     = limited(`^[a-z]+(-[a-z]+)+-[0-9]+$`, 1, 32)
	githubRepoRE = limited(`^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$`, 3, 140)
)

// pattern is a regular expression with a length range.
type pattern struct {
	re       *regexp.Regexp
	min, max int
}

func limited(expr string, min, max int) pattern {
	return pattern{regexp.MustCompile(expr), min, max}
}

func (p pattern) MatchString(s string) bool {
	return len(s) >= p.min && len(s) <= p.max && p.re.MatchString(s)
}

var severityOrder = []string{"NONE", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Parse decodes and validates a route table.
func Parse(data []byte) (*Table, error) {
	var raw struct {
		Routes []json.RawMessage `json:"routes"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	if len(raw.Routes) == 0 {
		return nil, errors.New("route table: no routes: add at least one to \"routes\"")
	}
	t := &Table{}
	names := map[string]int{}
	for i, rr := range raw.Routes {
		var r Route
		if err := decodeStrict(rr, &r); err != nil {
			return nil, fmt.Errorf("route table: routes[%d]: %w", i, err)
		}
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
	return t, nil
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
	case !routeNameRE.MatchString(r.Name):
		return fmt.Errorf("name %q: use 1-64 letters, digits, '.', '_' or '-'", r.Name)
	case r.Pipeline == "":
		return errors.New("pipeline: required: the name of the pipeline to start")
	case !pipelineNameRE.MatchString(r.Pipeline):
		return fmt.Errorf("pipeline %q: CodePipeline names are 1-100 letters, digits, '.', '@', '-' or '_'", r.Pipeline)
	case r.SourceAction != "" && !actionNameRE.MatchString(r.SourceAction):
		return fmt.Errorf("sourceAction %q: CodePipeline action names are 1-100 letters, digits, '.', '@', '-' or '_'", r.SourceAction)
	case (r.ECR == nil) == (r.GitHub == nil):
		return errors.New("give exactly one of \"ecr\" and \"github\" as the event source")
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
	if r.Tags != nil {
		if err := r.Tags.validate(); err != nil {
			return fmt.Errorf("tags.%w", err)
		}
	}
	if len(r.Variables) > MaxVariables {
		return fmt.Errorf("variables: %d given; CodePipeline takes at most %d", len(r.Variables), MaxVariables)
	}
	r.vars = map[string]varTemplate{}
	for name, text := range r.Variables {
		if !variableNameRE.MatchString(name) {
			return fmt.Errorf("variables: name %q: CodePipeline variable names are 1-128 letters, digits, '@', '-' or '_'", name)
		}
		tmpl, err := parseVarTemplate(text)
		if err != nil {
			return fmt.Errorf("variables.%s: %w", name, err)
		}
		r.vars[name] = tmpl
	}
	return nil
}

func (s *ECRSource) validate() error {
	switch {
	case s.Repository == "":
		return errors.New("repository: required")
	case !ecrRepoRE.MatchString(s.Repository):
		return fmt.Errorf("repository %q: not a valid ECR repository name", s.Repository)
	case s.Account == "":
		return errors.New("account: required: the 12-digit account whose registry the events must come from")
	case !accountRE.MatchString(s.Account):
		return fmt.Errorf("account %q: want a 12-digit AWS account id", s.Account)
	case s.Region != "" && !regionRE.MatchString(s.Region):
		return fmt.Errorf("region %q: not an AWS region name", s.Region)
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
	s.MaxSeverity = strings.ToUpper(s.MaxSeverity)
	if !slices.Contains(severityOrder[:len(severityOrder)-1], s.MaxSeverity) {
		return fmt.Errorf("maxSeverity %q: want NONE, INFORMATIONAL, LOW, MEDIUM or HIGH", s.MaxSeverity)
	}
	return nil
}

func (s *GitHubSource) validate() error {
	switch {
	case s.Repository == "":
		return errors.New("repository: required: owner/name")
	case !githubRepoRE.MatchString(s.Repository):
		return fmt.Errorf("repository %q: want owner/name", s.Repository)
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
		s.ReleaseActions = []string{"published"}
	}
	for _, a := range s.ReleaseActions {
		switch a {
		case "published", "created", "released", "prereleased":
		default:
			return fmt.Errorf("releaseActions: %q: want published, created, released or prereleased (edits and deletions never deploy)", a)
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

func (f *TagFilter) validate() error {
	n := 0
	for _, s := range []string{f.Glob, f.Regex, f.Semver} {
		if s != "" {
			n++
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
