// Ecrpush is the Lambda that starts pipelines when images are pushed to, or
// scanned in, Amazon ECR. EventBridge delivers ECR's "ECR Image Action" and "ECR
// Image Scan" events and Amazon Inspector's "Inspector2 Scan" events; the route
// table (PIPEBRIDGE_ROUTES, or the SSM parameter named by
// PIPEBRIDGE_ROUTES_PARAMETER) says which pipelines each one starts.
package main

import (
	"context"
	stdlog "log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	"github.com/pipebridge/pipebridge/internal/lambdaenv"
)

func main() {
	// aws-lambda-go reports a failed invocation through the standard logger too;
	// without its date prefix that line is JSON like every other line.
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	h, err := setup(context.Background(), os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	h.log = log
	log.Info("ready", "routes", len(h.routes.Routes))
	lambda.Start(h.Handle)
}

// setup builds the handler's clients once, at cold start, and refuses a bad
// route table.
func setup(ctx context.Context, getenv func(string) string) (*handler, error) {
	cfg, err := lambdaenv.Config(getenv)
	if err != nil {
		return nil, err
	}
	table, err := dispatch.Load(ctx, getenv, func() dispatch.ParameterGetter {
		return ssm.NewFromConfig(cfg, func(o *ssm.Options) { lambdaenv.SetEndpoint(getenv, &o.BaseEndpoint, "SSM") })
	})
	if err != nil {
		return nil, err
	}
	return &handler{
		routes:    table,
		pipelines: codepipeline.NewFromConfig(cfg, func(o *codepipeline.Options) { lambdaenv.SetEndpoint(getenv, &o.BaseEndpoint, "CodePipeline") }),
	}, nil
}
