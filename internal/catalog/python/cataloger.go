// Package python catalogs Python packages: those installed in a
// site-packages or dist-packages directory (*.dist-info/METADATA with its
// RECORD file list, *.egg-info/PKG-INFO or a bare *.egg-info file with
// installed-files.txt), and those pinned by requirements files (exact "=="
// pins only), poetry.lock, Pipfile.lock and uv.lock.
//
// Lock catalogers report what a project depends on, not the project itself:
// a uv.lock's editable or virtual workspace members and a Pipfile.lock's
// editable local path are left out.
//
// It imports only the standard library, internal/sbom, internal/catalog,
// packageurl-go and BurntSushi/toml.
package python

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/package-url/packageurl-go"
)

const (
	installedName = "python-package-cataloger"
	lockName      = "python-lock-cataloger"
	language      = "python"
)

// InstalledCataloger reads installed packages' metadata.
type InstalledCataloger struct{}

// NewInstalled returns the installed-package cataloger.
func NewInstalled() *InstalledCataloger { return &InstalledCataloger{} }

// Name implements catalog.Cataloger.
func (*InstalledCataloger) Name() string { return installedName }

// Version implements catalog.Cataloger.
func (*InstalledCataloger) Version() int { return 1 }

// Wants *.dist-info/METADATA, *.dist-info/RECORD, *.egg-info/PKG-INFO,
// *.egg-info/installed-files.txt and bare *.egg-info files.
func (*InstalledCataloger) Wants(p string, mode fs.FileMode) bool {
	if !mode.IsRegular() {
		return false
	}
	return strings.HasSuffix(p, ".dist-info/METADATA") ||
		strings.HasSuffix(p, ".dist-info/RECORD") ||
		strings.HasSuffix(p, ".egg-info/PKG-INFO") ||
		strings.HasSuffix(p, ".egg-info/installed-files.txt") ||
		strings.HasSuffix(p, ".egg-info")
}

// Parse implements catalog.Cataloger.
func (c *InstalledCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	p := in.Path()
	switch {
	case strings.HasSuffix(p, "/RECORD"):
		dir := dirOf(p)
		files, err := parseRecord(in, dirOf(dir))
		if err != nil {
			return catalog.Result{}, err
		}
		return catalog.Result{Facts: []catalog.Fact{{Key: dir, Files: files}}}, nil
	case strings.HasSuffix(p, "/installed-files.txt"):
		dir := dirOf(p)
		files, err := parseInstalledFiles(in, dir)
		if err != nil {
			return catalog.Result{}, err
		}
		return catalog.Result{Facts: []catalog.Fact{{Key: dir, Files: files}}}, nil
	}
	pkg, ok, err := parseMetadata(in)
	if err != nil || !ok {
		return catalog.Result{}, err
	}
	pkg.FoundBy = installedName
	pkg.Metadata = map[string]string{"sitePackages": dirOf(metadataKey(p))}
	return catalog.Result{Packages: []sbom.Package{pkg}}, nil
}

// metadataKey is the dist-info or egg-info path a METADATA, PKG-INFO or
// bare egg-info file describes; RECORD and installed-files.txt facts are
// keyed by it.
func metadataKey(p string) string {
	if strings.HasSuffix(p, ".egg-info") {
		return p
	}
	return dirOf(p)
}

// Assemble attaches the file lists read from RECORD and
// installed-files.txt to the package of the same dist-info or egg-info
// directory.
func (c *InstalledCataloger) Assemble(parts []catalog.Part) []sbom.Package {
	files := map[string][]string{}
	for _, part := range parts {
		for _, f := range part.Facts {
			files[f.Key] = append(files[f.Key], f.Files...)
		}
	}
	var out []sbom.Package
	for _, part := range parts {
		for _, pkg := range part.Packages {
			if fl := files[metadataKey(part.Path)]; len(fl) > 0 {
				pkg.Files = slices.Clone(fl)
			}
			out = append(out, pkg)
		}
	}
	return out
}

// LockCataloger reads requirements files and poetry, Pipfile and uv locks.
type LockCataloger struct{}

// NewLock returns the lockfile cataloger.
func NewLock() *LockCataloger { return &LockCataloger{} }

// Name implements catalog.Cataloger.
func (*LockCataloger) Name() string { return lockName }

// Version implements catalog.Cataloger.
func (*LockCataloger) Version() int { return 1 }

// Wants poetry.lock, Pipfile.lock, uv.lock and *requirements*.txt outside
// installed packages (site-packages and dist-packages hold files shipped
// by packages, not the image's own requirements).
func (*LockCataloger) Wants(p string, mode fs.FileMode) bool {
	if !mode.IsRegular() {
		return false
	}
	b := base(p)
	switch {
	case b == "poetry.lock" || b == "Pipfile.lock" || b == "uv.lock":
	case strings.HasSuffix(b, ".txt") && strings.Contains(b, "requirements"):
	default:
		return false
	}
	return !strings.Contains(p, "/site-packages/") && !strings.Contains(p, "/dist-packages/")
}

// Parse implements catalog.Cataloger.
func (c *LockCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	var (
		pkgs []sbom.Package
		err  error
	)
	switch b := base(in.Path()); b {
	case "poetry.lock":
		pkgs, err = parsePoetryLock(in)
	case "Pipfile.lock":
		pkgs, err = parsePipfileLock(in)
	case "uv.lock":
		pkgs, err = parseUVLock(in)
	default:
		if !strings.HasSuffix(b, ".txt") {
			return catalog.Result{}, fmt.Errorf("%s: not a file this cataloger reads", in.Path())
		}
		pkgs, err = parseRequirements(in)
	}
	if err != nil {
		return catalog.Result{}, err
	}
	for i := range pkgs {
		pkgs[i].FoundBy = lockName
	}
	return catalog.Result{Packages: pkgs}, nil
}

func base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func dirOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// newPackage builds a PyPI package. Name is kept as written; the PURL uses
// the PEP 503 normalised name.
func newPackage(name, version string) sbom.Package {
	return sbom.Package{
		Name:     name,
		Version:  version,
		Type:     sbom.TypePython,
		PURL:     packageurl.NewPackageURL(packageurl.TypePyPi, "", normalize(name), version, nil, "").ToString(),
		Language: language,
	}
}

// normalize applies PEP 503: lower case, runs of "-", "_" and "." become
// one "-".
func normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}

// validName checks a PEP 508 distribution name: ASCII letters, digits and
// "-_.", starting and ending with a letter or digit.
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && ((c != '-' && c != '_' && c != '.') || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// validVersion rejects empty versions and ones with whitespace or control
// characters.
func validVersion(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}
