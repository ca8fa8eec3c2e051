package prevent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxPolicySize bounds a policy file.
const MaxPolicySize = 4 << 20

// Action is what the responder does when a rule fires.
type Action string

// Actions.
const (
	ActionAlert Action = "alert" // log and return the alert (default)
	ActionKill  Action = "kill"  // SIGKILL the process (proc.pid)
	ActionPause Action = "pause" // pause the container (Engine API)
	ActionStop  Action = "stop"  // stop the container (Engine API)
	ActionDeny  Action = "deny"  // in-kernel fanotify block of exec/open path sets
)

// Mode is a container's maturity level.
type Mode string

// Modes.
const (
	ModeLearn   Mode = "learn"   // record the baseline, enforce nothing
	ModeMonitor Mode = "monitor" // alert outside the baseline, enforce nothing
	ModeProtect Mode = "protect" // alert and enforce (actions, deny, baseline exec)
)

// Policy is a parsed, validated policy file.
type Policy struct {
	Version int `yaml:"version"`
	// Profiles is the directory of baseline profiles (JSON).
	Profiles string `yaml:"profiles"`
	// DefaultMode applies to containers no Containers entry selects and to
	// host processes. Default protect: rule actions are carried out.
	DefaultMode Mode `yaml:"default_mode"`
	// StopTimeout is the grace period of the stop action. Default 10s.
	StopTimeout Duration `yaml:"stop_timeout"`
	// DecisionTimeout bounds one in-kernel permission decision; when it
	// passes the exec/open is allowed. Default 250ms.
	DecisionTimeout Duration `yaml:"decision_timeout"`
	// CollapseThreshold: when a directory holds more learned file paths
	// than this, they become one directory entry. Default 16.
	CollapseThreshold int `yaml:"collapse_threshold"`
	// Actions are evaluated for every alert; every matching entry applies.
	Actions []ActionRule `yaml:"actions"`
	// Containers select per-container modes; the first match wins.
	Containers []ContainerPolicy `yaml:"containers"`
}

// ActionRule maps rules (by name or tag) to an action.
type ActionRule struct {
	// Rule is a rule name or a glob over rule names ("Terminal shell*").
	Rule string `yaml:"rule"`
	// Tag matches rules carrying this tag.
	Tag    string `yaml:"tag"`
	Action Action `yaml:"action"`
	// Match limits the entry to some containers (all when empty).
	Match *Selector `yaml:"match"`
	// Exec and Open are the path sets a deny action blocks in the kernel:
	// exact paths, or directories ending in "/" for everything below.
	Exec []string `yaml:"exec"`
	Open []string `yaml:"open"`
}

// ContainerPolicy gives the containers a selector matches a mode and a
// baseline profile.
type ContainerPolicy struct {
	// Name names the selector; it is part of the profile key.
	Name  string   `yaml:"name"`
	Match Selector `yaml:"match"`
	Mode  Mode     `yaml:"mode"`
	// LearnFor, with Then, ends learning automatically: once the profile
	// is older than LearnFor, the container runs in mode Then.
	LearnFor Duration `yaml:"learn_for"`
	Then     Mode     `yaml:"then"`
}

