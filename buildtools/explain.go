package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"

	"github.com/pipebridge/pipebridge/internal/ecrevent"
	"github.com/pipebridge/pipebridge/internal/ghevent"
	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/routes"
)

const explainUsage = `
Usage: pipebridge explain --routes FILE (--event FILE | --body FILE --headers FILE | --body FILE --github-event TYPE)

Shows what the Lambdas would do with an event: which routes match, why each other
route does not, and the exact StartPipelineExecution requests they would send. It
makes no AWS or GitHub calls and does not check webhook signatures.

The event is an ECR EventBridge event (--event, as EventBridge delivers it), a
CodePipeline Pipeline Execution State Change event (--event: a promotion; the
Lambda reads the digest the execution deployed from CodePipeline, give it with
--digest), or a GitHub delivery: its body (--body) with its headers (--headers, "Name: value" lines
as GitHub's Recent Deliveries page shows them) or just its event type
(--github-event). GitHub releases and tag creations carry no commit SHA; the Lambda
looks it up through the GitHub API: give it with --commit to see the full request.

After the requests, the promotion chain: which pipelines each started one
promotes to, in turn, when it succeeds (promoteFrom in the config).

Exit status: 0 when at least one route matches and every matched route makes a
valid request; 1 when none matches, or a matched one would be refused (the
Lambda then fails the event rather than drop it).

Examples:
  pipebridge explain --routes routes.json --event ecr-push.json
  pipebridge explain --routes routes.json --event pipeline-succeeded.json --digest sha256:9f86d0...
  pipebridge explain --routes routes.json --github-event release --body delivery.json --commit 9fceb02
  pipebridge explain --routes routes.json --headers headers.txt --body delivery.json
`

func runExplain(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("explain", explainUsage)
	routesPath := fs.String("routes", "", "route table `FILE` (required)")
	eventPath := fs.String("event", "", "ECR EventBridge event `FILE`")
	bodyPath := fs.String("body", "", "GitHub delivery body `FILE`")
	headersPath := fs.String("headers", "", "GitHub delivery headers `FILE`")
	ghEvent := fs.String("github-event", "", "GitHub event `TYPE` (X-GitHub-Event), when there is no --headers")
	deliveryID := fs.String("delivery", "", "X-GitHub-Delivery `ID` (default: from --headers, or 00000000-0000-0000-0000-000000000000)")
	commitSHA := fs.String("commit", "", "commit `SHA` the tag points at, for events that do not carry it")
	digest := fs.String("digest", "", "image `DIGEST` the execution deployed, for CodePipeline events")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *routesPath == "":
		return usagef("--routes is required")
	case (*eventPath == "") == (*bodyPath == ""):
		return usagef("give --event (ECR) or --body (GitHub), not both")
	case *bodyPath != "" && *headersPath == "" && *ghEvent == "":
		return usagef("a GitHub delivery needs --headers or --github-event")
	case *digest != "" && !imageref.IsDigest(*digest):
		return usagef("--digest %q: want sha256: and 64 hex digits, as the execution's image source revision shows it", *digest)
	}
	data, err := os.ReadFile(*routesPath)
	if err != nil {
		return fmt.Errorf("read route table: %w", err)
	}
	table, err := routes.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *routesPath, err)
	}

	var ev routes.Event
	if *eventPath != "" {
		raw, err := os.ReadFile(*eventPath)
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		if ev, err = ecrevent.Parse(raw); err != nil {
			if errors.Is(err, ecrevent.ErrIgnored) {
				fmt.Fprintf(c.stdout, "Event: ignored before routing: %v\nNo route is consulted; nothing would start.\n", err)
				return errCheckFailed
			}
			return err
		}
		if ev.Kind == routes.KindPromotion {
			ev.Digest = *digest
		}
	} else {
		if ev, err = readDelivery(*bodyPath, *headersPath, *ghEvent, *deliveryID); err != nil {
			if errors.Is(err, ghevent.ErrIgnored) || errors.Is(err, ghevent.ErrPing) {
				fmt.Fprintf(c.stdout, "Delivery: %v\nNo route is consulted; nothing would start (the webhook answers 200).\n", err)
				return errCheckFailed
			}
			return err
		}
		if ev.CommitSHA == "" {
			ev.CommitSHA = *commitSHA
		}
	}
	return explain(ctx, c.stdout, table, ev)
}

