package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pipebridge/pipebridge/internal/ecsservice"
	"github.com/pipebridge/pipebridge/internal/imageref"
)

// image is what the guard knows of one image: its digest, tags and push time.
type image struct {
	Digest string
	Tags   []string
	Pushed time.Time
}

// version is the image's highest semver tag (v prefix allowed), or nil.
func (i image) version() (*semver.Version, string) {
	var best *semver.Version
	var tag string
	for _, t := range i.Tags {
		v, err := semver.StrictNewVersion(strings.TrimPrefix(t, "v"))
		if err == nil && (best == nil || v.GreaterThan(best)) {
			best, tag = v, t
		}
	}
	return best, tag
}

// String names the image for a person: its version tag, else its tags, and
// its digest.
func (i image) String() string {
	short := "sha256:" + imageref.ShortDigest(i.Digest)
	if _, tag := i.version(); tag != "" {
		return tag + " (" + short + ")"
	}
	if len(i.Tags) > 0 {
		return strings.Join(i.Tags, ", ") + " (" + short + ")"
	}
	return short
}

// decide says whether candidate may replace current: not when it is older.
// Both with semver tags: by semver order (a prerelease is older than its
// release); otherwise by push time. The same digest, or the same version
// rebuilt, may deploy.
func decide(candidate, current image) (ok bool, why string) {
	if candidate.Digest == current.Digest {
		return true, "the service already runs " + current.String() + ": redeploying it"
	}
	cv, _ := candidate.version()
	rv, _ := current.version()
	if cv != nil && rv != nil {
		switch {
		case cv.LessThan(rv):
			return false, fmt.Sprintf("%s is an older version than %s, which the service runs (semver order)", candidate, current)
		case cv.Equal(rv):
			return true, fmt.Sprintf("%s is the same version as %s, which the service runs", candidate, current)
		}
		return true, fmt.Sprintf("%s is newer than %s, which the service runs (semver order)", candidate, current)
	}
	if candidate.Pushed.Before(current.Pushed) {
		return false, fmt.Sprintf("%s was pushed at %s, before %s, which the service runs (pushed at %s)",
			candidate, candidate.Pushed.UTC().Format(time.RFC3339), current, current.Pushed.UTC().Format(time.RFC3339))
	}
	return true, fmt.Sprintf("%s was pushed after %s, which the service runs", candidate, current)
}

// guard refuses to deploy an image older than the one the service runs. It is
// the only action of the Guard stage, just before Deploy; it never blocks a
// rollback execution.
func (h *handler) guard(ctx context.Context, a *artifacts, p *params) outcome {
	if p.Pipeline == "" || p.Execution == "" {
		return failed(cptypes.FailureTypeConfigurationError, "UserParameters: guard needs pipeline and execution; redeploy the stack")
	}
	ex, err := h.pipelines.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String(p.Pipeline), PipelineExecutionId: aws.String(p.Execution)})
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "get pipeline execution %s of %s: %v", p.Execution, p.Pipeline, err)
	}
	if ex.PipelineExecution != nil && ex.PipelineExecution.ExecutionType == cptypes.ExecutionTypeRollback {
		return succeeded("rollback execution: never blocked")
	}

	data, err := a.read("imagedefinitions.json")
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	var defs []struct {
		Name     string `json:"name"`
		ImageURI string `json:"imageUri"`
	}
	if err := json.Unmarshal(data, &defs); err != nil {
		return failed(cptypes.FailureTypeJobFailed, "imagedefinitions.json: %v", err)
	}
	var candURI string
	for _, d := range defs {
		if d.Name == p.Container {
			candURI = d.ImageURI
		}
	}
	cand, err := imageref.Parse(candURI)
	if err != nil || cand.Digest == "" {
		return failed(cptypes.FailureTypeJobFailed, "imagedefinitions.json has no image pinned by digest for container %s (got %q): the build must write it with pipebridge imagedefs", p.Container, candURI)
	}

	td, err := ecsservice.TaskDefinition(ctx, h.ecs, p.Service, true)
	if err != nil {
		return failed(cptypes.FailureTypeConfigurationError, "%v", err)
	}
	images, err := ecsservice.Containers(ctx, h.ecs, td)
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	cur, err := imageref.Parse(images[p.Container])
	if err != nil || cur.Account != cand.Account || cur.Region != cand.Region || cur.Repository != cand.Repository {
		// A first deploy from a placeholder image, or another registry:
		// nothing to compare with.
		return succeeded("%s runs %q in container %s, not an image of %s: nothing to compare, deploying %s", p.Service, images[p.Container], p.Container, cand.RepositoryURI(), cand.Pinned())
	}

	candidate, err := h.describe(ctx, cand)
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	current, err := h.describe(ctx, cur)
	var nf *ecrtypes.ImageNotFoundException
	if errors.As(err, &nf) {
		return succeeded("the image the service runs (%s) is no longer in ECR: nothing to compare, deploying %s", images[p.Container], candidate)
	}
	if err != nil {
		return failed(cptypes.FailureTypeJobFailed, "%v", err)
	}
	ok, why := decide(candidate, current)
	if !ok {
		return failed(cptypes.FailureTypeJobFailed, "not deploying %s to %s: %s. Deploy a newer release; to deploy this one anyway set allowDowngrade: true on the environment (a rollback is never blocked)",
			candidate, p.Service, why)
	}
	return succeeded("%s", why)
}

// describe looks an image up by digest (or by tag, for a task definition that
// names one).
func (h *handler) describe(ctx context.Context, ref imageref.Ref) (image, error) {
	id := ecrtypes.ImageIdentifier{}
	if ref.Digest != "" {
		id.ImageDigest = aws.String(ref.Digest)
	} else {
		id.ImageTag = aws.String(ref.Tag)
	}
	out, err := h.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId: aws.String(ref.Account), RepositoryName: aws.String(ref.Repository), ImageIds: []ecrtypes.ImageIdentifier{id},
	})
	if err != nil {
		return image{}, fmt.Errorf("describe image %s: %w", ref, err)
	}
	if len(out.ImageDetails) == 0 {
		return image{}, fmt.Errorf("describe image %s: %w", ref, &ecrtypes.ImageNotFoundException{Message: aws.String("not found")})
	}
	d := out.ImageDetails[0]
	return image{Digest: aws.ToString(d.ImageDigest), Tags: d.ImageTags, Pushed: aws.ToTime(d.ImagePushedAt)}, nil
}
