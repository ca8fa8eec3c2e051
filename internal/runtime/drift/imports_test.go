package drift

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what each file may import: the index needs only the
// core types, the provider adds the JSON decoder, and only the Docker
// scanner pulls in the engine and the sources.
func TestImports(t *testing.T) {
	const m = "github.com/bulkhead-sec/bulkhead/internal/"
	allowed := map[string][]string{
		"index.go":    {m + "sbom"},
		"provider.go": {m + "sbom", m + "format/jsonfmt"},
		"docker.go":   {m + "sbom", m + "catalog", m + "inspect", m + "source"},
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ok, known := allowed[f]
		if !known {
			t.Errorf("%s: no import rule; add one", f)
			continue
		}
		af, err := goparser.ParseFile(token.NewFileSet(), f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if !strings.Contains(strings.Split(p, "/")[0], ".") {
				continue // standard library
			}
			if !slices.Contains(ok, p) {
				t.Errorf("%s imports %s; allowed: the standard library and %v", f, p, ok)
			}
		}
	}
}
