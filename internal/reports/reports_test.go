package reports

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf"
	good := `{"pipelines": {"web-prod": {"app": "web", "environment": "prod", "repository": "acme/web", "production": true,
	  "url": "https://www.example.com", "slack": {"webhookSecretArn": "` + arn + `", "mention": "<!subteam^S0123ABC>", "mentionAlways": true}}}}`
	tab, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p := tab.Pipelines["web-prod"]; !p.Production || p.Slack.Mention != "<!subteam^S0123ABC>" || !p.Slack.Always {
		t.Errorf("parsed %+v", p)
	}
	tests := []struct{ name, in, want string }{
		{"empty", `{"pipelines": {}}`, "no pipelines"},
		{"unknown field", `{"pipelines": {"p": {"app": "a", "environment": "e", "colour": "red"}}}`, `unknown field "colour"`},
		{"no app", `{"pipelines": {"p": {"environment": "e"}}}`, "app and environment are required"},
		{"bad pipeline name", `{"pipelines": {"p q": {"app": "a", "environment": "e"}}}`, `pipelines["p q"].name`},
		{"bad repository", `{"pipelines": {"p": {"app": "a", "environment": "e", "repository": "web"}}}`, "want owner/name"},
		{"bad url", `{"pipelines": {"p": {"app": "a", "environment": "e", "url": "ftp://x"}}}`, "want an http(s) URL"},
		{"bad secret", `{"pipelines": {"p": {"app": "a", "environment": "e", "slack": {"webhookSecretArn": "https://hooks.slack.com/x"}}}}`, "slack.webhookSecretArn"},
		{"bad mention", `{"pipelines": {"p": {"app": "a", "environment": "e", "slack": {"webhookSecretArn": "` + arn + `", "mention": "@here"}}}}`, "slack.mention"},
		{"always without mention", `{"pipelines": {"p": {"app": "a", "environment": "e", "slack": {"webhookSecretArn": "` + arn + `", "mentionAlways": true}}}}`, "needs a mention"},
	}
	for _, tt := range tests {
		if _, err := Parse([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestValidMention(t *testing.T) {
	for _, m := range []string{"<!here>", "<!channel>", "<!subteam^S0123ABC>", "<@U024BE7LH>", "<@W123>"} {
		if !ValidMention(m) {
			t.Errorf("%q refused", m)
		}
	}
	for _, m := range []string{"", "@here", "<!everyone>", "<!subteam^>", "<@u024>", "<@U1> <!here>", "<!subteam^S1|team>"} {
		if ValidMention(m) {
			t.Errorf("%q accepted", m)
		}
	}
}

func TestGitHubWeb(t *testing.T) {
	for api, want := range map[string]string{
		"": "https://github.com/", "https://github.example.com/api/v3/": "https://github.example.com/",
		"https://github.example.com/api/v3": "https://github.example.com/", "http://127.0.0.1:8080/": "http://127.0.0.1:8080/",
	} {
		if got := GitHubWeb(api); got != want {
			t.Errorf("GitHubWeb(%q) = %q, want %q", api, got, want)
		}
	}
}
