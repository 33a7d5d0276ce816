// Package ecrregistry is a stand-in for the two ECR API calls that read an
// image's configuration, which moto does not implement (GetDownloadUrlForLayer),
// written from the ECR API reference, not from pipebridge's code:
//
//   - BatchGetImage (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetImage.html):
//     repositoryName (2-256, ECR's pattern), imageIds by digest or tag; each
//     image comes back with its imageManifest and imageManifestMediaType, or as
//     a failure (ImageNotFound); an unknown repository is
//     RepositoryNotFoundException;
//   - GetDownloadUrlForLayer (.../API_GetDownloadUrlForLayer.html): layerDigest
//     must match the documented pattern [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+ (an
//     algorithm, a colon, hex digits); a digest the repository does not hold
//     is LayersNotFoundException; the answer is a downloadUrl that serves the
//     blob (here, from the stand-in; in AWS, a pre-signed S3 URL).
//
// Images are added with Image, which stores an OCI manifest and its config blob.
package ecrregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
)

// Server is the running stand-in.
type Server struct {
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	manifests map[string]map[string]string // repository -> digest -> manifest
	tags      map[string]map[string]string // repository -> tag -> digest
	blobs     map[string][]byte            // digest -> blob
	downloads int
}

var (
	repoRE   = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	digestRE = regexp.MustCompile(`^[a-zA-Z0-9_+.-]+:[a-fA-F0-9]+$`)
)

// Start serves the stand-in on 127.0.0.1.
func Start() *Server {
	s := &Server{manifests: map[string]map[string]string{}, tags: map[string]map[string]string{}, blobs: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", s.api)
	mux.HandleFunc("GET /blobs/{digest}", s.blob)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Downloads counts blob downloads.
func (s *Server) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Image stores an image with these config labels under tag, and returns its
// manifest digest.
func (s *Server) Image(repository, tag string, labels map[string]string) string {
	config, _ := json.Marshal(map[string]any{"architecture": "arm64", "os": "linux", "config": map[string]any{"Labels": labels}})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digestOf(config), "size": len(config)},
		"layers": []any{},
	})
	d := digestOf(manifest)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifests[repository] == nil {
		s.manifests[repository], s.tags[repository] = map[string]string{}, map[string]string{}
	}
	s.manifests[repository][d] = string(manifest)
	s.tags[repository][tag] = d
	s.blobs[digestOf(config)] = config
	return d
}

func awsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerRegistry_V20150921.")
	var req struct {
		RegistryID     string `json:"registryId"`
		RepositoryName string `json:"repositoryName"`
		ImageIDs       []struct {
			ImageDigest string `json:"imageDigest"`
			ImageTag    string `json:"imageTag"`
		} `json:"imageIds"`
		LayerDigest string `json:"layerDigest"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, "SerializationException", err.Error())
		return
	}
	if n := len(req.RepositoryName); n < 2 || n > 256 || !repoRE.MatchString(req.RepositoryName) {
		awsError(w, "InvalidParameterException", "repositoryName: invalid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.manifests[req.RepositoryName]
	if !ok {
		awsError(w, "RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", req.RepositoryName, req.RegistryID))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch op {
	case "BatchGetImage":
		if len(req.ImageIDs) == 0 || len(req.ImageIDs) > 100 {
			awsError(w, "InvalidParameterException", "imageIds: 1 to 100")
			return
		}
		images, failures := []any{}, []any{}
		for _, id := range req.ImageIDs {
			d := id.ImageDigest
			if d == "" {
				d = s.tags[req.RepositoryName][id.ImageTag]
			}
			m, ok := repo[d]
			if !ok {
				failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"})
				continue
			}
			images = append(images, map[string]any{"registryId": req.RegistryID, "repositoryName": req.RepositoryName,
				"imageId": map[string]string{"imageDigest": d}, "imageManifest": m, "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"})
		}
		json.NewEncoder(w).Encode(map[string]any{"images": images, "failures": failures})
	case "GetDownloadUrlForLayer":
		if !digestRE.MatchString(req.LayerDigest) {
			awsError(w, "InvalidParameterException", "layerDigest: does not match [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")
			return
		}
		if _, ok := s.blobs[req.LayerDigest]; !ok {
			awsError(w, "LayersNotFoundException", "The image with layer digest "+req.LayerDigest+" does not exist")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"downloadUrl": s.URL + "/blobs/" + req.LayerDigest, "layerDigest": req.LayerDigest})
	default:
		awsError(w, "UnknownOperationException", "the stand-in serves BatchGetImage and GetDownloadUrlForLayer, got "+op)
	}
}

func (s *Server) blob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.blobs[r.PathValue("digest")]
	s.downloads++
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}
