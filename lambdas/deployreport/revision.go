package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// revisionLabel is the OCI annotation (and Docker label) for the source
// revision an image was built from; docker/build-push-action and buildx set it
// from the commit.
const revisionLabel = "org.opencontainers.image.revision"

type imageReader interface {
	BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, optFns ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
	GetDownloadUrlForLayer(ctx context.Context, in *ecr.GetDownloadUrlForLayerInput, optFns ...func(*ecr.Options)) (*ecr.GetDownloadUrlForLayerOutput, error)
}

// revisions reads an image's revision label from its configuration in ECR: the
// manifest (BatchGetImage; for a multi-platform index, its linux/arm64 or else
// first image), then the configuration blob (GetDownloadUrlForLayer and a GET
// of the URL, at most 1 MiB).
type revisions struct {
	ecr  imageReader
	http *http.Client
}

var manifestTypes = []string{
	"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
}

type manifest struct {
	Config struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Manifests []struct {
		Digest   string `json:"digest"`
		Platform struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platform"`
	} `json:"manifests"`
}

func (r *revisions) manifest(ctx context.Context, registry, repository, digest string) (*manifest, error) {
	out, err := r.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId: aws.String(registry), RepositoryName: aws.String(repository),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}}, AcceptedMediaTypes: manifestTypes,
	})
	if err != nil {
		return nil, err
	}
	if len(out.Images) == 0 {
		return nil, fmt.Errorf("ECR has no image %s in %s", digest, repository)
	}
	var m manifest
	if err := json.Unmarshal([]byte(aws.ToString(out.Images[0].ImageManifest)), &m); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", digest, err)
	}
	return &m, nil
}

// commit returns the image's revision label when it is a full commit SHA, "" if
// it has none.
func (r *revisions) commit(ctx context.Context, registry, repository, digest string) (string, error) {
	m, err := r.manifest(ctx, registry, repository, digest)
	if err != nil {
		return "", err
	}
	if len(m.Manifests) > 0 { // an index: one platform's image carries the config
		pick := m.Manifests[0].Digest
		for _, e := range m.Manifests {
			if e.Platform.OS == "linux" && e.Platform.Architecture == "arm64" {
				pick = e.Digest
			}
		}
		if m, err = r.manifest(ctx, registry, repository, pick); err != nil {
			return "", err
		}
	}
	if m.Config.Digest == "" {
		return "", errors.New("the image's manifest names no configuration")
	}
	url, err := r.ecr.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{
		RegistryId: aws.String(registry), RepositoryName: aws.String(repository), LayerDigest: aws.String(m.Config.Digest),
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, aws.ToString(url.DownloadUrl), nil)
	if err != nil {
		return "", err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("download the image configuration: %w", errors.Unwrap(err)) // never the pre-signed URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download the image configuration: HTTP %d", resp.StatusCode)
	}
	var config struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&config); err != nil {
		return "", fmt.Errorf("image configuration: %w", err)
	}
	if rev := config.Config.Labels[revisionLabel]; shaRE.MatchString(rev) {
		return rev, nil
	}
	return "", nil
}
