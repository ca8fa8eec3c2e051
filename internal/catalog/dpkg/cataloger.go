// Package dpkg catalogs Debian and Ubuntu packages: the dpkg status database
// (var/lib/dpkg/status), distroless per-package status files
// (var/lib/dpkg/status.d/), the file lists dpkg keeps per package
// (var/lib/dpkg/info/*.list, status.d/*.md5sums) and licenses from
// /usr/share/doc/*/copyright.
//
// It imports only the standard library, packageurl-go, internal/sbom and
// internal/catalog.
package dpkg

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

const (
	statusFile = "/var/lib/dpkg/status"
	statusDir  = "/var/lib/dpkg/status.d/"
	infoDir    = "/var/lib/dpkg/info/"
	docDir     = "/usr/share/doc/"
)

// Cataloger reads dpkg databases.
type Cataloger struct{}

// New returns the dpkg cataloger.
func New() *Cataloger { return &Cataloger{} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return "dpkg-db-cataloger" }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*Cataloger) Wants(p string, _ fs.FileMode) bool {
	switch {
	case p == statusFile:
		return true
	case strings.HasPrefix(p, statusDir):
		return !strings.Contains(p[len(statusDir):], "/")
	case strings.HasPrefix(p, infoDir):
		return strings.HasSuffix(p, ".list") && !strings.Contains(p[len(infoDir):], "/")
	case strings.HasPrefix(p, docDir):
		return strings.HasSuffix(p, "/copyright") && strings.Count(p[len(docDir):], "/") == 1
	}
	return false
}

// Parse implements catalog.Cataloger.
func (*Cataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	p := in.Path()
	switch {
	case p == statusFile:
		pkgs, err := ParseStatus(in)
		return catalog.Result{Packages: pkgs}, err
	case strings.HasPrefix(p, statusDir):
		name := p[len(statusDir):]
		if base, ok := strings.CutSuffix(name, ".md5sums"); ok {
			files, err := parseMD5Sums(in)
			return catalog.Result{Facts: []catalog.Fact{{Key: base, Files: files}}}, err
		}
		pkgs, err := ParseStatus(in)
		return catalog.Result{Packages: pkgs}, err
	case strings.HasPrefix(p, infoDir):
		files, err := parseList(in)
		key := strings.TrimSuffix(p[len(infoDir):], ".list")
		return catalog.Result{Facts: []catalog.Fact{{Key: key, Files: files}}}, err
	default:
		lic, err := parseCopyright(in)
		key := path.Base(path.Dir(p))
		if len(lic) == 0 {
			return catalog.Result{}, err
		}
		return catalog.Result{Facts: []catalog.Fact{{Key: key, Licenses: lic}}}, err
	}
}

// Assemble joins each package with its file list and licenses.
func (*Cataloger) Assemble(parts []catalog.Part) []sbom.Package {
	files := map[string][]string{}
	lics := map[string][]string{}
	var pkgs []sbom.Package
	for _, pt := range parts {
		pkgs = append(pkgs, pt.Packages...)
		for _, f := range pt.Facts {
			if len(f.Files) > 0 {
				files[f.Key] = append(files[f.Key], f.Files...)
			}
			if len(f.Licenses) > 0 {
				lics[f.Key] = f.Licenses
			}
		}
	}
	for i := range pkgs {
		p := &pkgs[i]
		// dpkg names a multi-arch package's list "name:arch.list".
		if fs, ok := files[p.Name+":"+p.Arch]; ok {
			p.Files = fs
		} else {
			p.Files = files[p.Name]
		}
		if len(p.Licenses) == 0 {
			p.Licenses = lics[p.Name]
		}
	}
	return pkgs
}
