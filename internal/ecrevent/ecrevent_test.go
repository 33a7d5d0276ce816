package ecrevent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipebridge/pipebridge/internal/routes"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/ecrevents"
)

const digest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678"

func TestParse(t *testing.T) {
	uri := "123456789012.dkr.ecr.us-west-2.amazonaws.com/web@" + digest
	tests := []struct {
		name string
		data []byte
		want routes.Event
	}{
		{"push", ecrevents.Load(t, "push.json", nil, nil), routes.Event{Kind: routes.KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482",
			Account: "123456789012", Region: "us-west-2", Repository: "web", Tag: "v2.3.0", Digest: digest, ImageURI: uri}},
		{"untagged push", ecrevents.Load(t, "push.json", nil, map[string]any{"image-tag": nil}), routes.Event{Kind: routes.KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482",
			Account: "123456789012", Region: "us-west-2", Repository: "web", Digest: digest, ImageURI: uri}},
		{"scan", ecrevents.Load(t, "scan.json", nil, nil), routes.Event{Kind: routes.KindECRScan, ID: "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
			Account: "123456789012", Region: "us-west-2", Repository: "web", Tags: []string{"4f6c1a2", "v2.3.0"}, Digest: digest, ImageURI: uri,
			Findings: map[string]int64{"MEDIUM": 2, "LOW": 5}}},
		{"scan with UNDEFINED and lower-case names", ecrevents.Load(t, "scan.json", nil, map[string]any{"finding-severity-counts": map[string]int{"UNDEFINED": 2, "critical": 1}}),
			routes.Event{Kind: routes.KindECRScan, ID: "85fc3613-e913-7fc4-a80c-a3753e4aa9ae", Account: "123456789012", Region: "us-west-2", Repository: "web",
				Tags: []string{"4f6c1a2", "v2.3.0"}, Digest: digest, ImageURI: uri, Findings: map[string]int64{"UNDEFINED": 2, "critical": 1}}},
		{"Inspector scan (AWS's sample)", ecrevents.Load(t, "inspector-scan.json", nil, nil), routes.Event{Kind: routes.KindECRScan, ID: "739c0d3c-4f02-85c7-5a88-94a9EXAMPLE",
			Account: "123456789012", Region: "us-east-2", Repository: "amazon/amazon-ecs-sample", Tags: []string{"latest"},
			Digest:   "sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE",
			ImageURI: "123456789012.dkr.ecr.us-east-2.amazonaws.com/amazon/amazon-ecs-sample@sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE",
			Findings: map[string]int64{"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "TOTAL": 158}}},
		{"Inspector scan of another account's registry", ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{"repository-name": "arn:aws:ecr:eu-west-1:210987654321:repository/web"}),
			routes.Event{Kind: routes.KindECRScan, ID: "739c0d3c-4f02-85c7-5a88-94a9EXAMPLE", Account: "210987654321", Region: "eu-west-1", Repository: "web", Tags: []string{"latest"},
				Digest:   "sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE",
				ImageURI: "210987654321.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE",
				Findings: map[string]int64{"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "TOTAL": 158}}},
		// AWS's sample CodePipeline event: a promotion names the execution,
		// whose id is the event's id for routing and tokens.
		{"pipeline succeeded", cpstub.StateChangeEvent("worker-staging", "01234567-0123-0123-0123-012345678901", "SUCCEEDED", "", time.Time{}),
			routes.Event{Kind: routes.KindPromotion, ID: "01234567-0123-0123-0123-012345678901", Pipeline: "worker-staging", Account: "123456789012", Region: "us-east-1"}},
		{"china", ecrevents.Load(t, "push.json", map[string]any{"region": "cn-north-1"}, nil), routes.Event{Kind: routes.KindECRPush, ID: "13cde686-328b-6117-af20-0e5566167482",
			Account: "123456789012", Region: "cn-north-1", Repository: "web", Tag: "v2.3.0", Digest: digest,
			ImageURI: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web@" + digest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIgnoredAndMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"delete", ecrevents.Load(t, "push.json", nil, map[string]any{"action-type": "DELETE"}), ErrIgnored, "action-type DELETE"},
		{"archive", ecrevents.Load(t, "push.json", nil, map[string]any{"action-type": "UPDATE_STORAGE_CLASS", "image-tag": nil}), ErrIgnored, "UPDATE_STORAGE_CLASS"},
		{"failed push", ecrevents.Load(t, "push.json", nil, map[string]any{"result": "FAILURE"}), ErrIgnored, "push result FAILURE"},
		{"scan failed", ecrevents.Load(t, "scan.json", nil, map[string]any{"scan-status": "FAILED"}), ErrIgnored, "scan-status FAILED"},
		{"replication", ecrevents.Load(t, "push.json", map[string]any{"detail-type": "ECR Replication Action"}, nil), ErrIgnored, `detail-type "ECR Replication Action"`},
		{"other source", ecrevents.Load(t, "push.json", map[string]any{"source": "aws.s3"}, nil), ErrIgnored, "aws.s3"},
		{"Inspector scan failed", ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{"scan-status": "FAILED"}), ErrIgnored, "scan-status FAILED (only INITIAL_SCAN_COMPLETE deploys)"},
		{"Inspector finding event", ecrevents.Load(t, "inspector-scan.json", map[string]any{"detail-type": "Inspector2 Finding"}, nil), ErrIgnored, `detail-type "Inspector2 Finding"`},
		{"push from Inspector's source", ecrevents.Load(t, "push.json", map[string]any{"source": "aws.inspector2"}, nil), ErrIgnored, "ECR Image Action from aws.inspector2"},
		{"Inspector repository not an ARN", ecrevents.Load(t, "inspector-scan.json", nil, map[string]any{"repository-name": "web"}), ErrMalformed, `"web" is not an ECR repository ARN`},
		{"no repository", ecrevents.Load(t, "push.json", nil, map[string]any{"repository-name": nil}), ErrMalformed, "repository-name"},
		{"no digest", ecrevents.Load(t, "scan.json", nil, map[string]any{"image-digest": nil}), ErrMalformed, "image-digest"},
		{"no account or id", ecrevents.Load(t, "push.json", map[string]any{"account": nil, "id": nil}, nil), ErrMalformed, "missing account, id"},
		{"no detail", ecrevents.Load(t, "push.json", map[string]any{"detail": nil}, nil), ErrMalformed, "missing detail"},
		{"detail of the wrong type", []byte(`{"id":"1","source":"aws.ecr","account":"123456789012","region":"us-east-1","detail-type":"ECR Image Action","detail":"x"}`), ErrMalformed, "detail"},
		{"not JSON", []byte(`not json`), ErrMalformed, "invalid character"},
		{"pipeline failed", cpstub.StateChangeEvent("worker-staging", "01234567-0123-0123-0123-012345678901", "FAILED", "", time.Time{}), ErrIgnored, "pipeline state FAILED (only SUCCEEDED promotes)"},
		{"pipeline started", cpstub.StateChangeEvent("worker-staging", "01234567-0123-0123-0123-012345678901", "STARTED", "", time.Time{}), ErrIgnored, "pipeline state STARTED"},
		{"action succeeded", cpstub.StateChangeEvent("worker-staging", "01234567-0123-0123-0123-012345678901", "SUCCEEDED", "Deploy", time.Time{}), ErrIgnored, "CodePipeline Action Execution State Change"},
		{"pipeline event without an execution", cpstub.StateChangeEvent("worker-staging", "", "SUCCEEDED", "", time.Time{}), ErrMalformed, "pipeline and execution-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}
