package golang

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"

	"golang.org/x/mod/modfile"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// ModFileCataloger reads go.mod files: every required module (direct and
// indirect), with replace directives applied. The main module itself is
// not a dependency and is not reported.
type ModFileCataloger struct{}

// NewModFile returns the go.mod cataloger.
func NewModFile() *ModFileCataloger { return &ModFileCataloger{} }

// Name implements catalog.Cataloger.
func (*ModFileCataloger) Name() string { return "go-module-file-cataloger" }

// Version implements catalog.Cataloger.
func (*ModFileCataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*ModFileCataloger) Wants(p string, mode fs.FileMode) bool {
	return mode.IsRegular() && path.Base(p) == "go.mod"
}

// maxModFile bounds a go.mod (real ones are a few KiB).
const maxModFile = 4 << 20

// Parse implements catalog.Cataloger.
func (*ModFileCataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	b, err := io.ReadAll(io.LimitReader(in, maxModFile+1))
	if err != nil {
		return catalog.Result{}, err
	}
	if len(b) > maxModFile {
		return catalog.Result{}, fmt.Errorf("go.mod larger than %d bytes", maxModFile)
	}
	return catalog.Result{Packages: ParseModFile(in.Path(), b)}, nil
}

// ParseModFile returns the modules a go.mod requires; a file that does not
// parse yields what could be read (modfile's lax parser skips bad lines).
func ParseModFile(name string, b []byte) []sbom.Package {
	f, err := modfile.ParseLax(name, b, nil)
	if err != nil {
		return nil
	}
	replaced := map[string]string{} // path (and path@version) → replacement "path@version"
	type rep struct{ path, version string }
	reps := map[string]rep{}
	for _, r := range f.Replace {
		key := r.Old.Path
		if r.Old.Version != "" {
			key += "@" + r.Old.Version
		}
		reps[key] = rep{r.New.Path, r.New.Version}
		replaced[key] = r.New.Path
	}
	var pkgs []sbom.Package
	for _, r := range f.Require {
		p, v := r.Mod.Path, r.Mod.Version
		if rp, ok := reps[p+"@"+v]; ok {
			p, v = rp.path, rp.version
		} else if rp, ok := reps[p]; ok {
			p, v = rp.path, rp.version
		}
		if v == "" {
			v = "(devel)" // replaced by a local directory
		}
		md := map[string]string{}
		if r.Indirect {
			md["indirect"] = "true"
		}
		if p != r.Mod.Path {
			md["replaces"] = r.Mod.Path + "@" + r.Mod.Version
		}
		if len(md) == 0 {
			md = nil
		}
		pkgs = append(pkgs, sbom.Package{
			Name: p, Version: v, Type: sbom.TypeGo, Language: "go",
			PURL: purl(p, v), Metadata: md,
		})
	}
	return pkgs
}
