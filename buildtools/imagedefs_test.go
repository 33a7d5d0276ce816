package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pipebridge/pipebridge/test/moto"
)

func readDefs(t *testing.T, path string) []imageDefinition {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var defs []imageDefinition
	if err := json.Unmarshal(data, &defs); err != nil {
		t.Fatalf("%s is not an imagedefinitions array: %v\n%s", path, err, data)
	}
	return defs
}

func TestImagedefsPinsDigest(t *testing.T) {
	srv := moto.Shared(t)
	web := pushImage(t, srv, "web", "abc123", "web-1")
	worker := pushImage(t, srv, "team/worker", "v1.0.0", "worker-1")
	out := filepath.Join(t.TempDir(), "imagedefinitions.json")

	r := runCLI(t, srv, nil, "imagedefs", "--container", "web="+web.tagged(), "--container", "worker="+worker.tagged(), "--output", out)
	r.want(t, 0)
	want := []imageDefinition{{Name: "web", ImageURI: web.pinned()}, {Name: "worker", ImageURI: worker.pinned()}}
	if diff := cmp.Diff(want, readDefs(t, out)); diff != "" {
		t.Errorf("imagedefinitions.json mismatch (-want +got):\n%s", diff)
	}
}

func TestImagedefsVariants(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	other := pushImage(t, srv, "web", "other", "web-2")

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"pin=false keeps the tag", nil, []string{"--container", "web=" + img.tagged(), "--pin=false"}, img.tagged()},
		{"digest only", nil, []string{"--container", "web=" + img.pinned()}, img.pinned()},
		{"tag and matching digest", nil, []string{"--container", "web=" + img.tagged() + "@" + img.digest}, img.pinned()},
		{"CONTAINER_NAME and IMAGE_URI", map[string]string{"CONTAINER_NAME": "web", "IMAGE_URI": img.tagged()}, nil, img.pinned()},
		{"REPOSITORY_URI and CodeBuild's source version", map[string]string{
			"CONTAINER_NAME": "web", "REPOSITORY_URI": img.uri, "CODEBUILD_RESOLVED_SOURCE_VERSION": "abc123"}, nil, img.pinned()},
		{"IMAGE_TAG wins over the source version", map[string]string{
			"CONTAINER_NAME": "web", "REPOSITORY_URI": img.uri, "IMAGE_TAG": "other", "CODEBUILD_RESOLVED_SOURCE_VERSION": "abc123"}, nil, other.pinned()},
		{"PIPEBRIDGE_CONTAINERS", map[string]string{"PIPEBRIDGE_CONTAINERS": "web=" + img.tagged()}, nil, img.pinned()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "imagedefinitions.json")
			r := runCLI(t, srv, tt.env, append([]string{"imagedefs", "--output", out}, tt.args...)...)
			r.want(t, 0)
			defs := readDefs(t, out)
			if len(defs) != 1 || defs[0].Name != "web" || defs[0].ImageURI != tt.want {
				t.Errorf("got %+v, want [{web %s}]", defs, tt.want)
			}
		})
	}
}

func TestImagedefsStdoutAndImageDetail(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	dir := t.TempDir()
	detail := filepath.Join(dir, "imageDetail.json")
	r := runCLI(t, srv, nil, "imagedefs", "--container", "web="+img.tagged(), "--output", "-", "--image-detail", detail)
	r.want(t, 0)
	var defs []imageDefinition
	if err := json.Unmarshal([]byte(r.stdout), &defs); err != nil || len(defs) != 1 || defs[0].ImageURI != img.pinned() {
		t.Errorf("stdout = %q (err %v), want the pinned imagedefinitions", r.stdout, err)
	}
	data, _ := os.ReadFile(detail)
	var d map[string]string
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"ImageURI": img.pinned()}, d); diff != "" {
		t.Errorf("imageDetail.json mismatch (-want +got):\n%s", diff)
	}
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("unexpected warning: %s", r.stderr)
	}

	// Another name works but is warned about.
	r = runCLI(t, srv, nil, "imagedefs", "--container", "web="+img.tagged(), "--output", filepath.Join(dir, "defs.json"), "--image-detail", filepath.Join(dir, "detail.json"))
	r.want(t, 0, "reads a file named imageDetail.json, not detail.json")
}

func TestImagedefsFromECRSourceImageDetail(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "latest", "web-1")
	dir := t.TempDir()
	src := filepath.Join(dir, "source-imageDetail.json")
	// As CodePipeline's ECR source action writes it.
	os.WriteFile(src, []byte(`{"ImageSizeInBytes":"1234","ImageDigest":"`+img.digest+`","Version":"1.0",`+
		`"ImagePushedAt":"Mon Jan 21 20:04:00 UTC 2026","RegistryId":"`+moto.Account+`","RepositoryName":"web",`+
		`"ImageURI":"`+img.pinned()+`","ImageTags":["latest"]}`), 0o644)
	out := filepath.Join(dir, "imagedefinitions.json")
	runCLI(t, srv, nil, "imagedefs", "--container", "web", "--source-image-detail", src, "--output", out).want(t, 0)
	if defs := readDefs(t, out); defs[0].ImageURI != img.pinned() {
		t.Errorf("got %s, want %s", defs[0].ImageURI, img.pinned())
	}
}

