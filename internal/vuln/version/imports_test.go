package version

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what the package may import: the standard library,
// golang.org/x/mod and the version libraries, never the rest of Bulkhead.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/aquasecurity/go-gem-version",
		"github.com/aquasecurity/go-pep440-version",
		"github.com/knqyf263/go-apk-version",
		"github.com/knqyf263/go-deb-version",
		"github.com/knqyf263/go-rpm-version",
		"github.com/masahiro331/go-mvn-version",
		"golang.org/x/mod/semver",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !strings.Contains(first, ".") || slices.Contains(allowed, path) {
				continue
			}
			t.Errorf("%s imports %s, which this package must not use", name, path)
		}
	}
}
