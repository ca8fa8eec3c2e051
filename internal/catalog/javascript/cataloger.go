// Package javascript catalogs npm packages: the dependencies pinned by
// package-lock.json (lockfileVersion 1, 2 and 3), yarn.lock (classic v1 and
// berry) and pnpm-lock.yaml (v5, v6 and v9) files, and the packages installed
// under node_modules (their package.json manifests).
//
// Lockfile catalogers report what a project depends on, not the project
// itself: the root entry of a lockfile and local workspace packages are left
// out, since their names are whatever the author chose and would match
// unrelated packages' advisories.
//
// It imports only the standard library, internal/sbom, internal/catalog,
// packageurl-go and yaml.v3.
package javascript

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/package-url/packageurl-go"
)

const (
	lockName    = "javascript-lock-cataloger"
	packageName = "javascript-package-cataloger"
	language    = "javascript"
)

// LockCataloger reads npm, yarn and pnpm lockfiles.
type LockCataloger struct{}

// NewLock returns the lockfile cataloger.
func NewLock() *LockCataloger { return &LockCataloger{} }

// Name implements catalog.Cataloger.
func (*LockCataloger) Name() string { return lockName }

// Version implements catalog.Cataloger.
func (*LockCataloger) Version() int { return 1 }

// Wants package-lock.json, yarn.lock and pnpm-lock.yaml files outside
// node_modules (lockfiles shipped inside installed packages describe their
// authors' development trees, not what is installed).
func (*LockCataloger) Wants(p string, mode fs.FileMode) bool {
	if !mode.IsRegular() {
		return false
	}
	switch base(p) {
	case "package-lock.json", "yarn.lock", "pnpm-lock.yaml":
		return !strings.Contains(p, "/node_modules/")
	}
	return false
}

// Parse implements catalog.Cataloger.
func (c *LockCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	var (
		pkgs []sbom.Package
		err  error
	)
	switch base(in.Path()) {
	case "package-lock.json":
		pkgs, err = parsePackageLock(in)
	case "yarn.lock":
		pkgs, err = parseYarnLock(in)
	case "pnpm-lock.yaml":
		pkgs, err = parsePnpmLock(in)
	default:
		return catalog.Result{}, fmt.Errorf("%s: not a lockfile this cataloger reads", in.Path())
	}
	if err != nil {
		return catalog.Result{}, err
	}
	for i := range pkgs {
		pkgs[i].FoundBy = lockName
	}
	return catalog.Result{Packages: pkgs}, nil
}

// PackageCataloger reads the package.json of packages installed under
// node_modules.
type PackageCataloger struct{}

// NewPackage returns the installed-package cataloger.
func NewPackage() *PackageCataloger { return &PackageCataloger{} }

// Name implements catalog.Cataloger.
func (*PackageCataloger) Name() string { return packageName }

// Version implements catalog.Cataloger.
func (*PackageCataloger) Version() int { return 1 }

// Wants package.json files that sit directly in node_modules/<name>/ or
// node_modules/@scope/<name>/: the manifests of installed packages, not
// those of test fixtures or examples nested deeper inside a package.
func (*PackageCataloger) Wants(p string, mode fs.FileMode) bool {
	if !mode.IsRegular() || !strings.HasSuffix(p, "/package.json") {
		return false
	}
	return installedDir(p[:len(p)-len("/package.json")])
}

// installedDir reports whether dir is node_modules/<name> or
// node_modules/@scope/<name> (at any depth).
func installedDir(dir string) bool {
	i := strings.LastIndexByte(dir, '/')
	if i < 0 {
		return false
	}
	name, parent := dir[i+1:], dir[:i]
	if name == "" || name[0] == '.' || name[0] == '@' {
		return false
	}
	if strings.HasSuffix(parent, "/node_modules") {
		return true
	}
	j := strings.LastIndexByte(parent, '/')
	if j < 0 {
		return false
	}
	scope := parent[j+1:]
	return len(scope) > 1 && scope[0] == '@' && strings.HasSuffix(parent[:j], "/node_modules")
}

// Parse implements catalog.Cataloger.
func (c *PackageCataloger) Parse(ctx context.Context, in catalog.Input) (catalog.Result, error) {
	p, ok, err := parsePackageJSON(in)
	if err != nil || !ok {
		return catalog.Result{}, err
	}
	p.FoundBy = packageName
	return catalog.Result{Packages: []sbom.Package{p}}, nil
}

func base(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// newPackage builds an npm package with its PURL.
func newPackage(name, version string) sbom.Package {
	return sbom.Package{
		Name:     name,
		Version:  version,
		Type:     sbom.TypeNPM,
		PURL:     purl(name, version),
		Language: language,
	}
}

// purl follows the purl spec for npm: the scope is the namespace, and its
// "@" is percent-encoded (pkg:npm/%40scope/name@1.0.0).
func purl(name, version string) string {
	var ns string
	if strings.HasPrefix(name, "@") {
		if i := strings.IndexByte(name, '/'); i > 0 {
			ns, name = name[:i], name[i+1:]
		}
	}
	return packageurl.NewPackageURL(packageurl.TypeNPM, ns, name, version, nil, "").ToString()
}

// validName rejects names no registry would hold: empty, overlong, or with
// whitespace or control characters. Lockfiles are attacker controlled and
// names end up in reports and PURLs.
func validName(name string) bool {
	if name == "" || len(name) > 214 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
