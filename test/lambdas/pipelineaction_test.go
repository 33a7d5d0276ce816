package lambdas

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
	"github.com/pipebridge/pipebridge/test/moto"
)

// actionWorld is an artifact bucket, the web repository, and the prod/web
// service running runs, in moto; the pipeline web-prod in the stand-in; the
// built pipelineaction bootstrap under the Runtime API.
type actionWorld struct {
	*world
	rt     *lambdaruntime.Runtime
	s3     *s3.Client
	keyARN string
	n      int
}

func newActionWorld(t *testing.T) *actionWorld {
	t.Helper()
	w := &actionWorld{world: newWorld(t)}
	w.cp.Add(cpstub.Pipeline{Name: "web-prod"})
	cfg := w.srv.Config(t)
	w.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := w.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	key, err := kms.NewFromConfig(cfg).CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	w.keyARN = aws.ToString(key.KeyMetadata.Arn)
	w.rt = w.start(t, "pipelineaction")
	return w
}

// service creates prod/web running runs.
func (w *actionWorld) service(t *testing.T, runs moto.Image) {
	t.Helper()
	client := ecs.NewFromConfig(w.srv.Config(t))
	if _, err := client.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	td, err := client.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String(runs.Pinned()), Memory: aws.Int32(128)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateService(context.Background(), &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
}

// scanned pushes an image and starts its scan, whose result is then status
// with findings: moto answers DescribeImageScanFindings only for a scanned
// image, and keeps the first result it gives for an image.
func (w *actionWorld) scanned(t *testing.T, seed, tag, status string, findings []map[string]any) moto.Image {
	t.Helper()
	img := w.srv.PushImage(t, "web", seed, tag)
	if _, err := ecr.NewFromConfig(w.srv.Config(t)).StartImageScan(context.Background(), &ecr.StartImageScanInput{
		RepositoryName: aws.String("web"), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.Digest)},
	}); err != nil {
		t.Fatal(err)
	}
	w.srv.SetScanResult(t, "web", img.Digest, status, findings)
	return img
}

// source stores the ECR source action's artifact for img.
func (w *actionWorld) source(t *testing.T, key string, img moto.Image, tag string) {
	t.Helper()
	w.put(t, key, "imageDetail.json", `{"ImageSizeInBytes":"52428800","ImageDigest":"`+img.Digest+`","Version":"1.0","ImagePushedAt":"Mon Nov 16 01:54:34 UTC 2026","RegistryId":"123456789012","RepositoryName":"web","ImageURI":"`+img.Pinned()+`","ImageTags":["`+tag+`"]}`)
}

// put stores one file zipped as an input artifact.
func (w *actionWorld) put(t *testing.T, key, name, content string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create(name)
	f.Write([]byte(content))
	zw.Close()
	if _, err := w.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
}

// get reads one file of an output artifact.
func (w *actionWorld) get(t *testing.T, key, name string) string {
	t.Helper()
	obj, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("output artifact %s: %v", key, err)
	}
	data, _ := io.ReadAll(obj.Body)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("output artifact %s is not a zip: %v", key, err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			return string(b)
		}
	}
	t.Fatalf("output artifact %s has no %s", key, name)
	return ""
}

// run invokes the function with a job of these parameters and returns how it
// answered.
func (w *actionWorld) run(t *testing.T, params map[string]any, in string, token string) (string, cpstub.JobResult) {
	t.Helper()
	up, _ := json.Marshal(params)
	w.n++
	id, event := w.cp.NewJob(cpstub.JobSpec{
		Function: "pipebridge-pipeline-action", UserParameters: string(up),
		Inputs:      []cpstub.Artifact{{Name: "Source", Bucket: "artifacts", Key: in}},
		Outputs:     []cpstub.Artifact{{Name: "ImageDefinitions", Bucket: "artifacts", Key: "out/" + string(rune('a'+w.n))}},
		AccessKeyID: "ASIAJOBCREDENTIALS", SecretAccessKey: "job-secret", SessionToken: "job-session",
		KMSKeyARN: w.keyARN, ContinuationToken: token,
	})
	if res := invoke(t, w.rt, event); res.Err != nil {
		t.Fatalf("invocation failed: %v", res.Err)
	}
	r := w.cp.Job(id)
	if !r.Answered {
		t.Fatalf("job %s not answered\nlogs:\n%s", id, w.rt.Logs())
	}
	return "out/" + string(rune('a'+w.n)), r
}

