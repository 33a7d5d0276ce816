package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pipebridge/pipebridge/internal/dispatch"
	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/githubapi"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
	"github.com/pipebridge/pipebridge/test/moto"
)

// demoSecret is the demo's webhook secret; it lives only in the emulator.
const demoSecret = "demo-webhook-secret"

// eventsDemo sends an ECR scan event and a signed GitHub release through the
// built Lambdas, under the Runtime API server, with the pipelines and route
// tables of the synthesized stack, and shows what they started.
func (d *demo) eventsDemo(ctx context.Context, template []byte) error {
	cfg, err := d.srv.SDKConfig(ctx)
	if err != nil {
		return err
	}
	pipelines, err := cpstub.FromTemplate(template)
	if err != nil {
		return err
	}
	slices.SortFunc(pipelines, func(a, b cpstub.Pipeline) int { return strings.Compare(a.Name, b.Name) })
	envs, err := cpstub.FunctionEnvironments(template)
	if err != nil {
		return err
	}
	tables := map[string]string{}
	for id, env := range envs {
		for _, fn := range []string{"ECRPush", "GHRelease"} {
			if strings.HasPrefix(id, "Triggers"+fn) {
				tables[strings.ToLower(fn)] = env[dispatch.EnvRoutes]
			}
		}
	}
	step("Build the Lambdas for this machine (make build's flags) and start the stand-ins")
	root, err := lambdaruntime.ModuleRoot()
	if err != nil {
		return err
	}
	bins := map[string]string{}
	for _, name := range []string{"ecrpush", "ghrelease"} {
		bins[name] = filepath.Join(d.work, "lambda-"+name, "bootstrap")
		if err := lambdaruntime.Build(root, "./lambdas/"+name, bins[name], ""); err != nil {
			return err
		}
		fmt.Printf("  %s -> %s\n", name, bins[name])
	}
	cp := cpstub.Start(pipelines...)
	defer cp.Close()
	for _, p := range pipelines {
		fmt.Printf("  CodePipeline stand-in holds %s from the template (variables %s; source actions %s)\n", p.Name, strings.Join(p.Variables, ", "), strings.Join(p.SourceActions, ", "))
	}
	gh := githubapi.Start()
	defer gh.Close()
	gh.Annotated("acme/web", "v2.4.0", "d6cd1e2bd19e03a81132a23b2025920577f84e37", "9fceb02d0ae598e95dc970b74767f19372d61af8")

	secret, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("pipebridge/webhook"), SecretString: aws.String(demoSecret),
	})
	if err != nil {
		return fmt.Errorf("create webhook secret: %w", err)
	}
	// ecrpush reads its table from SSM here (PIPEBRIDGE_ROUTES_PARAMETER), as a
	// stack with a large table deploys it; ghrelease from its environment.
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/pipebridge/ecrpush-routes"), Value: aws.String(tables["ecrpush"]), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		return fmt.Errorf("put route table: %w", err)
	}
	env := append(d.srv.Env(), "AWS_ENDPOINT_URL_CODEPIPELINE="+cp.URL, "GITHUB_API_URL="+gh.URL)
	ecrEnv := append(slices.Clone(env), "PIPEBRIDGE_ROUTES_PARAMETER=/pipebridge/ecrpush-routes")
	ghEnv := append(slices.Clone(env), dispatch.EnvRoutes+"="+tables["ghrelease"], "WEBHOOK_SECRET_ARN="+aws.ToString(secret.ARN))
	fmt.Println("  each Lambda gets the routes the stack gives it; webhook secret in Secrets Manager")

	step("Push acme/worker:v1.4.2: EventBridge hands ecrpush the ECR Image Action (staging waits for the scan: ignored), then the clean ECR Image Scan (staging)")
	if _, err := ecr.NewFromConfig(cfg).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("acme/worker")}); err != nil {
		return err
	}
	digest, err := pushImage(ctx, ecr.NewFromConfig(cfg), "acme/worker", "v1.4.2")
	if err != nil {
		return err
	}
	pushEvent := fmt.Sprintf(`{"version":"0","id":"7d1c9e2b-6a5f-4b3c-9e8d-1f2a3b4c5d6e","detail-type":"ECR Image Action","source":"aws.ecr",`+
		`"account":"%s","time":"2026-11-22T10:00:00Z","region":"%s","resources":[],`+
		`"detail":{"result":"SUCCESS","repository-name":"acme/worker","image-digest":"%s","action-type":"PUSH","image-tag":"v1.4.2"}}`,
		moto.Account, moto.Region, digest)
	scanEvent := fmt.Sprintf(`{"version":"0","id":"4f3b1c2a-9d8e-4f70-8a6b-5c4d3e2f1a0b","detail-type":"ECR Image Scan","source":"aws.ecr",`+
		`"account":"%s","time":"2026-11-22T10:00:00Z","region":"%s","resources":[],`+
		`"detail":{"scan-status":"COMPLETE","repository-name":"acme/worker","finding-severity-counts":{"LOW":2},"image-digest":"%s","image-tags":["v1.4.2"]}}`,
		moto.Account, moto.Region, digest)
	if err := invokeAndShow(ctx, "ecrpush", bins["ecrpush"], ecrEnv, []byte(pushEvent), []byte(scanEvent)); err != nil {
		return err
	}

	if err := d.promotionDemo(ctx, template, cp, bins["ecrpush"], ecrEnv, digest); err != nil {
		return err
	}

	step("Publish GitHub release v2.4.0 of acme/web; GitHub posts a signed delivery to ghrelease")
	body, err := os.ReadFile(filepath.Join(root, "buildtools/testdata/explain/release-body.json"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(demoSecret))
	mac.Write(body)
	headers := map[string]string{"content-type": "application/json", "x-github-event": "release",
		"x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-hub-signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))}
	good, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: headers, Body: string(body)})
	bad := strings.Replace(string(good), headers["x-hub-signature-256"], "sha256="+strings.Repeat("0", 64), 1)
	fmt.Println("  (1) the delivery; (2) GitHub redelivers it; (3) a forged delivery with a bad signature")
	if err := invokeAndShow(ctx, "ghrelease", bins["ghrelease"], ghEnv, good, good, []byte(bad)); err != nil {
		return err
	}

	step("What CodePipeline was asked to start")
	for _, ex := range cp.Executions() {
		b, _ := json.MarshalIndent(ex.Request, "  ", "  ")
		fmt.Printf("  execution %s:\n  %s\n", ex.ID, b)
	}
	fmt.Printf("  %d requests, %d executions (the redelivery reused its token), %d rejected\n", len(cp.Requests()), len(cp.Executions()), len(cp.Rejected()))
	if len(cp.Executions()) != 3 || len(cp.Rejected()) != 0 {
		return fmt.Errorf("want 3 executions and no rejected request, got %d and %v", len(cp.Executions()), cp.Rejected())
	}
	return d.reportsDemo(ctx, root, template, env, cp, gh)
}

