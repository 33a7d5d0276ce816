package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/routes"
)

// pipelines is what the function asks of CodePipeline: starts, and for
// promotions, what a source execution deployed.
type pipelines interface {
	dispatch.Starter
	GetPipelineExecution(ctx context.Context, in *codepipeline.GetPipelineExecutionInput, optFns ...func(*codepipeline.Options)) (*codepipeline.GetPipelineExecutionOutput, error)
	codepipeline.ListActionExecutionsAPIClient
}

// builtDigest is the output variable that names the image a build pushed and
// pinned (buildspec.yml exports it).
const builtDigest = "IMAGE_DIGEST"

// errNotPromoted wraps the reason a successful-execution event promotes
// nothing, by design: a rollback, or a pipeline no route promotes.
var errNotPromoted = errors.New("not promoted")

// resolve fills a promotion event with what its execution deployed. The event
// says SUCCEEDED; CodePipeline's own record must agree (status Succeeded, so
// after the Deploy stage's bake), and the execution must be a standard one: a
// rollback re-deploys an older image, which is never promoted. The digest is
// the execution's image source revision, which the image pipelines pin the
// deploy to, or for a pipeline that builds, its Build action's IMAGE_DIGEST
// output variable (the digest imagedefinitions.json pinned). An execution that
// did not succeed, or shows no digest, is an error: the event is retried and
// then kept in the dead-letter queue, never promoted on a guess.
func (h *handler) resolve(ctx context.Context, ev *routes.Event) error {
	out, err := h.pipelines.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String(ev.Pipeline), PipelineExecutionId: aws.String(ev.ID),
	})
	if err != nil {
		return fmt.Errorf("GetPipelineExecution %s %s: %w", ev.Pipeline, ev.ID, err)
	}
	x := out.PipelineExecution
	if x == nil {
		return fmt.Errorf("GetPipelineExecution %s %s: no execution in the answer", ev.Pipeline, ev.ID)
	}
	if x.ExecutionType == cptypes.ExecutionTypeRollback {
		return fmt.Errorf("%w: execution %s of %s is a rollback (it re-deployed an earlier image); only standard executions promote", errNotPromoted, ev.ID, ev.Pipeline)
	}
	if x.Status != cptypes.PipelineExecutionStatusSucceeded {
		return fmt.Errorf("execution %s of %s is %s, not Succeeded: only a successful execution promotes its image", ev.ID, ev.Pipeline, x.Status)
	}
	for _, r := range x.ArtifactRevisions {
		if id := aws.ToString(r.RevisionId); imageref.IsDigest(id) {
			ev.Digest = id
			break
		}
	}
	if ev.Digest == "" {
		d, err := h.built(ctx, ev)
		if err != nil {
			return err
		}
		ev.Digest = d
	}
	for _, v := range x.Variables {
		switch aws.ToString(v.Name) {
		case "IMAGE_TAG", "RELEASE_TAG":
			ev.Tag = aws.ToString(v.ResolvedValue)
		}
	}
	return nil
}

// built reads the digest a building pipeline's execution pushed and deployed:
// the IMAGE_DIGEST output variable of its latest successful Build action.
func (h *handler) built(ctx context.Context, ev *routes.Event) (string, error) {
	pages := codepipeline.NewListActionExecutionsPaginator(h.pipelines, &codepipeline.ListActionExecutionsInput{
		PipelineName: aws.String(ev.Pipeline), Filter: &cptypes.ActionExecutionFilter{PipelineExecutionId: aws.String(ev.ID)},
	})
	var digest string
	var at time.Time
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("ListActionExecutions %s %s: %w", ev.Pipeline, ev.ID, err)
		}
		for _, a := range page.ActionExecutionDetails {
			if a.Status != cptypes.ActionExecutionStatusSucceeded || a.Input == nil || a.Input.ActionTypeId == nil ||
				a.Input.ActionTypeId.Category != cptypes.ActionCategoryBuild || a.Output == nil {
				continue
			}
			d := a.Output.OutputVariables[builtDigest]
			if t := aws.ToTime(a.LastUpdateTime); imageref.IsDigest(d) && (digest == "" || t.After(at)) {
				digest, at = d, t
			}
		}
	}
	if digest == "" {
		return "", fmt.Errorf("execution %s of %s shows no image digest: no artifact revision is one, and no successful Build action exported %s (buildspec.yml does; a custom buildspec must too)", ev.ID, ev.Pipeline, builtDigest)
	}
	return digest, nil
}
