// Package config reads pipebridge.yaml, the one file from which the CDK app builds
// ECR repositories, pipelines, triggers and the GitHub Actions role, and compiles
// its triggers into the route table the Lambdas serve (validated by the same code
// the Lambdas use). Errors name the file, line and field.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked on machines without a tz database too

	"gopkg.in/yaml.v3"

	"github.com/pipebridge/pipebridge/internal/names"
	"github.com/pipebridge/pipebridge/internal/reports"
	"github.com/pipebridge/pipebridge/internal/routes"
	"github.com/pipebridge/pipebridge/internal/severity"
)

// Config is pipebridge.yaml.
type Config struct {
	// Account and Region the stack deploys to.
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
	// StackName defaults to "pipebridge".
	StackName string `yaml:"stackName"`
	// ConnectionARN is the CodeConnections (CodeStar Connections) connection to
	// GitHub; required when an environment builds from GitHub.
	ConnectionARN string `yaml:"connectionArn"`
	// GitHubOIDCProvider is "create" (the default) to create the account's
	// token.actions.githubusercontent.com provider, or the ARN of an existing one.
	GitHubOIDCProvider string `yaml:"githubOidcProvider"`
	// GitHubTokenSecret: "none" (the default), "create" (an empty secret you fill
	// with a token), or an existing secret's ARN. The webhook Lambda uses it to look
	// up tag commits in private repositories.
	GitHubTokenSecret string `yaml:"githubTokenSecret"`
	// GitHubApp, if set, is the GitHub App installation deploy reports use on
	// GitHub instead of the token secret.
	GitHubApp *GitHubApp `yaml:"githubApp"`
	// GitHubAPIURL is the API base of GitHub Enterprise Server; empty for github.com.
	GitHubAPIURL string `yaml:"githubApiUrl"`
	// LogRetentionDays for every log group (default 30).
	LogRetentionDays int `yaml:"logRetentionDays"`
	// LambdaConcurrency is each trigger Lambda's reserved concurrency (default 5).
	LambdaConcurrency int `yaml:"lambdaConcurrency"`
	// WebhookMemoryMB is the webhook function's memory (default 1024). Lambda
	// gives CPU in proportion to memory, and refusing a forged delivery is CPU
	// work: more memory refuses each one faster, for the same GB-seconds.
	WebhookMemoryMB int `yaml:"webhookMemoryMB"`
	// WebhookSecretGraceMinutes is how long after a rotation of the webhook
	// secret its previous value is still accepted (default 15; 0 for never).
	WebhookSecretGraceMinutes *int `yaml:"webhookSecretGraceMinutes"`
	// AlarmTopicARN, if set, receives the stack's alarms (dead letters waiting).
	AlarmTopicARN string `yaml:"alarmTopicArn"`
	// Redelivery, if set, redelivers failed GitHub webhook deliveries.
	Redelivery *Redelivery `yaml:"githubRedelivery"`
	Apps       []App       `yaml:"apps"`

	file string
}

// GitHubWeb is GitHub's web root for links: https://github.com/, or GitHub
// Enterprise Server's host for an API base https://HOST/api/v3/.
func (c *Config) GitHubWeb() string { return reports.GitHubWeb(c.GitHubAPIURL) }

// GitHubApp is a GitHub App installed on the apps' repositories with
// "Deployments: read and write".
type GitHubApp struct {
	AppID          int64 `yaml:"appId"`
	InstallationID int64 `yaml:"installationId"`
	// PrivateKeySecret: "create" (an empty secret to paste the App's PEM into) or
	// the ARN of a secret holding it.
	PrivateKeySecret string `yaml:"privateKeySecret"`
}

// Redelivery is the scheduled function that redelivers the webhook's failed
// deliveries: GitHub never redelivers by itself.
type Redelivery struct {
	// EveryMinutes is how often it runs (default 5).
	EveryMinutes int `yaml:"everyMinutes"`
	// MaxAttempts is how many times one delivery is redelivered at most (default 3).
	MaxAttempts int `yaml:"maxAttempts"`
	// LookbackHours is how far back it looks at deliveries (default 24).
	LookbackHours int `yaml:"lookbackHours"`
}

// App is one container application: its image repository, its source, and the
// environments it deploys to.
type App struct {
	Name string `yaml:"name"`
	ECR  ECR    `yaml:"ecr"`
	// GitHub is the application's repository, owner/name.
	GitHub string `yaml:"github"`
	// Containers are container names in the ECS task definitions; the image built
	// or pushed runs in the first.
	Containers []string `yaml:"containers"`
	// ExecutionMode: QUEUED (the default), SUPERSEDED or PARALLEL.
	ExecutionMode string `yaml:"executionMode"`
	// BuildSecretsRoleARN, if set, is assumed (role chaining) in the build to give
	// the Dockerfile build-time credentials, and GitHub Actions may assume it too.
	BuildSecretsRoleARN string `yaml:"buildSecretsRoleArn"`
	// GitHubActions, if set, creates a role that GitHub Actions can assume with
	// OIDC to push images to this app's repository.
	GitHubActions *GitHubActions `yaml:"githubActions"`
	// Notify says where the app's deploys are reported in Slack; an environment
	// may override it.
	Notify       *Notify       `yaml:"notify"`
	Environments []Environment `yaml:"environments"`
}

