package prevent

import (
	"strings"
	"testing"
	"time"
)

func TestLoadPolicyExample(t *testing.T) {
	p, err := LoadPolicy("testdata/policies/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.DefaultMode != ModeProtect || p.Profiles != "/var/lib/bulkhead/profiles" {
		t.Errorf("header: %+v", p)
	}
	if time.Duration(p.StopTimeout) != 5*time.Second || time.Duration(p.DecisionTimeout) != 250*time.Millisecond {
		t.Errorf("durations: %v %v", p.StopTimeout, p.DecisionTimeout)
	}
	if len(p.Actions) != 5 || len(p.Containers) != 3 {
		t.Fatalf("got %d actions, %d containers", len(p.Actions), len(p.Containers))
	}
	deny := p.Actions[3]
	if deny.Action != ActionDeny || len(deny.Open) != 3 || len(deny.Exec) != 3 {
		t.Errorf("deny entry: %+v", deny)
	}
	pay := p.Containers[1]
	if pay.Mode != ModeLearn || pay.Then != ModeMonitor || time.Duration(pay.LearnFor) != 24*time.Hour {
		t.Errorf("payments entry: %+v", pay)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader("actions:\n  - rule: r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.DefaultMode != ModeProtect || p.Actions[0].Action != ActionAlert ||
		time.Duration(p.StopTimeout) != 10*time.Second || p.CollapseThreshold != 16 {
		t.Errorf("defaults not applied: %+v", p)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"empty", "", "empty policy"},
		{"unknown key", "acton: kill\n", "field acton not found"},
		{"bad version", "version: 2\n", "version 2 not supported"},
		{"bad action", "actions: [{rule: r, action: explode}]", `unknown action "explode"`},
		{"rule and tag", "actions: [{rule: r, tag: t, action: kill}]", "exactly one of rule or tag"},
		{"neither", "actions: [{action: kill}]", "exactly one of rule or tag"},
		{"deny without paths", "actions: [{rule: r, action: deny}]", "needs an exec or open path set"},
		{"paths without deny", "actions: [{rule: r, action: kill, exec: [/bin/sh]}]", "only apply to action deny"},
		{"relative deny path", "actions: [{rule: r, action: deny, open: [etc/shadow]}]", "must be absolute"},
		{"unclean deny path", "actions: [{rule: r, action: deny, open: [/etc/../shadow]}]", "must be absolute and clean"},
		{"bad mode", "default_mode: enforce\n", `unknown mode "enforce"`},
		{"learn default", "default_mode: learn\n", "learning needs a containers entry"},
		{"no profiles dir", "containers: [{name: a, match: {image: x}}]", "profiles (the baseline directory) is required"},
		{"no name", "profiles: p\ncontainers: [{match: {image: x}}]", "name is required"},
		{"dup name", "profiles: p\ncontainers: [{name: a, match: {image: x}}, {name: a, match: {image: y}}]", `duplicate name "a"`},
		{"empty match", "profiles: p\ncontainers: [{name: a}]", "match is empty"},
		{"learn_for alone", "profiles: p\ncontainers: [{name: a, match: {image: x}, learn_for: 1h}]", "learn_for and then go together"},
		{"then outside learn", "profiles: p\ncontainers: [{name: a, match: {image: x}, mode: monitor, learn_for: 1h, then: protect}]", "only apply to mode learn"},
		{"bad duration", "stop_timeout: soon\n", `duration "soon"`},
		{"negative duration", "stop_timeout: -1s\n", "negative duration"},
		{"bad glob", "profiles: p\ncontainers: [{name: a, match: {image: \"[\"}}]", "selector pattern"},
		{"negative collapse", "collapse_threshold: -1\n", "must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy(strings.NewReader(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestParsePolicyTooLarge(t *testing.T) {
	big := strings.Repeat("#", MaxPolicySize+1)
	if _, err := ParsePolicy(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v", err)
	}
}

func TestSelectorMatches(t *testing.T) {
	c := ContainerInfo{ID: "abc", Name: "/web-1", Image: "registry.example.com/team/web:1.2",
		Labels: map[string]string{"app": "web", "tier": "frontend"}}
	cases := []struct {
		name string
		sel  *Selector
		want bool
	}{
		{"nil matches all", nil, true},
		{"image exact", &Selector{Image: "registry.example.com/team/web:1.2"}, true},
		{"image star crosses slashes", &Selector{Image: "registry.example.com/*:1.2"}, true},
		{"image star tag", &Selector{Image: "registry.example.com/team/web:*"}, true},
		{"image mismatch", &Selector{Image: "nginx:*"}, false},
		{"name glob without slash", &Selector{Name: "web-*"}, true},
		{"name mismatch", &Selector{Name: "db-*"}, false},
		{"labels all", &Selector{Labels: map[string]string{"app": "web", "tier": "frontend"}}, true},
		{"label any value", &Selector{Labels: map[string]string{"app": "*"}}, true},
		{"label wrong value", &Selector{Labels: map[string]string{"app": "db"}}, false},
		{"label missing", &Selector{Labels: map[string]string{"team": "*"}}, false},
		{"all parts", &Selector{Image: "*web*", Name: "web-?", Labels: map[string]string{"tier": "frontend"}}, true},
		{"one part fails", &Selector{Image: "*web*", Name: "web-?", Labels: map[string]string{"tier": "backend"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sel.Matches(c); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "a/b/c", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
		{"*", "", true},
		{"abc", "abd", false},
		{"a?c", "abc", true},
	}
	for _, c := range cases {
		if got := globMatch(c.pat, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestActionsFor(t *testing.T) {
	p, err := LoadPolicy("testdata/policies/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pay := ContainerInfo{Labels: map[string]string{"app": "payments"}}
	other := ContainerInfo{Labels: map[string]string{"app": "web"}}
	cases := []struct {
		name        string
		rule        string
		tags        []string
		c           ContainerInfo
		inContainer bool
		want        []Action
	}{
		{"by name", "Terminal shell in container", nil, other, true, []Action{ActionKill}},
		{"by tag", "Some rule", []string{"mitre_exfiltration"}, other, true, []Action{ActionPause}},
		{"glob and selector", "Netcat Remote Code Execution in Container", nil, pay, true, []Action{ActionStop}},
		{"selector excludes", "Netcat Remote Code Execution in Container", nil, other, true, nil},
		{"selector excludes host", "Netcat Remote Code Execution in Container", nil, ContainerInfo{}, false, nil},
		{"name and tag both", "Terminal shell in container", []string{"mitre_exfiltration"}, other, true, []Action{ActionKill, ActionPause}},
		{"deny", "Read sensitive file untrusted", nil, other, true, []Action{ActionDeny}},
		{"none", "Unlisted", nil, other, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []Action
			for _, a := range p.actionsFor(tc.rule, tc.tags, tc.c, tc.inContainer) {
				got = append(got, a.Action)
			}
			if strings.Join(actStrings(got), ",") != strings.Join(actStrings(tc.want), ",") {
				t.Errorf("actions %v, want %v", got, tc.want)
			}
		})
	}
}

func actStrings(a []Action) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = string(x)
	}
	return out
}

func TestContainerPolicyFirstMatchWins(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader(`profiles: /p
containers:
  - {name: first, match: {labels: {app: web}}, mode: protect}
  - {name: second, match: {image: "web:*"}, mode: monitor}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := ContainerInfo{Image: "web:1", Labels: map[string]string{"app": "web"}}
	if cp := p.containerPolicy(c); cp == nil || cp.Name != "first" {
		t.Errorf("got %+v", cp)
	}
	if cp := p.containerPolicy(ContainerInfo{Image: "web:2"}); cp == nil || cp.Name != "second" {
		t.Errorf("got %+v", cp)
	}
	if cp := p.containerPolicy(ContainerInfo{Image: "db:1"}); cp != nil {
		t.Errorf("got %+v", cp)
	}
}

// FuzzParsePolicy checks that the parser never panics and that an accepted
// policy is fully defaulted. Seeds live in testdata/fuzz/FuzzParsePolicy.
func FuzzParsePolicy(f *testing.F) {
	f.Add("version: 1\nactions: [{rule: r, action: kill}]\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(strings.NewReader(s))
		if err != nil {
			return
		}
		if p.Version != 1 || p.DefaultMode == "" || p.StopTimeout == 0 || p.CollapseThreshold <= 0 {
			t.Fatalf("accepted policy not defaulted: %+v", p)
		}
		for _, a := range p.Actions {
			if a.Action == "" || (a.Action == ActionDeny) != (len(a.Exec)+len(a.Open) > 0) {
				t.Fatalf("accepted inconsistent action %+v", a)
			}
		}
		for _, c := range p.Containers {
			if c.Name == "" || c.Mode == "" || c.Match.empty() {
				t.Fatalf("accepted incomplete container entry %+v", c)
			}
			_ = c.Match.Matches(ContainerInfo{Image: "x", Name: "y", Labels: map[string]string{"a": "b"}})
		}
	})
}
