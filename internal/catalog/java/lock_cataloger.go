package java

import (
	"context"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// LockCataloger reads the dependency declarations of Java builds: Gradle's
// gradle.lockfile and Maven's pom.xml.
type LockCataloger struct{}

// NewLock returns the Gradle lockfile and pom.xml cataloger.
func NewLock() *LockCataloger { return &LockCataloger{} }

// Name implements catalog.Cataloger.
func (*LockCataloger) Name() string { return "java-lock-cataloger" }

// Version implements catalog.Cataloger.
func (*LockCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: files named gradle.lockfile,
// buildscript-gradle.lockfile or pom.xml.
func (*LockCataloger) Wants(path string, mode fs.FileMode) bool {
	return mode.IsRegular() && (strings.HasSuffix(path, "/pom.xml") || strings.HasSuffix(path, "gradle.lockfile") &&
		(strings.HasSuffix(path, "/gradle.lockfile") || strings.HasSuffix(path, "/buildscript-gradle.lockfile")))
}

// Parse implements catalog.Cataloger.
func (c *LockCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	var (
		pkgs []sbom.Package
		err  error
	)
	if strings.HasSuffix(in.Path(), "/pom.xml") {
		pkgs, err = parsePomXML(in, c.Name())
	} else {
		pkgs, err = parseGradleLockfile(in, c.Name())
	}
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Packages: pkgs}, nil
}
