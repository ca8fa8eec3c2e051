package advisory

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins the package's dependencies: the standard library, yaml.v3
// and the CVSS library only (see the package doc).
func TestImports(t *testing.T) {
	allowed := []string{"gopkg.in/yaml.v3", "github.com/pandatix/go-cvss/"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				ok = ok || p == a || strings.HasPrefix(p, a)
			}
			if !ok {
				t.Errorf("%s imports %s, which this package must not depend on", f, p)
			}
		}
	}
}
