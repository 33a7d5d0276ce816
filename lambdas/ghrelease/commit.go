package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v90/github"
)

type gitAPI interface {
	GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error)
	GetTag(ctx context.Context, owner, repo, sha string) (*github.Tag, *github.Response, error)
}

// tagCommit finds the commit a tag points at, dereferencing annotated tags (tag
// objects that point at other objects) up to a few levels.
func tagCommit(ctx context.Context, git gitAPI, repository, tag string) (string, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return "", fmt.Errorf("repository %q is not owner/name", repository)
	}
	ref, resp, err := git.GetRef(ctx, owner, repo, "tags/"+tag)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return "", fmt.Errorf("tag %s not found in %s (was it deleted?): %w", tag, repository, err)
		}
		return "", fmt.Errorf("look up tag %s in %s: %w", tag, repository, err)
	}
	obj := ref.GetObject()
	for range 5 {
		switch obj.GetType() {
		case "commit":
			return obj.GetSHA(), nil
		case "tag":
			t, _, err := git.GetTag(ctx, owner, repo, obj.GetSHA())
			if err != nil {
				return "", fmt.Errorf("read annotated tag %s in %s: %w", tag, repository, err)
			}
			obj = t.GetObject()
		default:
			return "", fmt.Errorf("tag %s in %s points at a %q, not a commit", tag, repository, obj.GetType())
		}
	}
	return "", fmt.Errorf("tag %s in %s: too many levels of tag objects", tag, repository)
}
