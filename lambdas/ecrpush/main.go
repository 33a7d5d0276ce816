// Ecrpush is the Lambda that starts pipelines when images are pushed to, or
// scanned in, Amazon ECR. EventBridge delivers "ECR Image Action" and "ECR Image
// Scan" events; the route table (PIPEBRIDGE_ROUTES, or the SSM parameter named by
// PIPEBRIDGE_ROUTES_PARAMETER) says which pipelines each one starts.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pipebridge/pipebridge/internal/routes"
)

func main() {
	log := lambdacontext.NewLogger()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	table, err := routes.Load(ctx, os.Getenv, func() routes.ParameterGetter { return ssm.NewFromConfig(cfg) })
	if err != nil {
		log.Error("refusing to start", "error", err.Error())
		os.Exit(1)
	}
	log.Info("ready", "routes", len(table.Routes))
	h := &handler{routes: table, pipelines: codepipeline.NewFromConfig(cfg), log: log}
	lambda.Start(h.Handle)
}
