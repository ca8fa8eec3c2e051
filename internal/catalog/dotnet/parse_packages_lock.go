package dotnet

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type packagesLock struct {
	Version int `json:"version"`
	// Target framework (net8.0, net9.0-windows10.0.19041, ...) → package id
	// → entry.
	Dependencies map[string]map[string]lockEntry `json:"dependencies"`
}

type lockEntry struct {
	Type        string `json:"type"` // Direct, Transitive, CentralTransitive, Project
	Resolved    string `json:"resolved"`
	ContentHash string `json:"contentHash"`
}

// parsePackagesLock reads packages.lock.json. The same package usually
// appears once per target framework; it is reported once per name and
// version (names compared case-insensitively, as NuGet does). A "Project"
// entry is another project of the same solution: it has no resolved
// version, and is reported with an empty one (Syft writes "UNKNOWN").
func parsePackagesLock(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var doc packagesLock
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode packages.lock.json: %w", err)
	}
	frameworks := make([]string, 0, len(doc.Dependencies))
	for fw := range doc.Dependencies {
		frameworks = append(frameworks, fw)
	}
	slices.Sort(frameworks)
	type key struct{ name, version string }
	seen := map[key]bool{}
	var pkgs []sbom.Package
	for _, fw := range frameworks {
		deps := doc.Dependencies[fw]
		names := make([]string, 0, len(deps))
		for n := range deps {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			e := deps[name]
			if strings.TrimSpace(name) == "" {
				continue
			}
			k := key{strings.ToLower(name), e.Resolved}
			if seen[k] {
				continue
			}
			seen[k] = true
			meta := map[string]string{}
			if e.Type != "" {
				meta["type"] = e.Type
			}
			if e.ContentHash != "" {
				meta["contentHash"] = e.ContentHash
			}
			pkgs = append(pkgs, newPackage(name, e.Resolved, foundBy, meta))
		}
	}
	return pkgs, nil
}
