package names

import (
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		ok    []string
		bad   []string
	}{
		{"account", Account, []string{"123456789012", "000000000001"}, []string{"", "1234", "12345678901a", "1234567890123"}},
		{"region", Region, []string{"us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1", "ap-southeast-5", "eusc-de-east-1"},
			[]string{"", "useast", "mars", "us-east", "US-EAST-1", "us_east_1"}},
		{"ECR repository", ECRRepository, []string{"web", "acme/web", "a.b-c_d/e"}, []string{"", "a", "Web", "web/", "/web", "we b", strings.Repeat("a", 257)}},
		{"image tag", ImageTag, []string{"v1.2.3", "latest", "_x", strings.Repeat("a", 128)}, []string{"", ".x", "-x", "a b", strings.Repeat("a", 129)}},
		{"ECS name", ECSName, []string{"web", "log-router_2"}, []string{"", "web app", strings.Repeat("a", 256)}},
		{"role ARN", RoleARN, []string{"arn:aws:iam::123456789012:role/build", "arn:aws-cn:iam::123456789012:role/path/x"}, []string{"role/build", "arn:aws:iam::123:role/x"}},
		{"pipeline", Pipeline, []string{"web-prod", "a.b@c_d"}, []string{"", "web prod", strings.Repeat("p", 101)}},
		{"variable", Variable, []string{"RELEASE_TAG", "a@b-c"}, []string{"", "A.B", strings.Repeat("v", 129)}},
		{"token", RequestToken, []string{"gh-0a", strings.Repeat("a", 128)}, []string{"", "a_b", strings.Repeat("a", 129)}},
		{"tag key", TagKey, []string{"team", "cost center", "app:tier/1", "Aws-team", "awsx:y", "ü", strings.Repeat("k", 128)},
			[]string{"", "aws:cloudformation", "AWS:x", "aWs:x", "a,b", "a\nb", "\"x\"", strings.Repeat("k", 129)}},
		{"tag value", TagValue, []string{"", "payments", "v1.2.3", "a=b", strings.Repeat("v", 256)},
			[]string{"aws:x", "Aws:x", "a*b", strings.Repeat("v", 257)}},
		{"GitHub repository", GitHubRepository, []string{"acme/web", "Codertocat/Hello-World"}, []string{"web", "/web", "acme/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.ok {
				if err := tt.check(s); err != nil {
					t.Errorf("%q refused: %v", s, err)
				}
			}
			for _, s := range tt.bad {
				if err := tt.check(s); err == nil {
					t.Errorf("%q accepted", s)
				}
			}
		})
	}
}

func TestControlChar(t *testing.T) {
	tests := []struct {
		in   string
		want rune
		at   int
	}{
		{"v1.0.0", 0, -1},
		{"vé-ünïcödé", 0, -1},
		{"v1\x00", 0, 2},
		{"é\n", '\n', 1},
		{"a\rb", '\r', 1},
		{"x\u2028", 0x2028, 1},
		{"x\u2029", 0x2029, 1},
		{"\x7f", 0x7f, 0},
		{"\t", '\t', 0},
	}
	for _, tt := range tests {
		r, at := ControlChar(tt.in)
		if at != tt.at || (at >= 0 && r != tt.want) {
			t.Errorf("ControlChar(%q) = %U at %d, want %U at %d", tt.in, r, at, tt.want, tt.at)
		}
	}
}

func TestLenCountsCharacters(t *testing.T) {
	s := strings.Repeat("é", 600)
	if len(s) != 1200 || Len(s) != 600 {
		t.Fatalf("len %d, Len %d; want 1200 bytes and 600 characters", len(s), Len(s))
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"too long", 5, "too …"},
		{"äöüßé", 3, "äö…"}, // characters, not bytes
	} {
		if got := Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
