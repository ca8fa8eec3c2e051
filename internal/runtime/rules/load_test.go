package rules

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedRules is the shared checkout of falcosecurity/rules; the copies in
// testdata/falco let the package's own tests run without it.
const sharedRules = "../../../../shared/data/falco-rules"

func sharedFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedRules, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared Falco rules not found at %s (%v); the testdata copies are tested elsewhere", p, err)
	}
	return p
}

func loadFile(t testing.TB, paths ...string) *Ruleset {
	t.Helper()
	rs, err := LoadFiles(paths)
	if err != nil {
		t.Fatalf("LoadFiles(%v): %v", paths, err)
	}
	return rs
}

func TestLoadFalcoRulesAllLoad(t *testing.T) {
	for _, path := range []string{sharedFile(t, "falco_rules.yaml"), "testdata/falco/falco_rules.yaml"} {
		rs := loadFile(t, path)
		for _, s := range rs.Skipped {
			t.Errorf("%s: rule %q skipped: %s", path, s.Rule, s.Reason)
		}
		for _, w := range rs.Warnings {
			t.Errorf("%s: warning: %s", path, w)
		}
		if len(rs.Rules) != 25 {
			t.Errorf("%s: loaded %d rules, want 25", path, len(rs.Rules))
		}
		var indexed int
		for _, r := range rs.Rules {
			if r.EventTypes != nil {
				indexed++
			}
		}
		t.Logf("%s: %d rules loaded (%d narrowed by evt.type), 0 skipped", filepath.Base(path), len(rs.Rules), indexed)
	}
}

func TestLoadIncubatingAndSandbox(t *testing.T) {
	for _, name := range []string{"falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"} {
		path := filepath.Join("testdata/falco", name)
		if p := filepath.Join(sharedRules, name); fileExists(p) {
			path = p
		}
		rs := loadFile(t, path)
		byField := map[string][]string{}
		for _, s := range rs.Skipped {
			if len(s.Fields) == 0 {
				byField["(other) "+s.Reason] = append(byField["(other) "+s.Reason], s.Rule)
			}
			for _, f := range s.Fields {
				byField[f] = append(byField[f], s.Rule)
			}
		}
		enabled := 0
		for _, r := range rs.Rules {
			if r.Enabled {
				enabled++
			}
		}
		t.Logf("%s: %d rules loaded (%d enabled), %d skipped, %d warnings", name, len(rs.Rules), enabled, len(rs.Skipped), len(rs.Warnings))
		keys := make([]string, 0, len(byField))
		for k := range byField {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("  skipped for %s: %s", k, strings.Join(byField[k], "; "))
		}
		for _, w := range rs.Warnings {
			t.Logf("  warning: %s", w)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestFieldTableCoversRules derives the fields the three Falco files use
// from their compiled conditions and outputs and checks each is in the
// registry.
func TestFieldTableCoversRules(t *testing.T) {
	var paths []string
	for _, n := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"} {
		paths = append(paths, filepath.Join("testdata/falco", n))
	}
	for _, p := range paths {
		rs := loadFile(t, p)
		for _, f := range rs.FieldsUsed {
			name := strings.TrimSuffix(f, "[]")
			if _, ok := lookupField(name); !ok {
				t.Errorf("%s: field %s is used but not in the registry", filepath.Base(p), f)
			}
		}
		for _, r := range rs.Rules {
			for _, f := range r.output.fields {
				if _, ok := lookupField(f.name); !ok {
					t.Errorf("%s: output field %s not in registry", r.Name, f.key)
				}
			}
		}
	}
}

func TestUnknownFieldSkippedOrFatal(t *testing.T) {
	src := []Source{{Name: "t.yaml", Data: []byte(`
- macro: m
  condition: foo.bar = 1
- rule: uses unknown
  desc: d
  condition: evt.type = open and m
  output: "x %proc.name"
  priority: WARNING
- rule: fine
  desc: d
  condition: evt.type = open
  output: "x %proc.name"
  priority: WARNING
`)}}
	rs, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 1 || len(rs.Skipped) != 1 {
		t.Fatalf("rules=%d skipped=%d, want 1 and 1", len(rs.Rules), len(rs.Skipped))
	}
	s := rs.Skipped[0]
	if s.Rule != "uses unknown" || !errors.Is(s.Err, ErrUnknownField) || len(s.Fields) != 1 || s.Fields[0] != "foo.bar" {
		t.Errorf("skip = %+v", s)
	}
	if _, err := Load(src, WithStrictFields()); err == nil || !strings.Contains(err.Error(), "foo.bar") {
		t.Errorf("strict load error = %v, want one naming foo.bar", err)
	}
}
