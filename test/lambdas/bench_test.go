package lambdas

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	cpstub "github.com/pipebridge/pipebridge/test/codepipeline"
	"github.com/pipebridge/pipebridge/test/lambdaruntime"
)

// benchFunctions are the functions, each with an invocation that runs its
// whole handler but makes no AWS call (the event matches no route), so warm
// latency is the handler's own cost plus the Runtime API round trip.
func benchFunctions(b *testing.B, w *world, secretARN string) []struct {
	name    string
	env     []string
	payload []byte
} {
	body, headers := signedRelease(&testing.T{}, webhookSecret)
	gh, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", Headers: headers, Body: string(body)})
	noRoute := `{"routes": [{"name": "other", "github": {"repository": "acme/other"}, "pipeline": "hello-prod"}]}`
	// deployreport with GitHub and Slack configured, on an event of a pipeline
	// that is not the stack's: its whole decision path, no call.
	reportsTable := `{"pipelines": {"hello-prod": {"app": "hello", "environment": "prod", "repository": "Codertocat/Hello-World",
	  "slack": {"webhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf", "mention": "<!here>"}}}}`
	report := cpstub.StateChangeEvent("other-pipeline", "5e0d1c2b-0000-4000-8000-000000000003", "SUCCEEDED", "", time.Time{})
	// pipelineaction on a job whose parameters it refuses: it parses the job,
	// decides, and answers PutJobFailureResult (the CodePipeline stand-in, on
	// loopback; later answers to the same job are InvalidJobState, tolerated).
	_, job := w.cp.NewJob(cpstub.JobSpec{Function: "pipelineaction", UserParameters: `{"do":"imagedefs"}`})
	return []struct {
		name    string
		env     []string
		payload []byte
	}{
		{"hello", nil, []byte(`{}`)},
		{"ecrpush", []string{"PIPEBRIDGE_ROUTES=" + ecrRoutes}, pushEvent("latest")},
		{"ghrelease", []string{"PIPEBRIDGE_ROUTES=" + noRoute, "WEBHOOK_SECRET_ARN=" + secretARN}, gh},
		{"deployreport", []string{"PIPEBRIDGE_REPORTS=" + reportsTable, "REPORTS_TABLE=ledger",
			"GITHUB_TOKEN_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"}, report},
		{"pipelineaction", nil, job},
	}
}

// BenchmarkColdStart measures process start to first response for each function,
// the three interleaved in every iteration, and reports each one's mean and its
// ratio to the hello-world aws-lambda-go function. ghrelease's init includes one
// GetSecretValue against moto on loopback.
func BenchmarkColdStart(b *testing.B) {
	t := &testing.T{}
	w := newWorld(t)
	secretARN := w.webhookSecretARN(t)
	fns := benchFunctions(b, w, secretARN)
	total := make([]time.Duration, len(fns))
	var secretRead time.Duration
	cfg := w.srv.Config(t)
	for range b.N {
		// What ghrelease's init must do: one GetSecretValue on a new connection.
		start := time.Now()
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			o.HTTPClient = &http.Client{Transport: &http.Transport{}}
		})
		if _, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)}); err != nil {
			b.Fatal(err)
		}
		secretRead += time.Since(start)

		for i, fn := range fns {
			start := time.Now()
			rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: fn.name, Bootstrap: bins[fn.name], Env: append(append([]string{}, w.env...), fn.env...)})
			if err != nil {
				b.Fatal(err)
			}
			res, err := rt.Invoke(context.Background(), fn.payload)
			if err != nil || res.Err != nil {
				b.Fatalf("%s: %v %v\n%s", fn.name, err, res.Err, rt.Logs())
			}
			total[i] += time.Since(start)
			rt.Stop()
		}
	}
	for i, fn := range fns {
		b.ReportMetric(float64(total[i].Microseconds())/float64(b.N)/1000, fn.name+"-ms")
		if i > 0 {
			b.ReportMetric(float64(total[i])/float64(total[0]), fn.name+"/hello")
		}
	}
	b.ReportMetric(float64(secretRead.Microseconds())/float64(b.N)/1000, "secret-read-ms")
	b.ReportMetric(float64(total[2]-secretRead)/float64(total[0]), "ghrelease-less-secret-read/hello")
}

