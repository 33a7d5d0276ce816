package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExample(t *testing.T) {
	c, err := Load("../../pipebridge.yaml")
	if err != nil {
		t.Fatalf("pipebridge.yaml: %v", err)
	}
	if c.Apps[1].ExecutionMode != "QUEUED" || c.Apps[1].ECR.KeepImages != 100 {
		t.Errorf("defaults not applied: %+v", c.Apps[1])
	}
	ecr, gh, err := c.RouteTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range append(gh.Routes, ecr.Routes...) {
		names = append(names, r.Name+"->"+r.Pipeline+"/"+r.SourceAction)
	}
	want := []string{"web-staging->web-staging/Source", "web-prod->web-prod/Source", "worker-staging->worker-staging/Image", "worker-prod->worker-prod/Image"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if r := ecr.Routes[0]; r.ECR.Account != "123456789012" || r.ECR.Events[0] != "scan" || r.ECR.MaxSeverity != "MEDIUM" || r.Tags.Regex == "" {
		t.Errorf("worker-staging route: %+v", r.ECR)
	}
	if r := ecr.Routes[1]; r.ECR != nil || r.CodePipeline == nil || r.CodePipeline.Pipeline != "worker-staging" {
		t.Errorf("worker-prod route: %+v, want a promotion from worker-staging", r)
	}
	if r := gh.Routes[1]; !cmp.Equal(r.GitHub.ReleaseActions, []string{"published", "released", "prereleased"}) {
		t.Errorf("web-prod release actions %v, want the default that deploys every release once", r.GitHub.ReleaseActions)
	}
	web, worker := &c.Apps[0], &c.Apps[1]
	if web.PushRepository() != "acme/web-ci" || worker.PushRepository() != "acme/worker" {
		t.Errorf("push repositories %s, %s: want acme/web-ci (web builds) and acme/worker (image-only)", web.PushRepository(), worker.PushRepository())
	}
	if g := web.Environments[0].ScanGate; g.Flags() != "--severity HIGH" {
		t.Errorf("default scan gate flags %q, want --severity HIGH (maxSeverity MEDIUM)", g.Flags())
	}
	if g := web.Environments[2].ScanGate; g.Flags() != "--severity MEDIUM --ignore-finding CVE-2023-45853" {
		t.Errorf("web-prod scan gate flags %q", g.Flags())
	}
	if e := worker.Environments[1]; e.Family != "worker" || worker.Environments[0].Family != "worker-staging" {
		t.Errorf("families %s, %s", worker.Environments[0].Family, e.Family)
	}
	if c.Redelivery == nil || c.Redelivery.EveryMinutes != 5 || c.Redelivery.MaxAttempts != 3 {
		t.Errorf("githubRedelivery defaults: %+v", c.Redelivery)
	}
}

const base = `account: "123456789012"
region: us-east-1
connectionArn: arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123
apps:
  - name: web
    github: acme/web
    containers: [web]
    environments:
      - name: prod
        cluster: prod
        service: web
        trigger: {on: release}
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", strings.Replace(base, "region:", "regoin: x\nregion:", 1), []string{`pipebridge.yaml:2: (top level): unknown field "regoin" (did you mean "region"?)`}},
		{"unknown nested field", strings.Replace(base, "        cluster: prod", "        clustr: prod\n        cluster: prod", 1), []string{`pipebridge.yaml:10: apps[0].environments[0]: unknown field "clustr" (did you mean "cluster"?)`}},
		{"misspelt approval", strings.Replace(base, "        cluster: prod", "        aproval: true\n        cluster: prod", 1), []string{`pipebridge.yaml:10: apps[0].environments[0]: unknown field "aproval" (did you mean "approval"?)`}},
		{"unknown field far from any", strings.Replace(base, "        cluster: prod", "        zzzzzzzz: 1\n        cluster: prod", 1), []string{`apps[0].environments[0]: unknown field "zzzzzzzz"` + "\n"}},
		{"unknown fields with other errors", strings.Replace(strings.Replace(base, "        cluster: prod", "        aproval: true", 1), "us-east-1\n", "nowhere\n", 1),
			[]string{`unknown field "aproval"`, `pipebridge.yaml:2: region: "nowhere"`, "apps[0].environments[0].cluster: required"}},
		{"wrong type", strings.Replace(base, "containers: [web]", "containers: web", 1), []string{`pipebridge.yaml:7: apps[0].containers: want a list, got "web"`}},
		{"wrong type reported once", strings.Replace(base, "containers: [web]", "containers: web", 1), []string{"want a list"}},
		{"not a number", "logRetentionDays: thirty\n" + base, []string{`pipebridge.yaml:1: logRetentionDays: want a whole number, got "thirty"`}},
		{"redelivery without a token", strings.Replace(base, "apps:", "githubRedelivery: {}\napps:", 1), []string{"githubRedelivery: needs githubTokenSecret"}},
		{"redelivery too often", strings.Replace(base, "apps:", "githubTokenSecret: create\ngithubRedelivery: {everyMinutes: 0.5}\napps:", 1), []string{"githubRedelivery.everyMinutes: want a whole number"}},
		{"bad alarm topic", strings.Replace(base, "apps:", "alarmTopicArn: arn:aws:sns:us-east-1:1:x\napps:", 1), []string{"alarmTopicArn:", "not an SNS topic ARN"}},
		{"undefined allowed without a scan", strings.Replace(base, "{on: release}", "{on: image, scanAllowUndefined: true}", 1), []string{"trigger.scanAllowUndefined: only with scanMaxSeverity"}},
		{"missing account", strings.Replace(base, `account: "123456789012"`, "", 1), []string{"pipebridge.yaml:2: account: required"}},
		{"unquoted account", strings.Replace(base, `"123456789012"`, "0123456789", 1), []string{`pipebridge.yaml:1: account: "0123456789" is not a 12-digit`, "quote it"}},
		{"bad region", strings.Replace(base, "us-east-1\n", "useast\n", 1), []string{`pipebridge.yaml:2: region: "useast"`}},
		{"no apps", strings.Split(base, "apps:")[0], []string{"apps: required"}},
		{"missing cluster", strings.Replace(base, "        cluster: prod\n", "", 1), []string{"pipebridge.yaml:9: apps[0].environments[0].cluster: required"}},
		{"no connection", strings.Replace(base, "connectionArn: arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123\n", "", 1), []string{`apps[0].environments[0].trigger.on: "release" builds from GitHub through CodeConnections: set connectionArn`}},
		{"bad connection", strings.Replace(base, "connection/abc-123", "bad", 1), []string{"pipebridge.yaml:3: connectionArn:"}},
		{"release without GitHub repo", strings.Replace(base, "    github: acme/web\n", "", 1), []string{"set the app's github repository"}},
		{"branch without branch", strings.Replace(base, "{on: release}", "{on: branch}", 1), []string{"pipebridge.yaml:12: apps[0].environments[0].trigger.branch: required with on: branch"}},
		{"branch with tags", strings.Replace(base, "{on: release}", "{on: branch, branch: main, tags: {glob: v*}}", 1), []string{"trigger.tags: on: branch builds every push"}},
		{"bad trigger", strings.Replace(base, "{on: release}", "{on: commit}", 1), []string{`trigger.on: "commit": want branch, release, tag or image`}},
		{"bad semver", strings.Replace(base, "{on: release}", `{on: release, tags: {semver: ">=two"}}`, 1), []string{`pipebridge.yaml:12: apps[0].environments[0].trigger.tags: semver ">=two"`}},
		{"two tag filters", strings.Replace(base, "{on: release}", `{on: release, tags: {glob: "v*", regex: "^v"}}`, 1), []string{"trigger.tags: give exactly one of glob, regex and semver"}},
		{"scan on a release", strings.Replace(base, "{on: release}", "{on: release, scanMaxSeverity: LOW}", 1), []string{"trigger.scanMaxSeverity: only with on: image"}},
		{"prereleases on image", strings.Replace(base, "{on: release}", "{on: image, prereleases: only}", 1), []string{"releaseActions and prereleases apply only to on: release"}},
		{"duplicate environment", base + "      - name: prod\n        cluster: c\n        service: s\n        trigger: {on: image}\n", []string{`pipebridge.yaml:13: apps[0].environments[1].name: "prod" is also environments[0]'s name`}},
		{"duplicate app", base + "  - name: web\n    ecr: {repository: other}\n    containers: [x]\n    environments: [{name: a, cluster: c, service: s, trigger: {on: image}}]\n", []string{`apps[1].name: "web" is also the name of apps[0]`}},
		{"shared repository", base + "  - name: api\n    ecr: {repository: web}\n    containers: [x]\n    environments: [{name: a, cluster: c, service: s, trigger: {on: image}}]\n", []string{`apps[1].ecr.repository: "web" is also apps[0]'s repository`}},
		{"actions role without pin", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    githubActions: {}\n", 1), []string{"githubActions: give exactly one of ref"}},
		{"actions role with wildcard ref", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    githubActions: {ref: \"refs/heads/*\"}\n", 1), []string{"githubActions.ref: \"refs/heads/*\": want a full ref without wildcards"}},
		{"bad container", strings.Replace(base, "[web]", "[\"web app\"]", 1), []string{`apps[0].containers[0]: "web app"`}},
		{"no environments", strings.SplitAfter(base, "containers: [web]\n")[0], []string{"apps[0].environments: required"}},
		{"bad task role", strings.Replace(base, "        service: web\n", "        service: web\n        taskRoleArn: web-task\n", 1), []string{`pipebridge.yaml:12: apps[0].environments[0].taskRoleArn: "web-task": not an IAM role ARN`}},
		{"bad execution role", strings.Replace(base, "        service: web\n", "        service: web\n        executionRoleArn: arn:aws:iam::123456789012:user/x\n", 1), []string{`apps[0].environments[0].executionRoleArn: "arn:aws:iam::123456789012:user/x"`}},
		{"family with a dot", strings.Replace(base, "        service: web\n", "        service: web\n        family: web.v2\n", 1), []string{`apps[0].environments[0].family: "web.v2"`}},
		{"bad scan severity", strings.Replace(base, "        service: web\n", "        service: web\n        scanGate: {maxSeverity: CRITICAL}\n", 1), []string{`apps[0].environments[0].scanGate.maxSeverity: "CRITICAL": want NONE, INFORMATIONAL, LOW, MEDIUM or HIGH`}},
		{"bad ignore", strings.Replace(base, "        service: web\n", "        service: web\n        scanGate: {ignore: [\"CVE-1; rm -rf /\"]}\n", 1), []string{`scanGate.ignore[0]: "CVE-1; rm -rf /": want a finding name`}},
		{"gate off with settings", strings.Replace(base, "        service: web\n", "        service: web\n        scanGate: {off: true, maxSeverity: HIGH}\n", 1), []string{`apps[0].environments[0].scanGate: off: true deploys without a scan gate`}},
		{"bad execution mode", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    executionMode: FIFO\n", 1), []string{`executionMode: "FIFO"`}},
		{"imported repo with lifecycle", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    ecr: {import: true, keepImages: 5}\n", 1), []string{"an imported repository keeps its own lifecycle policy"}},
		{"bad url", strings.Replace(base, "        service: web\n", "        service: web\n        url: www.example.com\n", 1), []string{`url: "www.example.com": want the environment's http(s) address`}},
		{"notify without slack", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    notify: {mention: \"<!here>\"}\n", 1), []string{"notify.slack: required: create, or the ARN"}},
		{"notify bad secret", strings.Replace(base, "        service: web\n", "        service: web\n        notify: {slack: https://hooks.slack.com/services/T/B/X}\n", 1), []string{"notify.slack:", "not a Secrets Manager secret ARN"}},
		{"notify bad mention", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    notify: {slack: create, mention: \"@oncall\"}\n", 1), []string{`notify.mention: "@oncall": want <!subteam^ID>`}},
		{"mentionAlways without mention", strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    notify: {slack: create, mentionAlways: true}\n", 1), []string{"notify.mentionAlways: needs a mention"}},
		{"github app incomplete", "githubApp: {appId: 12}\n" + base, []string{"githubApp.installationId: required", "githubApp.privateKeySecret: required"}},
		{"github app bad key secret", "githubApp: {appId: 12, installationId: 3, privateKeySecret: app.pem}\n" + base, []string{"githubApp.privateKeySecret:", "not a Secrets Manager secret ARN"}},
		{"rollback with PARALLEL", strings.Replace(strings.Replace(base, "    containers: [web]\n", "    containers: [web]\n    executionMode: PARALLEL\n", 1), "        service: web\n", "        service: web\n        rollback: true\n", 1), []string{"rollback: CodePipeline cannot roll back a pipeline in PARALLEL execution mode"}},
		{"bake without alarms", strings.Replace(base, "        service: web\n", "        service: web\n        bake: 15m\n", 1), []string{"bake: a bake watches alarms"}},
		{"bake in seconds", strings.Replace(base, "        service: web\n", "        service: web\n        alarms: [a]\n        bake: 90s\n", 1), []string{`bake: "90s": whole minutes only`}},
		{"six alarms", strings.Replace(base, "        service: web\n", "        service: web\n        alarms: [a, b, c, d, e, f]\n", 1), []string{"6 alarms without a deployWindow: the Deploy stage's one entry condition takes at most 5 rules"}},
		{"five alarms and a window", strings.Replace(base, "        service: web\n", "        service: web\n        alarms: [a, b, c, d, e]\n        deployWindow: {cron: \"* * 9-16 ? * MON-FRI\"}\n", 1), []string{"5 alarms with a deployWindow: the Deploy stage's one entry condition takes at most 5 rules"}},
		{"alarm with a comma", strings.Replace(base, "        service: web\n", "        service: web\n        alarms: [\"a,b\"]\n", 1), []string{`alarms[0]: "a,b": a CloudWatch alarm name`}},
		{"timeout too long", strings.Replace(base, "        service: web\n", "        service: web\n        deployTimeout: 61m\n", 1), []string{`deployTimeout: "61m": want 1m0s to 1h0m0s`}},
		{"window cron fields", strings.Replace(base, "        service: web\n", "        service: web\n        deployWindow: {cron: \"0 9-16 * * 1-5\"}\n", 1), []string{"deployWindow.cron:", "want 6 or 7 fields"}},
		{"window seconds", strings.Replace(base, "        service: web\n", "        service: web\n        deployWindow: {cron: \"0 * 9-16 ? * MON-FRI\"}\n", 1), []string{`the seconds field must be "*"`}},
		{"window time zone", strings.Replace(base, "        service: web\n", "        service: web\n        deployWindow: {cron: \"* * 9-16 ? * MON-FRI\", timeZone: Mars/Olympus}\n", 1), []string{`deployWindow.timeZone: "Mars/Olympus": want an IANA time zone`}},
		{"webhook memory too small", "webhookMemoryMB: 64\n" + base, []string{"webhookMemoryMB: 64: want 128 to 10240"}},
		{"bad retention", "logRetentionDays: 31\n" + base, []string{"logRetentionDays: 31 is not a CloudWatch Logs retention"}},
		{"promoteFrom and a trigger", base + "      - name: dr\n        cluster: dr\n        service: web\n        promoteFrom: prod\n        trigger: {on: image}\n", []string{"apps[0].environments[1].promoteFrom: give trigger or promoteFrom, not both"}},
		{"promoteFrom itself", strings.Replace(base, "        trigger: {on: release}\n", "        promoteFrom: prod\n", 1), []string{`pipebridge.yaml:12: apps[0].environments[0].promoteFrom: "prod" is this environment`}},
		{"promoteFrom unknown", base + "      - name: dr\n        cluster: dr\n        service: web\n        promoteFrom: stagin\n", []string{`apps[0].environments[1].promoteFrom: "stagin": app web has no such environment (it has prod, dr)`}},
		{"promoteFrom another app", base + "  - name: api\n    containers: [api]\n    environments:\n      - {name: staging, cluster: s, service: api, trigger: {on: image}}\n      - {name: live, cluster: p, service: api, promoteFrom: prod}\n",
			[]string{`apps[1].environments[1].promoteFrom: "prod" is an environment of app web, not of api`}},
		{"promotion cycle", base + "      - {name: a, cluster: c, service: s, promoteFrom: b}\n      - {name: b, cluster: c, service: s, promoteFrom: a}\n", []string{"apps[0].environments[1].promoteFrom: promotions form a cycle (a <- b <- a): one environment must have a trigger"}},
		{"several errors at once", strings.Replace(strings.Replace(base, "        cluster: prod\n", "", 1), "us-east-1\n", "nowhere\n", 1), []string{"region:", "cluster: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("pipebridge.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			msg := err.Error() + "\n"
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(msg, "[]string") || strings.Contains(msg, "config.") {
				t.Errorf("the error speaks Go, not the config's words:\n%s", msg)
			}
			if tt.name == "wrong type reported once" && strings.Count(msg, "containers") != 1 {
				t.Errorf("containers reported more than once:\n%s", msg)
			}
		})
	}
}

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse("pipebridge.yaml", []byte(base)); err != nil {
		t.Fatal(err)
	}
}

// Rollback defaults on for production environments, off for others and for
// PARALLEL pipelines (which CodePipeline cannot roll back); timeouts and bake
// take their defaults.
func TestSafeDeployDefaults(t *testing.T) {
	for _, tt := range []struct {
		extra, mode string
		rollback    bool
	}{
		{"", "", false},
		{"        production: true\n", "", true},
		{"        production: true\n", "    executionMode: PARALLEL\n", false},
		{"        production: true\n        rollback: false\n", "", false},
	} {
		y := strings.Replace(strings.Replace(base, "        service: web\n", "        service: web\n"+tt.extra+"        alarms: [web-5xx]\n", 1), "    containers: [web]\n", "    containers: [web]\n"+tt.mode, 1)
		c, err := Parse("pipebridge.yaml", []byte(y))
		if err != nil {
			t.Fatalf("%q: %v", tt.extra+tt.mode, err)
		}
		e := &c.Apps[0].Environments[0]
		if e.RollsBack() != tt.rollback || e.BakeMinutes() != 10 || e.TimeoutMinutes() != 30 {
			t.Errorf("%q: rollback %v bake %d timeout %d; want rollback %v, 10, 30", tt.extra+tt.mode, e.RollsBack(), e.BakeMinutes(), e.TimeoutMinutes(), tt.rollback)
		}
	}
}

// A promoted environment is an image pipeline with a promotion route: the
// source's pipeline starts it, with the image source action's digest.
func TestPromoteFrom(t *testing.T) {
	y := base + "      - {name: canary, cluster: c, service: web, promoteFrom: prod}\n      - {name: staging, cluster: s, service: web, trigger: {on: image, tags: {glob: \"v*\"}}}\n      - {name: live, cluster: p, service: web, promoteFrom: staging}\n      - {name: dr, cluster: d, service: web, promoteFrom: live}\n"
	c, err := Parse("pipebridge.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	a := &c.Apps[0]
	if !a.Environments[3].DeploysImages() || !a.Environments[1].DeploysImages() || a.Environments[0].DeploysImages() || !a.Builds() {
		t.Errorf("DeploysImages/Builds wrong: %+v", a.Environments)
	}
	ecr, _, err := c.RouteTables()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range ecr.Routes {
		from := "ecr:" + func() string {
			if r.ECR != nil {
				return r.ECR.Repository
			}
			return ""
		}()
		if r.CodePipeline != nil {
			from = "pipeline:" + r.CodePipeline.Pipeline
		}
		got = append(got, from+"->"+r.Pipeline+"/"+r.SourceAction+" "+r.Variables["TRIGGER_ID"])
	}
	// canary promotes what prod's release build deployed.
	want := []string{"pipeline:web-prod->web-canary/Image {{.EventID}}", "ecr:web->web-staging/Image {{.EventID}}", "pipeline:web-staging->web-live/Image {{.EventID}}", "pipeline:web-live->web-dr/Image {{.EventID}}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