// Notify is a Slack channel's incoming webhook, and who to mention there.
type Notify struct {
	// Slack is "create" (an empty secret to paste the incoming-webhook URL into)
	// or the ARN of a secret that holds it.
	Slack string `yaml:"slack"`
	// Mention (<!subteam^ID>, <@USERID>, <!here> or <!channel>) is added to
	// failures, and to every message with mentionAlways.
	Mention       string `yaml:"mention"`
	MentionAlways bool   `yaml:"mentionAlways"`
}

// ECR is the app's image repository.
type ECR struct {
	// Repository name; defaults to the app's name.
	Repository string `yaml:"repository"`
	// Import an existing repository instead of creating one.
	Import bool `yaml:"import"`
	// KeepImages is how many tagged images the lifecycle policy keeps (default 100).
	KeepImages int `yaml:"keepImages"`
}

// GitHubActions pins who may assume the push role: the workflow's ref or its
// deployment environment, in that repository only.
type GitHubActions struct {
	// Ref such as refs/heads/main or refs/tags/v1.2.3.
	Ref string `yaml:"ref"`
	// Environment is a GitHub deployment environment name.
	Environment string `yaml:"environment"`
	// TrustPushedImages lets the push role write to the app's repository even
	// when pipelines build there. By default an app that builds gives the push
	// role a repository of its own (PushRepository), so what a release pipeline
	// deploys is always an image its own build made.
	TrustPushedImages bool `yaml:"trustPushedImages"`
}

// PushRepository is the repository the GitHub Actions push role writes to: the
// app's own, unless the app builds images and does not trust pushed ones; then
// a separate "<repository>-ci" that no build reads.
func (a *App) PushRepository() string {
	if a.GitHubActions == nil || a.GitHubActions.TrustPushedImages || !a.Builds() {
		return a.ECR.Repository
	}
	return a.ECR.Repository + "-ci"
}

// Builds says whether any environment builds the image from GitHub.
func (a *App) Builds() bool {
	for _, e := range a.Environments {
		if !e.DeploysImages() {
			return true
		}
	}
	return false
}

// Environment is one ECS service the app deploys to, through its own pipeline.
type Environment struct {
	Name    string `yaml:"name"`
	Cluster string `yaml:"cluster"`
	Service string `yaml:"service"`
	// Approval adds a manual approval before the deploy.
	Approval bool    `yaml:"approval"`
	Trigger  Trigger `yaml:"trigger"`
	// PromoteFrom names another environment of the same app, instead of a
	// trigger: when that environment's execution succeeds (after its bake),
	// this one deploys exactly the image digest it deployed, and never builds.
	PromoteFrom string `yaml:"promoteFrom"`
	// Family is the service's task definition family (default: the service
	// name); the deploy role may tag only its revisions.
	Family string `yaml:"family"`
	// TaskRoleARN and ExecutionRoleARN are the roles the service's task
	// definition names; the deploy role may pass only these, to ECS tasks.
	TaskRoleARN      string `yaml:"taskRoleArn"`
	ExecutionRoleARN string `yaml:"executionRoleArn"`
	// ScanGate is the build's check of the image's scan findings.
	ScanGate ScanGate `yaml:"scanGate"`
	// Production marks the environment as production on GitHub deployments
	// (the others are transient).
	Production bool `yaml:"production"`
	// URL is where the environment serves, linked from GitHub deployments.
	URL string `yaml:"url"`
	// Notify overrides the app's Slack settings for this environment.
	Notify *Notify `yaml:"notify"`
	// Rollback makes a failed Deploy stage roll back to the last successful
	// execution (CodePipeline V2 stage rollback); default on for production
	// environments, except with executionMode PARALLEL, which forbids it.
	Rollback *bool `yaml:"rollback"`
	// Alarms are CloudWatch alarm names (at most 5): a deploy does not start
	// while one is firing, and rolls back if one fires during the bake.
	Alarms []string `yaml:"alarms"`
	// Bake is how long after a deploy the alarms are watched (whole minutes,
	// such as 15m; default 10m with alarms).
	Bake string `yaml:"bake"`
	// DeployTimeout is the ECS deploy action's timeout, 1m-60m (default 30m).
	DeployTimeout string `yaml:"deployTimeout"`
	// DeployWindow limits deploys to a schedule.
	DeployWindow *DeployWindow `yaml:"deployWindow"`
	// AllowDowngrade turns off the Guard stage, which refuses to deploy an
	// image older than the one the service runs.
	AllowDowngrade bool `yaml:"allowDowngrade"`

	bake, timeout time.Duration
}

// DeployWindow is CodePipeline's DeploymentWindow rule: a cron expression of 6
// or 7 fields (seconds "*", minutes, hours, day-of-month, month, day-of-week,
// optional year) and an IANA time zone (default UTC).
type DeployWindow struct {
	Cron     string `yaml:"cron"`
	TimeZone string `yaml:"timeZone"`
}

