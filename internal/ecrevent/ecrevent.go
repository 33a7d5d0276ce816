// Package ecrevent turns Amazon ECR's EventBridge events into route events: ECR's
// own "ECR Image Action" (push) and "ECR Image Scan" (basic scanning), Amazon
// Inspector's "Inspector2 Scan" (enhanced scanning, where ECR sends no scan
// event of its own), and CodePipeline's "CodePipeline Pipeline Execution State
// Change" with state SUCCEEDED (promotions: the event names the pipeline and
// execution only; the Lambda asks CodePipeline for the image it deployed).
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

// scanDetail is the detail of ECR's "ECR Image Scan" and Inspector's
// "Inspector2 Scan" events. The counts are read as a map so that every severity
// the event names (UNDEFINED, Inspector's UNTRIAGED and TOTAL, any new one)
// reaches the severity policy, which fails closed on what it does not know.
type scanDetail struct {
	ScanStatus     string           `json:"scan-status"`
	RepositoryName string           `json:"repository-name"`
	ImageDigest    string           `json:"image-digest"`
	ImageTags      []string         `json:"image-tags"`
	Counts         map[string]int64 `json:"finding-severity-counts"`
}

// Parse reads an "ECR Image Action", "ECR Image Scan" or "Inspector2 Scan" event.
// It returns an error wrapping ErrIgnored for events that never deploy
// (deletions, failures, storage class changes, other event types) and
// ErrMalformed for missing fields.
func Parse(data []byte) (routes.Event, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return routes.Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Source != "aws.ecr" && env.Source != "aws.inspector2" && env.Source != "aws.codepipeline" {
		return routes.Event{ID: env.ID}, fmt.Errorf("%w: source %q is not aws.ecr, aws.inspector2 or aws.codepipeline", ErrIgnored, env.Source)
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
		if env.Source != "aws.ecr" {
			return ev, fmt.Errorf("%w: %s from %s", ErrIgnored, env.DetailType, env.Source)
		}
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
	case "ECR Image Scan", "Inspector2 Scan":
		var d scanDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return ev, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		// ECR's basic scan completes as COMPLETE; Inspector's first scan of an
		// image as INITIAL_SCAN_COMPLETE. Anything else (FAILED, an unsupported
		// image) never deploys.
		if want := map[string]string{"aws.ecr": "COMPLETE", "aws.inspector2": "INITIAL_SCAN_COMPLETE"}[env.Source]; d.ScanStatus != want {
			return ev, fmt.Errorf("%w: scan-status %s (only %s deploys)", ErrIgnored, orNone(d.ScanStatus), want)
		}
		if d.RepositoryName == "" || d.ImageDigest == "" {
			return ev, fmt.Errorf("%w: detail needs repository-name and image-digest", ErrMalformed)
		}
		ev.Repository = d.RepositoryName
		if env.Source == "aws.inspector2" {
			// Inspector names the repository by ARN: its account and region are
			// the registry's.
			a, err := parseRepositoryARN(d.RepositoryName)
			if err != nil {
				return ev, fmt.Errorf("%w: detail.repository-name: %v", ErrMalformed, err)
			}
			ev.Account, ev.Region, ev.Repository = a.account, a.region, a.name
		}
		ev.Kind = routes.KindECRScan
		ev.Digest = d.ImageDigest
		ev.Tags = d.ImageTags
		ev.Findings = d.Counts
		if ev.Findings == nil {
			ev.Findings = map[string]int64{}
		}
	case "CodePipeline Pipeline Execution State Change":
		if env.Source != "aws.codepipeline" {
			return ev, fmt.Errorf("%w: %s from %s", ErrIgnored, env.DetailType, env.Source)
		}
		var d struct {
			Pipeline    string `json:"pipeline"`
			ExecutionID string `json:"execution-id"`
			State       string `json:"state"`
		}
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return ev, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		if d.Pipeline == "" || d.ExecutionID == "" {
			return ev, fmt.Errorf("%w: detail needs pipeline and execution-id", ErrMalformed)
		}
		if d.State != "SUCCEEDED" {
			return ev, fmt.Errorf("%w: pipeline state %s (only SUCCEEDED promotes)", ErrIgnored, orNone(d.State))
		}
		// The token comes from the execution, not the event: every event about
		// one execution promotes it once.
		ev.Kind, ev.ID, ev.Pipeline = routes.KindPromotion, d.ExecutionID, d.Pipeline
		return ev, nil
	default:
		return ev, fmt.Errorf("%w: detail-type %q", ErrIgnored, env.DetailType)
	}
	ev.ImageURI = fmt.Sprintf("%s.dkr.ecr.%s.%s/%s@%s", ev.Account, ev.Region, dnsSuffix(ev.Region), ev.Repository, ev.Digest)
	return ev, nil
}

type repositoryARN struct{ account, region, name string }

// parseRepositoryARN reads arn:PARTITION:ecr:REGION:ACCOUNT:repository/NAME.
func parseRepositoryARN(s string) (repositoryARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecr" || !strings.HasPrefix(parts[5], "repository/") {
		return repositoryARN{}, fmt.Errorf("%q is not an ECR repository ARN", s)
	}
	a := repositoryARN{region: parts[3], account: parts[4], name: strings.TrimPrefix(parts[5], "repository/")}
	if a.region == "" || a.account == "" || a.name == "" {
		return repositoryARN{}, fmt.Errorf("%q is not an ECR repository ARN", s)
	}
	return a, nil
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
