package main

import (
	"strings"
	"testing"
)

// The Deploy stage's conditions, as the config asks: web-prod (production,
// alarms, bake, window, 45-minute timeout), worker-prod (production: rollback
// only), web-staging (none of it).
func TestDeployStageConditions(t *testing.T) {
	s := example(t)
	deploy := func(name string) map[string]any {
		for _, st := range s.pipeline(t, name)["Stages"].([]any) {
			if get(st, "Name") == "Deploy" {
				return st.(map[string]any)
			}
		}
		t.Fatalf("%s has no Deploy stage", name)
		return nil
	}
	alarmRule := func(name, alarm, wait string) string {
		return `{"Configuration":{"AlarmName":"` + alarm + `","AlarmStates":"ALARM","WaitTime":"` + wait + `"},"Name":"` + name +
			`","RuleTypeId":{"Category":"Rule","Owner":"AWS","Provider":"CloudWatchAlarm","Version":"1"}}`
	}
	prod := deploy("web-prod")
	if got := jsonString(prod["OnFailure"]); got != `{"Result":"ROLLBACK"}` {
		t.Errorf("web-prod OnFailure %s", got)
	}
	wantEntry := `{"Conditions":[{"Result":"FAIL","Rules":[` + alarmRule("AlarmQuiet1", "web-prod-5xx", "0") + `,` + alarmRule("AlarmQuiet2", "web-prod-latency", "0") + `,` +
		`{"Configuration":{"Cron":"* * 9-16 ? * MON-THU","TimeZone":"Europe/Berlin"},"Name":"DeployWindow","RuleTypeId":{"Category":"Rule","Owner":"AWS","Provider":"DeploymentWindow","Version":"1"}}]}]}`
	if got := jsonString(prod["BeforeEntry"]); got != wantEntry {
		t.Errorf("web-prod BeforeEntry\n got %s\nwant %s", got, wantEntry)
	}
	wantBake := `{"Conditions":[{"Result":"ROLLBACK","Rules":[` + alarmRule("Bake1", "web-prod-5xx", "15") + `,` + alarmRule("Bake2", "web-prod-latency", "15") + `]}]}`
	if got := jsonString(prod["OnSuccess"]); got != wantBake {
		t.Errorf("web-prod OnSuccess\n got %s\nwant %s", got, wantBake)
	}
	if got := get(prod, "Actions", 0, "Configuration", "DeploymentTimeout"); got != float64(45) {
		t.Errorf("web-prod deploy timeout %v, want 45", got)
	}

	worker := deploy("worker-prod")
	if jsonString(worker["OnFailure"]) != `{"Result":"ROLLBACK"}` || worker["BeforeEntry"] != nil || worker["OnSuccess"] != nil {
		t.Errorf("worker-prod conditions %s", jsonString(worker))
	}
	// worker-staging bakes 10 minutes on its alarm (its success is what
	// promotes to worker-prod), but is not production: no rollback on failure.
	ws := deploy("worker-staging")
	if ws["OnFailure"] != nil || get(ws, "OnSuccess", "Conditions", 0, "Rules", 0, "Configuration", "WaitTime") != "10" ||
		get(ws, "OnSuccess", "Conditions", 0, "Rules", 0, "Configuration", "AlarmName") != "worker-staging-errors" {
		t.Errorf("worker-staging conditions %s", jsonString(ws))
	}
	staging := deploy("web-staging")
	if staging["OnFailure"] != nil || staging["BeforeEntry"] != nil || staging["OnSuccess"] != nil || get(staging, "Actions", 0, "Configuration", "DeploymentTimeout") != float64(30) {
		t.Errorf("web-staging %s", jsonString(staging))
	}

	// The rules run as the pipeline's role: each may read its own alarms only.
	alarmARN := func(name string) string {
		return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudwatch:us-east-1:123456789012:alarm:` + name + `"]]}`
	}
	found := false
	for id, p := range s.resources("AWS::IAM::Policy") {
		for _, st := range statements(get(p, "PolicyDocument", "Statement")) {
			if !strings.Contains(strings.Join(st.Actions, ","), "cloudwatch:") {
				continue
			}
			want := map[string]string{"WebProdRolesPipeline": alarmARN("web-prod-5xx") + " " + alarmARN("web-prod-latency"),
				"WorkerStagingRolesPipeline": alarmARN("worker-staging-errors")}
			ok := false
			for prefix, arns := range want {
				ok = ok || strings.HasPrefix(id, prefix) && strings.Join(st.Resources, " ") == arns
			}
			if !ok || st.Sid != "WatchAlarms" || strings.Join(st.Actions, ",") != "cloudwatch:DescribeAlarms" {
				t.Errorf("policy %s: %+v", id, st)
			}
			found = true
		}
	}
	if !found {
		t.Error("no pipeline role may read the alarms")
	}
}

// Only web's build role may use web's layer cache, and only that repository.
func TestLayerCacheAccess(t *testing.T) {
	s := example(t)
	users := 0
	for id, p := range s.resources("AWS::IAM::Policy") {
		for _, st := range statements(get(p, "PolicyDocument", "Statement")) {
			for _, r := range st.Resources {
				if !strings.Contains(r, "CacheRepository") {
					continue
				}
				users++
				if !strings.HasPrefix(id, "WebBuildRole") || st.Sid != "LayerCache" || len(st.Resources) != 1 || !strings.Contains(r, "WebCacheRepository") {
					t.Errorf("policy %s: %+v", id, st)
				}
			}
		}
	}
	if users != 1 {
		t.Errorf("%d statements name the cache repository, want 1 (web's build)", users)
	}
	for _, p := range s.resources("AWS::CodeBuild::Project") {
		if p["Name"] == "web-build" && !strings.Contains(jsonString(get(p, "Environment", "EnvironmentVariables")), "CACHE_REPOSITORY_URI") {
			t.Error("web-build has no CACHE_REPOSITORY_URI")
		}
	}
}