func TestPipelineActionImagedefs(t *testing.T) {
	w := newActionWorld(t)
	w.service(t, w.srv.PushImage(t, "web", "web-1", "v1.0.0"))
	gate := map[string]any{"maxSeverity": "MEDIUM", "ignore": []string{"CVE-2026-0002"}}
	params := map[string]any{"do": "imagedefs", "container": "web", "service": "prod/web", "scan": gate}

	// Scan complete, a finding below the gate and an ignored one above it: the
	// output artifact pins the digest.
	img := w.scanned(t, "web-2", "v1.1.0", "COMPLETE", []map[string]any{
		{"name": "CVE-2026-0001", "severity": "LOW"}, {"name": "CVE-2026-0002", "severity": "CRITICAL"},
	})
	w.source(t, "in/passes", img, "v1.1.0")
	out, r := w.run(t, params, "in/passes", "")
	if !r.Success || r.ContinuationToken != "" || !strings.Contains(r.Summary, "scan gate passed: 2 finding(s)") {
		t.Fatalf("scan complete: %+v", r)
	}
	want := `[{"imageUri":"` + img.Pinned() + `","name":"web"}]` + "\n"
	if got := w.get(t, out, "imagedefinitions.json"); got != want {
		t.Errorf("imagedefinitions.json\n got %s\nwant %s", got, want)
	}
	// The gate off: no scan read.
	if _, r = w.run(t, map[string]any{"do": "imagedefs", "container": "web", "service": "prod/web"}, "in/passes", ""); !r.Success || !strings.Contains(r.Summary, "scan gate off") {
		t.Errorf("gate off: %+v", r)
	}

	// A finding above the gate fails the job, naming it.
	bad := w.scanned(t, "web-3", "v1.2.0", "COMPLETE", []map[string]any{{"name": "CVE-2026-0003", "severity": "HIGH"}})
	w.source(t, "in/fails", bad, "v1.2.0")
	if _, r = w.run(t, params, "in/fails", ""); r.Success || r.FailureType != "JobFailed" || !strings.Contains(r.Message, "HIGH CVE-2026-0003") {
		t.Errorf("blocking finding: %+v", r)
	}

	// The scan still runs: the job continues with a token, and CodePipeline's
	// next job carries it back; past the timeout the gate fails closed.
	slow := w.scanned(t, "web-4", "v1.3.0", "IN_PROGRESS", nil)
	w.source(t, "in/slow", slow, "v1.3.0")
	_, r = w.run(t, params, "in/slow", "")
	if !r.Success || r.ContinuationToken == "" || !strings.Contains(r.Summary, "waiting for the scan") {
		t.Fatalf("scan in progress: %+v", r)
	}
	_, r = w.run(t, params, "in/slow", r.ContinuationToken)
	if !r.Success || !strings.Contains(r.ContinuationToken, `"polls":2`) {
		t.Fatalf("scan still in progress: %+v", r)
	}
	stale, _ := json.Marshal(map[string]any{"since": "2026-01-01T00:00:00Z", "polls": 40})
	if _, r = w.run(t, params, "in/slow", string(stale)); r.Success || !strings.Contains(r.Message, "did not complete within 10m0s") {
		t.Errorf("scan timeout: %+v", r)
	}

	// A container the task definition lacks: a configuration error before any wait.
	if _, r = w.run(t, map[string]any{"do": "imagedefs", "container": "api", "service": "prod/web", "scan": gate}, "in/passes", ""); r.FailureType != "ConfigurationError" ||
		!strings.Contains(r.Message, "has no container named api; its containers are: web") {
		t.Errorf("wrong container: %+v", r)
	}
	// An imageDetail.json without a digest is refused: never deploy by tag.
	w.put(t, "in/tagonly", "imageDetail.json", `{"ImageURI":"`+img.URI+`:v1.1.0"}`)
	if _, r = w.run(t, params, "in/tagonly", ""); r.Success || !strings.Contains(r.Message, "without a digest") {
		t.Errorf("tag only: %+v", r)
	}
	// Parameters the CDK app would never write.
	if _, r = w.run(t, map[string]any{"do": "deploy", "container": "web", "service": "prod/web"}, "in/passes", ""); r.FailureType != "ConfigurationError" || !strings.Contains(r.Message, `do "deploy"`) {
		t.Errorf("unknown do: %+v", r)
	}
	if strings.Contains(w.rt.Logs(), "job-secret") {
		t.Error("the function logged the job's artifact credentials")
	}
}

