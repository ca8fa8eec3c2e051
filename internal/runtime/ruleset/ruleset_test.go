package ruleset

import (
	"os"
	"slices"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

func TestBuiltinLoads(t *testing.T) {
	rs, err := rules.Load([]rules.Source{Builtin()}, rules.WithStrictFields())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Skipped) != 0 || len(rs.Warnings) != 0 {
		t.Fatalf("skipped %v, warnings %v", rs.Skipped, rs.Warnings)
	}
	if len(rs.Rules) < 12 {
		t.Fatalf("%d rules", len(rs.Rules))
	}
}

// TestCases runs testdata/cases.yaml: events in, the exact set of rules
// that must fire out.
func TestCases(t *testing.T) {
	b, err := os.ReadFile("testdata/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string         `yaml:"name"`
		Event  map[string]any `yaml:"event"`
		Expect []string       `yaml:"expect"`
	}
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load([]rules.Source{Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	eng := rules.NewEngine(rs)
	fired := map[string]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ev, err := rules.NewMapEvent(c.Event)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, a := range eng.Evaluate(ev) {
				got = append(got, a.Rule)
				fired[a.Rule] = true
			}
			want := append([]string{}, c.Expect...)
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("fired %q, want %q", got, want)
			}
		})
	}
	for _, r := range rs.Rules {
		if !fired[r.Name] {
			t.Errorf("rule %q has no case that fires it", r.Name)
		}
	}
}
