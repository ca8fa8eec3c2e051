package prevent

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what each package of the prevent tree may import (the
// package docs say the same).
func TestImports(t *testing.T) {
	allowed := map[string][]string{
		".": {"gopkg.in/yaml.v3", "golang.org/x/sys/unix", "github.com/moby/moby/client",
			"github.com/bulkhead-sec/bulkhead/internal/runtime/rules",
			"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/fanotify",
			"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/profile"},
		"fanotify": {"golang.org/x/sys/unix"},
		"profile":  {},
	}
	for dir, ok := range allowed {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
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
				found := false
				for _, a := range ok {
					found = found || a == p
				}
				if !found {
					t.Errorf("%s imports %s; allowed: the standard library and %v", f, p, ok)
				}
			}
		}
	}
}
