// Package java catalogs Java archives (.jar, .war, .ear and Jenkins' .jpi
// and .hpi): the Maven coordinates in META-INF/maven/**/pom.properties, the
// archive's own identity from META-INF/MANIFEST.MF and its file name, and
// the same again for every archive nested inside (WEB-INF/lib, BOOT-INF/lib,
// lib/), within fixed depth, size and entry-count limits. A second
// cataloger reads build declarations: Gradle's gradle.lockfile and Maven's
// pom.xml.
//
// It imports only the standard library, internal/sbom, internal/catalog and
// github.com/package-url/packageurl-go.
package java

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// ArchiveCataloger reads Java archives.
type ArchiveCataloger struct {
	lim limits
}

// New returns the Java archive cataloger.
func New() *ArchiveCataloger { return &ArchiveCataloger{lim: defaultLimits} }

// Name implements catalog.Cataloger.
func (*ArchiveCataloger) Name() string { return "java-archive-cataloger" }

// Version implements catalog.Cataloger.
func (*ArchiveCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: regular files ending in .jar, .war,
// .ear, .jpi or .hpi, in any letter case.
func (*ArchiveCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && isJavaArchive(path)
}

// Parse implements catalog.Cataloger.
func (c *ArchiveCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	ra, err := in.ReaderAt()
	if err != nil {
		return catalog.Result{}, fmt.Errorf("open java archive: %w", err)
	}
	st := &walkState{lim: c.lim, foundBy: c.Name()}
	if err := st.archive(ctx, ra, in.Size(), in.Path(), 0); err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: st.pkgs}, nil
}

// isJavaArchive reports whether name ends in one of the archive extensions,
// ignoring case, without allocating.
func isJavaArchive(name string) bool {
	if len(name) < 4 || name[len(name)-4] != '.' {
		return false
	}
	var ext [3]byte
	for i := range 3 {
		c := name[len(name)-3+i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		ext[i] = c
	}
	switch string(ext[:]) {
	case "jar", "war", "ear", "jpi", "hpi":
		return true
	}
	return false
}
