package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipebridge/pipebridge/test/moto"
)

// shellRecipe is how buildspecs usually write imagedefinitions.json: a digest
// lookup with the AWS CLI, then printf.
const shellRecipe = `set -e
digest=$(aws ecr describe-images --repository-name "$REPO" --image-ids imageTag="$TAG" --query 'imageDetails[0].imageDigest' --output text)
printf '[{"name":"%s","imageUri":"%s"}]' web "$REPO_URI@$digest" > imagedefinitions.json
`

// BenchmarkImagedefsVsShell runs pipebridge imagedefs and the shell recipe in turn,
// end to end as processes against the same emulator, and reports each one's time
// per run and the ratio. Interleaving keeps the machine's noise out of the ratio.
func BenchmarkImagedefsVsShell(b *testing.B) {
	if _, err := exec.LookPath("aws"); err != nil {
		b.Fatalf("the AWS CLI is needed: %v", err)
	}
	srv := moto.Shared(b)
	img := pushImage(b, srv, "web", "abc123", "bench")
	bin := pipebridgeBinary(b)
	dir := b.TempDir()
	env := append(srv.Env(), "REPO="+img.repo, "TAG="+img.tag, "REPO_URI="+img.uri)

	runOnce := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	check := func() {
		data, err := os.ReadFile(filepath.Join(dir, "imagedefinitions.json"))
		if err != nil || len(data) == 0 {
			b.Fatalf("no imagedefinitions.json: %v", err)
		}
		os.Remove(filepath.Join(dir, "imagedefinitions.json"))
	}
	// Warm both: moto loads ECR on its first call; the OS caches the binaries.
	runOnce(bin, "imagedefs", "--container", "web="+img.tagged())
	runOnce("bash", "-c", shellRecipe)

	var tool, shell time.Duration
	b.ResetTimer()
	for range b.N {
		tool += runOnce(bin, "imagedefs", "--container", "web="+img.tagged())
		check()
		shell += runOnce("bash", "-c", shellRecipe)
		check()
	}
	b.StopTimer()
	b.ReportMetric(float64(tool.Microseconds())/float64(b.N)/1000, "pipebridge-ms/op")
	b.ReportMetric(float64(shell.Microseconds())/float64(b.N)/1000, "shell-ms/op")
	b.ReportMetric(float64(shell)/float64(tool), "speedup-x")
}
