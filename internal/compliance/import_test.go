package compliance

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports pins what the compliance packages may import (see the
// package docs).
func TestImports(t *testing.T) {
	allowed := map[string][]string{
		".":          {"github.com/bulkhead-sec/bulkhead/internal/sbom", "github.com/bulkhead-sec/bulkhead/internal/compliance/", "cel.dev/cel-go/", "gopkg.in/yaml.v3"},
		"k8s":        {"gopkg.in/yaml.v3"},
		"dockerfile": {"github.com/moby/buildkit/frontend/dockerfile/parser"},
		"docker":     {"github.com/bulkhead-sec/bulkhead/internal/compliance", "github.com/moby/moby/client"},
		"image": {"github.com/bulkhead-sec/bulkhead/internal/compliance", "github.com/bulkhead-sec/bulkhead/internal/compliance/secrets",
			"github.com/bulkhead-sec/bulkhead/internal/source", "github.com/bulkhead-sec/bulkhead/internal/sbom",
			"github.com/moby/moby/client", "github.com/google/go-containerregistry/"},
		"secrets":     {},
		"checkreport": {"github.com/bulkhead-sec/bulkhead/internal/compliance", "github.com/bulkhead-sec/bulkhead/internal/sbom", "github.com/bulkhead-sec/bulkhead/internal/report", "github.com/owenrumney/go-sarif/v3/"},
	}
	for dir, allow := range allowed {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
					continue // standard library
				}
				ok := false
				for _, a := range allow {
					if p == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(p, a)) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}
