// Package apk catalogs Alpine (apk-tools) packages from the installed
// database, /lib/apk/db/installed.
//
// It imports only the standard library, internal/sbom, internal/catalog and
// packageurl-go.
package apk

import (
	"context"
	"io/fs"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// dbPath is where apk keeps its installed database.
const dbPath = "/lib/apk/db/installed"

// Cataloger reads the apk installed database.
type Cataloger struct{}

// New returns the apk database cataloger.
func New() *Cataloger { return &Cataloger{} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return "apk-db-cataloger" }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*Cataloger) Wants(path string, mode fs.FileMode) bool {
	return path == dbPath && mode.IsRegular()
}

// Parse implements catalog.Cataloger.
func (c *Cataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseInstalled(ctx, in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
