// Package rpm catalogs RPM packages from the installed rpm database in its
// three on-disk formats: Berkeley DB hash ("Packages", RHEL/CentOS ≤ 8,
// older SUSE), rpm's own "ndb" ("Packages.db", SUSE 15) and SQLite
// ("rpmdb.sqlite", Fedora ≥ 33, RHEL 9, CBL-Mariner, Amazon Linux 2023).
//
// The three containers and the rpm header blobs inside them are read by
// this package's own small readers, over the Input's bytes, with every
// offset and length checked. It does not use go-rpmdb: the version the
// module can have (2021) reads only Berkeley DB, needs a file path (so a
// temporary copy of attacker-controlled data), reads on a goroutine whose
// panics no recover() in the caller can catch, leaks that goroutine and the
// file when a header is bad, and loops forever on some malformed overflow
// chains. A recover() around Parse still turns any panic left in this
// package into an error (see parse.go).
//
// It imports only the standard library, internal/sbom, internal/catalog and
// packageurl-go.
package rpm

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// Cataloger reads the rpm database.
type Cataloger struct{}

// New returns the rpm database cataloger.
func New() *Cataloger { return &Cataloger{} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return "rpm-db-cataloger" }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: the database files under
// /var/lib/rpm (the classic location) and /usr/lib/sysimage/rpm (Fedora,
// openSUSE and SLE since rpm 4.16 moved it there).
func (*Cataloger) Wants(path string, mode fs.FileMode) bool {
	if !mode.IsRegular() {
		return false
	}
	var base string
	switch {
	case strings.HasPrefix(path, "/var/lib/rpm/"):
		base = path[len("/var/lib/rpm/"):]
	case strings.HasPrefix(path, "/usr/lib/sysimage/rpm/"):
		base = path[len("/usr/lib/sysimage/rpm/"):]
	default:
		return false
	}
	return base == "Packages" || base == "Packages.db" || base == "rpmdb.sqlite"
}

// Parse implements catalog.Cataloger.
func (c *Cataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	pkgs, err := parseDB(ctx, in, c.Name())
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
