package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pipebridge/pipebridge/internal/ecsservice"
	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/scan"
)

type pipelineAPI interface {
	PutJobSuccessResult(ctx context.Context, in *codepipeline.PutJobSuccessResultInput, optFns ...func(*codepipeline.Options)) (*codepipeline.PutJobSuccessResultOutput, error)
	PutJobFailureResult(ctx context.Context, in *codepipeline.PutJobFailureResultInput, optFns ...func(*codepipeline.Options)) (*codepipeline.PutJobFailureResultOutput, error)
	GetPipelineExecution(ctx context.Context, in *codepipeline.GetPipelineExecutionInput, optFns ...func(*codepipeline.Options)) (*codepipeline.GetPipelineExecutionOutput, error)
}

type ecrAPI interface {
	scan.API
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

type artifactAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

type handler struct {
	pipelines pipelineAPI
	ecs       ecsservice.API
	ecr       ecrAPI
	artifacts func(jobCredentials) artifactAPI
	now       func() time.Time
	log       *slog.Logger
}

// jobEvent is the Lambda invoke action's event. aws-lambda-go's
// CodePipelineJobEvent has all of it but the artifact encryption key.
type jobEvent struct {
	Job job `json:"CodePipeline.job"`
}

type job struct {
	events.CodePipelineJob
	Data jobData `json:"data"` // shadows the embedded Data
}

type jobData struct {
	events.CodePipelineData
	EncryptionKey *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"encryptionKey"`
}

type jobCredentials = events.CodePipelineArtifactCredentials

// params is the action's UserParameters, written by the CDK app.
type params struct {
	Do        string `json:"do"`        // imagedefs or guard
	Container string `json:"container"` // the container to deploy
	Service   string `json:"service"`   // CLUSTER/SERVICE
	// imagedefs: the scan gate, absent when the environment turns it off.
	Scan *scanParams `json:"scan,omitempty"`
	// guard: which execution asks (#{codepipeline.PipelineExecutionId}).
	Pipeline  string `json:"pipeline,omitempty"`
	Execution string `json:"execution,omitempty"`
}

type scanParams struct {
	MaxSeverity    string   `json:"maxSeverity"` // the highest that passes
	Ignore         []string `json:"ignore,omitempty"`
	AllowUndefined bool     `json:"allowUndefined,omitempty"`
	TimeoutMinutes int      `json:"timeoutMinutes,omitempty"` // default 10
}

// outcome is what the job reports: success (done, or continuing with token),
// or a failure of the given type.
type outcome struct {
	failure cptypes.FailureType // empty: success
	message string
	token   string
}

func succeeded(format string, a ...any) outcome { return outcome{message: fmt.Sprintf(format, a...)} }
func failed(t cptypes.FailureType, format string, a ...any) outcome {
	return outcome{failure: t, message: fmt.Sprintf(format, a...)}
}

// Handle runs one job and reports it. It returns an error only when the result
// could not be reported: Lambda retries the invocation, and the job is redone.
func (h *handler) Handle(ctx context.Context, ev jobEvent) error {
	job := &ev.Job
	if job.ID == "" {
		return errors.New("not a CodePipeline job event: no CodePipeline.job.id (this function is a pipeline action, not for direct invocation)")
	}
	var p params
	out := h.run(ctx, job, &p)
	h.log.Info("job", "job", job.ID, "do", p.Do, "pipeline", p.Pipeline, "result", map[bool]string{true: "success", false: string(out.failure)}[out.failure == ""],
		"continuing", out.token != "", "message", out.message)
	return h.report(ctx, job.ID, out)
}

func (h *handler) run(ctx context.Context, job *job, p *params) outcome {
	raw := job.Data.ActionConfiguration.Configuration.UserParameters
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return failed(cptypes.FailureTypeConfigurationError, "UserParameters: %v: want the JSON the pipebridge CDK app writes; redeploy the stack", err)
	}
	if p.Container == "" || strings.Count(p.Service, "/") != 1 {
		return failed(cptypes.FailureTypeConfigurationError, "UserParameters: container and service (CLUSTER/SERVICE) are required; redeploy the stack")
	}
	a := artifacts{h: h, ctx: ctx, creds: job.Data.ArtifactCredentials, in: job.Data.InputArtifacts, out: job.Data.OutPutArtifacts}
	if k := job.Data.EncryptionKey; k != nil && k.Type == "KMS" {
		a.kmsKey = k.ID
	}
	switch p.Do {
	case "imagedefs":
		return h.imagedefs(ctx, &a, p, job.Data.ContinuationToken)
	case "guard":
		return h.guard(ctx, &a, p)
	}
	return failed(cptypes.FailureTypeConfigurationError, "UserParameters: do %q: want imagedefs or guard", p.Do)
}

// report tells CodePipeline the outcome. A job already answered (a retried
// invocation) is not an error.
func (h *handler) report(ctx context.Context, id string, out outcome) error {
	var err error
	if out.failure == "" {
		in := &codepipeline.PutJobSuccessResultInput{JobId: aws.String(id), ExecutionDetails: &cptypes.ExecutionDetails{Summary: aws.String(clip(out.message, 2048))}}
		if out.token != "" {
			in.ContinuationToken = aws.String(out.token)
		}
		_, err = h.pipelines.PutJobSuccessResult(ctx, in)
	} else {
		_, err = h.pipelines.PutJobFailureResult(ctx, &codepipeline.PutJobFailureResultInput{
			JobId:          aws.String(id),
			FailureDetails: &cptypes.FailureDetails{Type: out.failure, Message: aws.String(clip(out.message, 5000))},
		})
	}
	var done *cptypes.InvalidJobStateException
	if errors.As(err, &done) {
		h.log.Warn("job already answered", "job", id, "error", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("report job %s: %w", id, err)
	}
	return nil
}

// clip fits s to a field of 1 to n characters.
func clip(s string, n int) string {
	if s == "" {
		return "-"
	}
	return names.Truncate(s, n)
}

// artifacts reads the job's input artifacts and writes its output, each a zip
// file in the artifact bucket, with the job's credentials.
type artifacts struct {
	h      *handler
	ctx    context.Context
	creds  jobCredentials
	in     []events.CodePipelineInputArtifact
	out    []events.CodePipelineOutputArtifact
	kmsKey string
	client artifactAPI
}

// maxArtifact bounds what is read of an input artifact: the files here are a
// few hundred bytes, and CodePipeline's imagedefinitions.json limit is 100 KB.
const maxArtifact = 1 << 20

func (a *artifacts) s3() artifactAPI {
	if a.client == nil {
		a.client = a.h.artifacts(a.creds)
	}
	return a.client
}

// read returns the file name from the first input artifact.
func (a *artifacts) read(name string) ([]byte, error) {
	if len(a.in) == 0 {
		return nil, errors.New("the action has no input artifact: it needs the one holding " + name)
	}
	loc := a.in[0].Location.S3Location
	obj, err := a.s3().GetObject(a.ctx, &s3.GetObjectInput{Bucket: aws.String(loc.BucketName), Key: aws.String(loc.ObjectKey)})
	if err != nil {
		return nil, fmt.Errorf("read input artifact %s (s3://%s/%s): %w", a.in[0].Name, loc.BucketName, loc.ObjectKey, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, maxArtifact+1))
	if err != nil {
		return nil, fmt.Errorf("read input artifact %s: %w", a.in[0].Name, err)
	}
	if len(data) > maxArtifact {
		return nil, fmt.Errorf("input artifact %s is over %d bytes: not the artifact this action expects", a.in[0].Name, maxArtifact)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("input artifact %s is not a zip file: %w", a.in[0].Name, err)
	}
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("input artifact %s: %s: %w", a.in[0].Name, name, err)
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, maxArtifact))
	}
	return nil, fmt.Errorf("input artifact %s has no %s", a.in[0].Name, name)
}

// write stores one file as the first output artifact, encrypted with the
// pipeline's artifact key when it has one.
func (a *artifacts) write(name string, content []byte) error {
	if len(a.out) == 0 {
		return errors.New("the action has no output artifact to write " + name + " to")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: a.h.now().UTC()})
	if err == nil {
		_, err = w.Write(content)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return err
	}
	loc := a.out[0].Location.S3Location
	in := &s3.PutObjectInput{Bucket: aws.String(loc.BucketName), Key: aws.String(loc.ObjectKey), Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("application/zip")}
	if a.kmsKey != "" {
		in.ServerSideEncryption, in.SSEKMSKeyId = s3types.ServerSideEncryptionAwsKms, aws.String(a.kmsKey)
	}
	if _, err := a.s3().PutObject(a.ctx, in); err != nil {
		return fmt.Errorf("write output artifact %s (s3://%s/%s): %w", a.out[0].Name, loc.BucketName, loc.ObjectKey, err)
	}
	return nil
}