// DeploysImages says whether the environment's pipeline deploys an image from
// the app's repository by digest (an image trigger, or a promotion) rather
// than building one from GitHub.
func (e *Environment) DeploysImages() bool { return e.Trigger.On == "image" || e.PromoteFrom != "" }

// RollsBack says whether the Deploy stage rolls back on failure.
func (e *Environment) RollsBack() bool { return e.Rollback != nil && *e.Rollback }

// BakeMinutes is the bake time in minutes (0 without alarms).
func (e *Environment) BakeMinutes() int { return int(e.bake / time.Minute) }

// TimeoutMinutes is the deploy action's timeout in minutes.
func (e *Environment) TimeoutMinutes() int { return int(e.timeout / time.Minute) }

// Notification is the Slack setting an environment reports with: its own, else
// its app's; nil for none.
func (e *Environment) Notification(a *App) *Notify {
	if e.Notify != nil {
		return e.Notify
	}
	return a.Notify
}

// ScanGate configures pipebridge scan-gate in the environment's build.
type ScanGate struct {
	// MaxSeverity is the highest finding severity that may deploy (NONE,
	// INFORMATIONAL, LOW, MEDIUM, HIGH; default MEDIUM: HIGH and CRITICAL fail).
	MaxSeverity string `yaml:"maxSeverity"`
	// Ignore lists finding names (CVE ids) that never fail the gate.
	Ignore []string `yaml:"ignore"`
	// AllowUndefined lets findings of undefined severity pass.
	AllowUndefined bool `yaml:"allowUndefined"`
	// Off deploys without any scan gate; it must be said explicitly.
	Off bool `yaml:"off"`
}

// Flags are the scan-gate flags the environment's build passes (empty when off).
func (g ScanGate) Flags() string {
	if g.Off {
		return ""
	}
	// scan-gate's --severity is the lowest level that fails: the one above.
	f := "--severity " + (severity.Parse(g.MaxSeverity) + 1).String()
	for _, n := range g.Ignore {
		f += " --ignore-finding " + n
	}
	if g.AllowUndefined {
		f += " --allow-undefined"
	}
	return f
}

// Trigger says what starts the environment's pipeline.
type Trigger struct {
	// On: "branch" (a push to Branch, CodePipeline's own Git trigger), "release"
	// (a GitHub release), "tag" (a tag pushed or created on GitHub), or "image" (an
	// image pushed to the app's ECR repository, or its scan completing).
	On     string `yaml:"on"`
	Branch string `yaml:"branch"`
	// Tags filters release, tag and image triggers.
	Tags *routes.TagFilter `yaml:"tags"`
	// ReleaseActions and Prereleases, for "release": see the route table.
	ReleaseActions []string `yaml:"releaseActions"`
	Prereleases    string   `yaml:"prereleases"`
	// Scan, for "image": deploy when the image's scan completes with no finding
	// above this severity (NONE, INFORMATIONAL, LOW, MEDIUM, HIGH) instead of on push.
	Scan string `yaml:"scanMaxSeverity"`
	// ScanAllowUndefined lets findings of undefined severity pass the scan
	// trigger; by default they block it.
	ScanAllowUndefined bool `yaml:"scanAllowUndefined"`
}

// Source action names in the generated pipelines; the route table names them.
const (
	GitHubSourceAction = "Source"
	ECRSourceAction    = "Image"
)

// Pipeline variables the generated pipelines declare for the Lambdas.
const (
	VarReleaseTag = "RELEASE_TAG"
	VarImageTag   = "IMAGE_TAG"
	VarTriggerID  = "TRIGGER_ID"
	VarReleaseURL = "RELEASE_URL"
)