// BenchmarkWarmInvoke measures warm invocations, interleaved, and reports each
// function's p50 and its p50 overhead over hello-world's (the handler's own cost).
func BenchmarkWarmInvoke(b *testing.B) {
	t := &testing.T{}
	w := newWorld(t)
	fns := benchFunctions(b, w, w.webhookSecretARN(t))
	rts := make([]*lambdaruntime.Runtime, len(fns))
	for i, fn := range fns {
		rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: fn.name, Bootstrap: bins[fn.name], Env: append(append([]string{}, w.env...), fn.env...)})
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Stop()
		rts[i] = rt
		for range 20 { // warm up
			rt.Invoke(context.Background(), fn.payload)
		}
	}
	lat := make([][]time.Duration, len(fns))
	b.ResetTimer()
	for range b.N {
		for i, fn := range fns {
			start := time.Now()
			res, err := rts[i].Invoke(context.Background(), fn.payload)
			if err != nil || res.Err != nil {
				b.Fatalf("%s: %v %v", fn.name, err, res.Err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	b.StopTimer()
	p50 := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	base := p50(lat[0])
	for i, fn := range fns {
		p := p50(lat[i])
		b.ReportMetric(float64(p.Microseconds())/1000, fn.name+"-p50-ms")
		if i > 0 {
			b.ReportMetric(float64((p-base).Microseconds())/1000, fn.name+"-overhead-p50-ms")
		}
	}
}

// BenchmarkBootstrapSize builds each bootstrap as make build does (linux/arm64)
// and reports its size. Sizes do not vary: the binaries are built once.
func BenchmarkBootstrapSize(b *testing.B) {
	root, _ := lambdaruntime.ModuleRoot()
	dir := b.TempDir()
	sizes := map[string]float64{}
	for _, fn := range []struct{ name, pkg string }{{"hello", "./test/lambdaruntime/hello"}, {"ecrpush", "./lambdas/ecrpush"}, {"ghrelease", "./lambdas/ghrelease"}, {"deployreport", "./lambdas/deployreport"}, {"pipelineaction", "./lambdas/pipelineaction"}} {
		out := filepath.Join(dir, fn.name)
		if err := lambdaruntime.Build(root, fn.pkg, out, "arm64"); err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(out)
		sizes[fn.name] = float64(fi.Size()) / 1e6
	}
	for range b.N {
	}
	for name, mb := range sizes {
		b.ReportMetric(mb, name+"-MB")
	}
}

// BenchmarkRejectedDelivery measures what a request the webhook function refuses
// costs it, warm, against a signed delivery it accepts (and ignores: no route) and
// against hello-world: wall time per request on this machine, the function
// process's CPU time per request, and its peak resident memory. The cases are
// interleaved in every iteration. The bodies are what a flood would send: 1 MiB
// (the largest body ghrelease reads) unsigned or with a wrong signature, the same
// base64-encoded as Function URLs deliver non-text bodies, and 5 MiB (oversize,
// but under Function URLs' 6 MB request limit).
func BenchmarkRejectedDelivery(b *testing.B) {
	t := &testing.T{}
	w := newWorld(t)
	secretARN := w.webhookSecretARN(t)
	fns := benchFunctions(b, w, secretARN)
	hello, gh := fns[0], fns[2]

	pad := func(n int) []byte {
		body := []byte(`{"action": "published", "pad": "` + strings.Repeat("x", n) + `"}`)
		return body[: n-2 : n-2]
	}
	request := func(body []byte, base64Body bool, sig string) []byte {
		h := map[string]string{"content-type": "application/json", "x-github-event": "release", "x-github-delivery": delivery}
		if sig != "" {
			h["x-hub-signature-256"] = sig
		}
		s := string(body)
		if base64Body {
			s = base64.StdEncoding.EncodeToString(body)
		}
		p, _ := json.Marshal(events.LambdaFunctionURLRequest{Version: "2.0", Headers: h, Body: s, IsBase64Encoded: base64Body})
		return p
	}
	wrong := "sha256=" + strings.Repeat("0", 64)
	cases := []struct {
		name    string
		fn      int // 0 hello, 1 ghrelease
		payload []byte
		status  int
	}{
		{"hello", 0, hello.payload, 0},
		{"signed", 1, gh.payload, 200},
		{"unsigned-1MiB", 1, request(pad(1<<20), false, ""), 401},
		{"badsig-1MiB", 1, request(pad(1<<20), false, wrong), 401},
		{"badsig-1MiB-base64", 1, request(pad(1<<20), true, wrong), 401},
		{"oversize-5MiB", 1, request(pad(5<<20), false, wrong), 413},
	}
	rts := make([]*lambdaruntime.Runtime, 2)
	for i, fn := range []struct {
		name string
		env  []string
	}{{hello.name, hello.env}, {gh.name, gh.env}} {
		rt, err := lambdaruntime.Start(lambdaruntime.Function{Name: fn.name, Bootstrap: bins[fn.name], Env: append(append([]string{}, w.env...), fn.env...)})
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Stop()
		rts[i] = rt
	}
	invoke := func(c int) {
		res, err := rts[cases[c].fn].Invoke(context.Background(), cases[c].payload)
		if err != nil || res.Err != nil {
			b.Fatalf("%s: %v %v", cases[c].name, err, res.Err)
		}
		if want := cases[c].status; want != 0 {
			var resp events.LambdaFunctionURLResponse
			if json.Unmarshal(res.Payload, &resp); resp.StatusCode != want {
				b.Fatalf("%s: status %d, want %d: %s", cases[c].name, resp.StatusCode, want, resp.Body)
			}
		}
	}
	for range 5 { // warm up, and spend the one secret re-read a wrong signature may cause
		for c := range cases {
			invoke(c)
		}
	}
	lat := make([][]time.Duration, len(cases))
	cpu := make([]time.Duration, len(cases))
	b.ResetTimer()
	for range b.N {
		for c := range cases {
			rt := rts[cases[c].fn]
			cpu0, err := rt.CPUTime()
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			invoke(c)
			lat[c] = append(lat[c], time.Since(start))
			cpu1, _ := rt.CPUTime()
			cpu[c] += cpu1 - cpu0
		}
	}
	b.StopTimer()
	p50 := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	for c, tc := range cases {
		b.ReportMetric(float64(p50(lat[c]).Microseconds())/1000, tc.name+"-p50-ms")
		b.ReportMetric(float64(cpu[c].Microseconds())/float64(b.N)/1000, tc.name+"-cpu-ms")
		if c > 0 {
			b.ReportMetric(float64(p50(lat[c]))/float64(p50(lat[0])), tc.name+"/hello")
		}
	}
	for i, rt := range rts {
		if rss, err := rt.PeakRSS(); err == nil {
			b.ReportMetric(float64(rss)/(1<<20), []string{"hello", "ghrelease"}[i]+"-peak-rss-MB")
		}
	}
}
