// The pipebridge CDK app: from pipebridge.yaml it defines ECR repositories,
// CodeBuild projects, CodePipeline V2 pipelines, the Lambdas that trigger them,
// and the GitHub Actions OIDC role, checked by cdk-nag's AwsSolutions rules.
//
// Environment (read here only; constructs take their configuration as props):
//
//	PIPEBRIDGE_CONFIG  the config file (default ../pipebridge.yaml)
//	PIPEBRIDGE_DIST    the built binaries from make build (default ../dist)
//	CDK_OUTDIR         where to write the cloud assembly (the CDK CLI sets it)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"gopkg.in/yaml.v3"

	"github.com/pipebridge/pipebridge/cdk/config"
	"github.com/pipebridge/pipebridge/internal/routes"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pipebridge cdk:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := envOr("PIPEBRIDGE_CONFIG", "../pipebridge.yaml")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	props, err := LoadStackProps(cfg, envOr("PIPEBRIDGE_DIST", "../dist"), "../buildspec.yml")
	if err != nil {
		return err
	}
	// go run and go test do not read cdk.json, so the output folder is set here;
	// without it the assembly goes to a temporary folder that is deleted at exit.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(envOr("CDK_OUTDIR", "cdk.out")), PostCliContext: &featureFlags})
	NewPipebridgeStack(app, cfg.StackName, props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

// featureFlags are the CDK feature flags the stack is written for. They are set
// here rather than in cdk.json because go run and go test do not read cdk.json:
// the CLI, the tests and a plain go run must build the same template.
var featureFlags = map[string]any{
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy":                          true,
	"@aws-cdk/aws-s3:createDefaultLoggingPolicy":                               true,
	"@aws-cdk/aws-iam:minimizePolicies":                                        true,
	"@aws-cdk/aws-iam:standardizedServicePrincipals":                           true,
	"@aws-cdk/aws-codepipeline:crossAccountKeysDefaultValueToFalse":            true,
	"@aws-cdk/aws-codepipeline:defaultPipelineTypeToV2":                        true,
	"@aws-cdk/aws-ecs:arnFormatIncludesClusterName":                            true,
	"@aws-cdk/aws-lambda:useCdkManagedLogGroup":                                true,
	"@aws-cdk/aws-codepipeline-actions:useNewDefaultBranchForCodeCommitSource": true,
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// LoadStackProps reads and checks what the stack needs: the built binaries (it
// fails with advice when make build has not run), the buildspec, and each
// Lambda's route table, validated by the parser the Lambdas run.
func LoadStackProps(cfg *config.Config, dist, buildspecPath string) (*PipebridgeStackProps, error) {
	raw, err := os.ReadFile(buildspecPath)
	if err != nil {
		return nil, fmt.Errorf("read buildspec: %w", err)
	}
	p := &PipebridgeStackProps{
		Config:              cfg,
		CLIAsset:            filepath.Join(dist, "pipebridge-linux-arm64"),
		ECRPushAsset:        filepath.Join(dist, "ecrpush"),
		GHReleaseAsset:      filepath.Join(dist, "ghrelease"),
		RedeliverAsset:      filepath.Join(dist, "ghredeliver"),
		DeployReportAsset:   filepath.Join(dist, "deployreport"),
		PipelineActionAsset: filepath.Join(dist, "pipelineaction"),
	}
	if err := yaml.Unmarshal(raw, &p.Buildspec); err != nil {
		return nil, fmt.Errorf("%s: %w", buildspecPath, err)
	}
	for _, f := range []string{p.CLIAsset, filepath.Join(p.ECRPushAsset, "bootstrap"), filepath.Join(p.GHReleaseAsset, "bootstrap"), filepath.Join(p.RedeliverAsset, "bootstrap"), filepath.Join(p.DeployReportAsset, "bootstrap"), filepath.Join(p.PipelineActionAsset, "bootstrap")} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%v: run make build first (the stack deploys the built binaries)", err)
		}
	}
	ecr, gh, err := cfg.RouteTables()
	if err != nil {
		return nil, err
	}
	if p.ECRRoutes, err = marshalRoutes(ecr); err != nil {
		return nil, fmt.Errorf("ecrpush: %w", err)
	}
	if p.GitHubRoutes, err = marshalRoutes(gh); err != nil {
		return nil, fmt.Errorf("ghrelease: %w", err)
	}
	return p, nil
}

// marshalRoutes is one Lambda's table as the JSON it will read, written once.
func marshalRoutes(t *routes.Table) (*routeTable, error) {
	if t == nil {
		return nil, nil
	}
	data, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return &routeTable{JSON: data, Table: t}, nil
}