func TestImagedefsTaskDefinitionCheck(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	_, err := ecs.NewFromConfig(srv.Config(t)).RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("shop"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{
			{Name: aws.String("app"), Image: aws.String("x"), Memory: aws.Int32(128)},
			{Name: aws.String("envoy"), Image: aws.String("y"), Memory: aws.Int32(128)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "imagedefinitions.json")
	runCLI(t, srv, nil, "imagedefs", "--container", "app="+img.tagged(), "--task-definition", "shop", "--output", out).want(t, 0)
	r := runCLI(t, srv, nil, "imagedefs", "--container", "web="+img.tagged(), "--task-definition", "shop:1", "--output", out)
	r.want(t, 1, "task definition shop:1 has no container named web", "its containers are: app, envoy")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the earlier %s is still there after a failed run; want it removed so it cannot be deployed", out)
	}
}

func TestImagedefsBadInput(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	pushImage(t, srv, "web", "moved", "web-2")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no tag or digest", []string{"--container", "web=" + img.uri}, 2, []string{"has neither a tag nor a digest"}},
		{"tag missing in ECR", []string{"--container", "web=" + img.uri + ":nope"}, 1, []string{`tag "nope" not found in repository ` + img.uri}},
		{"repository missing", []string{"--container", "web=" + moto.Account + ".dkr.ecr.us-east-1.amazonaws.com/ghost:1"}, 1, []string{"repository ghost not found in registry " + moto.Account}},
		{"another registry", []string{"--container", "web=ghcr.io/acme/web:1.0"}, 2, []string{`registry "ghcr.io" is not a private Amazon ECR registry`}},
		{"tag moved off the digest", []string{"--container", "web=" + img.uri + ":moved@" + img.digest}, 1, []string{`tag "moved"`, "not at the given " + img.digest}},
		{"bad container name", []string{"--container", "web app=" + img.tagged()}, 2, []string{`container name "web app"`}},
		{"container twice", []string{"--container", "web=" + img.tagged(), "--container", "web=" + img.tagged()}, 2, []string{`container "web" is given twice`}},
		{"no containers", nil, 2, []string{"no containers: pass --container"}},
		{"name without image", []string{"--container", "web"}, 2, []string{"has no image"}},
		{"image detail with two containers", []string{"--container", "a=" + img.tagged(), "--container", "b=" + img.tagged(), "--image-detail", "imageDetail.json"}, 2, []string{"needs exactly one container"}},
		{"positional argument", []string{"web=" + img.tagged()}, 2, []string{"unexpected argument"}},
		{"unknown flag", []string{"--contianer", "x"}, 2, []string{"flag provided but not defined: -contianer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "imagedefinitions.json")
			r := runCLI(t, srv, nil, append([]string{"imagedefs", "--output", out}, tt.args...)...)
			r.want(t, tt.code, tt.want...)
			assertDirHolds(t, dir)
		})
	}
}

func TestImagedefsUnwritableOutput(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	if os.Geteuid() == 0 {
		// root writes through permission bits: use a path under a file instead.
		ro = filepath.Join(dir, "file")
		os.WriteFile(ro, nil, 0o644)
	}
	out := filepath.Join(ro, "imagedefinitions.json")
	r := runCLI(t, srv, nil, "imagedefs", "--container", "web="+img.tagged(), "--output", out)
	r.want(t, 1, "write "+out)
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s exists after a failed write", out)
	}
	if os.Geteuid() != 0 {
		assertDirHolds(t, ro)
	}
}

func TestImagedefsOutputOverLimit(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	// 300 containers with 250-character names make about 120 KB.
	var args []string
	for i := range 300 {
		name := fmt.Sprintf("%s%05d", strings.Repeat("c", 245), i)
		args = append(args, "--container", name+"="+img.tagged())
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "imagedefinitions.json")
	r := runCLI(t, srv, nil, append([]string{"imagedefs", "--output", out}, args...)...)
	r.want(t, 1, "CodePipeline accepts at most 102400")
	assertDirHolds(t, dir)
}

// --service checks against the task definition the service runs now, the one
// CodePipeline's ECS action copies.
func TestImagedefsServiceCheck(t *testing.T) {
	srv := moto.Shared(t)
	img := pushImage(t, srv, "web", "abc123", "web-1")
	client := ecs.NewFromConfig(srv.Config(t))
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	td, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("shop"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("x"), Memory: aws.Int32(128)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateService(t.Context(), &ecs.CreateServiceInput{
		Cluster: aws.String("prod"), ServiceName: aws.String("shop"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "imagedefinitions.json")
	runCLI(t, srv, nil, "imagedefs", "--container", "app="+img.tagged(), "--service", "prod/shop", "--output", out).want(t, 0)
	runCLI(t, srv, nil, "imagedefs", "--container", "web="+img.tagged(), "--service", "prod/shop", "--output", out).
		want(t, 1, "has no container named web", "its containers are: app")
	runCLI(t, srv, nil, "imagedefs", "--container", "app="+img.tagged(), "--service", "prod/nope", "--output", out).
		want(t, 1, "service prod/nope", "check the environment's cluster and service")
	runCLI(t, srv, nil, "imagedefs", "--container", "app="+img.tagged(), "--service", "shop", "--output", out).
		want(t, 2, `--service "shop": want CLUSTER/SERVICE`)
}
