package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pipebridge/pipebridge/internal/atomicfile"
	"github.com/pipebridge/pipebridge/internal/names"
)

const credsUsage = `
Usage: pipebridge creds --role-arn ARN [flags]

Assumes a second role with STS AssumeRole (role chaining from the build's own role)
and writes its temporary credentials to a file with mode 0600, for build-time secrets
that must not reach the image or its history:

  docker buildx build --secret id=aws,src=$FILE ...

and in the Dockerfile:

  RUN --mount=type=secret,id=aws,target=/root/.aws/credentials \
      aws s3 cp s3://my-bucket/private.tar.gz /tmp/

The file is an AWS shared credentials file, which every AWS SDK and the AWS CLI read
from ~/.aws/credentials or from the path in AWS_SHARED_CREDENTIALS_FILE:

  [default]
  aws_access_key_id = ASIA...
  aws_secret_access_key = ...
  aws_session_token = ...
  # expires 2026-11-22T10:00:00Z

AWS caps a role-chaining session at one hour, so --duration is at most 1h.
Nothing secret is printed.

Examples:
  pipebridge creds --role-arn $BUILD_SECRETS_ROLE_ARN --output /tmp/aws-build-creds
  pipebridge creds --role-arn arn:aws:iam::123456789012:role/build-secrets \
      --session-name build-$CODEBUILD_BUILD_NUMBER --duration 30m --output creds
`

// AWS limits: a chained role session lasts at most one hour, and any session at
// least 15 minutes.
const (
	maxChainedDuration = time.Hour
	minSessionDuration = 15 * time.Minute
)

var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	profileRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

func runCreds(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("creds", credsUsage)
	roleARN := fs.String("role-arn", "", "`ARN` of the role to assume (default $BUILD_SECRETS_ROLE_ARN)")
	session := fs.String("session-name", "", "role session `NAME`, seen in CloudTrail (default pipebridge-$CODEBUILD_BUILD_NUMBER, or pipebridge)")
	duration := fs.Duration("duration", time.Hour, "session `DURATION`, from 15m to 1h (role chaining's limit)")
	output := fs.String("output", "", "`FILE` to write the credentials to, mode 0600 (required)")
	profile := fs.String("profile", "default", "profile `NAME` in the credentials file")
	externalID := fs.String("external-id", "", "external `ID` the role's trust policy asks for, if any")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *roleARN == "" {
		*roleARN = c.getenv("BUILD_SECRETS_ROLE_ARN")
	}
	switch {
	case *roleARN == "":
		return usagef("--role-arn is required (or set BUILD_SECRETS_ROLE_ARN)")
	case names.RoleARN(*roleARN) != nil:
		return usagef("--role-arn %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", *roleARN)
	case *output == "":
		return usagef("--output is required: the credentials go to a file, never to the terminal")
	case *duration > maxChainedDuration:
		return usagef("--duration %s is over one hour: AWS limits sessions of a role assumed from another role (role chaining, as in CodeBuild) to 1h; use --duration 1h or less", *duration)
	case *duration < minSessionDuration:
		return usagef("--duration %s is under AWS's minimum of 15m", *duration)
	case !profileRE.MatchString(*profile):
		return usagef("--profile %q: use letters, digits, '.', '_' or '-'", *profile)
	}
	if *session == "" {
		*session = "pipebridge"
		if n := c.getenv("CODEBUILD_BUILD_NUMBER"); n != "" {
			*session += "-" + n
		}
	}
	if !sessionNameRE.MatchString(*session) {
		return usagef("--session-name %q: AWS wants 2-64 characters of letters, digits and +=,.@_-", *session)
	}

	cfg, err := c.loadAWS(ctx)
	if err != nil {
		return err
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(*roleARN),
		RoleSessionName: aws.String(*session),
		DurationSeconds: aws.Int32(int32(duration.Seconds())),
	}
	if *externalID != "" {
		in.ExternalId = externalID
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, in)
	if err != nil {
		return fmt.Errorf("assume role %s: %w", *roleARN, explainAWS(err))
	}
	cr := out.Credentials
	if cr == nil || cr.AccessKeyId == nil || cr.SecretAccessKey == nil || cr.SessionToken == nil {
		return fmt.Errorf("assume role %s: STS returned no credentials", *roleARN)
	}
	expires := aws.ToTime(cr.Expiration).UTC().Format(time.RFC3339)
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n", *profile)
	fmt.Fprintf(&b, "aws_access_key_id = %s\n", *cr.AccessKeyId)
	fmt.Fprintf(&b, "aws_secret_access_key = %s\n", *cr.SecretAccessKey)
	fmt.Fprintf(&b, "aws_session_token = %s\n", *cr.SessionToken)
	fmt.Fprintf(&b, "# role %s, session %s, expires %s\n", *roleARN, *session, expires)
	if err := atomicfile.WriteFile(*output, []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "pipebridge creds: wrote credentials for %s (session %s, expires %s) to %s\n", *roleARN, *session, expires, *output)
	return nil
}