// pipebridge's own naming rules; AWS's and GitHub's are in internal/names.
var (
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	stackNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	oidcARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$`)
	branchRE    = regexp.MustCompile(`^[^\s~^:?*\[\\]+$`)
	ghEnvRE     = regexp.MustCompile(`^[^*\s][^*]*$`)
)

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse validates data, read from file (named in errors).
func Parse(file string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	v := &validator{file: file, root: &root}
	// Unknown fields and values of the wrong kind first, all of them; then the
	// document is decoded leniently and every other rule checked, so one run
	// reports every mistake.
	v.checkShape(&root, reflect.TypeFor[Config](), nil)
	var c Config
	if err := root.Decode(&c); err != nil && len(v.errs) == 0 {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
	c.file = file
	c.validate(v)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return &c, nil
}

// validator collects errors with the line of the field they concern.
type validator struct {
	file string
	root *yaml.Node
	errs []error
	// shapeBad are the paths whose values had the wrong kind: they are reported
	// once, by checkShape, and not again as missing or invalid.
	shapeBad []string
}

// fail records an error at path (field names and indexes, as in the file).
func (v *validator) fail(path []any, format string, args ...any) {
	p := pathString(path)
	for _, b := range v.shapeBad {
		if p == b || strings.HasPrefix(p, b+".") || strings.HasPrefix(p, b+"[") {
			return
		}
	}
	v.failLine(v.line(path), path, format, args...)
}

func (v *validator) failLine(line int, path []any, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s:%d: %s: %s", v.file, line, pathString(path), fmt.Sprintf(format, args...)))
}

// line finds the line of the deepest node on path that exists.
func (v *validator) line(path []any) int {
	n := v.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch key := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && key < len(n.Content) {
				next = n.Content[key]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			b.WriteString("[" + strconv.Itoa(k) + "]")
		}
	}
	return b.String()
}

func at(base []any, more ...any) []any { return append(slices.Clone(base), more...) }

func (c *Config) validate(v *validator) {
	switch {
	case c.Account == "":
		v.fail([]any{"account"}, "required: the 12-digit AWS account to deploy to")
	case names.Account(c.Account) != nil:
		v.fail([]any{"account"}, "%q is not a 12-digit AWS account id (quote it in YAML so leading zeros stay)", c.Account)
	}
	switch {
	case c.Region == "":
		v.fail([]any{"region"}, "required: the AWS region to deploy to, such as eu-west-1")
	default:
		v.check([]any{"region"}, names.Region(c.Region))
	}
	if c.StackName == "" {
		c.StackName = "pipebridge"
	} else if !stackNameRE.MatchString(c.StackName) {
		v.fail([]any{"stackName"}, "%q: CloudFormation stack names are letters, digits and '-', starting with a letter", c.StackName)
	}
	if c.ConnectionARN != "" {
		v.check([]any{"connectionArn"}, names.ConnectionARN(c.ConnectionARN))
	}
	if c.AlarmTopicARN != "" {
		v.check([]any{"alarmTopicArn"}, names.TopicARN(c.AlarmTopicARN))
	}
	switch p := c.GitHubOIDCProvider; {
	case p == "":
		c.GitHubOIDCProvider = "create"
	case p == "create" || oidcARNRE.MatchString(p):
	default:
		v.fail([]any{"githubOidcProvider"}, "%q: want \"create\" or the ARN of the account's token.actions.githubusercontent.com provider", p)
	}
	switch s := c.GitHubTokenSecret; {
	case s == "":
		c.GitHubTokenSecret = "none"
	case s == "none" || s == "create" || names.SecretARN(s) == nil:
	default:
		v.fail([]any{"githubTokenSecret"}, "%q: want \"none\", \"create\" or a Secrets Manager secret ARN", s)
	}
	if c.GitHubAPIURL != "" && !strings.HasPrefix(c.GitHubAPIURL, "https://") {
		v.fail([]any{"githubApiUrl"}, "%q: want the https:// API base of GitHub Enterprise Server, such as https://github.example.com/api/v3/", c.GitHubAPIURL)
	}
	if c.LogRetentionDays == 0 {
		c.LogRetentionDays = 30
	} else if !slices.Contains(logRetentionDays, c.LogRetentionDays) {
		v.fail([]any{"logRetentionDays"}, "%d is not a CloudWatch Logs retention; use one of %v", c.LogRetentionDays, logRetentionDays)
	}
	if c.WebhookSecretGraceMinutes == nil {
		c.WebhookSecretGraceMinutes = new(int)
		*c.WebhookSecretGraceMinutes = 15
	} else if g := *c.WebhookSecretGraceMinutes; g < 0 || g > 1440 {
		v.fail([]any{"webhookSecretGraceMinutes"}, "%d: want 0 to 1440 minutes (0: the previous secret stops working at once)", g)
	}
	if g := c.GitHubApp; g != nil {
		p := []any{"githubApp"}
		if g.AppID <= 0 {
			v.fail(at(p, "appId"), "required: the App's numeric id (its settings page, \"App ID\")")
		}
		if g.InstallationID <= 0 {
			v.fail(at(p, "installationId"), "required: the installation's numeric id (the number at the end of the installation's settings URL)")
		}
		switch {
		case g.PrivateKeySecret == "":
			v.fail(at(p, "privateKeySecret"), "required: create, or the ARN of a secret holding the App's private key (PEM)")
		case g.PrivateKeySecret != "create":
			v.check(at(p, "privateKeySecret"), names.SecretARN(g.PrivateKeySecret))
		}
	}
	if c.LambdaConcurrency == 0 {
		c.LambdaConcurrency = 5
	} else if c.LambdaConcurrency < 1 || c.LambdaConcurrency > 100 {
		v.fail([]any{"lambdaConcurrency"}, "%d: want 1 to 100", c.LambdaConcurrency)
	}
	if c.WebhookMemoryMB == 0 {
		c.WebhookMemoryMB = 1024
	} else if c.WebhookMemoryMB < 128 || c.WebhookMemoryMB > 10240 {
		v.fail([]any{"webhookMemoryMB"}, "%d: want 128 to 10240 (Lambda's range; 1024 is the default, see README: the webhook under load)", c.WebhookMemoryMB)
	}
	if r := c.Redelivery; r != nil {
		p := []any{"githubRedelivery"}
		if c.GitHubTokenSecret == "none" {
			v.fail(p, "needs githubTokenSecret (create, or a secret ARN): listing and redelivering webhook deliveries takes a GitHub token")
		}
		if r.EveryMinutes == 0 {
			r.EveryMinutes = 5
		} else if r.EveryMinutes < 1 || r.EveryMinutes > 60 {
			v.fail(at(p, "everyMinutes"), "%d: want 1 to 60", r.EveryMinutes)
		}
		if r.MaxAttempts == 0 {
			r.MaxAttempts = 3
		} else if r.MaxAttempts < 1 || r.MaxAttempts > 10 {
			v.fail(at(p, "maxAttempts"), "%d: want 1 to 10", r.MaxAttempts)
		}
		if r.LookbackHours == 0 {
			r.LookbackHours = 24
		} else if r.LookbackHours < 1 || r.LookbackHours > 72 {
			v.fail(at(p, "lookbackHours"), "%d: want 1 to 72 (GitHub redelivers deliveries of the past 3 days)", r.LookbackHours)
		}
	}
	if len(c.Apps) == 0 {
		v.fail([]any{"apps"}, "required: at least one app")
	}
	apps := map[string]int{}
	repos := map[string]int{}
	for i := range c.Apps {
		a := &c.Apps[i]
		base := []any{"apps", i}
		a.validate(v, c, base)
		if j, dup := apps[a.Name]; dup && a.Name != "" {
			v.fail(at(base, "name"), "%q is also the name of apps[%d]: app names must be unique", a.Name, j)
		}
		apps[a.Name] = i
		if j, dup := repos[a.ECR.Repository]; dup && a.ECR.Repository != "" {
			v.fail(at(base, "ecr", "repository"), "%q is also apps[%d]'s repository: each app needs its own", a.ECR.Repository, j)
		}
		repos[a.ECR.Repository] = i
		if push := a.PushRepository(); push != a.ECR.Repository && a.ECR.Repository != "" {
			if j, dup := repos[push]; dup {
				v.fail(at(base, "githubActions"), "the push role's repository %q is also apps[%d]'s repository: rename one", push, j)
			}
			v.check(at(base, "ecr", "repository"), names.ECRRepository(push))
			repos[push] = i
		}
	}
}

var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func (a *App) validate(v *validator, c *Config, base []any) {
	switch {
	case a.Name == "":
		v.fail(at(base, "name"), "required")
	case !nameRE.MatchString(a.Name) || len(a.Name) > 40:
		v.fail(at(base, "name"), "%q: use 1-40 lower-case letters, digits and '-', starting with a letter", a.Name)
	}
	if a.ECR.Repository == "" {
		a.ECR.Repository = a.Name
	}
	v.check(at(base, "ecr", "repository"), names.ECRRepository(a.ECR.Repository))
	switch {
	case a.ECR.KeepImages == 0:
		a.ECR.KeepImages = 100
	case a.ECR.KeepImages < 1 || a.ECR.KeepImages > 10000:
		v.fail(at(base, "ecr", "keepImages"), "%d: want 1 to 10000", a.ECR.KeepImages)
	case a.ECR.Import:
		v.fail(at(base, "ecr", "keepImages"), "an imported repository keeps its own lifecycle policy: remove keepImages or import: true")
	}
	if a.GitHub != "" {
		v.check(at(base, "github"), names.GitHubRepository(a.GitHub))
	}
	if len(a.Containers) == 0 {
		v.fail(at(base, "containers"), "required: the container name(s) in the ECS task definition; the image runs in the first")
	}
	for j, n := range a.Containers {
		v.check(at(base, "containers", j), names.ECSName(n))
		if slices.Index(a.Containers, n) != j {
			v.fail(at(base, "containers", j), "%q is listed twice", n)
		}
	}
	switch a.ExecutionMode {
	case "":
		a.ExecutionMode = "QUEUED"
	case "QUEUED", "SUPERSEDED", "PARALLEL":
	default:
		v.fail(at(base, "executionMode"), "%q: want QUEUED, SUPERSEDED or PARALLEL", a.ExecutionMode)
	}
	if a.BuildSecretsRoleARN != "" {
		v.check(at(base, "buildSecretsRoleArn"), names.RoleARN(a.BuildSecretsRoleARN))
	}
	if ga := a.GitHubActions; ga != nil {
		p := at(base, "githubActions")
		switch {
		case a.GitHub == "":
			v.fail(p, "needs the app's github repository: the role trusts only that repository")
		case (ga.Ref == "") == (ga.Environment == ""):
			v.fail(p, "give exactly one of ref (such as refs/heads/main) and environment: the role's trust is pinned to it")
		case ga.Ref != "" && (!strings.HasPrefix(ga.Ref, "refs/") || strings.ContainsAny(ga.Ref, "*? ")):
			v.fail(at(p, "ref"), "%q: want a full ref without wildcards, such as refs/heads/main", ga.Ref)
		case ga.Environment != "" && !ghEnvRE.MatchString(ga.Environment):
			v.fail(at(p, "environment"), "%q: no wildcards", ga.Environment)
		}
	}
	if a.Notify != nil {
		a.Notify.validate(v, at(base, "notify"))
	}
	if len(a.Environments) == 0 {
		v.fail(at(base, "environments"), "required: at least one environment to deploy to")
	}
	seen := map[string]int{}
	for j := range a.Environments {
		e := &a.Environments[j]
		e.validate(v, c, a, at(base, "environments", j))
		if k, dup := seen[e.Name]; dup && e.Name != "" {
			v.fail(at(base, "environments", j, "name"), "%q is also environments[%d]'s name", e.Name, k)
		}
		seen[e.Name] = j
	}
	a.validatePromotions(v, c, base, seen)
}

// validatePromotions checks each promoteFrom: an environment of the same app,
// not itself, and no cycle. Any environment can be promoted from: an image
// pipeline's execution records the digest as its source revision, a build's
// as its Build action's IMAGE_DIGEST output variable.
func (a *App) validatePromotions(v *validator, c *Config, base []any, index map[string]int) {
	for j := range a.Environments {
		e := &a.Environments[j]
		if e.PromoteFrom == "" {
			continue
		}
		p := at(base, "environments", j, "promoteFrom")
		_, ok := index[e.PromoteFrom]
		switch {
		case e.PromoteFrom == e.Name:
			v.fail(p, "%q is this environment: promote from another environment of app %s", e.PromoteFrom, a.Name)
			continue
		case !ok:
			var others []string
			for _, o := range c.Apps {
				for _, oe := range o.Environments {
					if oe.Name == e.PromoteFrom && o.Name != a.Name {
						others = append(others, o.Name)
					}
				}
			}
			if len(others) > 0 {
				v.fail(p, "%q is an environment of app %s, not of %s: an environment promotes only its own app's images", e.PromoteFrom, strings.Join(others, ", "), a.Name)
			} else {
				v.fail(p, "%q: app %s has no such environment (it has %s)", e.PromoteFrom, a.Name, strings.Join(envNames(a), ", "))
			}
			continue
		}
		// Follow the chain back: it must end at a trigger, not come round.
		chain := []string{e.Name}
		for cur := e; cur.PromoteFrom != ""; {
			chain = append(chain, cur.PromoteFrom)
			i, ok := index[cur.PromoteFrom]
			if !ok || cur.PromoteFrom == cur.Name {
				break
			}
			if slices.Contains(chain[:len(chain)-1], cur.PromoteFrom) {
				v.fail(p, "promotions form a cycle (%s): one environment must have a trigger", strings.Join(chain, " <- "))
				break
			}
			cur = &a.Environments[i]
		}
	}
}

func envNames(a *App) []string {
	var out []string
	for _, e := range a.Environments {
		out = append(out, e.Name)
	}
	return out
}

func (e *Environment) validate(v *validator, c *Config, a *App, base []any) {
	switch {
	case e.Name == "":
		v.fail(at(base, "name"), "required")
	case !nameRE.MatchString(e.Name) || len(e.Name) > 20:
		v.fail(at(base, "name"), "%q: use 1-20 lower-case letters, digits and '-', starting with a letter", e.Name)
	}
	for _, f := range []struct{ key, val string }{{"cluster", e.Cluster}, {"service", e.Service}} {
		if f.val == "" {
			v.fail(at(base, f.key), "required: the ECS %s to deploy to", f.key)
		} else {
			v.check(at(base, f.key), names.ECSName(f.val))
		}
	}
	if e.Family == "" {
		e.Family = e.Service
	} else {
		v.check(at(base, "family"), names.ECSName(e.Family))
	}
	for _, f := range []struct{ key, val string }{{"taskRoleArn", e.TaskRoleARN}, {"executionRoleArn", e.ExecutionRoleARN}} {
		if f.val != "" {
			v.check(at(base, f.key), names.RoleARN(f.val))
		}
	}
	e.ScanGate.validate(v, at(base, "scanGate"))
	if e.URL != "" {
		if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.fail(at(base, "url"), "%q: want the environment's http(s) address, such as https://app.example.com", e.URL)
		}
	}
	if e.Notify != nil {
		e.Notify.validate(v, at(base, "notify"))
	}
	e.validateSafety(v, a, base)
	t := &e.Trigger
	tp := at(base, "trigger")
	if e.PromoteFrom != "" {
		if !reflect.ValueOf(*t).IsZero() {
			v.fail(at(base, "promoteFrom"), "give trigger or promoteFrom, not both: a promoted environment starts only when %s succeeds", e.PromoteFrom)
		}
		return
	}
	switch t.On {
	case "branch", "release", "tag":
		if a.GitHub == "" {
			v.fail(at(tp, "on"), "%q builds from GitHub: set the app's github repository", t.On)
		}
		if c.ConnectionARN == "" {
			v.fail(at(tp, "on"), "%q builds from GitHub through CodeConnections: set connectionArn", t.On)
		}
	case "image":
	case "":
		v.fail(at(tp, "on"), "required: branch, release, tag or image (or, instead of a trigger, promoteFrom: another environment)")
		return
	default:
		v.fail(at(tp, "on"), "%q: want branch, release, tag or image", t.On)
		return
	}
	if t.On == "branch" {
		switch {
		case t.Branch == "":
			v.fail(at(tp, "branch"), "required with on: branch")
		case !branchRE.MatchString(t.Branch):
			v.fail(at(tp, "branch"), "%q is not a branch name", t.Branch)
		}
		if t.Tags != nil {
			v.fail(at(tp, "tags"), "on: branch builds every push to the branch; tags filter release, tag and image triggers")
		}
	} else if t.Branch != "" {
		v.fail(at(tp, "branch"), "only with on: branch")
	}
	if t.On != "release" && (len(t.ReleaseActions) > 0 || t.Prereleases != "") {
		v.fail(at(tp, "on"), "releaseActions and prereleases apply only to on: release")
	}
	if t.On != "image" && t.Scan != "" {
		v.fail(at(tp, "scanMaxSeverity"), "only with on: image")
	}
	if t.ScanAllowUndefined && t.Scan == "" {
		v.fail(at(tp, "scanAllowUndefined"), "only with scanMaxSeverity")
	}
	if t.Tags != nil && t.On != "branch" {
		// The route table's own check decides what a valid filter is.
		if err := t.Tags.Validate(); err != nil {
			v.fail(at(tp, "tags"), "%v", err)
		}
	}
}

// alarmNameRE: CloudWatch alarm names are 1-255 characters, no control
// characters; a comma would split CodePipeline's rule configuration.
var alarmNameRE = regexp.MustCompile(`^[^\x00-\x1f\x7f,]{1,255}$`)

// cronFieldRE: what each DeploymentWindow cron field may hold (CodePipeline's
// rule reference: digits, names, and , - * ? / L W #).
var cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z,*?/#-]+$`)

func minutes(v *validator, p []any, s string, def, lo, hi time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		v.fail(p, "%q: want a duration such as 15m or 1h", s)
	case d%time.Minute != 0:
		v.fail(p, "%q: whole minutes only (CodePipeline counts in minutes)", s)
	case d < lo || d > hi:
		v.fail(p, "%q: want %s to %s", s, lo, hi)
	default:
		return d
	}
	return def
}

