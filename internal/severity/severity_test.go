package severity

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	tests := map[string]Level{
		"CRITICAL": Critical, "critical": Critical, " High ": High, "medium": Medium, "LOW": Low,
		"informational": Informational, "NONE": None,
		"UNDEFINED": Undefined, "UNTRIAGED": Undefined, "undefined": Undefined, "SEVERE": Undefined, "": Undefined,
	}
	for in, want := range tests {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %v, want %v", in, got, want)
		}
	}
	if _, err := ParseKnown("UNDEFINED"); err == nil {
		t.Error("ParseKnown accepted UNDEFINED as a configured level")
	}
	if l, err := ParseKnown("high"); err != nil || l != High {
		t.Errorf("ParseKnown(high) = %v, %v", l, err)
	}
}

func TestCheck(t *testing.T) {
	medium := Policy{Max: Medium}
	tests := []struct {
		name   string
		policy Policy
		counts map[string]int64
		want   []string
	}{
		{"clean", medium, map[string]int64{"MEDIUM": 2, "LOW": 5, "CRITICAL": 0}, nil},
		{"high blocks", medium, map[string]int64{"HIGH": 1, "LOW": 4}, []string{"HIGH: 1"}},
		{"lower-case critical blocks", medium, map[string]int64{"critical": 1}, []string{"CRITICAL: 1"}},
		{"only UNDEFINED blocks", medium, map[string]int64{"UNDEFINED": 3}, []string{"UNDEFINED: 3"}},
		{"UNDEFINED allowed", Policy{Max: Medium, AllowUndefined: true}, map[string]int64{"UNDEFINED": 3}, nil},
		{"unrecognised name blocks", Policy{Max: High}, map[string]int64{"SEVERE": 1}, []string{"UNDEFINED (SEVERE): 1"}},
		{"Inspector TOTAL beyond the listed levels", medium, map[string]int64{"MEDIUM": 62, "TOTAL": 70}, []string{"UNDEFINED: 8"}},
		{"Inspector TOTAL fully listed", medium, map[string]int64{"MEDIUM": 2, "TOTAL": 2}, nil},
		{"Inspector AWS sample", Policy{Max: High, AllowUndefined: true}, map[string]int64{"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "TOTAL": 158}, []string{"CRITICAL: 7"}},
		{"worst first", Policy{Max: None}, map[string]int64{"LOW": 1, "CRITICAL": 2, "UNTRIAGED": 1}, []string{"CRITICAL: 2", "LOW: 1", "UNDEFINED (UNTRIAGED): 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Check(tt.counts); !slices.Equal(got, tt.want) {
				t.Errorf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}
