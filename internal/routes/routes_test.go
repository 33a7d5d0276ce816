package routes

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipebridge/pipebridge/internal/names"
)

func example(t *testing.T) *Table {
	t.Helper()
	data, err := os.ReadFile("../../examples/routes.json")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Parse(data)
	if err != nil {
		t.Fatalf("examples/routes.json: %v", err)
	}
	return tbl
}

func TestParseExampleDefaults(t *testing.T) {
	tbl := example(t)
	if got := tbl.Routes[3].ECR.MaxSeverity; got != "MEDIUM" {
		t.Errorf("maxSeverity = %q, want MEDIUM", got)
	}
	if got := tbl.Routes[1].GitHub.ReleaseActions; !cmp.Equal(got, []string{"published", "released", "prereleased"}) {
		t.Errorf("releaseActions default = %v, want [published released prereleased]", got)
	}
}

func TestParseErrors(t *testing.T) {
	const gh = `"github": {"repository": "acme/web"}, "pipeline": "p"`
	tests := []struct {
		name, table, want string
	}{
		{"not JSON", `{`, "route table: unexpected EOF"},
		{"no routes", `{"routes": []}`, "no routes"},
		{"unknown top-level field", `{"rutes": []}`, `unknown field "rutes"`},
		{"unknown route field", `{"routes": [{"name": "a", ` + gh + `, "pipline": "x"}]}`, `routes[0]: json: unknown field "pipline"`},
		{"unknown nested field", `{"routes": [{"name": "a", "github": {"repository": "a/b", "event": ["release"]}, "pipeline": "p"}]}`, `routes[0]: json: unknown field "event"`},
		{"no name", `{"routes": [{` + gh + `}]}`, "routes[0]: name: required"},
		{"bad name", `{"routes": [{"name": "a b", ` + gh + `}]}`, `routes[0] (a b): name "a b"`},
		{"duplicate name", `{"routes": [{"name": "a", ` + gh + `}, {"name": "a", ` + gh + `}]}`, `routes[1]: name "a" is already used by routes[0]`},
		{"no pipeline", `{"routes": [{"name": "a", "github": {"repository": "a/b"}}]}`, "routes[0] (a): pipeline: required"},
		{"bad pipeline name", `{"routes": [{"name": "a", "github": {"repository": "a/b"}, "pipeline": "web prod"}]}`, `pipeline "web prod": CodePipeline names`},
		{"long pipeline name", `{"routes": [{"name": "a", "github": {"repository": "a/b"}, "pipeline": "` + strings.Repeat("p", 101) + `"}]}`, "CodePipeline names are 1-100"},
		{"bad action name", `{"routes": [{"name": "a", ` + gh + `, "sourceAction": "Source/1"}]}`, `sourceAction "Source/1"`},
		{"both sources", `{"routes": [{"name": "a", ` + gh + `, "ecr": {"repository": "web", "account": "123456789012"}}]}`, "exactly one of \"ecr\", \"github\" and \"codepipeline\""},
		{"promotion and GitHub", `{"routes": [{"name": "a", ` + gh + `, "codepipeline": {"pipeline": "q"}}]}`, "exactly one of"},
		{"promotion without a pipeline", `{"routes": [{"name": "a", "codepipeline": {}, "pipeline": "p"}]}`, `codepipeline.pipeline "": CodePipeline names`},
		{"promotion of itself", `{"routes": [{"name": "a", "codepipeline": {"pipeline": "p"}, "pipeline": "p"}]}`, `codepipeline.pipeline "p": a pipeline cannot promote its own executions`},
		{"promotion cycle", `{"routes": [{"name": "a", "codepipeline": {"pipeline": "x"}, "pipeline": "y"}, {"name": "b", "codepipeline": {"pipeline": "y"}, "pipeline": "z"}, {"name": "c", "codepipeline": {"pipeline": "z"}, "pipeline": "x"}]}`, "promotion routes form a cycle (x -> y -> z -> x)"},
		{"no source", `{"routes": [{"name": "a", "pipeline": "p"}]}`, "exactly one of"},
		{"bad GitHub repo", `{"routes": [{"name": "a", "github": {"repository": "web"}, "pipeline": "p"}]}`, `github.repository "web": want owner/name`},
		{"bad GitHub event", `{"routes": [{"name": "a", "github": {"repository": "a/b", "events": ["tag"]}, "pipeline": "p"}]}`, `github.events: "tag"`},
		{"edited release action", `{"routes": [{"name": "a", "github": {"repository": "a/b", "releaseActions": ["edited"]}, "pipeline": "p"}]}`, "edits and deletions never deploy"},
		{"bad region", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "region": "us-east"}, "pipeline": "p"}]}`, `ecr.region "us-east"`},
		{"bad prereleases", `{"routes": [{"name": "a", "github": {"repository": "a/b", "prereleases": "yes"}, "pipeline": "p"}]}`, `github.prereleases "yes"`},
		{"no account", `{"routes": [{"name": "a", "ecr": {"repository": "web"}, "pipeline": "p"}]}`, "ecr.account: required"},
		{"bad account", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "1234"}, "pipeline": "p"}]}`, `ecr.account "1234"`},
		{"bad ECR repo", `{"routes": [{"name": "a", "ecr": {"repository": "Web", "account": "123456789012"}, "pipeline": "p"}]}`, `ecr.repository "Web"`},
		{"bad region name", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "region": "mars"}, "pipeline": "p"}]}`, `ecr.region "mars"`},
		{"bad ECR event", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "events": ["delete"]}, "pipeline": "p"}]}`, `ecr.events: "delete"`},
		{"bad severity", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "maxSeverity": "CRITICAL"}, "pipeline": "p"}]}`, `ecr.maxSeverity "CRITICAL"`},
		{"undefined as a max severity", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "maxSeverity": "UNDEFINED"}, "pipeline": "p"}]}`, `ecr.maxSeverity "UNDEFINED"`},
		{"newline in a variable literal", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "v\n{{.Tag}}"}}]}`, "variables.T: control character U+000A at character 1"},
		{"U+2028 in a variable literal", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "a\u2028"}}]}`, "variables.T: control character U+2028"},
		{"NUL in a glob", `{"routes": [{"name": "a", ` + gh + `, "tags": {"glob": "v\u0000*"}}]}`, "tags.control character U+0000"},
		{"two tag filters", `{"routes": [{"name": "a", ` + gh + `, "tags": {"glob": "v*", "regex": "^v"}}]}`, "tags.give exactly one of glob, regex and semver"},
		{"bad glob", `{"routes": [{"name": "a", ` + gh + `, "tags": {"glob": "v["}}]}`, `tags.glob "v["`},
		{"bad regex", `{"routes": [{"name": "a", ` + gh + `, "tags": {"regex": "v("}}]}`, `tags.regex "v("`},
		{"bad semver", `{"routes": [{"name": "a", ` + gh + `, "tags": {"semver": ">=two"}}]}`, `tags.semver ">=two"`},
		{"prerelease without semver", `{"routes": [{"name": "a", ` + gh + `, "tags": {"glob": "v*", "prerelease": "include"}}]}`, "prerelease: only applies with semver"},
		{"bad variable name", `{"routes": [{"name": "a", ` + gh + `, "variables": {"RELEASE TAG": "{{.Tag}}"}}]}`, `variables: name "RELEASE TAG"`},
		{"unknown template field", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "{{.Tagg}}"}}]}`, "variables.T: {{.Tagg}}: want one of {{.Tag}}, {{.Version}}"},
		{"unclosed template", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "{{.Tag"}}]}`, "variables.T: unclosed {{"},
		{"template logic", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "{{if .Tag}}x{{end}}"}}]}`, "variables.T: {{if .Tag}}"},
		{"stray braces", `{"routes": [{"name": "a", ` + gh + `, "variables": {"T": "x}}"}}]}`, "variables.T: unmatched }}"},
		{"trailing data", `{"routes": [{"name": "a", ` + gh + `}]} {}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.table))
			if err == nil {
				t.Fatalf("Parse: got no error, want one saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseTooManyVariables(t *testing.T) {
	var vars []string
	for i := range 51 {
		vars = append(vars, `"V`+strings.Repeat("x", i)+`": "{{.Tag}}"`)
	}
	_, err := Parse([]byte(`{"routes": [{"name": "a", "github": {"repository": "a/b"}, "pipeline": "p", "variables": {` + strings.Join(vars, ",") + `}}]}`))
	if err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Fatalf("got %v, want a limit error", err)
	}
}

