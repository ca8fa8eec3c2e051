package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(pol, "profiles: "+profiles+"\nactions:\n  - {rule: Terminal shell in container, action: kill}\ncontainers:\n  - {name: web, match: {image: \"web:*\"}, mode: protect}\n")
	write(filepath.Join(profiles, "web.json"), `{"version":1,"key":{"selector":"web","image":"web:1"},"executables":["/bin/sh"],"files":[],"connections":[],"listen":[]}`)
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"policy", "check", pol}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"valid (version 1, default mode protect)", `kill   rule "Terminal shell in container"`,
		`container "web": image=web:*, mode protect`, `selector "web" image "web:1": 1 executables`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A broken profile fails the check.
	write(filepath.Join(profiles, "web.json"), `{"version":1,"executables":["sh"]}`)
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), []string{"policy", "check", pol}, nil, &out, &errb); code == 0 || !strings.Contains(errb.String(), "not an absolute path") {
		t.Errorf("broken profile: exit %d, stderr %s", code, errb.String())
	}
	// An invalid policy names the problem.
	write(pol, "actions: [{rule: r, action: explode}]\n")
	errb.Reset()
	if code := Run(context.Background(), []string{"policy", "check", pol}, nil, &out, &errb); code == 0 || !strings.Contains(errb.String(), `unknown action "explode"`) {
		t.Errorf("invalid policy: exit %d, stderr %s", code, errb.String())
	}
}
