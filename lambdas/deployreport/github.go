package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v90/github"

	"github.com/pipebridge/pipebridge/internal/reports"
)

type tokenKey struct{}

// withToken carries the token read once per event to every request of it.
func withToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

// requestToken is the token for a request: the one the event's report read.
func requestToken(ctx context.Context) string {
	tok, _ := ctx.Value(tokenKey{}).(string)
	return tok
}

// deployments reports executions as GitHub deployments: one per execution, found
// again by the execution id in its payload, with statuses that only move forward.
// GitHub is the record: nothing is stored elsewhere.
type deployments struct {
	gh    *github.Client
	token tokenSource
}

// payload is what pipebridge puts in a deployment.
type payload struct {
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"executionId"`
	Tag         string `json:"tag,omitempty"`
	Digest      string `json:"digest,omitempty"`
}

// descriptions we write for non-final statuses, by step; a status's step is read
// back from them (final states need no description to be read).
var stepOf = map[string]step{
	"pipebridge: started": stepStarted, "pipebridge: waiting for approval": stepWaiting,
	"pipebridge: approved": stepApproved, "pipebridge: deploying": stepDeploying, "pipebridge: resumed": stepDeploying,
}

var finalStates = []string{"success", "failure", "error", "inactive"}

func statusStep(s *github.DeploymentStatus) step {
	if slices.Contains(finalStates, s.GetState()) {
		return stepEnded
	}
	return stepOf[s.GetDescription()]
}

func (d *deployments) report(ctx context.Context, log *slog.Logger, t reports.Target, x *execution, r report) error {
	tok, why, err := d.token.token(ctx)
	if err != nil {
		return err
	}
	if tok == "" {
		log.WarnContext(ctx, "no GitHub deployment", "reason", why)
		return nil
	}
	ctx = withToken(ctx, tok)
	owner, repo, _ := strings.Cut(t.Repository, "/")
	dep, err := d.find(ctx, owner, repo, t, x)
	if err != nil {
		return err
	}
	if dep == nil {
		if dep, err = d.create(ctx, owner, repo, t, x); err != nil {
			return err
		}
		log.InfoContext(ctx, "GitHub deployment created", "repository", t.Repository, "deploymentId", dep.GetID(), "commit", x.commit)
	}
	latest := stepNone
	opts := &github.ListOptions{PerPage: 100}
	for {
		statuses, resp, err := d.gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, dep.GetID(), opts)
		if err != nil {
			return describe("list deployment statuses", err)
		}
		for _, s := range statuses {
			latest = max(latest, statusStep(s))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if r.step <= latest {
		log.InfoContext(ctx, "GitHub status skipped", "reason", "the deployment already reports this step or a later one (a repeated or late event)", "deploymentId", dep.GetID())
		return nil
	}
	req := github.DeploymentStatusRequest{
		State:       r.state,
		LogURL:      github.Ptr(x.consoleURL()),
		Description: github.Ptr(description(r)),
		Environment: github.Ptr(t.Environment),
	}
	if t.URL != "" {
		req.EnvironmentURL = github.Ptr(t.URL)
	}
	if _, _, err := d.gh.Repositories.CreateDeploymentStatus(ctx, owner, repo, dep.GetID(), req); err != nil {
		return describe("create deployment status "+r.state, err)
	}
	log.InfoContext(ctx, "GitHub status", "deploymentId", dep.GetID(), "githubState", r.state)
	return nil
}

// description is the status's description: for non-final steps, the text stepOf
// reads back.
func description(r report) string {
	if r.step == stepEnded {
		return "pipebridge: " + r.outcome
	}
	for text, s := range stepOf {
		if s == r.step && strings.HasSuffix(text, r.outcome) {
			return text
		}
	}
	return "pipebridge: " + r.outcome
}

// find returns the execution's deployment: among the deployments of the commit to
// the environment, the oldest whose payload names the execution.
func (d *deployments) find(ctx context.Context, owner, repo string, t reports.Target, x *execution) (*github.Deployment, error) {
	opts := &github.DeploymentsListOptions{SHA: x.commit, Environment: t.Environment, ListOptions: github.ListOptions{PerPage: 100}}
	var found *github.Deployment
	for {
		list, resp, err := d.gh.Repositories.ListDeployments(ctx, owner, repo, opts)
		if err != nil {
			return nil, describe("list deployments", err)
		}
		for _, dep := range list {
			var p payload
			if json.Unmarshal(dep.Payload, &p) == nil && p.ExecutionID == x.id && (found == nil || dep.GetID() < found.GetID()) {
				found = dep
			}
		}
		if resp.NextPage == 0 {
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

func (d *deployments) create(ctx context.Context, owner, repo string, t reports.Target, x *execution) (*github.Deployment, error) {
	req := github.DeploymentRequest{
		Ref:                   x.commit,
		Task:                  github.Ptr("deploy"),
		AutoMerge:             github.Ptr(false), // else GitHub may merge the default branch instead of deploying
		RequiredContexts:      []string{},        // else every status check of the commit must be green
		Payload:               payload{Pipeline: x.pipeline, ExecutionID: x.id, Tag: x.tag, Digest: x.digest},
		Environment:           github.Ptr(t.Environment),
		Description:           github.Ptr(fmt.Sprintf("%s %s by pipebridge (%s)", t.App, t.Environment, x.pipeline)),
		ProductionEnvironment: github.Ptr(t.Production),
		TransientEnvironment:  github.Ptr(!t.Production),
	}
	dep, resp, err := d.gh.Repositories.CreateDeployment(ctx, owner, repo, req)
	if err != nil {
		return nil, describe("create deployment", err)
	}
	if resp.StatusCode != http.StatusCreated || dep.GetID() == 0 {
		return nil, fmt.Errorf("create deployment: GitHub answered %d without a deployment", resp.StatusCode)
	}
	return dep, nil
}

// describe turns a GitHub error into one that says what to do.
func describe(op string, err error) error {
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch ge.Response.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: GitHub rejected the token (401 %s): store a valid token in the token secret", op, ge.Message)
	case http.StatusForbidden:
		return fmt.Errorf("%s: 403 from GitHub (%s): the token lacks Deployments: write on the repository", op, ge.Message)
	case http.StatusNotFound:
		return fmt.Errorf("%s: 404 from GitHub: the repository does not exist or the token cannot see it (it needs Deployments: write)", op)
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("%s: GitHub refused it (422 %s)", op, ge.Message)
	}
	return fmt.Errorf("%s: GitHub answered %d %s", op, ge.Response.StatusCode, ge.Message)
}
