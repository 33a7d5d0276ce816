package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/pipebridge/pipebridge/test/moto"
)

const testRole = "arn:aws:iam::123456789012:role/build-secrets"

func TestCredsWritesSharedCredentialsFile(t *testing.T) {
	srv := moto.Shared(t)
	out := filepath.Join(t.TempDir(), "aws-creds")
	r := runCLI(t, srv, map[string]string{"CODEBUILD_BUILD_NUMBER": "42"}, "creds", "--role-arn", testRole, "--duration", "30m", "--output", out)
	r.want(t, 0, "wrote credentials for "+testRole, "session pipebridge-42")

	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	// The AWS SDKs must be able to read the file as a shared credentials file.
	sc, err := config.LoadSharedConfigProfile(context.Background(), "default", func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{out}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		t.Fatalf("the SDK cannot read the credentials file: %v", err)
	}
	c := sc.Credentials
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Fatalf("credentials file lacks a temporary key: id %q, secret set %v, token set %v", c.AccessKeyID, c.SecretAccessKey != "", c.SessionToken != "")
	}
	// No secret may reach the terminal.
	for _, secret := range []string{c.SecretAccessKey, c.SessionToken, c.AccessKeyID} {
		if strings.Contains(r.stderr+r.stdout, secret) {
			t.Errorf("output contains a credential")
		}
	}
}

func TestCredsBadInput(t *testing.T) {
	srv := moto.Shared(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"duration over the chaining limit", nil, []string{"--role-arn", testRole, "--duration", "2h"}, 2, "limits sessions of a role assumed from another role (role chaining, as in CodeBuild) to 1h"},
		{"duration under the minimum", nil, []string{"--role-arn", testRole, "--duration", "5m"}, 2, "under AWS's minimum of 15m"},
		{"no role", nil, nil, 2, "--role-arn is required (or set BUILD_SECRETS_ROLE_ARN)"},
		{"not a role ARN", nil, []string{"--role-arn", "arn:aws:iam::123456789012:user/bob"}, 2, "is not an IAM role ARN"},
		{"bad session name", nil, []string{"--role-arn", testRole, "--session-name", "has space"}, 2, "--session-name"},
		{"no output", nil, []string{"--role-arn", testRole, "--output", ""}, 2, "--output is required"},
		{"role from the environment", map[string]string{"BUILD_SECRETS_ROLE_ARN": "nope"}, nil, 2, `--role-arn "nope" is not an IAM role ARN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"creds", "--output", filepath.Join(dir, "c")}, tt.args...)
			runCLI(t, srv, tt.env, args...).want(t, tt.code, tt.want)
			assertDirHolds(t, dir)
		})
	}
}

// The credential chain reads the process environment, so these run the binary.
func TestCredsWithoutOrWithExpiredCredentials(t *testing.T) {
	srv := moto.Shared(t)
	bin := pipebridgeBinary(t)
	dir := t.TempDir()
	// A credential_process that hands out credentials that expired in 2020.
	proc := filepath.Join(dir, "expired.sh")
	os.WriteFile(proc, []byte("#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AKIDEXPIRED\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":\"2020-01-01T00:00:00Z\"}'\n"), 0o755)
	cfgFile := filepath.Join(dir, "config")
	os.WriteFile(cfgFile, []byte("[profile expired]\ncredential_process = "+proc+"\n"), 0o644)

	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + srv.URL,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"), "AWS_MAX_ATTEMPTS=1"}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"none", []string{"AWS_CONFIG_FILE=" + filepath.Join(dir, "none")}, "no AWS credentials"},
		{"expired", []string{"AWS_CONFIG_FILE=" + cfgFile, "AWS_PROFILE=expired"}, "credentials expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "creds-"+tt.name)
			cmd := exec.Command(bin, "creds", "--role-arn", testRole, "--output", out)
			cmd.Env = append(base, tt.env...)
			stderr, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, stderr)
			}
			if !strings.Contains(string(stderr), tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

func TestExplainAWS(t *testing.T) {
	tests := []struct{ code, want string }{
		{"ExpiredToken", "credentials have expired"},
		{"ExpiredTokenException", "credentials have expired"},
		{"InvalidClientTokenId", "does not accept these credentials"},
		{"AccessDenied", "lacks a permission"},
		{"Throttling", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			in := &smithy.GenericAPIError{Code: tt.code, Message: "m"}
			got := explainAWS(in)
			if !errors.Is(got, in) {
				t.Errorf("explainAWS lost the cause")
			}
			if tt.want == "" && got.Error() != in.Error() {
				t.Errorf("got %q, want the error unchanged", got)
			}
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
