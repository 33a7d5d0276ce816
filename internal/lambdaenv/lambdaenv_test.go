package lambdaenv

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfig(t *testing.T) {
	cfg, err := Config(env(map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s",
		"AWS_SESSION_TOKEN": "tok", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || creds.AccessKeyID != "ASIAEXAMPLE" || creds.SessionToken != "tok" || aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:5000" {
		t.Errorf("config = %+v, creds id %q token %q", cfg, creds.AccessKeyID, creds.SessionToken)
	}
}

func TestConfigMissing(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, "AWS_REGION is not set"},
		{map[string]string{"AWS_REGION": "us-east-1"}, "no credentials"},
	}
	for _, tt := range tests {
		if _, err := Config(env(tt.env)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	e := env(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://sm", "AWS_ENDPOINT_URL_CODEPIPELINE": "http://cp"})
	if got := aws.ToString(Endpoint(e, "Secrets Manager")); got != "http://sm" {
		t.Errorf("Secrets Manager: %q", got)
	}
	if got := aws.ToString(Endpoint(e, "CodePipeline")); got != "http://cp" {
		t.Errorf("CodePipeline: %q", got)
	}
	if Endpoint(e, "SSM") != nil {
		t.Errorf("SSM: want nil")
	}
}
