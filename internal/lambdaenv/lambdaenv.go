// Package lambdaenv builds the AWS SDK configuration of a Lambda function from the
// environment Lambda gives it: AWS_REGION, and the execution role's credentials in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. It honours
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> as the SDK does.
//
// It stands in for config.LoadDefaultConfig, which links the STS, SSO, SSO-OIDC,
// sign-in and IMDS clients for credential sources a provided.al2023 function never
// has, about 1.6 MB of each bootstrap; the functions must stay under 10 MB.
package lambdaenv

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns the SDK configuration, or an error naming what is missing.
func Config(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set (Lambda sets it)")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("no credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the execution role)")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// Endpoint returns AWS_ENDPOINT_URL_<SERVICE> for a service id such as
// "CodePipeline" or "Secrets Manager" (upper-cased, spaces as underscores), or nil.
func Endpoint(getenv func(string) string, serviceID string) *string {
	key := "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(serviceID, " ", "_"))
	if u := getenv(key); u != "" {
		return aws.String(u)
	}
	return nil
}

// SetEndpoint sets *dst to AWS_ENDPOINT_URL_<SERVICE> when that is set, for a
// client's BaseEndpoint option.
func SetEndpoint(getenv func(string) string, dst **string, serviceID string) {
	if e := Endpoint(getenv, serviceID); e != nil {
		*dst = e
	}
}
