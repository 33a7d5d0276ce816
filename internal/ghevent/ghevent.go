// Package ghevent turns GitHub webhook deliveries into route events, using
// go-github's typed payloads.
package ghevent

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/routes"
)

var (
	// ErrIgnored wraps the reason a delivery starts nothing, whatever the routes say.
	ErrIgnored = errors.New("ignored")
	// ErrPing marks GitHub's ping delivery, sent when a webhook is created.
	ErrPing = errors.New("ping")
	// ErrMalformed marks a payload that is not what its event type promises.
	ErrMalformed = errors.New("malformed payload")
)

// Parse reads a delivery's payload. The event's CommitSHA is empty when the
// payload does not carry it (releases, tag creation): resolve it through the API.
func Parse(eventType, deliveryID string, payload []byte) (routes.Event, error) {
	ev := routes.Event{ID: deliveryID}
	if eventType == "" {
		return ev, fmt.Errorf("%w: no X-GitHub-Event header", ErrMalformed)
	}
	switch eventType {
	case "ping", "release", "push", "create":
	default:
		return ev, fmt.Errorf("%w: event type %q is not one pipebridge handles (release, push, create)", ErrIgnored, eventType)
	}
	parsed, err := github.ParseWebHook(eventType, payload)
	if err != nil {
		return ev, fmt.Errorf("%w: %s: %v", ErrMalformed, eventType, err)
	}
	switch e := parsed.(type) {
	case *github.PingEvent:
		return ev, ErrPing
	case *github.ReleaseEvent:
		r := e.GetRelease()
		if r == nil {
			return ev, fmt.Errorf("%w: release event without a release", ErrMalformed)
		}
		ev.Kind = routes.KindRelease
		ev.ReleaseAction = e.GetAction()
		ev.Tag = r.GetTagName()
		ev.Draft = r.GetDraft()
		ev.Prerelease = r.GetPrerelease()
		ev.ReleaseURL = r.GetHTMLURL()
		ev.Repository = e.GetRepo().GetFullName()
		if ev.ReleaseAction == "" || ev.Tag == "" {
			return ev, fmt.Errorf("%w: release event needs action and release.tag_name", ErrMalformed)
		}
	case *github.PushEvent:
		ref := e.GetRef()
		tag, ok := strings.CutPrefix(ref, "refs/tags/")
		switch {
		case ref == "":
			return ev, fmt.Errorf("%w: push event without ref", ErrMalformed)
		case !ok:
			return ev, fmt.Errorf("%w: push to %s (only tag pushes deploy)", ErrIgnored, ref)
		case e.GetDeleted():
			return ev, fmt.Errorf("%w: tag %s was deleted", ErrIgnored, tag)
		case !e.GetCreated():
			return ev, fmt.Errorf("%w: tag %s was moved, not created", ErrIgnored, tag)
		}
		ev.Kind = routes.KindTagPush
		ev.Tag = tag
		ev.CommitSHA = e.GetHeadCommit().GetID()
		ev.Repository = e.GetRepo().GetFullName()
	case *github.CreateEvent:
		if e.GetRefType() != "tag" {
			return ev, fmt.Errorf("%w: created a %s, not a tag", ErrIgnored, e.GetRefType())
		}
		ev.Kind = routes.KindTagCreate
		ev.Tag = e.GetRef()
		ev.Repository = e.GetRepo().GetFullName()
	default:
		return ev, fmt.Errorf("%w: event type %q", ErrIgnored, eventType)
	}
	if ev.Repository == "" {
		return ev, fmt.Errorf("%w: %s event without repository.full_name", ErrMalformed, eventType)
	}
	return ev, nil
}
