package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/reports"
	slackstub "github.com/pipebridge/pipebridge/test/slack"
)

// Any event decodes or is refused; a decoded one means a GitHub state GitHub
// accepts, and the description written for it reads back as the same step, which
// is what keeps statuses moving forward.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{"STARTED", "SUCCEEDED", "FAILED", "STOPPED", "STOPPING", "SUPERSEDED", "CANCELED", "RESUMED", ""} {
		f.Add(pipelineEvent, s, "")
		f.Add(actionEvent, s, "Approval")
		f.Add(actionEvent, s, "Deploy")
	}
	f.Add("x", "y", "z")
	githubStates := []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
	f.Fuzz(func(t *testing.T, detailType, state, category string) {
		payload, _ := json.Marshal(map[string]any{"source": "aws.codepipeline", "detail-type": detailType,
			"detail": map[string]any{"pipeline": "p", "execution-id": "e", "state": state, "type": map[string]string{"category": category}}})
		e, err := decodeEvent(payload)
		if err != nil {
			t.Fatal(err)
		}
		r, ok, err := meaning(e)
		if !ok || err != nil {
			return
		}
		if !slices.Contains(githubStates, r.state) || r.step <= stepNone || r.step > stepEnded {
			t.Fatalf("%s %s %s: report %+v", detailType, state, category, r)
		}
		back := statusStep(&github.DeploymentStatus{State: github.Ptr(r.state), Description: github.Ptr(description(r))})
		if back != r.step {
			t.Fatalf("%+v: its status reads back as step %d", r, back)
		}
	})
}

// Whatever the names, tags and mention hold, Slack accepts the message: long
// values are cut to Block Kit's limits, never refused.
func FuzzMessage(f *testing.F) {
	f.Add("web", "prod", "v1.2.3", "<!here>", "https://github.com/acme/web/releases/tag/v1.2.3", true)
	f.Add("", "", "", "", "", false)
	f.Add("a<b>&c", "é\u2028", "\x00", "<@U1>", "javascript:alert(1)", true)
	s := slackstub.Start()
	defer s.Close()
	hook := s.Hook()
	p := &poster{http: &http.Client{Timeout: 5 * time.Second}, githubWeb: "https://github.com/"}
	f.Fuzz(func(t *testing.T, app, env, tag, mention, releaseURL string, failed bool) {
		tgt := reports.Target{App: app, Environment: env, Repository: "acme/web", Slack: &reports.Slack{Mention: mention, Always: true}}
		x := &execution{id: "3137f7cb-7cf7-4f6d-9b2a-2a3b4c5d6e7f", pipeline: "web-prod", region: "us-east-1", commit: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
			digest: "sha256:" + "ab12" + "cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34", tag: tag, releaseURL: releaseURL}
		r := report{stepWaiting, "queued", "waiting for approval", failed, true}
		e := &event{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		if err := p.post(context.Background(), hook, p.message(tgt, x, r, e, time.Minute)); err != nil {
			t.Fatalf("Slack refused the message: %v", err)
		}
	})
}
