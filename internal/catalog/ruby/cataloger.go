// Package ruby catalogs Ruby gems from Bundler's Gemfile.lock and from the
// gemspec files RubyGems writes under specifications/ when it installs a
// gem.
//
// It imports only the standard library, internal/sbom, internal/catalog and
// github.com/package-url/packageurl-go.
package ruby

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// GemfileLockCataloger reads Gemfile.lock files.
type GemfileLockCataloger struct{}

// NewGemfileLock returns the Gemfile.lock cataloger.
func NewGemfileLock() *GemfileLockCataloger { return &GemfileLockCataloger{} }

// Name implements catalog.Cataloger.
func (*GemfileLockCataloger) Name() string { return "ruby-gemfile-cataloger" }

// Version implements catalog.Cataloger.
func (*GemfileLockCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: files named Gemfile.lock or
// Gemfile.next.lock (the dual-boot convention Syft also reads).
func (*GemfileLockCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() &&
		(strings.HasSuffix(path, "/Gemfile.lock") || strings.HasSuffix(path, "/Gemfile.next.lock"))
}

// Parse implements catalog.Cataloger.
func (c *GemfileLockCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseGemfileLock(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}

// GemspecCataloger reads the gemspecs of installed gems.
type GemspecCataloger struct{}

// NewGemspec returns the installed-gemspec cataloger.
func NewGemspec() *GemspecCataloger { return &GemspecCataloger{} }

// Name implements catalog.Cataloger.
func (*GemspecCataloger) Name() string { return "ruby-installed-gemspec-cataloger" }

// Version implements catalog.Cataloger.
func (*GemspecCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: **/specifications/**/*.gemspec, the
// files RubyGems writes for installed gems (default gems live in
// specifications/default/).
func (*GemspecCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && strings.HasSuffix(path, ".gemspec") &&
		strings.Contains(path, "/specifications/")
}

// Parse implements catalog.Cataloger.
func (c *GemspecCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseGemspec(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
