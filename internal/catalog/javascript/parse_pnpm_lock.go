package javascript

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"gopkg.in/yaml.v3"
)

type pnpmLock struct {
	LockfileVersion any                     `yaml:"lockfileVersion"`
	Packages        map[string]pnpmPackage  `yaml:"packages"`
	Snapshots       map[string]pnpmSnapshot `yaml:"snapshots"`
	Importers       map[string]pnpmImporter `yaml:"importers"`
}

type pnpmPackage struct {
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	Dev        *bool  `yaml:"dev"`
	Resolution struct {
		Integrity string `yaml:"integrity"`
	} `yaml:"resolution"`
}

type pnpmSnapshot struct {
	Dependencies         map[string]string `yaml:"dependencies"`
	OptionalDependencies map[string]string `yaml:"optionalDependencies"`
}

// pnpmImporter is a project of the workspace (v9: {specifier, version}
// values).
type pnpmImporter struct {
	Dependencies         map[string]pnpmImport `yaml:"dependencies"`
	OptionalDependencies map[string]pnpmImport `yaml:"optionalDependencies"`
	DevDependencies      map[string]pnpmImport `yaml:"devDependencies"`
}

type pnpmImport struct {
	Version string `yaml:"version"`
}

// UnmarshalYAML accepts both the v6+ mapping and the v5 plain version.
func (i *pnpmImport) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		i.Version = n.Value
		return nil
	}
	type plain pnpmImport
	return n.Decode((*plain)(i))
}

// parsePnpmLock reads pnpm-lock.yaml. Package keys changed across
// versions: v5 "/name/1.0.0_peer@2", v6 "/name@1.0.0(peer@2)", v9
// "name@1.0.0". v5 and v6 mark dev-only packages with "dev: true"; v9 does
// not, so dev scope is derived from the importers' dependency graph.
func parsePnpmLock(r io.Reader) ([]sbom.Package, error) {
	var lock pnpmLock
	if err := yaml.NewDecoder(r).Decode(&lock); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("pnpm-lock.yaml: %w", err)
	}
	major := pnpmMajor(lock.LockfileVersion)
	var prod, dev map[string]bool
	if lock.Snapshots != nil {
		prod, dev = pnpmReach(&lock)
	}
	keys := make([]string, 0, len(lock.Packages))
	for k := range lock.Packages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var pkgs []sbom.Package
	seen := map[string]bool{}
	for _, key := range keys {
		e := lock.Packages[key]
		name, version := pnpmKey(key, major)
		if e.Name != "" && e.Version != "" { // git and tarball packages
			name, version = e.Name, e.Version
		}
		if !validName(name) || version == "" || seen[name+"@"+version] {
			continue
		}
		seen[name+"@"+version] = true
		p := newPackage(name, version)
		switch {
		case e.Dev != nil:
			if *e.Dev {
				p.Scope = "dev"
			}
		case dev != nil:
			if dev[key] && !prod[key] {
				p.Scope = "dev"
			}
		}
		if e.Resolution.Integrity != "" {
			p.Metadata = map[string]string{"integrity": e.Resolution.Integrity}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// pnpmMajor reads lockfileVersion, written as 5.4, '6.0' or '9.0'.
func pnpmMajor(v any) int {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int:
		return v
	case float64:
		return int(v)
	default:
		return 0
	}
	s, _, _ = strings.Cut(s, ".")
	n, _ := strconv.Atoi(s)
	return n
}

// pnpmKey splits a packages key into name and version.
func pnpmKey(key string, major int) (name, version string) {
	key = strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(key, '('); i >= 0 { // peer suffix, v6+
		key = key[:i]
	}
	if major > 0 && major < 6 {
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			return "", ""
		}
		name, version = key[:i], key[i+1:]
		if j := strings.IndexByte(version, '_'); j >= 0 { // peer suffix, v5
			version = version[:j]
		}
		// Only registry keys have the /name/version shape; others
		// (github.com/owner/repo/sha) carry name and version fields.
		if strings.Count(name, "/") > 1 || (strings.Contains(name, "/") && name[0] != '@') {
			return "", ""
		}
		return name, version
	}
	name, version, ok := splitSpec(key)
	if !ok || strings.ContainsAny(version, ":/") { // file:, link:, URLs
		return "", ""
	}
	return name, version
}

// pnpmReach walks the v9 snapshot graph from the importers and returns the
// package keys reachable from production and from dev dependencies.
func pnpmReach(lock *pnpmLock) (prod, dev map[string]bool) {
	prod, dev = map[string]bool{}, map[string]bool{}
	// Iterative, to bound stack use on hostile graphs.
	walk := func(seen map[string]bool, name, ref string) {
		stack := [][2]string{{name, ref}}
		for len(stack) > 0 {
			n, r := stack[len(stack)-1][0], stack[len(stack)-1][1]
			stack = stack[:len(stack)-1]
			if strings.HasPrefix(r, "link:") || strings.HasPrefix(r, "file:") {
				continue
			}
			snap := n + "@" + r
			base := r
			if i := strings.IndexByte(base, '('); i >= 0 {
				base = base[:i]
			}
			if strings.Contains(base, "@") {
				// An alias refers to the real package: "bar@1.0.0".
				snap = r
			}
			if seen[snap] {
				continue
			}
			seen[snap] = true
			s := lock.Snapshots[snap]
			for dn, dr := range s.Dependencies {
				stack = append(stack, [2]string{dn, dr})
			}
			for dn, dr := range s.OptionalDependencies {
				stack = append(stack, [2]string{dn, dr})
			}
		}
	}
	for _, imp := range lock.Importers {
		for n, d := range imp.Dependencies {
			walk(prod, n, d.Version)
		}
		for n, d := range imp.OptionalDependencies {
			walk(prod, n, d.Version)
		}
		for n, d := range imp.DevDependencies {
			walk(dev, n, d.Version)
		}
	}
	// Reachability is over snapshot keys (with peer suffixes); packages
	// keys lack them.
	strip := func(m map[string]bool) map[string]bool {
		out := make(map[string]bool, len(m))
		for k := range m {
			if i := strings.IndexByte(k, '('); i >= 0 {
				k = k[:i]
			}
			out[k] = true
		}
		return out
	}
	return strip(prod), strip(dev)
}
