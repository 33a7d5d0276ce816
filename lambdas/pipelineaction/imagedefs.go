package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pipebridge/pipebridge/internal/ecsservice"
	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/scan"
	"github.com/pipebridge/pipebridge/internal/severity"
)

// scanToken is the continuation token while the scan runs: when the first
// attempt was, so the timeout counts from there.
type scanToken struct {
	Since time.Time `json:"since"`
	Polls int       `json:"polls"`
}

// imagedefs turns the ECR source's imageDetail.json into imagedefinitions.json:
// the digest it names (never a tag), for the container the service's task
// definition has, once the image's scan passes the environment's gate.
func (h *handler) imagedefs(ctx context.Context, a *artifacts, p *params, token string) outcome {
	detail, err := a.read("imageDetail.json")
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	uri, err := imageref.FromImageDetail(detail)
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "imageDetail.json: %v (the ECR source action writes ImageURI and ImageDigest)", err)
	}
	ref, err := imageref.Parse(uri)
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "imageDetail.json: %v", err)
	}
	if ref.Digest == "" {
		return failed(cptypes.FailureTypeJobFailed, "imageDetail.json names %s without a digest: refusing to deploy by tag", uri)
	}

	var state scanToken
	if token != "" {
		if err := json.Unmarshal([]byte(token), &state); err != nil || state.Since.IsZero() {
			return failed(cptypes.FailureTypeJobFailed, "continuation token %q is not this action's: retry the stage", clip(token, 100))
		}
	} else {
		// First attempt: the checks that need no waiting.
		td, err := ecsservice.TaskDefinition(ctx, h.ecs, p.Service, false)
		if err != nil {
			return failed(cptypes.FailureTypeConfigurationError, "%v", err)
		}
		if err := ecsservice.CheckNames(ctx, h.ecs, td, []string{p.Container}); err != nil {
			return failed(cptypes.FailureTypeConfigurationError, "%v (the environment's containers in the config)", err)
		}
		if _, err := h.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{
			RegistryId: aws.String(ref.Account), RepositoryName: aws.String(ref.Repository),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(ref.Digest)}},
		}); err != nil {
			var nf *ecrtypes.ImageNotFoundException
			if errors.As(err, &nf) {
				return failed(cptypes.FailureTypeJobFailed, "%s is no longer in ECR (deleted after the push?): nothing to deploy", ref.Pinned())
			}
			return failed(cptypes.FailureTypeJobFailed, "describe image %s: %v", ref.Pinned(), err)
		}
		state.Since = h.now().UTC()
	}

	gate := "scan gate off"
	if s := p.Scan; s != nil {
		out, passed := h.scanGate(ctx, ref, s, &state)
		if !passed {
			return out
		}
		gate = out.message
	}

	defs, _ := json.Marshal([]map[string]string{{"name": p.Container, "imageUri": ref.Pinned()}})
	if err := a.write("imagedefinitions.json", append(defs, '\n')); err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	return succeeded("%s -> %s (%s)", p.Container, ref.Pinned(), gate)
}

// scanGate polls the scan once. passed: the gate passes (out.message says how);
// otherwise out is the job's outcome: a failure, or a continuation while the
// scan runs.
func (h *handler) scanGate(ctx context.Context, ref imageref.Ref, s *scanParams, state *scanToken) (out outcome, passed bool) {
	max, err := severity.ParseKnown(s.MaxSeverity)
	if err != nil {
		return failed(cptypes.FailureTypeConfigurationError, "UserParameters scan.maxSeverity: %v; redeploy the stack", err), false
	}
	policy := severity.Policy{Max: max, AllowUndefined: s.AllowUndefined}
	timeout := time.Duration(s.TimeoutMinutes) * time.Minute
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	findings, status, err := scan.Findings(ctx, h.ecr, ref)
	var notFound *ecrtypes.ScanNotFoundException
	last := "scan " + string(status)
	switch {
	case errors.As(err, &notFound):
		last = "no scan found (is scan on push enabled on the repository?)"
	case err != nil:
		return failed(cptypes.FailureTypeJobFailed, "describe scan findings of %s: %v", ref.Pinned(), err), false
	case scan.Done(status):
		ignore := map[string]bool{}
		for _, n := range s.Ignore {
			ignore[n] = true
		}
		var blocking []string
		for _, f := range findings {
			if scan.Verdict(policy, ignore, f) == "FAIL" {
				blocking = append(blocking, f.Severity+" "+f.Name)
			}
		}
		if len(blocking) > 0 {
			return failed(cptypes.FailureTypeJobFailed, "scan gate (%s): %d finding(s) in %s fail it: %s. Fix the image, or list the findings under scanGate.ignore in the config",
				policy, len(blocking), ref.Pinned(), strings.Join(blocking, ", ")), false
		}
		return succeeded("scan gate passed: %d finding(s), none failing %s", len(findings), policy), true
	case !scan.Pending(status):
		return failed(cptypes.FailureTypeJobFailed, "%v", scan.Ended(ref, status)), false
	}
	waited := h.now().Sub(state.Since)
	if waited >= timeout {
		return failed(cptypes.FailureTypeJobFailed, "scan of %s did not complete within %s (last seen: %s): failing closed", ref.Pinned(), timeout, last), false
	}
	state.Polls++
	tok, _ := json.Marshal(state)
	return outcome{message: fmt.Sprintf("waiting for the scan of %s: %s, %s of %s", ref.Pinned(), last, waited.Round(time.Second), timeout), token: string(tok)}, false
}
