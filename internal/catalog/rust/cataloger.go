// Package rust catalogs Rust crates from Cargo.lock files and from the
// dependency list that cargo-auditable embeds in executables (the ".dep-v0"
// ELF section).
//
// It imports only the standard library, internal/sbom, internal/catalog,
// github.com/package-url/packageurl-go.
package rust

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// LockCataloger reads Cargo.lock files.
type LockCataloger struct{}

// NewLock returns the Cargo.lock cataloger.
func NewLock() *LockCataloger { return &LockCataloger{} }

// Name implements catalog.Cataloger.
func (*LockCataloger) Name() string { return "rust-cargo-lock-cataloger" }

// Version implements catalog.Cataloger.
func (*LockCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: any regular file named Cargo.lock.
func (*LockCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && strings.HasSuffix(path, "/Cargo.lock")
}

// Parse implements catalog.Cataloger.
func (c *LockCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseCargoLock(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}

// BinaryCataloger reads the dependency list cargo-auditable embeds in ELF
// executables.
type BinaryCataloger struct{}

// NewBinary returns the cargo-auditable binary cataloger.
func NewBinary() *BinaryCataloger { return &BinaryCataloger{} }

// Name implements catalog.Cataloger.
func (*BinaryCataloger) Name() string { return "rust-binary-cataloger" }

// Version implements catalog.Cataloger.
func (*BinaryCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: regular files with any execute bit.
// Whether the file is an ELF with a ".dep-v0" section is decided in Parse
// from the first bytes, which is cheap.
func (*BinaryCataloger) Wants(_ string, mode fs.FileMode) bool {
	return mode.IsRegular() && mode.Perm()&0o111 != 0
}

// Parse implements catalog.Cataloger.
func (c *BinaryCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseAuditBinary(in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
