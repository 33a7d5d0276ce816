// Pipelineaction is pipebridge's CodePipeline Lambda invoke action. The
// pipeline calls it with a job (the "CodePipeline.job" event); UserParameters,
// JSON written by the CDK app, says which of two things to do:
//
//	imagedefs  read the ECR source's imageDetail.json, check the container name
//	           against the service's task definition, gate on the image's scan,
//	           and write imagedefinitions.json pinned to the digest: what the
//	           CodeBuild "imagedefs" project did, without a build container.
//	guard      before Deploy: refuse an image older than the one the service
//	           runs (semver tags by semver order, others by push time), unless
//	           the execution is a rollback.
//
// It reads and writes artifacts with the job's own credentials and reports with
// PutJobSuccessResult or PutJobFailureResult (a scan still running: success
// with a continuation token, and CodePipeline invokes it again).
package main

import (
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pipebridge/pipebridge/internal/lambdaenv"
)

func main() {
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	h, err := setup(os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	h.log = log
	lambda.Start(h.Handle)
}

func setup(getenv func(string) string) (*handler, error) {
	cfg, err := lambdaenv.Config(getenv)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	endpoint := func(dst **string, serviceID string) { lambdaenv.SetEndpoint(getenv, dst, serviceID) }
	s3Endpoint := lambdaenv.Endpoint(getenv, "S3")
	if s3Endpoint == nil {
		s3Endpoint = cfg.BaseEndpoint
	}
	return &handler{
		pipelines: codepipeline.NewFromConfig(cfg, func(o *codepipeline.Options) { endpoint(&o.BaseEndpoint, "CodePipeline") }),
		ecs:       ecs.NewFromConfig(cfg, func(o *ecs.Options) { endpoint(&o.BaseEndpoint, "ECS") }),
		ecr:       ecr.NewFromConfig(cfg, func(o *ecr.Options) { endpoint(&o.BaseEndpoint, "ECR") }),
		// Artifacts are read and written as the job's credentials allow, not
		// the function's role: a client per job.
		artifacts: func(c jobCredentials) artifactAPI {
			return s3.New(s3.Options{
				Region:      cfg.Region,
				HTTPClient:  cfg.HTTPClient,
				Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
			}, func(o *s3.Options) {
				if s3Endpoint != nil {
					o.BaseEndpoint, o.UsePathStyle = aws.String(*s3Endpoint), true
				}
			})
		},
		now: time.Now,
		log: slog.Default(),
	}, nil
}
