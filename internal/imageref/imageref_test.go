package imageref

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const digest = "sha256:1bf5173766410bc1d1690e1bf2f082580a90db377b10f509b8c864ef94bf7639"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.2.3", Ref{
			Registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Account: "123456789012", Region: "us-east-1", Repository: "web", Tag: "v1.2.3"}},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web@" + digest, Ref{
			Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Account: "123456789012", Region: "eu-west-1", Repository: "team/web", Digest: digest}},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:abc@" + digest, Ref{
			Registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Account: "123456789012", Region: "us-east-1", Repository: "web", Tag: "abc", Digest: digest}},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/web:1", Ref{
			Registry: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", Account: "123456789012", Region: "us-gov-west-1", Repository: "web", Tag: "1"}},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web:1", Ref{
			Registry: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", Account: "123456789012", Region: "cn-north-1", Repository: "web", Tag: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty image reference"},
		{"no tag or digest", "123456789012.dkr.ecr.us-east-1.amazonaws.com/web", "neither a tag nor a digest"},
		{"docker hub", "docker.io/library/nginx:1.27", `registry "docker.io" is not a private Amazon ECR registry`},
		{"ghcr", "ghcr.io/acme/web:1", "not a private Amazon ECR registry"},
		{"ecr public", "public.ecr.aws/nginx/nginx:1", "not a private Amazon ECR registry"},
		{"no registry", "web:1", "no registry host"},
		{"short digest", "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:abc", "is not of the form sha256"},
		{"bad tag", "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:-x", `tag "-x": not a valid image tag`},
		{"upper-case repo", "123456789012.dkr.ecr.us-east-1.amazonaws.com/Web:1", "not a valid ECR repository name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q): got no error, want one containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestPinned(t *testing.T) {
	r, err := Parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:abc@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Pinned(), "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@"+digest; got != want {
		t.Errorf("Pinned() = %q, want %q", got, want)
	}
}

func TestShortDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	if got := ShortDigest(d); got != "abababababab" {
		t.Errorf("ShortDigest = %q", got)
	}
	if got := ShortDigest("md5:abc"); got != "md5:abc" {
		t.Errorf("ShortDigest of a non-sha256 digest = %q, want it unchanged", got)
	}
}
