package slack

import (
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 100)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

func TestStandInEnforcesSlack(t *testing.T) {
	s := Start()
	defer s.Close()
	hook := s.Hook()
	section := func(text string) string { return `{"type":"section","text":{"type":"mrkdwn","text":"` + text + `"}}` }
	many := make([]string, 51)
	for i := range many {
		many[i] = `{"type":"divider"}`
	}
	tests := []struct {
		name, url, body string
		code            int
		reason          string
	}{
		{"ok", hook, `{"text":"hi","blocks":[{"type":"header","text":{"type":"plain_text","text":"Deployed"}},` + section("x") + `]}`, 200, "ok"},
		{"unknown hook", s.URL + "/services/T0/B0/nope", `{"text":"hi"}`, 404, "no_service"},
		{"not JSON", hook, `{`, 400, "invalid_payload"},
		{"no text", hook, `{}`, 400, "no_text"},
		{"51 blocks", hook, `{"blocks":[` + strings.Join(many, ",") + `]}`, 400, "invalid_blocks"},
		{"header 151", hook, `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`, 400, "invalid_blocks"},
		{"header mrkdwn", hook, `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]}`, 400, "invalid_blocks"},
		{"section 3001", hook, `{"blocks":[` + section(strings.Repeat("s", 3001)) + `]}`, 400, "invalid_blocks"},
		{"11 fields", hook, `{"blocks":[{"type":"section","fields":[` + strings.TrimSuffix(strings.Repeat(`{"type":"mrkdwn","text":"f"},`, 11), ",") + `]}]}`, 400, "invalid_blocks"},
		{"unknown block", hook, `{"blocks":[{"type":"video"}]}`, 400, "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason := post(t, tt.url, tt.body)
			if code != tt.code || reason != tt.reason {
				t.Errorf("%d %q, want %d %q", code, reason, tt.code, tt.reason)
			}
		})
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages kept, want the one valid", n)
	}
	s.RateLimit(1, 7)
	resp, err := http.Post(hook, "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("rate limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
