package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigCLI runs `bulkhead check config` on a bad and a good
// manifest and a Dockerfile, with a custom policy directory and a config
// that disables one check.
func TestCheckConfigCLI(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "deploy.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      hostNetwork: true
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
---
apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: c
      image: registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      securityContext:
        allowPrivilegeEscalation: false
        capabilities:
          drop: [ALL]
      resources:
        limits:
          cpu: "1"
          memory: 128Mi
`, 0o644)
	writeFile(t, filepath.Join(dir, "app", "Dockerfile"), "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nCMD [\"sh\"]\n", 0o644)

	out, errs, code := bulkhead(t, "check", "config", filepath.Join(dir, "app"), "-o", "json", "--fail-on", "high")
	if code != 2 {
		t.Fatalf("--fail-on high with a privileged container: exit %d (%s)", code, errs)
	}
	var res struct {
		Results []struct {
			CheckID, Status, File, Kind, Name, Path string
			Line                                    int
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	has := func(file, kind, name string, line int, pathPart string) bool {
		for _, r := range res.Results {
			if r.Status == "fail" && strings.HasSuffix(r.File, file) && r.Kind == kind && r.Name == name && r.Line == line && strings.Contains(r.Path, pathPart) {
				return true
			}
		}
		return false
	}
	if !has("deploy.yaml", "Deployment", "web", 13, "privileged") {
		t.Errorf("privileged container not reported at deploy.yaml:13: %+v", res.Results)
	}
	if !has("deploy.yaml", "Deployment", "web", 8, "hostNetwork") {
		t.Errorf("hostNetwork not reported at deploy.yaml:8")
	}
	for _, r := range res.Results {
		if r.Name == "good" && r.Status == "fail" {
			t.Errorf("the hardened pod fails %s at line %d (%s)", r.CheckID, r.Line, r.Path)
		}
	}
	dockerfileFailed := false
	for _, r := range res.Results {
		if strings.HasSuffix(r.File, "Dockerfile") && r.Status == "fail" {
			dockerfileFailed = true
		}
	}
	if !dockerfileFailed {
		t.Error("a Dockerfile without USER and HEALTHCHECK passes every check")
	}

	// A custom check from --policy, and --config disabling a built-in one.
	pol := filepath.Join(dir, "policy")
	writeFile(t, filepath.Join(pol, "team.yaml"), `checks:
  - id: TEAM-001
    title: Deployments must carry a team label
    severity: low
    benchmark: "Team policy"
    appliesTo: [Deployment]
    expr: '"team" in object.?metadata.?labels.orValue({})'
`, 0o644)
	cfg := filepath.Join(dir, "cfg.yaml")
	writeFile(t, cfg, "disable: [K8S-HRD-001]\n", 0o644)
	out, errs, _ = bulkhead(t, "check", "config", filepath.Join(dir, "app", "deploy.yaml"), "-o", "json", "--policy", pol, "--config", cfg)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s %s", err, out, errs)
	}
	team, pinned := false, false
	for _, r := range res.Results {
		if r.CheckID == "TEAM-001" && r.Status == "fail" && r.Name == "web" {
			team = true
		}
		if r.CheckID == "K8S-HRD-001" {
			pinned = true
		}
	}
	if !team || pinned {
		t.Errorf("custom check reported: %v; disabled check still reported: %v", team, pinned)
	}
}
