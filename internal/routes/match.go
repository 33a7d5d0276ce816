package routes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
)

// Event kinds.
const (
	KindECRPush   = "ecr.push"
	KindECRScan   = "ecr.scan"
	KindRelease   = "github.release"
	KindTagPush   = "github.tag-push"
	KindTagCreate = "github.tag-create"
)

// Event is a release event, normalized from an ECR EventBridge event or a GitHub
// webhook delivery.
type Event struct {
	Kind string
	// ID is the EventBridge event id or the X-GitHub-Delivery id.
	ID string
	// Repository is the ECR repository name, or the GitHub owner/name.
	Repository string
	Tag        string
	// Tags, when set, are all of the image's tags (scan events carry several); a
	// route matches when any of them passes its filter, and sees that one as Tag.
	Tags []string

	// ECR events.
	Account, Region string
	Digest          string
	ImageURI        string
	// Findings counts scan findings by severity (scan events).
	Findings map[string]int64

	// GitHub events.
	CommitSHA     string
	ReleaseURL    string
	ReleaseAction string
	Prerelease    bool
	Draft         bool
}

// TemplateData is what variable templates see: {{.Tag}}, {{.ImageURI}}, ...
type TemplateData struct {
	Tag        string // image tag or Git tag
	Version    string // Tag without a leading "v" when it is a semantic version
	Digest     string // image digest (ECR)
	ImageURI   string // REPO_URI@DIGEST (ECR)
	CommitSHA  string // commit the tag points at (GitHub)
	ReleaseURL string // release page (GitHub releases)
	Repository string // ECR repository name or GitHub owner/name
	DeliveryID string // X-GitHub-Delivery (GitHub)
	EventID    string // EventBridge event id (ECR) or delivery id (GitHub)
	Route      string // the route's name
}

var templateFields = []string{".Tag", ".Version", ".Digest", ".ImageURI", ".CommitSHA", ".ReleaseURL", ".Repository", ".DeliveryID", ".EventID", ".Route"}

// Decision is what a route makes of an event.
type Decision struct {
	Route   *Route
	Matched bool
	// Reason says why the route did not match; empty when it did.
	Reason string
	// Input is the request to send, when the route matched.
	Input *codepipeline.StartPipelineExecutionInput
	// Notes explain adjustments, such as variables left out because they came out
	// empty (CodePipeline refuses empty values; the pipeline's default applies).
	Notes []string
}

// Match returns one decision per route, in table order.
func (t *Table) Match(ev Event) []Decision {
	out := make([]Decision, 0, len(t.Routes))
	perPipeline := map[string]int{}
	matchedEv := make([]Event, len(t.Routes))
	for i, r := range t.Routes {
		d := Decision{Route: r}
		candidates := ev.Tags
		if len(candidates) == 0 {
			candidates = []string{ev.Tag}
		}
		for j, tag := range candidates {
			e := ev
			e.Tag = tag
			ok, reason := r.matches(e)
			if j == 0 || ok {
				d.Matched, d.Reason = ok, reason
			}
			if ok {
				matchedEv[i] = e
				perPipeline[r.Pipeline]++
				break
			}
		}
		out = append(out, d)
	}
	for i := range out {
		if out[i].Matched {
			out[i].Input, out[i].Notes, out[i].Reason = out[i].Route.plan(matchedEv[i], perPipeline[out[i].Route.Pipeline] > 1)
			if out[i].Input == nil {
				out[i].Matched = false
			}
		}
	}
	return out
}

// Matched returns the decisions that start a pipeline.
func Matched(ds []Decision) []Decision {
	var out []Decision
	for _, d := range ds {
		if d.Matched {
			out = append(out, d)
		}
	}
	return out
}

