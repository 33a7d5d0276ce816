package routes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pipebridge/pipebridge/internal/severity"
)

// Event kinds.
const (
	KindECRPush   = "ecr.push"
	KindECRScan   = "ecr.scan"
	KindRelease   = "github.release"
	KindTagPush   = "github.tag-push"
	KindTagCreate = "github.tag-create"
	// KindPromotion is a pipeline execution that succeeded, with the image
	// digest it deployed (CodePipeline routes).
	KindPromotion = "codepipeline.succeeded"
)

// Event is a release event, normalized from an ECR or Inspector EventBridge
// event or a GitHub webhook delivery.
type Event struct {
	Kind string
	// ID is the EventBridge event id, the X-GitHub-Delivery id, or the source
	// pipeline's execution id (promotions). GitHub does not sign the delivery
	// id, so it never makes a token (see Token).
	ID string
	// Repository is the ECR repository name, or the GitHub owner/name; for a
	// promotion, the repository of the image the execution deployed.
	Repository string
	Tag        string
	// Tags, when set, are all of the image's tags (scan events carry several); a
	// route matches when any of them passes its filter, and sees that one as Tag.
	Tags []string

	// ECR events.
	Account, Region string
	Digest          string
	ImageURI        string
	// Findings counts scan findings by severity name (scan events), as the event
	// gives them: UNDEFINED, unknown names and Inspector's TOTAL included.
	Findings map[string]int64

	// Pipeline is the pipeline whose execution succeeded (promotions).
	Pipeline string

	// GitHub events.
	CommitSHA     string
	ReleaseURL    string
	ReleaseAction string
	Prerelease    bool
	Draft         bool
}

// GitHub reports whether the event came from a GitHub webhook.
func (ev Event) GitHub() bool { return strings.HasPrefix(ev.Kind, "github.") }

// Decision is what one route makes of an event.
type Decision struct {
	Route   *Route
	Matched bool
	// Reason says why the route did not match; empty when it did.
	Reason string
	// Tag is the tag that matched (scan events carry several).
	Tag string
}

// Select returns one decision per route, in table order. It is the only place
// that decides whether a route takes an event.
func (t *Table) Select(ev Event) []Decision {
	out := make([]Decision, 0, len(t.Routes))
	candidates := ev.Tags
	if len(candidates) == 0 {
		candidates = []string{ev.Tag}
	}
	for _, r := range t.Routes {
		d := Decision{Route: r}
		for j, tag := range candidates {
			ok, reason := r.matches(ev, tag)
			if j == 0 || ok {
				d.Matched, d.Reason = ok, reason
			}
			if ok {
				d.Tag = tag
				break
			}
		}
		out = append(out, d)
	}
	return out
}

// Matched returns the decisions whose route takes the event.
func Matched(ds []Decision) []Decision {
	var out []Decision
	for _, d := range ds {
		if d.Matched {
			out = append(out, d)
		}
	}
	return out
}

// Reasons maps each route that did not match to its reason, for the one log line
// that says why an event started nothing.
func Reasons(ds []Decision) map[string]string {
	out := map[string]string{}
	for _, d := range ds {
		if !d.Matched {
			out[d.Route.Name] = d.Reason
		}
	}
	return out
}

func (r *Route) matches(ev Event, tag string) (bool, string) {
	switch ev.Kind {
	case KindECRPush, KindECRScan:
		s := r.ECR
		if s == nil {
			return false, "route is not for ECR events"
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
			if blocking := s.policy.Check(ev.Findings); len(blocking) > 0 {
				return false, fmt.Sprintf("scan found %s; route allows %s", strings.Join(blocking, ", "), s.policy)
			}
		}
		if tag == "" {
			if !s.Untagged {
				return false, "untagged image (set ecr.untagged to route pushes by digest)"
			}
			return true, ""
		}
	case KindPromotion:
		s := r.CodePipeline
		switch {
		case s == nil:
			return false, "route does not take promotions"
		case ev.Pipeline != s.Pipeline:
			return false, fmt.Sprintf("pipeline %s is not the one this route promotes (%s)", ev.Pipeline, s.Pipeline)
		case r.Tags == nil:
			return true, ""
		case tag == "":
			return false, "the execution deployed an image without a tag, and the route filters tags"
		}
	case KindRelease, KindTagPush, KindTagCreate:
		s := r.GitHub
		if s == nil {
			return false, "route is not for GitHub events"
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
		if tag == "" {
			return false, "event has no tag"
		}
	default:
		return false, fmt.Sprintf("unknown event kind %q", ev.Kind)
	}
	if r.Tags != nil {
		return r.Tags.Match(tag)
	}
	return true, ""
}

// Policy is a scan route's severity policy.
func (s *ECRSource) Policy() severity.Policy { return s.policy }
