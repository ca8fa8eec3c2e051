package python

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type pipfileLock struct {
	Default map[string]pipfileEntry `json:"default"`
	Develop map[string]pipfileEntry `json:"develop"`
}

type pipfileEntry struct {
	Version  string `json:"version"`
	Markers  string `json:"markers"`
	Git      string `json:"git"`
	Ref      string `json:"ref"`
	Path     string `json:"path"`
	Editable bool   `json:"editable"`
}

// parsePipfileLock reads Pipfile.lock: "default" packages, and "develop"
// ones with Scope dev. A VCS package without a version is reported
// without one (its commit is in Metadata["vcs"]); local path packages are
// the project's own and are left out.
func parsePipfileLock(r io.Reader) ([]sbom.Package, error) {
	var lock pipfileLock
	if err := json.NewDecoder(r).Decode(&lock); err != nil {
		return nil, fmt.Errorf("parse Pipfile.lock: %w", err)
	}
	var pkgs []sbom.Package
	seen := map[string]bool{}
	for _, section := range []struct {
		m     map[string]pipfileEntry
		scope string
	}{{lock.Default, ""}, {lock.Develop, "dev"}} {
		names := make([]string, 0, len(section.m))
		for n := range section.m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			e := section.m[name]
			version := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(e.Version), "=="), "=")
			if !validName(name) || seen[name+"@"+version] {
				continue
			}
			meta := map[string]string{}
			switch {
			case version != "":
				if !validVersion(version) || strings.ContainsAny(version, ",*<>!~") {
					continue
				}
			case e.Git != "":
				vcs := "git+" + strings.TrimPrefix(e.Git, "git+")
				if e.Ref != "" {
					vcs += "@" + e.Ref
				}
				meta["vcs"] = vcs
			default:
				continue // local path or editable: the project itself
			}
			seen[name+"@"+version] = true
			p := newPackage(name, version)
			p.Scope = section.scope
			if e.Markers != "" {
				meta["markers"] = e.Markers
			}
			if len(meta) > 0 {
				p.Metadata = meta
			}
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}