func TestPipelineActionGuard(t *testing.T) {
	w := newActionWorld(t)
	older := w.srv.PushImage(t, "web", "web-191", "v1.9.1")
	runs := w.srv.PushImage(t, "web", "web-200", "v2.0.0")
	newer := w.srv.PushImage(t, "web", "web-210", "v2.1.0")
	w.service(t, runs)
	const standard, rollback = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	w.cp.SetExecution("web-prod", standard, cpstub.ExecutionDetail{})
	w.cp.SetExecution("web-prod", rollback, cpstub.ExecutionDetail{ExecutionType: "ROLLBACK"})
	guard := func(exec string) map[string]any {
		return map[string]any{"do": "guard", "container": "web", "service": "prod/web", "pipeline": "web-prod", "execution": exec}
	}
	defs := func(img moto.Image) string { return `[{"name":"web","imageUri":"` + img.Pinned() + `"}]` }

	w.put(t, "in/older", "imagedefinitions.json", defs(older))
	_, r := w.run(t, guard(standard), "in/older", "")
	if r.Success || r.FailureType != "JobFailed" || !strings.Contains(r.Message, "v1.9.1 (sha256:") || !strings.Contains(r.Message, "older version than v2.0.0") ||
		!strings.Contains(r.Message, "allowDowngrade: true") {
		t.Errorf("older over newer: %+v", r)
	}
	if _, r = w.run(t, guard(rollback), "in/older", ""); !r.Success || !strings.Contains(r.Summary, "rollback") {
		t.Errorf("rollback execution: %+v", r)
	}
	w.put(t, "in/newer", "imagedefinitions.json", defs(newer))
	if _, r = w.run(t, guard(standard), "in/newer", ""); !r.Success || !strings.Contains(r.Summary, "v2.1.0") {
		t.Errorf("newer: %+v", r)
	}
	w.put(t, "in/same", "imagedefinitions.json", defs(runs))
	if _, r = w.run(t, guard(standard), "in/same", ""); !r.Success || !strings.Contains(r.Summary, "already runs") {
		t.Errorf("same image: %+v", r)
	}
	// An unknown execution is an error the job reports, not a pass.
	if _, r = w.run(t, guard("33333333-3333-4333-8333-333333333333"), "in/newer", ""); r.Success || !strings.Contains(r.Message, "PipelineExecutionNotFoundException") {
		t.Errorf("unknown execution: %+v", r)
	}
}

// BenchmarkImagedefsJob is the imagedefs action's whole warm job, as an image
// pipeline runs it: read imageDetail.json from S3, check the service's task
// definition, describe the image, read its scan, write imagedefinitions.json,
// report success. Every call goes to moto or the stand-in on loopback, so the
// time is mostly theirs; it is the duration a CodeBuild project replaced.
func BenchmarkImagedefsJob(b *testing.B) {
	t := &testing.T{}
	w := newActionWorld(t)
	w.service(t, w.srv.PushImage(t, "web", "web-1", "v1.0.0"))
	img := w.scanned(t, "web-2", "v1.1.0", "COMPLETE", []map[string]any{{"name": "CVE-2026-0001", "severity": "LOW"}})
	w.source(t, "in/source", img, "v1.1.0")
	params := map[string]any{"do": "imagedefs", "container": "web", "service": "prod/web", "scan": map[string]any{"maxSeverity": "MEDIUM"}}
	if t.Failed() {
		b.Fatal("setup failed")
	}
	var lat []time.Duration
	for range 5 { // warm up
		w.run(t, params, "in/source", "")
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, r := w.run(t, params, "in/source", ""); !r.Success {
			b.Fatalf("job failed: %+v", r)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "job-p50-ms")
}