func (e *Environment) validateSafety(v *validator, a *App, base []any) {
	parallel := a.ExecutionMode == "PARALLEL"
	switch {
	case e.Rollback == nil:
		e.Rollback = new(bool)
		*e.Rollback = e.Production && !parallel
	case *e.Rollback && parallel:
		v.fail(at(base, "rollback"), "CodePipeline cannot roll back a pipeline in PARALLEL execution mode: use QUEUED or SUPERSEDED, or rollback: false")
	}
	// The Deploy stage has one entry condition (CodePipeline allows exactly one),
	// and a condition takes at most 5 rules: an alarm each, and the window.
	if n := len(e.Alarms); n > 5 || n == 5 && e.DeployWindow != nil {
		v.fail(at(base, "alarms"), "%d alarms with%s a deployWindow: the Deploy stage's one entry condition takes at most 5 rules (an alarm each, and the window); combine alarms into a composite alarm", n, map[bool]string{true: "", false: "out"}[e.DeployWindow != nil])
	}
	for i, n := range e.Alarms {
		if !alarmNameRE.MatchString(n) {
			v.fail(at(base, "alarms", i), "%q: a CloudWatch alarm name (1-255 characters, no commas or control characters)", n)
		}
		if slices.Index(e.Alarms, n) != i {
			v.fail(at(base, "alarms", i), "%q is listed twice", n)
		}
	}
	if e.Bake != "" && len(e.Alarms) == 0 {
		v.fail(at(base, "bake"), "a bake watches alarms: add alarms, or remove bake")
	}
	if len(e.Alarms) > 0 {
		e.bake = minutes(v, at(base, "bake"), e.Bake, 10*time.Minute, time.Minute, 24*time.Hour)
	}
	e.timeout = minutes(v, at(base, "deployTimeout"), e.DeployTimeout, 30*time.Minute, time.Minute, time.Hour)
	if w := e.DeployWindow; w != nil {
		p := at(base, "deployWindow")
		fields := strings.Fields(w.Cron)
		switch {
		case len(fields) != 6 && len(fields) != 7:
			v.fail(at(p, "cron"), "%q: want 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), such as \"* * 9-16 ? * MON-THU\"", w.Cron)
		case fields[0] != "*":
			v.fail(at(p, "cron"), "%q: the seconds field must be \"*\" (CodePipeline's DeploymentWindow rule)", w.Cron)
		default:
			for _, f := range fields {
				if !cronFieldRE.MatchString(f) {
					v.fail(at(p, "cron"), "%q: field %q has characters a cron field cannot", w.Cron, f)
					break
				}
			}
		}
		if w.TimeZone == "" {
			w.TimeZone = "UTC"
		} else if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
			v.fail(at(p, "timeZone"), "%q: want an IANA time zone such as Europe/Berlin or UTC", w.TimeZone)
		}
	}
}

