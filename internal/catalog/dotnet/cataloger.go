// Package dotnet catalogs .NET (NuGet) packages from a built application's
// *.deps.json and from NuGet's packages.lock.json.
//
// It imports only the standard library, internal/sbom, internal/catalog and
// packageurl-go.
package dotnet

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// DepsCataloger reads *.deps.json, written by the .NET SDK beside a built
// application or library.
type DepsCataloger struct{}

// NewDeps returns the *.deps.json cataloger.
func NewDeps() *DepsCataloger { return &DepsCataloger{} }

// Name implements catalog.Cataloger.
func (*DepsCataloger) Name() string { return "dotnet-deps-cataloger" }

// Version implements catalog.Cataloger.
func (*DepsCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*DepsCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && strings.HasSuffix(path, ".deps.json") && !strings.HasSuffix(path, "/.deps.json")
}

// Parse implements catalog.Cataloger.
func (c *DepsCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseDepsJSON(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}

// PackagesLockCataloger reads NuGet's packages.lock.json.
type PackagesLockCataloger struct{}

// NewPackagesLock returns the packages.lock.json cataloger.
func NewPackagesLock() *PackagesLockCataloger { return &PackagesLockCataloger{} }

// Name implements catalog.Cataloger.
func (*PackagesLockCataloger) Name() string { return "dotnet-packages-lock-cataloger" }

// Version implements catalog.Cataloger.
func (*PackagesLockCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*PackagesLockCataloger) Wants(path string, mode fs.FileMode) bool {
	const name = "packages.lock.json"
	return mode.IsRegular() && strings.HasSuffix(path, name) &&
		(len(path) == len(name) || path[len(path)-len(name)-1] == '/')
}

// Parse implements catalog.Cataloger.
func (c *PackagesLockCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parsePackagesLock(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
