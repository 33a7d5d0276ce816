package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"

	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/reports"
)

// executionGetter is the CodePipeline call the handler makes.
type executionGetter interface {
	GetPipelineExecution(ctx context.Context, in *codepipeline.GetPipelineExecutionInput, optFns ...func(*codepipeline.Options)) (*codepipeline.GetPipelineExecutionOutput, error)
}

type handler struct {
	table     *reports.Table
	pipelines executionGetter
	github    *deployments // nil: no GitHub token secret configured
	revisions *revisions   // nil: no image pipelines
	slack     *poster
	log       *slog.Logger
}

// execution is what the reports say about an execution, gathered once per event
// from GetPipelineExecution.
type execution struct {
	id, pipeline        string
	commit, digest      string
	tag, imageTag       string
	releaseURL, trigger string
	region, account     string
	noCommit            string // why there is no commit, when there is none
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Handle reports one CodePipeline event. It returns an error only when a report
// could not be made (GitHub or Slack failed, a secret is unreadable): EventBridge
// then retries, and the dead-letter queue keeps what still fails. It never
// touches the pipeline.
func (h *handler) Handle(ctx context.Context, payload []byte) error {
	e, err := decodeEvent(payload)
	if err != nil {
		return err
	}
	log := h.log.With("pipeline", e.Detail.Pipeline, "executionId", e.Detail.ExecutionID, "event", e.DetailType, "state", e.Detail.State)
	target, ok := h.table.Pipelines[e.Detail.Pipeline]
	if !ok {
		log.InfoContext(ctx, "ignored", "reason", "the pipeline is not one of this stack's")
		return nil
	}
	r, ok, err := meaning(e)
	if err != nil {
		return err
	}
	if !ok {
		log.InfoContext(ctx, "ignored", "reason", "nothing to report for this event", "category", e.Detail.Type.Category, "action", e.Detail.Action)
		return nil
	}
	x, err := h.execution(ctx, e, target)
	if err != nil {
		return err
	}
	log = log.With("app", target.App, "environment", target.Environment, "outcome", r.outcome)
	var errs []error
	if h.github != nil && target.Repository != "" {
		if x.commit == "" {
			log.WarnContext(ctx, "no GitHub deployment", "reason", x.noCommit)
		} else if err := h.github.report(ctx, log, target, x, r); err != nil {
			errs = append(errs, fmt.Errorf("GitHub: %w", err))
		}
	}
	if target.Slack != nil && r.notify {
		if err := h.slack.report(ctx, log, target, x, r, e); err != nil {
			errs = append(errs, fmt.Errorf("slack: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		log.ErrorContext(ctx, "report failed", "error", err.Error())
		return err
	}
	return nil
}

func (h *handler) execution(ctx context.Context, e *event, t reports.Target) (*execution, error) {
	out, err := h.pipelines.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String(e.Detail.Pipeline), PipelineExecutionId: aws.String(e.Detail.ExecutionID),
	})
	if err != nil {
		return nil, fmt.Errorf("GetPipelineExecution %s %s: %w", e.Detail.Pipeline, e.Detail.ExecutionID, err)
	}
	x := &execution{id: e.Detail.ExecutionID, pipeline: e.Detail.Pipeline, region: e.Region, account: e.Account}
	pe := out.PipelineExecution
	if pe == nil {
		return x, nil
	}
	for _, v := range pe.Variables {
		switch aws.ToString(v.Name) {
		case "RELEASE_TAG":
			x.tag = aws.ToString(v.ResolvedValue)
		case "IMAGE_TAG":
			x.imageTag = aws.ToString(v.ResolvedValue)
		case "RELEASE_URL":
			x.releaseURL = aws.ToString(v.ResolvedValue)
		case "TRIGGER_ID":
			x.trigger = aws.ToString(v.ResolvedValue)
		}
	}
	for _, r := range pe.ArtifactRevisions {
		id := aws.ToString(r.RevisionId)
		switch {
		case x.commit == "" && shaRE.MatchString(id):
			x.commit = id
		case x.digest == "" && imageref.IsDigest(id):
			x.digest = id
		}
	}
	// Image pipelines: the commit is the image tag when that is a full SHA (the
	// example workflow pushes those), else the image's revision label.
	if x.commit == "" && shaRE.MatchString(x.imageTag) {
		x.commit = x.imageTag
	}
	if x.commit == "" && x.digest != "" && t.ImageRepository != "" && h.revisions != nil && t.Repository != "" {
		rev, err := h.revisions.commit(ctx, x.account, t.ImageRepository, x.digest)
		switch {
		case err != nil:
			x.noCommit = "the image tag is not a full commit SHA, and its " + revisionLabel + " label could not be read: " + err.Error()
		case rev == "":
			x.noCommit = "the image tag is not a full commit SHA, and the image has no " + revisionLabel + " label with one"
		default:
			x.commit = rev
		}
	}
	if x.commit == "" && x.noCommit == "" {
		x.noCommit = "the execution has no commit revision, and its image tag is not a full commit SHA"
	}
	return x, nil
}

// consoleURL is the execution's page in the CodePipeline console.
func (x *execution) consoleURL() string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s/executions/%s/timeline?region=%s",
		x.region, url.PathEscape(x.pipeline), x.id, x.region)
}

// approvalURL is the pipeline's page, where the approval is given.
func (x *execution) approvalURL() string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s/view?region=%s", x.region, url.PathEscape(x.pipeline), x.region)
}
