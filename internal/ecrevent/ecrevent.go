// Package ecrevent turns Amazon ECR's EventBridge events into route events.
package ecrevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipebridge/pipebridge/internal/routes"
)

// ErrIgnored wraps the reason an event starts nothing, whatever the routes say.
var ErrIgnored = errors.New("ignored")

// ErrMalformed marks an event that lacks what an ECR event must have.
var ErrMalformed = errors.New("malformed ECR event")

// envelope is the part common to every EventBridge event.
type envelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

// Parse reads an "ECR Image Action" or "ECR Image Scan" event. It returns an error
// wrapping ErrIgnored for events that never deploy (deletions, failures, storage
// class changes, other event types) and ErrMalformed for missing fields.
func Parse(data []byte) (routes.Event, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return routes.Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Source != "aws.ecr" {
		return routes.Event{}, fmt.Errorf("%w: source %q is not aws.ecr", ErrIgnored, env.Source)
	}
	var missing []string
	for field, v := range map[string]string{"id": env.ID, "account": env.Account, "region": env.Region} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(env.Detail) == 0 || string(env.Detail) == "null" {
		missing = append(missing, "detail")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return routes.Event{}, fmt.Errorf("%w: missing %s", ErrMalformed, strings.Join(missing, ", "))
	}
	ev := routes.Event{ID: env.ID, Account: env.Account, Region: env.Region}
	switch env.DetailType {
	case "ECR Image Action":
		var d events.ECRImageActionEventDetailType
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return ev, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		if d.ActionType != "PUSH" {
			return ev, fmt.Errorf("%w: action-type %s (only PUSH deploys)", ErrIgnored, orNone(d.ActionType))
		}
		if d.Result != "SUCCESS" {
			return ev, fmt.Errorf("%w: push result %s", ErrIgnored, orNone(d.Result))
		}
		if d.RepositoryName == "" || d.ImageDigest == "" {
			return ev, fmt.Errorf("%w: detail needs repository-name and image-digest", ErrMalformed)
		}
		ev.Kind = routes.KindECRPush
		ev.Repository, ev.Digest, ev.Tag = d.RepositoryName, d.ImageDigest, d.ImageTag
	case "ECR Image Scan":
		var d events.ECRScanEventDetailType
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return ev, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		if d.ScanStatus != "COMPLETE" {
			return ev, fmt.Errorf("%w: scan-status %s", ErrIgnored, orNone(d.ScanStatus))
		}
		if d.RepositoryName == "" || d.ImageDigest == "" {
			return ev, fmt.Errorf("%w: detail needs repository-name and image-digest", ErrMalformed)
		}
		ev.Kind = routes.KindECRScan
		ev.Repository, ev.Digest = d.RepositoryName, d.ImageDigest
		ev.Tags = d.ImageTags
		c := d.FindingSeverityCounts
		ev.Findings = map[string]int64{"CRITICAL": c.Critical, "HIGH": c.High, "MEDIUM": c.Medium, "LOW": c.Low, "INFORMATIONAL": c.Informational}
	default:
		return ev, fmt.Errorf("%w: detail-type %q", ErrIgnored, env.DetailType)
	}
	ev.ImageURI = fmt.Sprintf("%s.dkr.ecr.%s.%s/%s@%s", ev.Account, ev.Region, dnsSuffix(ev.Region), ev.Repository, ev.Digest)
	return ev, nil
}

func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