func matchedNames(ds []Decision) []string {
	var out []string
	for _, d := range Matched(ds) {
		out = append(out, d.Route.Name)
	}
	return out
}

func with(e Event, f func(*Event)) Event { f(&e); return e }

var (
	release = Event{Kind: KindRelease, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Repository: "Acme/Web", Tag: "v2.4.0",
		ReleaseAction: "published", CommitSHA: "9fceb02d0ae598e95dc970b74767f19372d61af8", ReleaseURL: "https://github.com/acme/web/releases/tag/v2.4.0"}
	push = Event{Kind: KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482", Account: "123456789012", Region: "us-east-1",
		Repository: "acme/worker", Tag: "v1.4.2", Digest: "sha256:abc", ImageURI: "x/acme/worker@sha256:abc"}
	scan = Event{Kind: KindECRScan, ID: "e2", Account: "123456789012", Region: "eu-west-1", Repository: "acme/worker",
		Tags: []string{"4f6c1a2", "v1.0.0"}, Digest: "sha256:def", Findings: map[string]int64{"MEDIUM": 3}}
)

func TestSelect(t *testing.T) {
	tbl := example(t)
	tests := []struct {
		name   string
		ev     Event
		want   []string
		reason string // of the first route, when nothing matched
	}{
		{"release, case-insensitive repository", release, []string{"web-prod-releases"}, ""},
		{"released action", with(release, func(e *Event) { e.ReleaseAction = "released" }), []string{"web-prod-releases"}, ""},
		{"release below the constraint", with(release, func(e *Event) { e.Tag = "v1.9.0" }), nil, `version v1.9.0 does not satisfy ">=2.0.0"`},
		{"release tag not semver", with(release, func(e *Event) { e.Tag = "latest" }), nil, `tag "latest" is not a semantic version`},
		{"prerelease goes to staging only", with(release, func(e *Event) { e.Tag, e.Prerelease, e.ReleaseAction = "v2.5.0-rc.1", true, "prereleased" }), []string{"web-staging-rcs"}, ""},
		{"draft", with(release, func(e *Event) { e.Draft = true }), nil, "draft releases never deploy"},
		{"edited", with(release, func(e *Event) { e.ReleaseAction = "edited" }), nil, `release action "edited" is not one the route takes`},
		{"deleted", with(release, func(e *Event) { e.ReleaseAction = "deleted" }), nil, `release action "deleted"`},
		{"created is not a default action", with(release, func(e *Event) { e.ReleaseAction = "created" }), nil, `release action "created"`},
		{"other repository", with(release, func(e *Event) { e.Repository = "acme/api" }), nil, "repository acme/api is not this route's (acme/web)"},
		{"tag push of an rc", Event{Kind: KindTagPush, ID: "d", Repository: "acme/web", Tag: "v3.0.0-beta.2", CommitSHA: "c"}, []string{"web-staging-rcs"}, ""},
		{"tag create is not routed", Event{Kind: KindTagCreate, ID: "d", Repository: "acme/web", Tag: "v3.0.0"}, nil, "route does not take tag-create events"},
		{"ECR push", push, []string{"worker-staging-images"}, ""},
		{"ECR push, tag off the glob", with(push, func(e *Event) { e.Tag = "latest" }), nil, ""},
		{"ECR push from another account", with(push, func(e *Event) { e.Account = "210987654321" }), nil, ""},
		{"ECR push from another region", with(push, func(e *Event) { e.Region = "eu-west-1" }), nil, ""},
		{"untagged push", with(push, func(e *Event) { e.Tag = "" }), nil, ""},
		{"scan within the limit, second tag matches", scan, []string{"worker-scanned"}, ""},
		{"scan with a HIGH finding", with(scan, func(e *Event) { e.Findings = map[string]int64{"HIGH": 1, "LOW": 4} }), nil, ""},
		{"scan with only UNDEFINED findings", with(scan, func(e *Event) { e.Findings = map[string]int64{"UNDEFINED": 2} }), nil, ""},
		{"scan with a lower-case critical", with(scan, func(e *Event) { e.Findings = map[string]int64{"critical": 1} }), nil, ""},
		{"scan with an unknown severity", with(scan, func(e *Event) { e.Findings = map[string]int64{"SEVERE": 1} }), nil, ""},
		{"scan with Inspector's TOTAL beyond the listed levels", with(scan, func(e *Event) { e.Findings = map[string]int64{"MEDIUM": 3, "TOTAL": 4} }), nil, ""},
		{"scan with no matching tag", with(scan, func(e *Event) { e.Tags = []string{"latest"} }), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := tbl.Select(tt.ev)
			if len(ds) != len(tbl.Routes) {
				t.Fatalf("got %d decisions, want one per route (%d)", len(ds), len(tbl.Routes))
			}
			if diff := cmp.Diff(tt.want, matchedNames(ds)); diff != "" {
				t.Errorf("matched routes (-want +got):\n%s", diff)
			}
			for _, d := range ds {
				if !d.Matched && d.Reason == "" {
					t.Errorf("route %s did not match and gives no reason", d.Route.Name)
				}
			}
			if tt.reason != "" && !strings.Contains(ds[0].Reason, tt.reason) {
				t.Errorf("first route's reason = %q, want it to contain %q", ds[0].Reason, tt.reason)
			}
		})
	}
}