// Selector matches containers. Every non-empty part must match.
type Selector struct {
	// Image is a glob over the image reference as the container was
	// created ("nginx:1.27", "registry/app*").
	Image string `yaml:"image"`
	// Name is a glob over the container name (without the leading "/").
	Name string `yaml:"name"`
	// Labels must all be present with these values ("*" for any value).
	Labels map[string]string `yaml:"labels"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go duration syntax.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: %w", n.Line, s, err)
	}
	if v < 0 {
		return fmt.Errorf("line %d: negative duration %q", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// LoadPolicy reads and validates a policy file.
func LoadPolicy(p string) (*Policy, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	pol, err := ParsePolicy(f)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p, err)
	}
	return pol, nil
}

// ParsePolicy reads and validates a policy. Unknown keys are errors, so a
// misspelt "acton" does not silently become "alert".
func ParsePolicy(r io.Reader) (*Policy, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPolicySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPolicySize {
		return nil, fmt.Errorf("larger than %d bytes", MaxPolicySize)
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty policy")
		}
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Policy) validate() error {
	if p.Version == 0 {
		p.Version = 1
	}
	if p.Version != 1 {
		return fmt.Errorf("version %d not supported (want 1)", p.Version)
	}
	if p.DefaultMode == "" {
		p.DefaultMode = ModeProtect
	}
	if err := checkMode(p.DefaultMode, "default_mode"); err != nil {
		return err
	}
	if p.DefaultMode == ModeLearn {
		return errors.New("default_mode learn: learning needs a containers entry (its name keys the profile)")
	}
	if p.StopTimeout == 0 {
		p.StopTimeout = Duration(10 * time.Second)
	}
	if p.DecisionTimeout == 0 {
		p.DecisionTimeout = Duration(250 * time.Millisecond)
	}
	if p.CollapseThreshold == 0 {
		p.CollapseThreshold = 16
	}
	if p.CollapseThreshold < 0 {
		return fmt.Errorf("collapse_threshold %d: must be positive", p.CollapseThreshold)
	}
	for i := range p.Actions {
		a := &p.Actions[i]
		where := fmt.Sprintf("actions[%d]", i)
		if (a.Rule == "") == (a.Tag == "") {
			return fmt.Errorf("%s: give exactly one of rule or tag", where)
		}
		if a.Action == "" {
			a.Action = ActionAlert
		}
		switch a.Action {
		case ActionAlert, ActionKill, ActionPause, ActionStop:
			if len(a.Exec)+len(a.Open) > 0 {
				return fmt.Errorf("%s: exec/open path sets only apply to action deny", where)
			}
		case ActionDeny:
			if len(a.Exec)+len(a.Open) == 0 {
				return fmt.Errorf("%s: action deny needs an exec or open path set (deny cannot be derived from a rule condition)", where)
			}
			for _, s := range append(append([]string(nil), a.Exec...), a.Open...) {
				if !strings.HasPrefix(s, "/") || path.Clean(s) != strings.TrimSuffix(s, "/") && s != "/" {
					return fmt.Errorf("%s: deny path %q must be absolute and clean", where, s)
				}
			}
		default:
			return fmt.Errorf("%s: unknown action %q (want alert, kill, pause, stop or deny)", where, a.Action)
		}
		if a.Match != nil {
			if err := a.Match.validate(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	names := map[string]bool{}
	for i := range p.Containers {
		c := &p.Containers[i]
		where := fmt.Sprintf("containers[%d]", i)
		if c.Name == "" {
			return fmt.Errorf("%s: name is required (it keys the baseline profile)", where)
		}
		if names[c.Name] {
			return fmt.Errorf("%s: duplicate name %q", where, c.Name)
		}
		names[c.Name] = true
		if c.Mode == "" {
			c.Mode = ModeLearn
		}
		if err := checkMode(c.Mode, where+".mode"); err != nil {
			return err
		}
		if (c.LearnFor == 0) != (c.Then == "") {
			return fmt.Errorf("%s: learn_for and then go together", where)
		}
		if c.Then != "" {
			if c.Mode != ModeLearn {
				return fmt.Errorf("%s: learn_for/then only apply to mode learn", where)
			}
			if err := checkMode(c.Then, where+".then"); err != nil {
				return err
			}
		}
		if err := c.Match.validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if c.Match.empty() {
			return fmt.Errorf("%s: match is empty (give image, name or labels)", where)
		}
	}
	if len(p.Containers) > 0 && p.Profiles == "" {
		return errors.New("profiles (the baseline directory) is required when containers are listed")
	}
	return nil
}

func checkMode(m Mode, where string) error {
	switch m {
	case ModeLearn, ModeMonitor, ModeProtect:
		return nil
	}
	return fmt.Errorf("%s: unknown mode %q (want learn, monitor or protect)", where, m)
}

func (s *Selector) validate() error {
	for _, g := range []string{s.Image, s.Name} {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("selector pattern %q: %w", g, err)
		}
	}
	return nil
}

func (s *Selector) empty() bool { return s.Image == "" && s.Name == "" && len(s.Labels) == 0 }

// ContainerInfo is what selectors look at.
type ContainerInfo struct {
	ID, Name, Image string
	Labels          map[string]string
}

// Matches reports whether the selector matches the container.
func (s *Selector) Matches(c ContainerInfo) bool {
	if s == nil {
		return true
	}
	if s.Image != "" && !globMatch(s.Image, c.Image) {
		return false
	}
	if s.Name != "" && !globMatch(s.Name, strings.TrimPrefix(c.Name, "/")) {
		return false
	}
	for k, want := range s.Labels {
		got, ok := c.Labels[k]
		if !ok || (want != "*" && got != want) {
			return false
		}
	}
	return true
}

// globMatch is path.Match where "*" may also cross "/" (image references
// contain slashes: "registry/team/app*").
func globMatch(pattern, s string) bool {
	if ok, _ := path.Match(pattern, s); ok {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// containerPolicy returns the entry selecting c, or nil.
func (p *Policy) containerPolicy(c ContainerInfo) *ContainerPolicy {
	for i := range p.Containers {
		if p.Containers[i].Match.Matches(c) {
			return &p.Containers[i]
		}
	}
	return nil
}

// actionsFor returns the entries matching a fired rule in container c.
func (p *Policy) actionsFor(rule string, tags []string, c ContainerInfo, inContainer bool) []*ActionRule {
	var out []*ActionRule
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Rule != "" && !globMatch(a.Rule, rule) && a.Rule != rule {
			continue
		}
		if a.Tag != "" && !hasTag(tags, a.Tag) {
			continue
		}
		if a.Match != nil && (!inContainer || !a.Match.Matches(c)) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}
