package lambdas

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipebridge/pipebridge/test/lambdaruntime"
)

// benchFunctions are the three functions, each with an invocation that runs its
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
	return []struct {
		name    string
		env     []string
		payload []byte
	}{
		{"hello", nil, []byte(`{}`)},
		{"ecrpush", []string{"PIPEBRIDGE_ROUTES=" + ecrRoutes}, pushEvent("latest")},
		{"ghrelease", []string{"PIPEBRIDGE_ROUTES=" + noRoute, "WEBHOOK_SECRET_ARN=" + secretARN}, gh},
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
	for _, fn := range []struct{ name, pkg string }{{"hello", "./test/lambdaruntime/hello"}, {"ecrpush", "./lambdas/ecrpush"}, {"ghrelease", "./lambdas/ghrelease"}} {
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
