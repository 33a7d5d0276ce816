package githubapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 2000)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

func TestStandInEnforcesDeployments(t *testing.T) {
	s := Start()
	defer s.Close()
	base := s.URL + "repos/acme/web/deployments"
	sha := strings.Repeat("a", 40)
	tests := []struct {
		name, body string
		code       int
		has        string
	}{
		{"no ref", `{"auto_merge":false,"required_contexts":[]}`, 422, `ref\" wasn't supplied`},
		{"unknown ref", `{"ref":"nope","auto_merge":false,"required_contexts":[]}`, 422, "No ref found for: nope"},
		{"auto_merge left out", `{"ref":"` + sha + `","required_contexts":[]}`, 202, "Auto-merged"},
		{"required_contexts left out", `{"ref":"` + sha + `","auto_merge":false}`, 409, "Commit status checks failed"},
		{"payload a number", `{"ref":"` + sha + `","auto_merge":false,"required_contexts":[],"payload":1}`, 422, "payload"},
		{"ok", `{"ref":"` + sha + `","auto_merge":false,"required_contexts":[],"environment":"prod","payload":{"executionId":"x"}}`, 201, `"environment":"prod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, "POST", base, tt.body)
			if code != tt.code || !strings.Contains(body, tt.has) {
				t.Errorf("%d %s, want %d with %q", code, body, tt.code, tt.has)
			}
		})
	}
	deps := s.Deployments("acme/web")
	if len(deps) != 1 {
		t.Fatalf("%d deployments", len(deps))
	}
	id := base + "/" + itoa(deps[0].ID) + "/statuses"
	if code, _ := call(t, "POST", id, `{"state":"done"}`); code != 422 {
		t.Errorf("unknown state: %d", code)
	}
	if code, _ := call(t, "POST", id, `{"state":"success","description":"`+strings.Repeat("d", 141)+`"}`); code != 422 {
		t.Errorf("141-character description: %d", code)
	}
	if code, _ := call(t, "POST", base+"/999/statuses", `{"state":"success"}`); code != 404 {
		t.Errorf("unknown deployment: %d", code)
	}
	if code, _ := call(t, "POST", id, `{"state":"in_progress"}`); code != 201 {
		t.Errorf("valid status: %d", code)
	}
	if code, body := call(t, "GET", base+"?environment=prod&sha="+sha, ""); code != 200 || !strings.Contains(body, `"executionId":"x"`) {
		t.Errorf("list: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", base, strings.NewReader(`{}`))
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("anonymous create: %d", resp.StatusCode)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