func TestSelectReasons(t *testing.T) {
	tbl := example(t)
	ds := tbl.Select(with(push, func(e *Event) { e.Account = "210987654321" }))
	if got, want := ds[2].Reason, "event is from account 210987654321, route wants 123456789012"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	ds = tbl.Select(with(push, func(e *Event) { e.Tag = "" }))
	if got := ds[2].Reason; !strings.Contains(got, "untagged image (set ecr.untagged") {
		t.Errorf("reason = %q", got)
	}
	ds = tbl.Select(with(scan, func(e *Event) { e.Findings = map[string]int64{"CRITICAL": 1, "UNDEFINED": 2} }))
	if got, want := ds[3].Reason, "scan found CRITICAL: 1, UNDEFINED: 2; route allows at most MEDIUM"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

// A scan route may let undefined severities through, but only when it says so.
func TestAllowUndefined(t *testing.T) {
	tbl, err := Parse([]byte(`{"routes": [{"name": "a", "ecr": {"repository": "acme/worker", "account": "123456789012", "events": ["scan"],
		"maxSeverity": "HIGH", "allowUndefined": true}, "pipeline": "p"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		counts map[string]int64
		want   bool
	}{
		{map[string]int64{"UNDEFINED": 4, "HIGH": 1}, true},
		{map[string]int64{"UNTRIAGED": 1}, true},
		{map[string]int64{"CRITICAL": 1, "UNDEFINED": 4}, false},
	} {
		ds := tbl.Select(with(scan, func(e *Event) { e.Findings = tt.counts }))
		if ds[0].Matched != tt.want {
			t.Errorf("%v: matched %v, want %v (%s)", tt.counts, ds[0].Matched, tt.want, ds[0].Reason)
		}
	}
}

func plan(t *testing.T, tbl *Table, ev Event) []Plan {
	t.Helper()
	ps, err := Plans(ev, Matched(tbl.Select(ev)))
	if err != nil {
		t.Fatalf("Plans: %v", err)
	}
	return ps
}

var ignoreUnexported = cmpopts.IgnoreUnexported(codepipeline.StartPipelineExecutionInput{}, cptypes.PipelineVariable{}, cptypes.SourceRevisionOverride{})

func TestPlan(t *testing.T) {
	tbl := example(t)
	ps := plan(t, tbl, release)
	if len(ps) != 1 {
		t.Fatalf("planned %d routes, want 1", len(ps))
	}
	want := &codepipeline.StartPipelineExecutionInput{
		Name:               aws.String("web-prod"),
		ClientRequestToken: aws.String(Token(release, "web-prod-releases")),
		Variables: []cptypes.PipelineVariable{
			{Name: aws.String("RELEASE_TAG"), Value: aws.String("v2.4.0")},
			{Name: aws.String("TRIGGER_ID"), Value: aws.String("72d3162e-cc78-11e3-81ab-4c9367dc0958")},
		},
		SourceRevisions: []cptypes.SourceRevisionOverride{{ActionName: aws.String("Source"),
			RevisionType: cptypes.SourceRevisionTypeCommitId, RevisionValue: aws.String("9fceb02d0ae598e95dc970b74767f19372d61af8")}},
	}
	if diff := cmp.Diff(want, ps[0].Input, ignoreUnexported); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}

	// An ECR source action gets the digest; a scan plans with the tag that matched.
	ps = plan(t, tbl, scan)
	rev := ps[0].Input.SourceRevisions[0]
	if rev.RevisionType != cptypes.SourceRevisionTypeImageDigest || aws.ToString(rev.RevisionValue) != "sha256:def" || aws.ToString(rev.ActionName) != "Image" {
		t.Errorf("source revision = %+v, want Image IMAGE_DIGEST sha256:def", rev)
	}
	if got := aws.ToString(ps[0].Input.Variables[0].Value); got != "v1.0.0" {
		t.Errorf("IMAGE_TAG = %q, want the tag that matched (v1.0.0)", got)
	}
}

// A route that matched but cannot become a valid request is an error naming the
// route, the field and the value's length, never a silent "ignored".
func TestPlanErrors(t *testing.T) {
	tbl, err := Parse([]byte(`{"routes": [{"name": "r", "github": {"repository": "acme/web", "events": ["release", "tag-push"]},
		"pipeline": "p", "sourceAction": "Source", "variables": {"RELEASE_TAG": "{{.Tag}}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("v", 1001)
	tests := []struct {
		name, tag, commit string
		field, says       string
		length            int
	}{
		{"1,001-character tag", long, "c", "variables.RELEASE_TAG", "value is 1001 characters; CodePipeline takes at most 1000 characters", 1001},
		{"NUL", "v1\x00", "c", "tag", "control character U+0000 at character 2", 3},
		{"newline", "v1\n", "c", "tag", "control character U+000A", 3},
		{"carriage return", "v1\rx", "c", "tag", "control character U+000D", 4},
		{"U+2028", "v1\u2028", "c", "tag", "control character U+2028", 3},
		{"no commit for the source action", "v1", "", "sourceAction", `Source needs the commit SHA of tag "v1"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Event{Kind: KindTagPush, ID: "d", Repository: "acme/web", Tag: tt.tag, CommitSHA: tt.commit}
			ds := Matched(tbl.Select(ev))
			if len(ds) != 1 {
				t.Fatalf("the route did not match: %+v", tbl.Select(ev))
			}
			_, err := ds[0].Plan(ev)
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("Plan: %v, want a *PlanError", err)
			}
			if pe.Route != "r" || pe.Field != tt.field || pe.Length != tt.length || !strings.Contains(pe.Reason, tt.says) {
				t.Errorf("got %+v, want field %s, length %d, reason with %q", pe, tt.field, tt.length, tt.says)
			}
		})
	}

	// 600 non-ASCII characters are 1,200 bytes, and CodePipeline takes them.
	ev := Event{Kind: KindTagPush, ID: "d", Repository: "acme/web", Tag: strings.Repeat("é", 600), CommitSHA: "c"}
	ps, err := Plans(ev, Matched(tbl.Select(ev)))
	if err != nil || len(ps) != 1 || aws.ToString(ps[0].Input.Variables[0].Value) != ev.Tag {
		t.Fatalf("a 600-character non-ASCII tag: %v, %+v", err, ps)
	}
}

func TestVarTemplate(t *testing.T) {
	d := &TemplateData{Tag: "v1.2.0", Version: "1.2.0", Repository: "acme/web"}
	tests := []struct{ in, want string }{
		{"{{.Tag}}", "v1.2.0"},
		{"release {{ .Version }} of {{.Repository}}!", "release 1.2.0 of acme/web!"},
		{"no references", "no references"},
		{"{{.Digest}}", ""},
		{"a { b } c", "a { b } c"},
	}
	for _, tt := range tests {
		tmpl, err := parseVarTemplate(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got := tmpl.render(d); got != tt.want {
			t.Errorf("%q rendered %q, want %q", tt.in, got, tt.want)
		}
	}
}

func validToken(t testing.TB, tok string) {
	t.Helper()
	if err := names.RequestToken(tok); err != nil {
		t.Fatalf("token breaks CodePipeline's pattern: %v", err)
	}
}

// GitHub tokens come from what GitHub signed: a redelivery, a replay under a new
// delivery id, and the published+released pair of one release all make one
// token per route, and two routes never share one.
func TestGitHubTokens(t *testing.T) {
	table := `{"routes": [
	  {"name": "a", "github": {"repository": "acme/web", "events": ["release", "tag-push", "tag-create"]}, "pipeline": "p1"},
	  {"name": "b", "github": {"repository": "acme/web"}, "pipeline": "p2"},
	  {"name": "c", "github": {"repository": "acme/web"}, "pipeline": "p2"}]}`
	tbl, err := Parse([]byte(table))
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Kind: KindRelease, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Repository: "acme/web", Tag: "v1", ReleaseAction: "published", CommitSHA: "c0ffee"}
	tokens := func(ev Event) []string {
		var out []string
		for _, p := range plan(t, tbl, ev) {
			tok := aws.ToString(p.Input.ClientRequestToken)
			validToken(t, tok)
			out = append(out, tok)
		}
		return out
	}
	first := tokens(ev)
	if len(first) != 3 || first[0] == first[1] || first[1] == first[2] || first[0] == first[2] {
		t.Fatalf("tokens %v: want three, all different", first)
	}
	for _, same := range []Event{
		with(ev, func(e *Event) { e.ID = "0b989ba4-242f-11e5-81e1-c7b6966d2516" }), // replayed under a new delivery id
		with(ev, func(e *Event) { e.ReleaseAction = "released" }),                  // the pair's second delivery
		with(ev, func(e *Event) { e.Repository = "Acme/Web" }),                     // GitHub's case
	} {
		if got := tokens(same); !cmp.Equal(got, first) {
			t.Errorf("%+v: tokens %v, want %v", same, got, first)
		}
	}
	for _, other := range []Event{
		with(ev, func(e *Event) { e.Tag = "v2" }),
		with(ev, func(e *Event) { e.CommitSHA = "deadbeef" }),
		with(ev, func(e *Event) { e.Kind = KindTagPush }),
	} {
		if got := tokens(other); got[0] == first[0] {
			t.Errorf("%+v: same token as the original release", other)
		}
	}
	// A tag push and the create event for the same tag are one happening.
	tp := Event{Kind: KindTagPush, ID: "x", Repository: "acme/web", Tag: "v9", CommitSHA: "c0ffee"}
	tc := with(tp, func(e *Event) { e.Kind, e.ID = KindTagCreate, "y" })
	if a, b := Token(tp, "a"), Token(tc, "a"); a != b {
		t.Errorf("tag push %s and tag create %s of one tag have different tokens", a, b)
	}
}

func TestECRTokens(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"ECR uuid", Event{Kind: KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482"}},
		{"odd characters", Event{Kind: KindECRPush, ID: "not/a_valid id"}},
		{"too long", Event{Kind: KindECRPush, ID: strings.Repeat("a", 200)}},
		{"empty", Event{Kind: KindECRPush}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Token(tt.ev, "r1"), Token(tt.ev, "r2")
			validToken(t, a)
			validToken(t, b)
			if a == b {
				t.Errorf("two routes got the same token %q", a)
			}
			if a != Token(tt.ev, "r1") {
				t.Errorf("token not deterministic")
			}
		})
	}
}

// The CDK app builds tables from typed routes; what it marshals, the Lambdas'
// parser must accept unchanged.
func TestNewRoundTrips(t *testing.T) {
	tbl, err := New([]Route{
		{Name: "a", Pipeline: "p", GitHub: &GitHubSource{Repository: "acme/web"}, Tags: &TagFilter{Semver: ">=1"}, Variables: map[string]string{"T": "{{.Tag}}"}},
		{Name: "b", Pipeline: "q", ECR: &ECRSource{Repository: "acme/worker", Account: "123456789012", Events: []string{"scan"}, AllowUndefined: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(tbl)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Marshal(New(...))): %v\n%s", err, data)
	}
	if diff := cmp.Diff(tbl, again, cmpopts.IgnoreUnexported(Route{}, TagFilter{}, ECRSource{})); diff != "" {
		t.Errorf("round trip (-new +parsed):\n%s", diff)
	}
	if _, err := New([]Route{{Name: "a", Pipeline: "p", GitHub: &GitHubSource{Repository: "web"}}}); err == nil || !strings.Contains(err.Error(), "routes[0] (a): github.repository") {
		t.Errorf("New accepted a bad route: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../examples/routes.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"routes": [{"name": "a", "github": {"repository": "a/b"}, "pipeline": "p", "tags": {"semver": ">=1"}, "variables": {"V": "{{.Tag}}"}}]}`))
	f.Add([]byte(`{"routes": [{"name": "a", "ecr": {"repository": "w", "account": "123456789012", "events": ["scan"]}, "pipeline": "p", "tags": {"regex": "^v"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must select without panicking and plan valid requests.
		for _, ev := range []Event{
			{Kind: KindRelease, ID: "x", Repository: "a/b", Tag: "v1.0.0", ReleaseAction: "published", CommitSHA: "c"},
			{Kind: KindECRScan, ID: "y", Account: "123456789012", Repository: "w", Tags: []string{"v1", "x"}, Digest: "sha256:a"},
		} {
			ps, _ := Plans(ev, Matched(tbl.Select(ev)))
			for _, p := range ps {
				checkPlan(t, p)
			}
		}
	})
}

// FuzzSelect fuzzes events against the example table: every plan is a valid
// request, tokens are valid and deterministic, and a matched route that cannot
// be planned says why with a *PlanError.
func FuzzSelect(f *testing.F) {
	f.Add(uint8(0), "Acme/Web", "v2.4.0", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "9fceb02", "published", false)
	f.Add(uint8(1), "acme/web", "v3.0.0-rc.1\n", "d", "c", "", true)
	f.Add(uint8(3), "acme/worker", "v1.2.3", "13cde686-328b-6117-af20-0e5566167482", "", "", false)
	f.Add(uint8(4), "acme/worker", strings.Repeat("v", 1001), "e", "", "", false)
	f.Fuzz(func(t *testing.T, kind uint8, repo, tag, id, commit, action string, pre bool) {
		kinds := []string{KindRelease, KindTagPush, KindTagCreate, KindECRPush, KindECRScan}
		ev := Event{Kind: kinds[int(kind)%len(kinds)], ID: id, Repository: repo, Tag: tag, CommitSHA: commit,
			ReleaseAction: action, Prerelease: pre, Account: "123456789012", Region: "us-east-1", Digest: "sha256:abc",
			Findings: map[string]int64{"LOW": 1}}
		if ev.Kind == KindECRScan {
			ev.Tags = []string{"x", tag}
		}
		tbl := fuzzTable
		ds := Matched(tbl.Select(ev))
		ps, err := Plans(ev, ds)
		for _, p := range ps {
			checkPlan(t, p)
			if again := Token(with(ev, func(e *Event) { e.Tag = tagOf(ds, p.Route) }), p.Route.Name); again != aws.ToString(p.Input.ClientRequestToken) {
				t.Fatalf("token not deterministic: %s then %s", aws.ToString(p.Input.ClientRequestToken), again)
			}
		}
		var pe *PlanError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("a plan failed without a *PlanError: %v", err)
		}
		if len(ps)+countPlanErrors(err) != len(ds) {
			t.Fatalf("%d matched, %d planned, %v: a matched route was dropped", len(ds), len(ps), err)
		}
	})
}

var fuzzTable = func() *Table {
	data, err := os.ReadFile("../../examples/routes.json")
	if err != nil {
		panic(err)
	}
	tbl, err := Parse(data)
	if err != nil {
		panic(err)
	}
	return tbl
}()

func tagOf(ds []Decision, r *Route) string {
	for _, d := range ds {
		if d.Route == r {
			return d.Tag
		}
	}
	return ""
}

func countPlanErrors(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

func checkPlan(t *testing.T, p Plan) {
	t.Helper()
	if names.Pipeline(aws.ToString(p.Input.Name)) != nil {
		t.Fatalf("planned an invalid pipeline name: %+v", p.Input)
	}
	validToken(t, aws.ToString(p.Input.ClientRequestToken))
	for _, v := range p.Input.Variables {
		val := aws.ToString(v.Value)
		if names.Variable(aws.ToString(v.Name)) != nil || val == "" || names.Len(val) > names.MaxVariableValue {
			t.Fatalf("planned an invalid variable: %+v", v)
		}
		if _, at := names.ControlChar(val); at >= 0 {
			t.Fatalf("planned a variable with a control character: %q", val)
		}
	}
}

// Promotions: a route takes the successful executions of its source pipeline
// only, plans the digest the execution deployed as the source revision, and
// its token comes from the source execution, so repeated events make one.
func TestPromotion(t *testing.T) {
	table, err := Parse([]byte(`{"routes": [
		{"name": "worker-prod", "codepipeline": {"pipeline": "worker-staging"}, "pipeline": "worker-prod", "sourceAction": "Image",
		 "variables": {"IMAGE_TAG": "{{.Tag}}", "TRIGGER_ID": "{{.EventID}}"}},
		{"name": "worker-dr", "codepipeline": {"pipeline": "worker-prod"}, "pipeline": "worker-dr", "tags": {"glob": "v*"}},
		{"name": "worker-staging", "ecr": {"repository": "acme/worker", "account": "123456789012"}, "pipeline": "worker-staging"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:" + "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	ev := Event{Kind: KindPromotion, ID: "bd3c2a77-3f5e-4f3a-9c0e-6f0d8a1b2c3d", Pipeline: "worker-staging", Repository: "acme/worker", Digest: digest, Tag: "v1.4.0"}
	ds := table.Select(ev)
	if got := Matched(ds); len(got) != 1 || got[0].Route.Name != "worker-prod" {
		t.Fatalf("matched %v, want worker-prod only; reasons %v", got, Reasons(ds))
	}
	if r := Reasons(ds); !strings.Contains(r["worker-dr"], "pipeline worker-staging is not the one this route promotes (worker-prod)") ||
		!strings.Contains(r["worker-staging"], "route does not take promotions") {
		t.Errorf("reasons = %v", r)
	}
	plans, err := Plans(ev, ds)
	if err != nil || len(plans) != 1 {
		t.Fatalf("Plans = %v, %v", plans, err)
	}
	in := plans[0].Input
	if len(in.SourceRevisions) != 1 || aws.ToString(in.SourceRevisions[0].RevisionValue) != digest ||
		in.SourceRevisions[0].RevisionType != "IMAGE_DIGEST" || aws.ToString(in.SourceRevisions[0].ActionName) != "Image" {
		t.Errorf("source revisions = %+v, want the digest on action Image", in.SourceRevisions)
	}
	vars := map[string]string{}
	for _, v := range in.Variables {
		vars[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	if vars["IMAGE_TAG"] != "v1.4.0" || vars["TRIGGER_ID"] != ev.ID {
		t.Errorf("variables = %v", vars)
	}
	tok := aws.ToString(in.ClientRequestToken)
	validToken(t, tok)
	again := ev
	again.Tag = "v1.4.0-other" // another event about the same execution
	if p, _ := Plans(again, table.Select(again)); len(p) != 1 || aws.ToString(p[0].Input.ClientRequestToken) != tok {
		t.Errorf("a second event for execution %s made another token", ev.ID)
	}
	other := ev
	other.ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	if p, _ := Plans(other, table.Select(other)); len(p) != 1 || aws.ToString(p[0].Input.ClientRequestToken) == tok {
		t.Errorf("another execution made the same token")
	}
	// No digest: refused, never started without one.
	none := ev
	none.Digest = ""
	if _, err := Plans(none, table.Select(none)); err == nil || !strings.Contains(err.Error(), "needs the event's image digest") {
		t.Errorf("Plans without a digest: %v", err)
	}
	// A tag filter on a promotion needs a tag.
	dr := Event{Kind: KindPromotion, ID: ev.ID, Pipeline: "worker-prod", Digest: digest}
	if r := Reasons(table.Select(dr)); !strings.Contains(r["worker-dr"], "without a tag") {
		t.Errorf("untagged promotion through a tag filter: %v", r)
	}
	dr.Tag = "v2.0.0"
	if got := Matched(table.Select(dr)); len(got) != 1 || got[0].Route.Name != "worker-dr" {
		t.Errorf("worker-dr did not take a tagged promotion: %v", got)
	}
}
