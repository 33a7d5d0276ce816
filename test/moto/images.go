package moto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// Image is an image put into the emulator's ECR.
type Image struct {
	Repository, Digest, URI string // URI: the repository's
}

// Pinned is the image by digest.
func (i Image) Pinned() string { return i.URI + "@" + i.Digest }

// PushImage creates repo if needed and puts a one-layer image (distinct per
// seed, so its digest is too) under each tag.
func (s *Server) PushImage(t testing.TB, repo, seed string, tags ...string) Image {
	t.Helper()
	ctx := context.Background()
	client := ecr.NewFromConfig(s.Config(t))
	if _, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}}); err != nil {
		if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
			t.Fatalf("create repository %s: %v", repo, err)
		}
	}
	manifest := Manifest(seed)
	sum := sha256.Sum256([]byte(manifest))
	img := Image{Repository: repo, Digest: "sha256:" + hex.EncodeToString(sum[:]), URI: fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, Region, repo)}
	for _, tag := range tags {
		if _, err := client.PutImage(ctx, &ecr.PutImageInput{
			RepositoryName: aws.String(repo), ImageTag: aws.String(tag),
			ImageManifest: aws.String(manifest), ImageDigest: aws.String(img.Digest),
		}); err != nil {
			t.Fatalf("put image %s:%s: %v", repo, tag, err)
		}
	}
	return img
}

// Manifest is a Docker image manifest with one layer, distinct per seed.
func Manifest(seed string) string {
	layer := sha256.Sum256([]byte(seed))
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:%x"},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:%x"}]}`,
		sha256.Sum256([]byte("config"+seed)), layer)
}
