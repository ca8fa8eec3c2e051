// Package golang catalogs Go binaries: the main module, every dependency
// module and the Go standard library (as "stdlib" at the toolchain's
// version), read from the build information the Go linker embeds.
//
// It imports only the standard library, packageurl-go, internal/sbom and
// internal/catalog.
package golang

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/elfsect"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Cataloger reads Go build information from executables.
type Cataloger struct{}

// New returns the Go binary cataloger.
func New() *Cataloger { return &Cataloger{} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return "go-module-binary-cataloger" }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger: regular files with an execute bit.
func (*Cataloger) Wants(_ string, mode fs.FileMode) bool {
	return mode.IsRegular() && mode&0o111 != 0
}

var (
	elfMagic  = []byte("\x7fELF")
	peMagic   = []byte("MZ")
	machoMags = [][]byte{{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}}
)

func isExecutable(head []byte) bool {
	if bytes.HasPrefix(head, elfMagic) || bytes.HasPrefix(head, peMagic) {
		return true
	}
	for _, m := range machoMags {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

// Parse implements catalog.Cataloger.
func (*Cataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	head, err := in.Peek(4)
	if err != nil || !isExecutable(head) {
		// Scripts and data files with an execute bit: not ours.
		return catalog.Result{}, nil
	}
	ra, err := in.ReaderAt()
	if err != nil {
		return catalog.Result{}, err
	}
	if bytes.HasPrefix(head, elfMagic) && !maybeGoELF(ra, in.Size()) {
		return catalog.Result{}, nil
	}
	bi, err := buildinfo.Read(ra)
	if err != nil {
		if isNotGo(err) {
			return catalog.Result{}, nil
		}
		return catalog.Result{}, fmt.Errorf("go build info: %w", err)
	}
	return catalog.Result{Packages: Packages(bi)}, nil
}

// maybeGoELF answers from the section headers alone whether an ELF file can
// hold Go build information, so the common case (a C binary or library) costs
// three small reads instead of buildinfo's scan of the data segment. Files
// without section headers fall through to the full search.
func maybeGoELF(ra io.ReaderAt, size int64) bool {
	found, err := elfsect.Find(ra, size, ".go.buildinfo", ".note.go.buildid")
	if err != nil || len(found) > 0 {
		return true // let buildinfo decide, or report what is wrong
	}
	return !elfsect.HasSections(ra, size)
}

// isNotGo tells "this executable was not built by Go" from a damaged Go
// binary: only the latter is worth reporting.
func isNotGo(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "not a Go executable") ||
		strings.Contains(msg, "unrecognized file format")
}

// Packages turns build information into packages.
func Packages(bi *debug.BuildInfo) []sbom.Package {
	meta := map[string]string{"goToolchain": bi.GoVersion}
	if bi.Main.Path != "" {
		meta["mainModule"] = bi.Main.Path
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "vcs.revision", "vcs.time", "-buildmode", "CGO_ENABLED":
			meta[s.Key] = s.Value
		}
	}
	var pkgs []sbom.Package
	add := func(m *debug.Module, main bool) {
		if m == nil || m.Path == "" {
			return
		}
		if m.Replace != nil {
			m = m.Replace
		}
		v := m.Version
		if v == "" {
			v = "(devel)"
		}
		md := map[string]string{}
		for k, val := range meta {
			md[k] = val
		}
		if m.Sum != "" {
			md["h1Digest"] = m.Sum
		}
		if main {
			md["main"] = "true"
		}
		pkgs = append(pkgs, sbom.Package{
			Name: m.Path, Version: v, Type: sbom.TypeGo, Language: "go",
			PURL:     purl(m.Path, v),
			Metadata: md,
		})
	}
	if bi.Main.Path != "" {
		add(&bi.Main, true)
	}
	for _, d := range bi.Deps {
		add(d, false)
	}
	if v, ok := strings.CutPrefix(bi.GoVersion, "go"); ok && v != "" {
		// Strip experiment suffixes ("go1.22.1 X:nocoverageredesign").
		v, _, _ = strings.Cut(v, " ")
		pkgs = append(pkgs, sbom.Package{
			Name: "stdlib", Version: "go" + v, Type: sbom.TypeGo, Language: "go",
			PURL:     packageurl.NewPackageURL(packageurl.TypeGolang, "", "stdlib", v, nil, "").ToString(),
			Metadata: map[string]string{"goToolchain": bi.GoVersion},
		})
	}
	return pkgs
}

func purl(modPath, version string) string {
	ns, name := "", modPath
	if i := strings.LastIndex(modPath, "/"); i >= 0 {
		ns, name = modPath[:i], modPath[i+1:]
	}
	if version == "(devel)" {
		version = ""
	}
	return packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, version, nil, "").ToString()
}