func (n *Notify) validate(v *validator, p []any) {
	switch {
	case n.Slack == "":
		v.fail(at(p, "slack"), "required: create, or the ARN of a secret holding the incoming-webhook URL")
	case n.Slack != "create":
		v.check(at(p, "slack"), names.SecretARN(n.Slack))
	}
	if n.Mention != "" && !reports.ValidMention(n.Mention) {
		v.fail(at(p, "mention"), "%q: want <!subteam^ID> (a user group), <@USERID>, <!here> or <!channel>", n.Mention)
	}
	if n.MentionAlways && n.Mention == "" {
		v.fail(at(p, "mentionAlways"), "needs a mention")
	}
}

// findingRE is what a finding name may be on scan-gate's command line: CVE and
// GHSA ids, vendor advisories; no spaces or shell metacharacters.
var findingRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

func (g *ScanGate) validate(v *validator, p []any) {
	if g.Off {
		if g.MaxSeverity != "" || len(g.Ignore) > 0 || g.AllowUndefined {
			v.fail(p, "off: true deploys without a scan gate; remove maxSeverity, ignore and allowUndefined, or off")
		}
		return
	}
	if g.MaxSeverity == "" {
		g.MaxSeverity = "MEDIUM"
	} else if l, err := severity.ParseKnown(g.MaxSeverity); err != nil || l == severity.Critical {
		v.fail(at(p, "maxSeverity"), "%q: want NONE, INFORMATIONAL, LOW, MEDIUM or HIGH (the highest severity that may deploy; off: true for no gate)", g.MaxSeverity)
	} else {
		g.MaxSeverity = l.String()
	}
	for i, n := range g.Ignore {
		if !findingRE.MatchString(n) {
			v.fail(at(p, "ignore", i), "%q: want a finding name such as CVE-2024-3094", n)
		}
	}
}

