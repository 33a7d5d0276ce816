package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/reports"
	"github.com/pipebridge/pipebridge/internal/secretcache"
)

// poster posts one Slack message per (execution, outcome), through the
// incoming-webhook URL in each target's secret.
type poster struct {
	secrets    func(arn string) *secretcache.Cache
	ledger     *ledger
	http       *http.Client
	githubWeb  string // https://github.com/ or GitHub Enterprise Server's web root
	maxBackoff time.Duration

	mu    sync.Mutex
	cache map[string]*secretcache.Cache
}

func (p *poster) secret(arn string) *secretcache.Cache {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cache[arn]; ok {
		return c
	}
	if p.cache == nil {
		p.cache = map[string]*secretcache.Cache{}
	}
	c := p.secrets(arn)
	p.cache[arn] = c
	return c
}

func (p *poster) report(ctx context.Context, log *slog.Logger, t reports.Target, x *execution, r report, e *event) error {
	hook, err := p.secret(t.Slack.WebhookSecretARN).Get(ctx)
	if len(hook) == 0 {
		if err == nil {
			err = errors.New("it is empty: store the incoming-webhook URL")
		}
		return fmt.Errorf("read the Slack webhook secret %s: %w", t.Slack.WebhookSecretARN, err)
	}
	claimed, first, err := p.ledger.claim(ctx, x.id, r.step, e.Time)
	if err != nil {
		return err
	}
	if !claimed {
		log.InfoContext(ctx, "Slack message skipped", "reason", "this step or a later one was already posted (a repeated or late event)")
		return nil
	}
	var took time.Duration
	if r.step == stepEnded && !first.IsZero() && e.Time.After(first) {
		took = e.Time.Sub(first)
	}
	msg := p.message(t, x, r, e, took)
	if err := p.post(ctx, string(hook), msg); err != nil {
		if rerr := p.ledger.release(ctx, x.id, r.step); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	log.InfoContext(ctx, "Slack message posted", "blocks", len(msg.Blocks.BlockSet))
	return p.ledger.done(ctx, x.id, r.step)
}

// Block Kit's limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	maxHeader  = 150
	maxSection = 3000
	maxField   = 2000
)

// escape makes text safe in mrkdwn: Slack's three control characters.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// message is the Block Kit message for one step; took is how long the execution
// ran (from the first event the ledger saw), shown on its end, or 0.
func (p *poster) message(t reports.Target, x *execution, r report, e *event, took time.Duration) *slack.WebhookMessage {
	release := x.releaseURL
	if !strings.HasPrefix(release, "https://") && !strings.HasPrefix(release, "http://") {
		release = "" // links are for web pages only
	}
	icon := map[string]string{"succeeded": "✅", "failed": "❌", "waiting for approval": "⏸️"}[r.outcome]
	if icon == "" {
		icon = "▶️"
	}
	title := names.Truncate(fmt.Sprintf("%s %s → %s: %s", icon, t.App, t.Environment, r.outcome), maxHeader)
	var fields []*slack.TextBlockObject
	field := func(name, value string) {
		if value != "" {
			fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, names.Truncate("*"+name+"*\n"+value, maxField), false, false))
		}
	}
	field("App", escape(t.App))
	field("Environment", escape(t.Environment))
	field("State", escape(r.outcome))
	if x.tag != "" {
		tag := escape(x.tag)
		if release != "" {
			tag = fmt.Sprintf("<%s|%s>", release, tag)
		}
		field("Release", tag)
	} else if x.imageTag != "" {
		field("Image tag", escape(x.imageTag))
	}
	if x.commit != "" {
		short := x.commit[:7]
		if t.Repository != "" {
			short = fmt.Sprintf("<%s%s/commit/%s|%s>", p.githubWeb, t.Repository, x.commit, short)
		}
		field("Commit", short)
	}
	if x.digest != "" {
		image := "`" + imageref.ShortDigest(x.digest) + "`"
		if t.ImageRepository != "" && x.account != "" {
			image = fmt.Sprintf("<https://%s.console.aws.amazon.com/ecr/repositories/private/%s/%s/_/image/%s/details?region=%s|%s>",
				x.region, x.account, t.ImageRepository, x.digest, x.region, imageref.ShortDigest(x.digest))
		}
		field("Image", image)
	}
	if !e.Time.IsZero() {
		field("At", e.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if took > 0 {
		field("Duration", took.Round(time.Second).String())
	}
	text := fmt.Sprintf("%s %s → %s: %s", icon, t.App, t.Environment, r.outcome)
	mention := t.Slack.Mention != "" && (r.failed || t.Slack.Always)
	if mention {
		text = t.Slack.Mention + " " + text
	}
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, true, false))}
	if mention {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, t.Slack.Mention, false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	buttons := []slack.BlockElement{slack.NewButtonBlockElement("", "", slack.NewTextBlockObject(slack.PlainTextType, "Execution", false, false)).WithURL(x.consoleURL())}
	if r.step == stepWaiting {
		buttons = append(buttons, slack.NewButtonBlockElement("", "", slack.NewTextBlockObject(slack.PlainTextType, "Review and approve", false, false)).WithURL(x.approvalURL()))
		if release != "" {
			buttons = append(buttons, slack.NewButtonBlockElement("", "", slack.NewTextBlockObject(slack.PlainTextType, "Release notes", false, false)).WithURL(release))
		}
	}
	blocks = append(blocks, slack.NewActionBlock("", buttons...))
	return &slack.WebhookMessage{Text: names.Truncate(text, maxSection), Blocks: &slack.Blocks{BlockSet: blocks}}
}

// post sends msg, honouring one 429 whose Retry-After fits the backoff budget.
func (p *poster) post(ctx context.Context, hook string, msg *slack.WebhookMessage) error {
	for attempt := 0; ; attempt++ {
		reason := &reasonTransport{base: p.http.Transport}
		hc := &http.Client{Timeout: p.http.Timeout, Transport: reason}
		err := slack.PostWebhookCustomHTTPContext(ctx, hook, hc, msg)
		var rl *slack.RateLimitedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &rl) && attempt == 0 && rl.RetryAfter <= p.maxBackoff:
			select {
			case <-time.After(rl.RetryAfter):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		case errors.As(err, &rl):
			return fmt.Errorf("rate limited (429, retry after %s): EventBridge retries the event", rl.RetryAfter)
		}
		// Never the URL: it is the webhook's credential.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if reason.text != "" {
			return fmt.Errorf("incoming webhook answered %d %s%s", reason.code, reason.text, advice(reason.text))
		}
		return fmt.Errorf("incoming webhook: %v", err)
	}
}

func advice(reason string) string {
	switch reason {
	case "no_service", "channel_not_found", "channel_is_archived", "action_prohibited":
		return ": the webhook no longer works; create a new one and store its URL in the secret"
	case "invalid_blocks", "invalid_payload":
		return ": pipebridge built a message Slack refuses; please report it"
	}
	return ""
}

// reasonTransport keeps the reason Slack gives with an error status (slack-go
// reports only the status).
type reasonTransport struct {
	base http.RoundTripper
	code int
	text string
}

func (t *reasonTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusTooManyRequests {
		return resp, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	resp.Body.Close()
	t.code, t.text = resp.StatusCode, strings.TrimSpace(string(b))
	resp.Body = io.NopCloser(strings.NewReader(t.text))
	return resp, nil
}
