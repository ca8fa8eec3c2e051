// Package php catalogs PHP Composer packages from composer.lock files and
// from Composer's record of what it installed (vendor/composer/installed.json).
//
// It imports only the standard library, internal/sbom, internal/catalog and
// packageurl-go.
package php

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// LockCataloger reads composer.lock.
type LockCataloger struct{}

// NewLock returns the composer.lock cataloger.
func NewLock() *LockCataloger { return &LockCataloger{} }

// Name implements catalog.Cataloger.
func (*LockCataloger) Name() string { return "php-composer-lock-cataloger" }

// Version implements catalog.Cataloger.
func (*LockCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*LockCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && baseIs(path, "composer.lock")
}

// Parse implements catalog.Cataloger.
func (c *LockCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseComposerLock(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}

// InstalledCataloger reads vendor/composer/installed.json.
type InstalledCataloger struct{}

// NewInstalled returns the installed.json cataloger.
func NewInstalled() *InstalledCataloger { return &InstalledCataloger{} }

// Name implements catalog.Cataloger.
func (*InstalledCataloger) Name() string { return "php-composer-installed-cataloger" }

// Version implements catalog.Cataloger.
func (*InstalledCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger. Only Composer's own file counts: a
// bare installed.json elsewhere is usually something else.
func (*InstalledCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && strings.HasSuffix(path, "/composer/installed.json")
}

// Parse implements catalog.Cataloger.
func (c *InstalledCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseInstalledJSON(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}

// baseIs reports whether the last element of the "/"-separated path is
// name, without allocating.
func baseIs(path, name string) bool {
	if !strings.HasSuffix(path, name) {
		return false
	}
	rest := path[:len(path)-len(name)]
	return rest == "" || strings.HasSuffix(rest, "/")
}
