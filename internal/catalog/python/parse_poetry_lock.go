package python

import (
	"fmt"
	"io"
	"slices"

	"github.com/BurntSushi/toml"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type poetryLock struct {
	Package []struct {
		Name     string   `toml:"name"`
		Version  string   `toml:"version"`
		Category string   `toml:"category"`
		Groups   []string `toml:"groups"`
		Source   struct {
			Type      string `toml:"type"`
			URL       string `toml:"url"`
			Reference string `toml:"resolved_reference"`
		} `toml:"source"`
	} `toml:"package"`
}

// parsePoetryLock reads poetry.lock. Dev scope comes from category = "dev"
// (lock format 1.x) or from groups that do not include "main" (2.x with
// groups recorded).
func parsePoetryLock(r io.Reader) ([]sbom.Package, error) {
	var lock poetryLock
	if _, err := toml.NewDecoder(r).Decode(&lock); err != nil {
		return nil, fmt.Errorf("poetry.lock: %w", err)
	}
	var pkgs []sbom.Package
	for _, e := range lock.Package {
		if !validName(e.Name) || !validVersion(e.Version) {
			continue
		}
		p := newPackage(e.Name, e.Version)
		if e.Category == "dev" || (len(e.Groups) > 0 && !slices.Contains(e.Groups, "main")) {
			p.Scope = "dev"
		}
		switch e.Source.Type {
		case "", "legacy": // a package index
		default:
			src := e.Source.Type + "+" + e.Source.URL
			if e.Source.Reference != "" {
				src += "@" + e.Source.Reference
			}
			p.Metadata = map[string]string{"source": src}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}
