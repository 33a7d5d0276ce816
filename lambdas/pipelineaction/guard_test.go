package main

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 20, h, 0, 0, 0, time.UTC) }
	img := func(digit string, pushed int, tags ...string) image {
		return image{Digest: "sha256:" + strings.Repeat(digit, 64), Tags: tags, Pushed: at(pushed)}
	}
	for _, tt := range []struct {
		name               string
		candidate, current image
		ok                 bool
		why                string
	}{
		{"newer release", img("b", 10, "v2.0.0"), img("a", 9, "v1.9.0"), true, "v2.0.0 (sha256:bbbbbbbbbbbb) is newer than v1.9.0"},
		{"patch on an older line after a newer release", img("b", 11, "v1.9.1"), img("a", 10, "v2.0.0"), false, "v1.9.1 (sha256:bbbbbbbbbbbb) is an older version than v2.0.0 (sha256:aaaaaaaaaaaa)"},
		{"semver wins over push time", img("b", 8, "v2.1.0"), img("a", 10, "v2.0.0"), true, "newer"},
		{"prerelease after its release", img("b", 11, "v2.0.0-rc.2"), img("a", 10, "v2.0.0"), false, "v2.0.0-rc.2 (sha256:bbbbbbbbbbbb) is an older version"},
		{"release after its prerelease", img("b", 11, "v2.0.0"), img("a", 10, "v2.0.0-rc.2"), true, "newer"},
		{"prereleases in order", img("b", 11, "2.0.0-rc.10"), img("a", 10, "2.0.0-rc.9"), true, "newer"},
		{"highest semver tag of several", img("b", 11, "latest", "v1.2.0", "v2.2.0"), img("a", 10, "v2.1.0"), true, "v2.2.0"},
		{"same version rebuilt", img("b", 11, "v2.0.0"), img("a", 10, "v2.0.0"), true, "same version"},
		{"same digest", img("a", 10, "v2.0.0"), img("a", 10, "v2.0.0"), true, "already runs"},
		{"commit tags: newer push", img("b", 11, "5e4b3a2"), img("a", 10, "1f2e3d4"), true, "pushed after"},
		{"commit tags: older push", img("b", 9, "5e4b3a2"), img("a", 10, "1f2e3d4"), false, "5e4b3a2 (sha256:bbbbbbbbbbbb) was pushed at 2026-11-20T09:00:00Z, before 1f2e3d4"},
		{"a numeric commit tag is not a version", img("b", 9, "1234567"), img("a", 10, "v1.0.0"), false, "was pushed at"},
		{"one side without semver: push time", img("b", 9, "v3.0.0"), img("a", 10, "main-5e4b3a2"), false, "was pushed at"},
		{"untagged current", img("b", 11, "v1.0.0"), img("a", 10), true, "sha256:aaaaaaaaaaaa, which the service runs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := decide(tt.candidate, tt.current)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("decide = %v, %q; want %v and %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}
