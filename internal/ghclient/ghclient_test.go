package ghclient

import (
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct{ apiURL, want string }{
		{"", "https://api.github.com/"},
		{"https://github.example.com/api/v3", "https://github.example.com/api/v3/"},
		{"https://github.example.com/api/v3/", "https://github.example.com/api/v3/"},
	}
	for _, tt := range tests {
		gh, err := New(tt.apiURL, "token", 3*time.Second)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.apiURL, err)
		}
		if got := gh.BaseURL(); got != tt.want {
			t.Errorf("New(%q): base %s, want %s", tt.apiURL, got, tt.want)
		}
	}
}