// invokeAndShow runs the function and invokes it with each payload, printing the
// results and the function's log lines.
func invokeAndShow(ctx context.Context, name, bin string, env []string, payloads ...[]byte) error {
	rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: name, Bootstrap: bin, Env: env})
	if err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			rt.Stop()
		}
	}
	defer stop()
	for _, p := range payloads {
		res, err := rt.Invoke(ctx, p)
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, rt.Logs())
		}
		if res.Err != nil {
			fmt.Printf("  %s returned an error: %s\n", name, res.Err)
			continue
		}
		var resp events.LambdaFunctionURLResponse
		if string(res.Payload) == "null" {
			fmt.Printf("  %s: done\n", name)
		} else if json.Unmarshal(res.Payload, &resp) == nil && resp.StatusCode != 0 {
			fmt.Printf("  %s answered HTTP %d %s\n", name, resp.StatusCode, resp.Body)
		} else {
			fmt.Printf("  %s returned %s\n", name, res.Payload)
		}
	}
	stop() // the function's output is all copied once it has exited
	fmt.Printf("  %s log:\n", name)
	for _, line := range strings.Split(strings.TrimSpace(rt.Logs()), "\n") {
		if strings.Contains(line, demoSecret) {
			return fmt.Errorf("%s logged the webhook secret", name)
		}
		fmt.Println("    " + line)
	}
	return nil
}
