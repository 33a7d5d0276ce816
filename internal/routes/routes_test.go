package routes

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	if got := tbl.Routes[1].GitHub.ReleaseActions; !cmp.Equal(got, []string{"published"}) {
		t.Errorf("releaseActions default = %v, want [published]", got)
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
		{"both sources", `{"routes": [{"name": "a", ` + gh + `, "ecr": {"repository": "web", "account": "123456789012"}}]}`, "exactly one of \"ecr\" and \"github\""},
		{"no source", `{"routes": [{"name": "a", "pipeline": "p"}]}`, "exactly one of"},
		{"bad GitHub repo", `{"routes": [{"name": "a", "github": {"repository": "web"}, "pipeline": "p"}]}`, `github.repository "web": want owner/name`},
		{"bad GitHub event", `{"routes": [{"name": "a", "github": {"repository": "a/b", "events": ["tag"]}, "pipeline": "p"}]}`, `github.events: "tag"`},
		{"edited release action", `{"routes": [{"name": "a", "github": {"repository": "a/b", "releaseActions": ["edited"]}, "pipeline": "p"}]}`, "edits and deletions never deploy"},
		{"bad prereleases", `{"routes": [{"name": "a", "github": {"repository": "a/b", "prereleases": "yes"}, "pipeline": "p"}]}`, `github.prereleases "yes"`},
		{"no account", `{"routes": [{"name": "a", "ecr": {"repository": "web"}, "pipeline": "p"}]}`, "ecr.account: required"},
		{"bad account", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "1234"}, "pipeline": "p"}]}`, `ecr.account "1234"`},
		{"bad ECR repo", `{"routes": [{"name": "a", "ecr": {"repository": "Web", "account": "123456789012"}, "pipeline": "p"}]}`, `ecr.repository "Web"`},
		{"bad region", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "region": "mars"}, "pipeline": "p"}]}`, `ecr.region "mars"`},
		{"bad ECR event", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "events": ["delete"]}, "pipeline": "p"}]}`, `ecr.events: "delete"`},
		{"bad severity", `{"routes": [{"name": "a", "ecr": {"repository": "web", "account": "123456789012", "maxSeverity": "CRITICAL"}, "pipeline": "p"}]}`, `ecr.maxSeverity "CRITICAL"`},
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

func TestMatch(t *testing.T) {
	tbl := example(t)
	release := Event{Kind: KindRelease, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Repository: "Acme/Web", Tag: "v2.4.0",
		ReleaseAction: "published", CommitSHA: "9fceb02d0ae598e95dc970b74767f19372d61af8", ReleaseURL: "https://github.com/acme/web/releases/tag/v2.4.0"}
	push := Event{Kind: KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482", Account: "123456789012", Region: "us-east-1",
		Repository: "acme/web", Tag: "dev-42", Digest: "sha256:abc", ImageURI: "x/acme/web@sha256:abc"}
	scan := Event{Kind: KindECRScan, ID: "e2", Account: "123456789012", Region: "eu-west-1", Repository: "acme/worker",
		Tags: []string{"4f6c1a2", "v1.0.0"}, Digest: "sha256:def", Findings: map[string]int64{"MEDIUM": 3}}
	with := func(e Event, f func(*Event)) Event { f(&e); return e }

	tests := []struct {
		name   string
		ev     Event
		want   []string
		reason string // of the first route, when nothing matched
	}{
		{"release, case-insensitive repository", release, []string{"web-prod-releases"}, ""},
		{"release below the constraint", with(release, func(e *Event) { e.Tag = "v1.9.0" }), nil, `version v1.9.0 does not satisfy ">=2.0.0"`},
		{"release tag not semver", with(release, func(e *Event) { e.Tag = "latest" }), nil, `tag "latest" is not a semantic version`},
		{"prerelease goes to staging only", with(release, func(e *Event) { e.Tag, e.Prerelease = "v2.5.0-rc.1", true }), []string{"web-staging-rcs"}, ""},
		{"draft", with(release, func(e *Event) { e.Draft = true }), nil, "draft releases never deploy"},
		{"edited", with(release, func(e *Event) { e.ReleaseAction = "edited" }), nil, `release action "edited" is not one the route takes`},
		{"deleted", with(release, func(e *Event) { e.ReleaseAction = "deleted" }), nil, `release action "deleted"`},
		{"other repository", with(release, func(e *Event) { e.Repository = "acme/api" }), nil, "repository acme/api is not this route's (acme/web)"},
		{"tag push of an rc", Event{Kind: KindTagPush, ID: "d", Repository: "acme/web", Tag: "v3.0.0-beta.2", CommitSHA: "c"}, []string{"web-staging-rcs"}, ""},
		{"tag create is not routed", Event{Kind: KindTagCreate, ID: "d", Repository: "acme/web", Tag: "v3.0.0"}, nil, "route does not take tag-create events"},
		{"ECR push", push, []string{"web-dev-images"}, ""},
		{"ECR push, tag off the glob", with(push, func(e *Event) { e.Tag = "v1" }), nil, ""},
		{"ECR push from another account", with(push, func(e *Event) { e.Account = "210987654321" }), nil, ""},
		{"ECR push from another region", with(push, func(e *Event) { e.Region = "eu-west-1" }), nil, ""},
		{"untagged push", with(push, func(e *Event) { e.Tag = "" }), nil, ""},
		{"scan within the limit, second tag matches", scan, []string{"worker-scanned"}, ""},
		{"scan with a HIGH finding", with(scan, func(e *Event) { e.Findings = map[string]int64{"HIGH": 1, "LOW": 4} }), nil, ""},
		{"scan with no matching tag", with(scan, func(e *Event) { e.Tags = []string{"latest"} }), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := tbl.Match(tt.ev)
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

func TestMatchReasons(t *testing.T) {
	tbl := example(t)
	ds := tbl.Match(Event{Kind: KindECRPush, ID: "e", Account: "210987654321", Region: "us-east-1", Repository: "acme/web", Tag: "dev-1", Digest: "sha256:a"})
	if got, want := ds[2].Reason, "event is from account 210987654321, route wants 123456789012"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	ds = tbl.Match(Event{Kind: KindECRPush, ID: "e", Account: "123456789012", Region: "us-east-1", Repository: "acme/web", Digest: "sha256:a"})
	if got := ds[2].Reason; !strings.Contains(got, "untagged image (set ecr.untagged") {
		t.Errorf("reason = %q", got)
	}
	ds = tbl.Match(Event{Kind: KindECRScan, ID: "e", Account: "123456789012", Repository: "acme/worker", Tag: "v1.0.0", Digest: "sha256:a", Findings: map[string]int64{"CRITICAL": 1}})
	if got, want := ds[3].Reason, "scan found CRITICAL findings; route allows at most MEDIUM"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

func TestPlan(t *testing.T) {
	tbl := example(t)
	ev := Event{Kind: KindRelease, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Repository: "acme/web", Tag: "v2.4.0",
		ReleaseAction: "published", CommitSHA: "9fceb02d0ae598e95dc970b74767f19372d61af8", ReleaseURL: "https://github.com/acme/web/releases/tag/v2.4.0"}
	ds := Matched(tbl.Match(ev))
	if len(ds) != 1 {
		t.Fatalf("matched %d routes, want 1", len(ds))
	}
	want := &codepipeline.StartPipelineExecutionInput{
		Name:               aws.String("web-prod"),
		ClientRequestToken: aws.String("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
		Variables: []cptypes.PipelineVariable{
			{Name: aws.String("RELEASE_TAG"), Value: aws.String("v2.4.0")},
			{Name: aws.String("RELEASE_URL"), Value: aws.String("https://github.com/acme/web/releases/tag/v2.4.0")},
			{Name: aws.String("TRIGGER"), Value: aws.String("github-release 72d3162e-cc78-11e3-81ab-4c9367dc0958")},
		},
		SourceRevisions: []cptypes.SourceRevisionOverride{{ActionName: aws.String("Source"),
			RevisionType: cptypes.SourceRevisionTypeCommitId, RevisionValue: aws.String("9fceb02d0ae598e95dc970b74767f19372d61af8")}},
	}
	if diff := cmp.Diff(want, ds[0].Input, cmpopts.IgnoreUnexported(codepipeline.StartPipelineExecutionInput{}, cptypes.PipelineVariable{}, cptypes.SourceRevisionOverride{})); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}

	// A tag push carries no release URL: the variable is left out, with a note.
	ds = Matched(tbl.Match(Event{Kind: KindTagPush, ID: "d2", Repository: "acme/web", Tag: "v3.0.0-rc.1", CommitSHA: "c"}))
	if len(ds) != 1 || len(ds[0].Input.Variables) != 1 {
		t.Fatalf("got %+v", ds)
	}

	// An ECR source action gets the digest.
	ds = Matched(tbl.Match(Event{Kind: KindECRPush, ID: "e", Account: "123456789012", Region: "us-east-1", Repository: "acme/web", Tag: "dev-7", Digest: "sha256:abc", ImageURI: "u@sha256:abc"}))
	rev := ds[0].Input.SourceRevisions[0]
	if rev.RevisionType != cptypes.SourceRevisionTypeImageDigest || aws.ToString(rev.RevisionValue) != "sha256:abc" || aws.ToString(rev.ActionName) != "Image" {
		t.Errorf("source revision = %+v, want Image IMAGE_DIGEST sha256:abc", rev)
	}

	// A source action without a commit SHA cannot be planned: an error, not a guess.
	ds = tbl.Match(Event{Kind: KindRelease, ID: "d3", Repository: "acme/web", Tag: "v2.4.0", ReleaseAction: "published"})
	if ds[0].Matched || !strings.Contains(ds[0].Reason, "sourceAction Source needs the event's commit SHA") {
		t.Errorf("decision = %+v", ds[0])
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

func TestFanOutTokens(t *testing.T) {
	table := `{"routes": [
	  {"name": "a", "github": {"repository": "acme/web"}, "pipeline": "p1"},
	  {"name": "b", "github": {"repository": "acme/web"}, "pipeline": "p2"},
	  {"name": "c", "github": {"repository": "acme/web"}, "pipeline": "p2"}]}`
	tbl, err := Parse([]byte(table))
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Kind: KindRelease, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Repository: "acme/web", Tag: "v1", ReleaseAction: "published"}
	ds := Matched(tbl.Match(ev))
	if len(ds) != 3 {
		t.Fatalf("matched %d, want 3", len(ds))
	}
	seen := map[string]bool{}
	for _, d := range ds {
		tok := aws.ToString(d.Input.ClientRequestToken)
		if !tokenRE.MatchString(tok) {
			t.Errorf("token %q breaks CodePipeline's pattern", tok)
		}
		seen[tok] = true
	}
	if got := aws.ToString(ds[0].Input.ClientRequestToken); got != ev.ID {
		t.Errorf("sole route to p1: token %q, want the delivery id", got)
	}
	if len(seen) != 3 {
		t.Errorf("two routes to the same pipeline share a token: %v", seen)
	}
	// Deterministic: the same event gives the same tokens.
	again := Matched(tbl.Match(ev))
	for i := range ds {
		if aws.ToString(ds[i].Input.ClientRequestToken) != aws.ToString(again[i].Input.ClientRequestToken) {
			t.Errorf("token of route %s changed between runs", ds[i].Route.Name)
		}
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"ECR uuid", Event{Kind: KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482"}},
		{"odd characters", Event{Kind: KindRelease, ID: "not/a_valid id"}},
		{"too long", Event{Kind: KindECRPush, ID: strings.Repeat("a", 200)}},
		{"empty", Event{Kind: KindECRPush}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Token(tt.ev, "r1", false), Token(tt.ev, "r2", false)
			if !tokenRE.MatchString(a) || !tokenRE.MatchString(b) {
				t.Errorf("tokens %q, %q break CodePipeline's pattern", a, b)
			}
			if a == b {
				t.Errorf("two routes got the same token %q", a)
			}
			if a != Token(tt.ev, "r1", false) {
				t.Errorf("token not deterministic")
			}
		})
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
		// Whatever parses must match without panicking and plan valid requests.
		for _, ev := range []Event{
			{Kind: KindRelease, ID: "x", Repository: "a/b", Tag: "v1.0.0", ReleaseAction: "published", CommitSHA: "c"},
			{Kind: KindECRScan, ID: "y", Account: "123456789012", Repository: "w", Tags: []string{"v1", "x"}, Digest: "sha256:a"},
		} {
			for _, d := range Matched(tbl.Match(ev)) {
				if !pipelineNameRE.MatchString(aws.ToString(d.Input.Name)) || !tokenRE.MatchString(aws.ToString(d.Input.ClientRequestToken)) {
					t.Fatalf("planned an invalid request: %+v", d.Input)
				}
				for _, v := range d.Input.Variables {
					if !variableNameRE.MatchString(aws.ToString(v.Name)) || aws.ToString(v.Value) == "" {
						t.Fatalf("planned an invalid variable: %+v", v)
					}
				}
			}
		}
	})
}
