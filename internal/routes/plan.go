package routes

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipebridge/pipebridge/internal/names"
)

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
	EventID    string // EventBridge event id (ECR), delivery id (GitHub) or the source execution id (promotions)
	Route      string // the route's name
}

var templateFields = []string{".Tag", ".Version", ".Digest", ".ImageURI", ".CommitSHA", ".ReleaseURL", ".Repository", ".DeliveryID", ".EventID", ".Route"}

// Plan is a matched route's request.
type Plan struct {
	Route *Route
	Input *codepipeline.StartPipelineExecutionInput
	// Notes explain adjustments, such as variables left out because they came out
	// empty (CodePipeline refuses empty values; the pipeline's default applies).
	Notes []string
}

// PlanError says why a matched route cannot become a valid request. It is never
// "ignored": the event reached a route and nothing may drop it silently.
type PlanError struct {
	Route string
	// Field is what is wrong: "tag", "variables.NAME", "sourceAction".
	Field  string
	Reason string
	// Length is the offending value's length in characters, when that matters.
	Length int
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("route %s: %s: %s", e.Route, e.Field, e.Reason)
}

// Plans plans every matched decision. It returns the requests that can be made
// and, joined, a *PlanError for each that cannot.
func Plans(ev Event, ds []Decision) ([]Plan, error) {
	var plans []Plan
	var errs []error
	for _, d := range ds {
		if !d.Matched {
			continue
		}
		p, err := d.Plan(ev)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plans = append(plans, p)
	}
	return plans, errors.Join(errs...)
}

// Plan builds the matched route's request for ev.
func (d Decision) Plan(ev Event) (Plan, error) {
	r := d.Route
	fail := func(field, reason string, n int) (Plan, error) {
		return Plan{}, &PlanError{Route: r.Name, Field: field, Reason: reason, Length: n}
	}
	ev.Tag = d.Tag
	if c, at := names.ControlChar(ev.Tag); at >= 0 {
		return fail("tag", fmt.Sprintf("control character %U at character %d of a %d-character tag: refused", c, at, names.Len(ev.Tag)), names.Len(ev.Tag))
	}
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
	p := Plan{Route: r, Input: &codepipeline.StartPipelineExecutionInput{
		Name:               aws.String(r.Pipeline),
		ClientRequestToken: aws.String(Token(ev, r.Name)),
	}}
	vars := make([]string, 0, len(r.vars))
	for n := range r.vars {
		vars = append(vars, n)
	}
	sort.Strings(vars)
	for _, name := range vars {
		v := r.vars[name].render(&data)
		n := names.Len(v)
		switch c, at := names.ControlChar(v); {
		case v == "":
			p.Notes = append(p.Notes, fmt.Sprintf("variable %s is empty for this event and is left out (the pipeline's default applies)", name))
			continue
		case at >= 0:
			return fail("variables."+name, fmt.Sprintf("control character %U at character %d of a %d-character value: refused", c, at, n), n)
		case n > names.MaxVariableValue:
			return fail("variables."+name, fmt.Sprintf("value is %d characters; CodePipeline takes at most %d characters", n, names.MaxVariableValue), n)
		}
		p.Input.Variables = append(p.Input.Variables, cptypes.PipelineVariable{Name: aws.String(name), Value: aws.String(v)})
	}
	if r.SourceAction != "" {
		rev := cptypes.SourceRevisionOverride{ActionName: aws.String(r.SourceAction)}
		switch {
		case r.GitHub == nil && ev.Digest != "":
			rev.RevisionType, rev.RevisionValue = cptypes.SourceRevisionTypeImageDigest, aws.String(ev.Digest)
		case r.GitHub != nil && ev.CommitSHA != "":
			rev.RevisionType, rev.RevisionValue = cptypes.SourceRevisionTypeCommitId, aws.String(ev.CommitSHA)
		case r.GitHub == nil:
			return fail("sourceAction", fmt.Sprintf("%s needs the event's image digest, and the event has none", r.SourceAction), 0)
		default:
			return fail("sourceAction", fmt.Sprintf("%s needs the commit SHA of tag %q, and none was found", r.SourceAction, ev.Tag), 0)
		}
		p.Input.SourceRevisions = []cptypes.SourceRevisionOverride{rev}
	}
	return p, nil
}

// Token is a request's idempotency token: CodePipeline starts one execution per
// token, so a retried, redelivered or replayed event never starts a second one,
// and two routes never share one.
//
// A GitHub token is a hash of what GitHub signed: the repository, what happened
// (a release, or a tag: a tag push and the create event for the same tag are one
// happening), the tag, the commit, and the route. The X-GitHub-Delivery header is
// not signed, so it is left out: a captured delivery replayed under a new id, and
// the published and released deliveries of one release, make the same token.
// The release action is left out for the same reason.
//
// An ECR event's token is its EventBridge event id (Lambda's retries resend the
// same event) with a hash of the route. A promotion's is the same over the
// source pipeline's execution id: every event about one successful execution
// (a retry, a replay, a stage retried to success again) makes one token.
func Token(ev Event, route string) string {
	if ev.GitHub() {
		what := "tag"
		if ev.Kind == KindRelease {
			what = "release"
		}
		sum := sha256.Sum256([]byte(strings.Join([]string{"github", strings.ToLower(ev.Repository), what, ev.Tag, ev.CommitSHA, route}, "\x00")))
		return "gh-" + hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256([]byte(ev.ID + "\x00" + route))
	if t := ev.ID + "-" + hex.EncodeToString(sum[:])[:16]; ev.ID != "" && names.RequestToken(t) == nil {
		return t
	}
	return "pb-" + hex.EncodeToString(sum[:])
}