// PipelineName is the name of the environment's pipeline.
func PipelineName(a *App, e *Environment) string { return a.Name + "-" + e.Name }

// RouteTables compiles the triggers that the Lambdas serve (release, tag and
// image) into typed route tables, one for each Lambda, validated by the route
// table's own constructor; either is nil when no environment needs it.
func (c *Config) RouteTables() (ecr, github *routes.Table, err error) {
	var ecrRoutes, ghRoutes []routes.Route
	for i := range c.Apps {
		a := &c.Apps[i]
		for j := range a.Environments {
			e := &a.Environments[j]
			t := e.Trigger
			r := routes.Route{Name: PipelineName(a, e), Pipeline: PipelineName(a, e), Tags: t.Tags}
			switch t.On {
			case "release", "tag":
				gh := &routes.GitHubSource{Repository: a.GitHub, Events: []string{"tag-push", "tag-create"}}
				if t.On == "release" {
					gh.Events, gh.ReleaseActions, gh.Prereleases = []string{"release"}, t.ReleaseActions, t.Prereleases
				}
				r.GitHub, r.SourceAction = gh, GitHubSourceAction
				// The release's page; a pushed tag's page has the same address.
				releaseURL := "{{.ReleaseURL}}"
				if t.On == "tag" {
					releaseURL = c.GitHubWeb() + "{{.Repository}}/releases/tag/{{.Tag}}"
				}
				r.Variables = map[string]string{VarReleaseTag: "{{.Tag}}", VarTriggerID: "{{.DeliveryID}}", VarReleaseURL: releaseURL}
				ghRoutes = append(ghRoutes, r)
			case "":
				if e.PromoteFrom == "" {
					continue
				}
				from := a.Environments[slices.IndexFunc(a.Environments, func(o Environment) bool { return o.Name == e.PromoteFrom })]
				r.CodePipeline, r.SourceAction = &routes.CodePipelineSource{Pipeline: PipelineName(a, &from)}, ECRSourceAction
				r.Variables = map[string]string{VarImageTag: "{{.Tag}}", VarTriggerID: "{{.EventID}}"}
				ecrRoutes = append(ecrRoutes, r)
			case "image":
				src := &routes.ECRSource{Repository: a.ECR.Repository, Account: c.Account, Region: c.Region}
				if t.Scan != "" {
					src.Events, src.MaxSeverity, src.AllowUndefined = []string{"scan"}, t.Scan, t.ScanAllowUndefined
				}
				r.ECR, r.SourceAction = src, ECRSourceAction
				r.Variables = map[string]string{VarImageTag: "{{.Tag}}", VarTriggerID: "{{.EventID}}"}
				ecrRoutes = append(ecrRoutes, r)
			}
		}
	}
	if len(ecrRoutes) > 0 {
		if ecr, err = routes.New(ecrRoutes); err != nil {
			return nil, nil, fmt.Errorf("%s: the compiled ecrpush route table is invalid: %w", c.file, err)
		}
	}
	if len(ghRoutes) > 0 {
		if github, err = routes.New(ghRoutes); err != nil {
			return nil, nil, fmt.Errorf("%s: the compiled ghrelease route table is invalid: %w", c.file, err)
		}
	}
	return ecr, github, nil
}

// check records err (from internal/names) at path.
func (v *validator) check(path []any, err error) {
	if err != nil {
		v.fail(path, "%v", err)
	}
}
