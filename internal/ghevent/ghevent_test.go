package ghevent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipebridge/pipebridge/internal/routes"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParse(t *testing.T) {
	tests := []struct {
		file, eventType string
		want            routes.Event
	}{
		{"github/release.published.json", "release", routes.Event{Kind: routes.KindRelease, ID: "d1", Repository: "Codertocat/Hello-World",
			Tag: "0.0.1", ReleaseAction: "published", ReleaseURL: "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1"}},
		{"github/release.prereleased.json", "release", routes.Event{Kind: routes.KindRelease, ID: "d1", Repository: "Codertocat/Hello-World",
			Tag: "0.0.1", ReleaseAction: "prereleased", Prerelease: true, ReleaseURL: "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1"}},
		{"github/create.json", "create", routes.Event{Kind: routes.KindTagCreate, ID: "d1", Repository: "Codertocat/Hello-World", Tag: "simple-tag"}},
		{"push.tag-created.json", "push", routes.Event{Kind: routes.KindTagPush, ID: "d1", Repository: "Codertocat/Hello-World",
			Tag: "v2.1.0", CommitSHA: "9fceb02d0ae598e95dc970b74767f19372d61af8"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(tt.eventType, "d1", load(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEdited(t *testing.T) {
	// Edits and deletions parse as releases; routes refuse their actions.
	for _, f := range []string{"release.edited.json", "release.deleted.json"} {
		ev, err := Parse("release", "d", load(t, "github/"+f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ev.ReleaseAction == "published" || ev.ReleaseAction == "" {
			t.Errorf("%s: action %q", f, ev.ReleaseAction)
		}
	}
}

func TestParseIgnoredAndMalformed(t *testing.T) {
	tests := []struct {
		name, eventType string
		payload         []byte
		want            error
		says            string
	}{
		{"ping", "ping", load(t, "github/ping.json"), ErrPing, "ping"},
		{"tag deleted by push", "push", load(t, "github/push.json"), ErrIgnored, "tag simple-tag was deleted"},
		{"delete event", "delete", load(t, "github/delete.json"), ErrIgnored, `event type "delete" is not one pipebridge handles`},
		{"unknown event", "issues", []byte(`{}`), ErrIgnored, `"issues"`},
		{"branch push", "push", []byte(`{"ref":"refs/heads/main","created":true,"repository":{"full_name":"a/b"}}`), ErrIgnored, "only tag pushes deploy"},
		{"moved tag", "push", []byte(`{"ref":"refs/tags/v1","created":false,"repository":{"full_name":"a/b"}}`), ErrIgnored, "moved, not created"},
		{"branch created", "create", []byte(`{"ref":"feature","ref_type":"branch","repository":{"full_name":"a/b"}}`), ErrIgnored, "created a branch"},
		{"not JSON", "release", []byte(`payload=%7B%7D`), ErrMalformed, "release"},
		{"empty body", "release", []byte(``), ErrMalformed, "release"},
		{"no event type", "", []byte(`{}`), ErrMalformed, "no X-GitHub-Event"},
		{"release without tag", "release", []byte(`{"action":"published","release":{},"repository":{"full_name":"a/b"}}`), ErrMalformed, "tag_name"},
		{"no repository", "create", []byte(`{"ref":"v1","ref_type":"tag"}`), ErrMalformed, "repository.full_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.eventType, "d", tt.payload)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}
