package compliance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Check is one control: metadata plus a CEL expression evaluated once per
// resource the check applies to.
//
// The expression sees the variables described in docs/compliance.md and
// returns one of:
//   - bool: true passes, false fails with one finding at the resource;
//   - a list of violations, each a string (a message) or a map with "path"
//     (a field path such as "spec.containers[0].image") and "message";
//     an empty list passes;
//   - null: the check does not apply to this resource (not-applicable).
//
// An empty Expr makes the check manual: it is reported, never evaluated.
type Check struct {
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Severity is critical, high, medium or low.
	Severity string `yaml:"severity" json:"severity"`
	// Benchmark names the control, e.g. "PSS-baseline: HostProcess",
	// "CIS-Docker 4.6".
	Benchmark   string `yaml:"benchmark" json:"benchmark"`
	Rationale   string `yaml:"rationale" json:"rationale,omitempty"`
	Remediation string `yaml:"remediation" json:"remediation,omitempty"`
	// AppliesTo lists resource kinds ("Deployment", "Role") or types
	// ("Workload" for every pod-bearing kind, "Dockerfile", "*" for any
	// Kubernetes object).
	AppliesTo []string `yaml:"appliesTo" json:"appliesTo"`
	Expr      string   `yaml:"expr" json:"expr,omitempty"`
	// Level is what a violation is reported as: fail (default), warn or
	// info. Advisory checks use warn so that they do not fail a gate.
	Level Status `yaml:"level" json:"level,omitempty"`
}

// checkFile is the shape of a checks YAML file.
type checkFile struct {
	Checks []Check `yaml:"checks"`
}

var severities = []string{"critical", "high", "medium", "low"}

func (c *Check) validate() error {
	if c.ID == "" {
		return errors.New("check without id")
	}
	if !slices.Contains(severities, c.Severity) {
		return fmt.Errorf("check %s: severity %q is not one of %s", c.ID, c.Severity, strings.Join(severities, ", "))
	}
	if len(c.AppliesTo) == 0 {
		return fmt.Errorf("check %s: appliesTo is empty", c.ID)
	}
	switch c.Level {
	case "":
		c.Level = StatusFail
	case StatusFail, StatusWarn, StatusInfo:
	default:
		return fmt.Errorf("check %s: level %q is not fail, warn or info", c.ID, c.Level)
	}
	return nil
}

// ParseChecks reads the checks in one YAML document of the form
// `checks: [...]`; name is used in error messages.
func ParseChecks(name string, data []byte) ([]Check, error) {
	var f checkFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i := range f.Checks {
		if err := f.Checks[i].validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return f.Checks, nil
}

// LoadFS reads every *.yaml and *.yml file directly under dir in fsys, in
// name order. Duplicate ids are an error.
func LoadFS(fsys fs.FS, dir string) ([]Check, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Check
	seen := map[string]string{}
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		cs, err := ParseChecks(p, data)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if prev, dup := seen[c.ID]; dup {
				return nil, fmt.Errorf("%s: check %s already defined in %s", p, c.ID, prev)
			}
			seen[c.ID] = p
		}
		out = append(out, cs...)
	}
	return out, nil
}

// LoadDir reads user checks from a directory on disk (see LoadFS).
func LoadDir(dir string) ([]Check, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// Config adjusts the set of checks by id. It is read from YAML:
//
//	disable: [K8S-HRD-002]
//	severity: {DF-002: medium}
type Config struct {
	Disable  []string          `yaml:"disable" json:"disable,omitempty"`
	Severity map[string]string `yaml:"severity" json:"severity,omitempty"`
}

// LoadConfig reads a Config file.
func LoadConfig(file string) (Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data)
}

// ParseConfig decodes a Config; unknown fields are an error so that a typo
// does not silently leave a check enabled.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("compliance config: %w", err)
	}
	for id, s := range c.Severity {
		if !slices.Contains(severities, s) {
			return Config{}, fmt.Errorf("compliance config: severity for %s: %q is not one of %s", id, s, strings.Join(severities, ", "))
		}
	}
	return c, nil
}

// apply removes disabled checks and re-rates the rest. Ids the config names
// that no check has are an error: they are almost always typos.
func (cfg Config) apply(checks []Check, others []string) ([]Check, error) {
	known := map[string]bool{}
	for _, id := range others {
		known[id] = true
	}
	for _, c := range checks {
		known[c.ID] = true
	}
	for _, id := range cfg.Disable {
		if !known[id] {
			return nil, fmt.Errorf("compliance config: disable: no check %s", id)
		}
	}
	for id := range cfg.Severity {
		if !known[id] {
			return nil, fmt.Errorf("compliance config: severity: no check %s", id)
		}
	}
	out := make([]Check, 0, len(checks))
	for _, c := range checks {
		if slices.Contains(cfg.Disable, c.ID) {
			continue
		}
		if s, ok := cfg.Severity[c.ID]; ok {
			c.Severity = s
		}
		out = append(out, c)
	}
	return out, nil
}
