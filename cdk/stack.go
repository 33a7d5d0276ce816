package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

// PipebridgeStackProps is everything the stack is built from.
type PipebridgeStackProps struct {
	awscdk.StackProps
	Config *config.Config
	// Buildspec is buildspec.yml, parsed, inlined into the build projects.
	Buildspec map[string]any
	// ECRRoutes and GitHubRoutes are the trigger Lambdas' route tables; nil when
	// no environment needs that Lambda.
	ECRRoutes, GitHubRoutes *routeTable
	// CLIAsset is the linux/arm64 pipebridge binary; the Lambda assets are
	// directories holding a bootstrap.
	CLIAsset, ECRPushAsset, GHReleaseAsset, RedeliverAsset, DeployReportAsset, PipelineActionAsset string
}

// shared is what every app's constructs use. Each app has its own artifact
// bucket and key (app.go): no role of one app can reach another's artifacts.
type shared struct {
	cfg          *config.Config
	accessLogs   awss3.IBucket
	cli          awss3assets.Asset
	buildspec    map[string]any
	logRetention awslogs.RetentionDays
	action       *pipelineAction // nil when no pipeline uses it
}

// NewPipebridgeStack defines the whole release system for the config.
func NewPipebridgeStack(scope constructs.Construct, id string, props *PipebridgeStackProps) awscdk.Stack {
	cfg := props.Config
	sp := props.StackProps
	sp.Env = &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.Region)}
	sp.Description = jsii.String("pipebridge: release pipelines to Amazon ECS, their triggers and the GitHub Actions role")
	stack := awscdk.NewStack(scope, &id, &sp)

	s := &shared{cfg: cfg, buildspec: props.Buildspec, logRetention: retention(cfg.LogRetentionDays)}
	// The stack's own key encrypts the trigger Lambdas' secrets and logs.
	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("pipebridge: the trigger functions' secrets and logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	s.accessLogs = newAccessLogBucket(stack)
	s.cli = awss3assets.NewAsset(stack, jsii.String("CLI"), &awss3assets.AssetProps{Path: jsii.String(props.CLIAsset)})

	if needsPipelineAction(cfg) {
		s.action = newPipelineAction(stack, &triggersProps{cfg: cfg, logRetention: s.logRetention}, props.PipelineActionAsset)
	}
	var pipelines []string
	var oidc *githubOIDC
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		app := newApp(stack, a, s)
		pipelines = append(pipelines, app.pipelines...)
		if a.GitHubActions != nil {
			if oidc == nil {
				oidc = newGitHubOIDC(stack, cfg.GitHubOIDCProvider)
			}
			oidc.pushRole(stack, a, app.pushRepository())
		}
	}
	if s.action != nil {
		s.action.finish()
	}
	sort.Strings(pipelines)
	for _, p := range pipelines {
		awscdk.NewCfnOutput(stack, jsii.String("Pipeline"+cfnID(p)), &awscdk.CfnOutputProps{Value: jsii.String(p), Description: jsii.String("pipeline")})
	}
	newTriggers(stack, &triggersProps{
		cfg: cfg, key: key, logRetention: s.logRetention,
		ecrPushAsset: props.ECRPushAsset, ghReleaseAsset: props.GHReleaseAsset, redeliverAsset: props.RedeliverAsset,
		deployReportAsset: props.DeployReportAsset,
		ecrRoutes:         props.ECRRoutes, githubRoutes: props.GitHubRoutes, pipelines: pipelines,
	})
	return stack
}

// newAccessLogBucket holds the artifact buckets' access logs.
func newAccessLogBucket(stack awscdk.Stack) awss3.IBucket {
	return awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED, // log delivery cannot use KMS
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(365))}},
	})
}

// newArtifactBucket is one app's artifact store: encrypted with the app's own
// key, SSL only, no public access, versioned, with access logs.
func newArtifactBucket(scope constructs.Construct, name string, key awskms.IKey, logs awss3.IBucket) awss3.IBucket {
	return awss3.NewBucket(scope, jsii.String("Artifacts"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("artifacts/" + name + "/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(90)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	})
}

var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

func retention(days int) awslogs.RetentionDays {
	r, ok := retentions[days]
	if !ok {
		panic(fmt.Sprintf("log retention %d days: config validation should have refused it", days))
	}
	return r
}

// cfnID turns a name like "web-prod" into a construct id like "WebProd".
func cfnID(name string) string {
	out := []byte{}
	up := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '/' || c == '.':
			up = true
		case up && c >= 'a' && c <= 'z':
			out = append(out, c-'a'+'A')
			up = false
		default:
			out = append(out, c)
			up = false
		}
	}
	return string(out)
}
