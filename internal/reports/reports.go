// Package reports is the table that tells the deployreport Lambda what each of
// the stack's pipelines deploys and where to report it. The CDK app writes it
// (PIPEBRIDGE_REPORTS); the Lambda reads it at cold start and refuses to start
// with a bad one.
package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pipebridge/pipebridge/internal/names"
)

// Table maps pipeline names to what they deploy.
type Table struct {
	Pipelines map[string]Target `json:"pipelines"`
}

// Target is one pipeline: an app's environment.
type Target struct {
	App         string `json:"app"`
	Environment string `json:"environment"`
	// Repository is the app's GitHub repository (owner/name); empty: no GitHub
	// deployments.
	Repository string `json:"repository,omitempty"`
	// Production marks a production environment (GitHub's
	// production_environment; the others are transient).
	Production bool `json:"production,omitempty"`
	// URL is the environment's address, shown on GitHub deployments.
	URL string `json:"url,omitempty"`
	// ImageRepository is the app's ECR repository, for console links.
	ImageRepository string `json:"imageRepository,omitempty"`
	Slack           *Slack `json:"slack,omitempty"`
}

// Slack says where and how to post about a pipeline.
type Slack struct {
	// WebhookSecretARN holds the incoming-webhook URL.
	WebhookSecretARN string `json:"webhookSecretArn"`
	// Mention (<!subteam^ID>, <@U...>, <!here>, <!channel>) is added on failures,
	// and on every message when Always is set.
	Mention string `json:"mention,omitempty"`
	Always  bool   `json:"mentionAlways,omitempty"`
}

// GitHubWeb is the web root links to GitHub start with: https://github.com/, or
// GitHub Enterprise Server's host for its API base https://HOST/api/v3/. The CDK
// app's approval and release links and deployreport's Slack links both use it.
func GitHubWeb(apiURL string) string {
	if apiURL == "" {
		return "https://github.com/"
	}
	return strings.TrimSuffix(strings.TrimSuffix(apiURL, "/"), "/api/v3") + "/"
}

// ValidMention reports whether m is a Slack mention pipebridge accepts.
func ValidMention(m string) bool {
	if m == "<!here>" || m == "<!channel>" {
		return true
	}
	for _, p := range []string{"<!subteam^", "<@"} {
		if id, ok := strings.CutPrefix(m, p); ok && strings.HasSuffix(id, ">") {
			id = strings.TrimSuffix(id, ">")
			return id != "" && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
		}
	}
	return false
}

// Parse reads and checks a table.
func Parse(data []byte) (*Table, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("report table: %w", err)
	}
	var errs []error
	names_ := make([]string, 0, len(t.Pipelines))
	for n := range t.Pipelines {
		names_ = append(names_, n)
	}
	sort.Strings(names_)
	for _, n := range names_ {
		p := t.Pipelines[n]
		fail := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("pipelines[%q].%s: %s", n, field, fmt.Sprintf(format, args...)))
		}
		if err := names.Pipeline(n); err != nil {
			fail("name", "%v", err)
		}
		if p.App == "" || p.Environment == "" {
			fail("app", "app and environment are required")
		}
		if p.Repository != "" {
			if err := names.GitHubRepository(p.Repository); err != nil {
				fail("repository", "%v", err)
			}
		}
		if p.URL != "" && !strings.HasPrefix(p.URL, "https://") && !strings.HasPrefix(p.URL, "http://") {
			fail("url", "%q: want an http(s) URL", p.URL)
		}
		if s := p.Slack; s != nil {
			if err := names.SecretARN(s.WebhookSecretARN); err != nil {
				fail("slack.webhookSecretArn", "%v", err)
			}
			if s.Mention != "" && !ValidMention(s.Mention) {
				fail("slack.mention", "%q: want <!subteam^ID>, <@USERID>, <!here> or <!channel>", s.Mention)
			}
			if s.Always && s.Mention == "" {
				fail("slack.mentionAlways", "needs a mention")
			}
		}
	}
	if len(t.Pipelines) == 0 {
		errs = append(errs, errors.New("report table has no pipelines"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &t, nil
}
