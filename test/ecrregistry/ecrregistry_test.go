package ecrregistry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestStandInEnforcesECR(t *testing.T) {
	s := Start()
	defer s.Close()
	c := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	ctx := context.Background()
	d := s.Image("acme/web", "v1", map[string]string{"org.opencontainers.image.revision": "abc"})
	out, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("acme/web"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d)}, {ImageTag: aws.String("nope")}}})
	if err != nil || len(out.Images) != 1 || len(out.Failures) != 1 || out.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
		t.Fatalf("BatchGetImage: %+v %v", out, err)
	}
	var rnf *ecrtypes.RepositoryNotFoundException
	if _, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("acme/none"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}}); !errors.As(err, &rnf) {
		t.Errorf("unknown repository: %v", err)
	}
	var lnf *ecrtypes.LayersNotFoundException
	if _, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("acme/web"), LayerDigest: aws.String("sha256:" + strings.Repeat("0", 64))}); !errors.As(err, &lnf) {
		t.Errorf("unknown layer: %v", err)
	}
	var ipe *ecrtypes.InvalidParameterException
	if _, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("acme/web"), LayerDigest: aws.String("sha256:xyz")}); !errors.As(err, &ipe) {
		t.Errorf("bad digest: %v", err)
	}
	manifest := aws.ToString(out.Images[0].ImageManifest)
	i := strings.Index(manifest, `"digest":"`) + len(`"digest":"`)
	url, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("acme/web"), LayerDigest: aws.String(manifest[i : i+71])})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(aws.ToString(url.DownloadUrl))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"org.opencontainers.image.revision":"abc"`) {
		t.Errorf("config blob %s", b)
	}
}
