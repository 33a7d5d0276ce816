// Ecrpush is the Lambda that starts pipelines when images are pushed to, or
// scanned in, Amazon ECR. EventBridge delivers "ECR Image Action" and "ECR Image
// Scan" events; the route table (PIPEBRIDGE_ROUTES, or the SSM parameter named by
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

	"github.com/pipebridge/pipebridge/internal/lambdaenv"
	"github.com/pipebridge/pipebridge/internal/routes"
)

func main() {
	// aws-lambda-go reports a failed invocation through the standard logger too;
	// without its date prefix that line is JSON like every other line.
	stdlog.SetFlags(0)
	log := lambdacontext.NewLogger()
	ctx := context.Background()
	cfg, err := lambdaenv.Config(os.Getenv)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	table, err := routes.Load(ctx, os.Getenv, func() routes.ParameterGetter {
		return ssm.NewFromConfig(cfg, func(o *ssm.Options) { setEndpoint(&o.BaseEndpoint, "SSM") })
	})
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	log.Info("ready", "routes", len(table.Routes))
	pipelines := codepipeline.NewFromConfig(cfg, func(o *codepipeline.Options) { setEndpoint(&o.BaseEndpoint, "CodePipeline") })
	h := &handler{routes: table, pipelines: pipelines, log: log}
	lambda.Start(h.Handle)
}

// setEndpoint applies AWS_ENDPOINT_URL_<SERVICE> when it is set.
func setEndpoint(dst **string, serviceID string) {
	if e := lambdaenv.Endpoint(os.Getenv, serviceID); e != nil {
		*dst = e
	}
}
