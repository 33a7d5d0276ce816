package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipebridge/pipebridge/cdk/config"
)

const githubTokenHost = "token.actions.githubusercontent.com"

// githubOIDC is the account's GitHub Actions identity provider.
type githubOIDC struct {
	arn *string
}

// newGitHubOIDC creates the provider as a plain AWS::IAM::OIDCProvider (not
// CDK's custom-resource variant, which needs a Lambda), or imports an existing one:
// an account holds one provider per URL.
func newGitHubOIDC(stack awscdk.Stack, provider string) *githubOIDC {
	if provider != "create" {
		return &githubOIDC{arn: jsii.String(provider)}
	}
	p := awsiam.NewCfnOIDCProvider(stack, jsii.String("GitHubOIDCProvider"), &awsiam.CfnOIDCProviderProps{
		Url:          jsii.String("https://" + githubTokenHost),
		ClientIdList: jsii.Strings("sts.amazonaws.com"),
	})
	return &githubOIDC{arn: p.AttrArn()}
}

// pushRole is the role GitHub Actions assumes to push the app's image: trusted by
// the one repository and ref (or deployment environment) only, with the audience
// pinned, and allowed exactly the ECR push actions on the one repository.
func (o *githubOIDC) pushRole(stack awscdk.Stack, a *config.App, repo awsecr.IRepository) awsiam.Role {
	sub := "repo:" + a.GitHub + ":ref:" + a.GitHubActions.Ref
	if a.GitHubActions.Environment != "" {
		sub = "repo:" + a.GitHub + ":environment:" + a.GitHubActions.Environment
	}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("PushToOneRepository"),
			Actions: jsii.Strings("ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
				"ecr:CompleteLayerUpload", "ecr:PutImage"),
			Resources: jsii.Strings(*repo.RepositoryArn()),
		}),
	}
	if a.BuildSecretsRoleARN != "" {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("BuildSecretsRoleChaining"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(a.BuildSecretsRoleARN),
		}))
	}
	role := awsiam.NewRole(stack, jsii.String(cfnID(a.Name)+"GitHubActionsRole"), &awsiam.RoleProps{
		Description: jsii.String("pipebridge: GitHub Actions in " + a.GitHub + " (" + sub + ") pushes " + a.Name + " images"),
		AssumedBy: awsiam.NewWebIdentityPrincipal(o.arn, &map[string]any{
			"StringEquals": map[string]any{
				githubTokenHost + ":aud": "sts.amazonaws.com",
				githubTokenHost + ":sub": sub,
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"ecr-push": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	})
	// ecr:GetAuthorizationToken takes no resource (it only mints a registry login).
	wildcard(stack, cfnID(a.Name)+"GitHubActionsLogin", role, statement("ECRLogin", nil, "ecr:GetAuthorizationToken"))
	awscdk.NewCfnOutput(stack, jsii.String(cfnID(a.Name)+"GitHubActionsRoleArn"), &awscdk.CfnOutputProps{
		Value: role.RoleArn(), Description: jsii.String(a.Name + ": role-to-assume for aws-actions/configure-aws-credentials"),
	})
	return role
}
