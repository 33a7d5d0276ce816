// Package imageref parses references to images in Amazon ECR:
//
//	ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG
//	ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:HEX
//	ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG@sha256:HEX
//
// Other registries (Docker Hub, GHCR, ECR Public) are refused: pipebridge resolves
// digests through the ECR API, so it can only pin images that live in private ECR.
package imageref

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/pipebridge/pipebridge/internal/names"
)

// Ref is a parsed ECR image reference.
type Ref struct {
	Registry   string // ACCOUNT.dkr.ecr.REGION.amazonaws.com
	Account    string
	Region     string
	Repository string // may contain slashes
	Tag        string // empty when only a digest was given
	Digest     string // sha256:..., empty when only a tag was given
}

var (
	// The private ECR registry host, including FIPS endpoints and the China and
	// GovCloud partitions.
	registryRE = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)
	digestRE   = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// IsDigest reports whether s is an image digest: sha256: and 64 hex digits.
func IsDigest(s string) bool { return digestRE.MatchString(s) }

// Parse parses s. It requires a tag, a digest or both.
func Parse(s string) (Ref, error) {
	var r Ref
	if s == "" {
		return r, fmt.Errorf("empty image reference: want REPOSITORY_URI:TAG or REPOSITORY_URI@sha256:DIGEST")
	}
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if !IsDigest(r.Digest) {
			return r, fmt.Errorf("image %q: digest %q is not of the form sha256:<64 hex digits>", s, r.Digest)
		}
	}
	slash := strings.Index(rest, "/")
	if slash < 0 {
		return r, fmt.Errorf("image %q: no registry host; want ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG", s)
	}
	r.Registry = rest[:slash]
	path := rest[slash+1:]
	m := registryRE.FindStringSubmatch(r.Registry)
	if m == nil {
		return r, fmt.Errorf("image %q: registry %q is not a private Amazon ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com); push the image to ECR first", s, r.Registry)
	}
	r.Account, r.Region = m[1], m[2]
	// A colon after the last slash separates the tag.
	if c := strings.LastIndex(path, ":"); c >= 0 && !strings.Contains(path[c:], "/") {
		r.Tag = path[c+1:]
		path = path[:c]
		if err := names.ImageTag(r.Tag); err != nil {
			return r, fmt.Errorf("image %q: tag %w", s, err)
		}
	}
	r.Repository = path
	if err := names.ECRRepository(path); err != nil {
		return r, fmt.Errorf("image %q: repository name %w", s, err)
	}
	if r.Tag == "" && r.Digest == "" {
		return r, fmt.Errorf("image %q has neither a tag nor a digest: add :TAG or @sha256:DIGEST (pipebridge never assumes \"latest\")", s)
	}
	return r, nil
}

// RepositoryURI is the image's repository without tag or digest.
func (r Ref) RepositoryURI() string { return r.Registry + "/" + r.Repository }

// Pinned is the reference by digest: REPOSITORY_URI@sha256:...
func (r Ref) Pinned() string { return r.RepositoryURI() + "@" + r.Digest }

// String renders the reference as it was given (tag and/or digest).
func (r Ref) String() string {
	s := r.RepositoryURI()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ShortDigest is a digest's first 12 hex digits, as registries show it (the
// digest itself when it is not sha256:HEX).
func ShortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) >= 12 {
		return h[:12]
	}
	return d
}

// FromImageDetail reads the imageDetail.json that CodePipeline's ECR source
// action puts in its output artifact, and returns its image by digest.
func FromImageDetail(data []byte) (string, error) {
	var d struct {
		ImageURI       string
		ImageDigest    string
		RepositoryName string
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "", err
	}
	if d.ImageURI == "" {
		return "", fmt.Errorf("no ImageURI field")
	}
	uri := d.ImageURI
	// The ECR source gives ImageURI by digest; make sure there is one.
	if !strings.Contains(uri, "@") && d.ImageDigest != "" {
		if i := strings.LastIndex(uri, ":"); i > strings.LastIndex(uri, "/") {
			uri = uri[:i]
		}
		uri += "@" + d.ImageDigest
	}
	return uri, nil
}
