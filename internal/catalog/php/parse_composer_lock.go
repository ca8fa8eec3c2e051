package php

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type composerLock struct {
	Packages    []composerPackage `json:"packages"`
	PackagesDev []composerPackage `json:"packages-dev"`
}

// parseComposerLock reads a composer.lock. Unlike Syft, which drops
// "packages-dev", Bulkhead reports those entries too, with Scope "dev": they
// are installed by a plain `composer install` and so end up in images built
// without --no-dev.
func parseComposerLock(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var lock composerLock
	if err := json.NewDecoder(r).Decode(&lock); err != nil {
		return nil, fmt.Errorf("decode composer.lock: %w", err)
	}
	pkgs := make([]sbom.Package, 0, len(lock.Packages)+len(lock.PackagesDev))
	for _, p := range lock.Packages {
		if pkg, ok := p.toPackage(foundBy, ""); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	for _, p := range lock.PackagesDev {
		if pkg, ok := p.toPackage(foundBy, "dev"); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	return pkgs, nil
}