func (r *Route) matches(ev Event) (bool, string) {
	switch ev.Kind {
	case KindECRPush, KindECRScan:
		s := r.ECR
		if s == nil {
			return false, "route is for GitHub events"
		}
		want := "push"
		if ev.Kind == KindECRScan {
			want = "scan"
		}
		switch {
		case !slices.Contains(s.Events, want):
			return false, fmt.Sprintf("route does not take ECR %s events (events: %s)", want, strings.Join(s.Events, ", "))
		case ev.Account != s.Account:
			return false, fmt.Sprintf("event is from account %s, route wants %s", ev.Account, s.Account)
		case s.Region != "" && ev.Region != s.Region:
			return false, fmt.Sprintf("event is from region %s, route wants %s", ev.Region, s.Region)
		case ev.Repository != s.Repository:
			return false, fmt.Sprintf("repository %s is not this route's (%s)", ev.Repository, s.Repository)
		}
		if ev.Kind == KindECRScan {
			if sev := worstFinding(ev.Findings); severityIndex(sev) > severityIndex(s.MaxSeverity) {
				return false, fmt.Sprintf("scan found %s findings; route allows at most %s", sev, s.MaxSeverity)
			}
		}
		if ev.Tag == "" {
			if !s.Untagged {
				return false, "untagged image (set ecr.untagged to route pushes by digest)"
			}
			return true, ""
		}
	case KindRelease, KindTagPush, KindTagCreate:
		s := r.GitHub
		if s == nil {
			return false, "route is for ECR events"
		}
		want := strings.TrimPrefix(ev.Kind, "github.")
		switch {
		case !strings.EqualFold(ev.Repository, s.Repository):
			return false, fmt.Sprintf("repository %s is not this route's (%s)", ev.Repository, s.Repository)
		case !slices.Contains(s.Events, want):
			return false, fmt.Sprintf("route does not take %s events (events: %s)", want, strings.Join(s.Events, ", "))
		}
		if ev.Kind == KindRelease {
			switch {
			case ev.Draft:
				return false, "draft releases never deploy"
			case !slices.Contains(s.ReleaseActions, ev.ReleaseAction):
				return false, fmt.Sprintf("release action %q is not one the route takes (%s)", ev.ReleaseAction, strings.Join(s.ReleaseActions, ", "))
			case ev.Prerelease && s.Prereleases == "exclude":
				return false, "prerelease, and the route excludes prereleases"
			case !ev.Prerelease && s.Prereleases == "only":
				return false, "not a prerelease, and the route takes only prereleases"
			}
		}
		if ev.Tag == "" {
			return false, "event has no tag"
		}
	default:
		return false, fmt.Sprintf("unknown event kind %q", ev.Kind)
	}
	if r.Tags != nil {
		return r.Tags.Match(ev.Tag)
	}
	return true, ""
}

// plan builds the request. shared says another matched route starts the same
// pipeline, so the idempotency token must also tell the routes apart.
func (r *Route) plan(ev Event, shared bool) (*codepipeline.StartPipelineExecutionInput, []string, string) {
	data := TemplateData{
		Tag: ev.Tag, Digest: ev.Digest, ImageURI: ev.ImageURI, CommitSHA: ev.CommitSHA,
		ReleaseURL: ev.ReleaseURL, Repository: ev.Repository, EventID: ev.ID, Route: r.Name,
	}
	if v, err := semver.NewVersion(ev.Tag); err == nil {
		data.Version = v.String()
	}
	if r.GitHub != nil {
		data.DeliveryID = ev.ID
	}
	in := &codepipeline.StartPipelineExecutionInput{
		Name:               aws.String(r.Pipeline),
		ClientRequestToken: aws.String(Token(ev, r.Name, shared)),
	}
	var notes []string
	names := make([]string, 0, len(r.vars))
	for n := range r.vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := r.vars[name].render(&data)
		switch {
		case v == "":
			notes = append(notes, fmt.Sprintf("variable %s is empty for this event and is left out (the pipeline's default applies)", name))
			continue
		case len(v) > MaxVariableValueLen:
			return nil, nil, fmt.Sprintf("variable %s is %d characters; CodePipeline takes at most %d", name, len(v), MaxVariableValueLen)
		}
		in.Variables = append(in.Variables, cptypes.PipelineVariable{Name: aws.String(name), Value: aws.String(v)})
	}
	if r.SourceAction != "" {
		rev := cptypes.SourceRevisionOverride{ActionName: aws.String(r.SourceAction)}
		switch {
		case r.ECR != nil && ev.Digest != "":
			rev.RevisionType, rev.RevisionValue = cptypes.SourceRevisionTypeImageDigest, aws.String(ev.Digest)
		case r.GitHub != nil && ev.CommitSHA != "":
			rev.RevisionType, rev.RevisionValue = cptypes.SourceRevisionTypeCommitId, aws.String(ev.CommitSHA)
		default:
			return nil, nil, fmt.Sprintf("sourceAction %s needs the event's %s, and the event has none", r.SourceAction, map[bool]string{true: "image digest", false: "commit SHA"}[r.ECR != nil])
		}
		in.SourceRevisions = []cptypes.SourceRevisionOverride{rev}
	}
	return in, notes, ""
}

// Token is the request's idempotency token: CodePipeline starts one execution per
// token, so a retried or redelivered event never starts a second one. A GitHub
// delivery uses its X-GitHub-Delivery id as it is; an ECR event, its event id with
// a hash of the route. Ids that do not fit CodePipeline's pattern are hashed.
func Token(ev Event, route string, shared bool) string {
	github := strings.HasPrefix(ev.Kind, "github.")
	if github && !shared && tokenRE.MatchString(ev.ID) {
		return ev.ID
	}
	sum := sha256.Sum256([]byte(ev.ID + "\x00" + route))
	suffix := hex.EncodeToString(sum[:])[:16]
	if t := ev.ID + "-" + suffix; ev.ID != "" && tokenRE.MatchString(t) {
		return t
	}
	return "pb-" + hex.EncodeToString(sum[:])
}

func severityIndex(s string) int { return slices.Index(severityOrder, s) }

// worstFinding is the highest severity with a non-zero count, or NONE.
func worstFinding(counts map[string]int64) string {
	worst := "NONE"
	for sev, n := range counts {
		if n > 0 && severityIndex(sev) > severityIndex(worst) {
			worst = sev
		}
	}
	return worst
}
