package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesCLI loads the Falco community rules shipped in the repository
// and replays two recorded events: an interactive shell in a container
// raises Falco's "Terminal shell in container" alert in Falco's JSON format,
// the same shell on the host raises nothing.
func TestRulesCLI(t *testing.T) {
	rulesFile := filepath.Join("..", "..", "internal", "runtime", "rules", "testdata", "falco", "falco_rules.yaml")
	out, errs, code := bulkhead(t, "rules", "check", rulesFile)
	if code != 0 || !strings.HasPrefix(out, "25 rules loaded") || !strings.Contains(out, "0 skipped") {
		t.Fatalf("rules check: exit %d, %q %q", code, out, errs)
	}
	events := filepath.Join(t.TempDir(), "events.jsonl")
	os.WriteFile(events, []byte(`{"evt.type":"execve","container.id":"3ad7b26ded6d","container.image.repository":"docker.io/library/nginx","proc.name":"bash","proc.exepath":"/bin/bash","proc.cmdline":"bash","proc.pname":"runc:[1:CHILD]","proc.tty":34816,"user.name":"root","user.uid":0,"user.loginuid":-1}
{"evt.type":"execve","container.id":"host","proc.name":"bash","proc.pname":"sshd","proc.tty":34816}
`), 0o644)
	out, errs, code = bulkhead(t, "rules", "replay", "--rules", rulesFile, "-o", "json", events)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want exactly one alert, got %d: %s", len(lines), out)
	}
	var a struct {
		Rule, Priority, Output, Source string
		OutputFields                   map[string]any `json:"output_fields"`
		Tags                           []string
	}
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
		t.Fatal(err)
	}
	if a.Rule != "Terminal shell in container" || a.Priority != "Notice" || a.Source != "syscall" ||
		a.OutputFields["proc.name"] != "bash" || !strings.Contains(a.Output, "A shell was spawned in a container") {
		t.Errorf("alert %+v", a)
	}
	if _, errs, code := bulkhead(t, "rules", "replay", events); code == 0 || !strings.Contains(errs, "--rules") {
		t.Errorf("replay without rules: exit %d %q", code, errs)
	}
}