func explain(ctx context.Context, w io.Writer, table *routes.Table, ev routes.Event) error {
	fmt.Fprintf(w, "Event: %s %s", ev.Kind, ev.Repository+ev.Pipeline)
	if ev.Tag != "" {
		fmt.Fprintf(w, " tag %s", ev.Tag)
	} else if len(ev.Tags) > 0 {
		fmt.Fprintf(w, " tags %s", strings.Join(ev.Tags, ", "))
	}
	fmt.Fprintf(w, " (id %s)\n", ev.ID)
	missingCommit := ev.GitHub() && ev.CommitSHA == ""
	if missingCommit {
		ev.CommitSHA = "COMMIT-OF-" + ev.Tag
		fmt.Fprintf(w, "Note: the delivery carries no commit SHA; the Lambda looks it up through the GitHub API. Shown as %s (pass --commit).\n", ev.CommitSHA)
	}
	if ev.Kind == routes.KindPromotion && ev.Digest == "" {
		ev.Digest = "DIGEST-OF-" + ev.ID
		fmt.Fprintf(w, "Note: the event carries no digest; the Lambda reads it from the execution (GetPipelineExecution), and promotes only a Succeeded standard execution. Shown as %s (pass --digest).\n", ev.Digest)
	}
	decisions := table.Select(ev)
	matched := routes.Matched(decisions)
	plans, refused := routes.Plans(ev, matched)
	fmt.Fprintf(w, "\nRoutes (%d of %d match):\n", len(matched), len(decisions))
	for _, d := range decisions {
		if !d.Matched {
			fmt.Fprintf(w, "  no     %s: %s\n", d.Route.Name, d.Reason)
			continue
		}
		fmt.Fprintf(w, "  MATCH  %s -> pipeline %s\n", d.Route.Name, d.Route.Pipeline)
		for _, p := range plans {
			if p.Route == d.Route {
				for _, n := range p.Notes {
					fmt.Fprintf(w, "         note: %s\n", n)
				}
			}
		}
	}
	if len(matched) == 0 {
		fmt.Fprintln(w, "\nNothing would start.")
		return errCheckFailed
	}
	if refused != nil {
		fmt.Fprintf(w, "\nRefused (the Lambda fails the event; nothing is dropped silently):\n  %s\n", strings.ReplaceAll(refused.Error(), "\n", "\n  "))
	}
	if len(plans) > 0 {
		fmt.Fprintln(w, "\nStartPipelineExecution requests:")
	}
	for _, p := range plans {
		body, err := startRequestJSON(ctx, p.Input)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "# route %s\n%s", p.Route.Name, body)
	}
	promotions(w, table, plans)
	if refused != nil {
		return errCheckFailed
	}
	return nil
}

// startRequestJSON is the request as CodePipeline would receive it.
func startRequestJSON(ctx context.Context, in *codepipeline.StartPipelineExecutionInput) ([]byte, error) {
	return wireJSON(func(h *captureHTTP) error {
		_, err := codepipeline.New(codepipeline.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("http://capture.invalid"),
			Credentials: aws.AnonymousCredentials{}, HTTPClient: h, RetryMaxAttempts: 1,
		}).StartPipelineExecution(ctx, in)
		return err
	})
}

// readDelivery reads a GitHub delivery as saved from GitHub's Recent Deliveries.
func readDelivery(bodyPath, headersPath, eventType, deliveryID string) (routes.Event, error) {
	body, err := os.ReadFile(bodyPath)
	if err != nil {
		return routes.Event{}, fmt.Errorf("read delivery body: %w", err)
	}
	headers := map[string]string{}
	if headersPath != "" {
		hb, err := os.ReadFile(headersPath)
		if err != nil {
			return routes.Event{}, fmt.Errorf("read delivery headers: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(hb))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "Request method") || strings.HasPrefix(line, "Request URL") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return routes.Event{}, fmt.Errorf("%s:%d: want \"Name: value\", got %q", headersPath, n, line)
			}
			headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if eventType == "" {
		eventType = headers["x-github-event"]
	}
	if deliveryID == "" {
		deliveryID = headers["x-github-delivery"]
	}
	if deliveryID == "" {
		deliveryID = "00000000-0000-0000-0000-000000000000"
	}
	payload := body
	if strings.HasPrefix(headers["content-type"], "application/x-www-form-urlencoded") {
		if payload, err = formPayload(body); err != nil {
			return routes.Event{}, err
		}
	}
	return ghevent.Parse(eventType, deliveryID, payload)
}

func formPayload(body []byte) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("form-encoded delivery: %w", err)
	}
	return []byte(form.Get("payload")), nil
}

// promotions prints the promotions that follow the started pipelines: each
// pipeline's success starts the ones that promote from it, with the same
// digest, and so on (the route table refuses cycles).
func promotions(w io.Writer, table *routes.Table, plans []routes.Plan) {
	var lines []string
	var walk func(pipeline, indent string)
	walk = func(pipeline, indent string) {
		for _, r := range table.PromotedFrom(pipeline) {
			lines = append(lines, fmt.Sprintf("%swhen %s succeeds (after its bake): %s starts with the same digest (route %s)", indent, pipeline, r.Pipeline, r.Name))
			walk(r.Pipeline, indent+"  ")
		}
	}
	for _, p := range plans {
		walk(p.Route.Pipeline, "  ")
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nThen (promotions):\n%s\n", strings.Join(lines, "\n"))
	}
}
