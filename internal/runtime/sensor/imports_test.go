package sensor

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what the sensor may import (see doc.go): the standard
// library, cilium/ebpf, x/sys, the moby client and the rule engine.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/cilium/ebpf",
		"golang.org/x/sys/",
		"github.com/moby/moby/client",
		"github.com/bulkhead-sec/bulkhead/internal/runtime/rules",
	}
	files, _ := filepath.Glob("*.go")
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
				if strings.HasPrefix(p, a) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
