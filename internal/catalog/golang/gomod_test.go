package golang

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
)

func TestModFile(t *testing.T) {
	pkgs := catalogtest.Run(t, NewModFile(), "testdata/gomod")
	catalogtest.Golden(t, "testdata/golden/gomod.json", pkgs)
	got := map[string]string{}
	for _, p := range pkgs {
		got[p.Name] = p.Version
	}
	if got["golang.org/x/text"] != "v0.21.0" || got["github.com/gdamore/tcell/v2"] != "v2.8.1" {
		t.Errorf("requires not read: %v", got)
	}
	if _, ok := got["github.com/junegunn/fzf"]; ok {
		t.Error("the main module is not a dependency")
	}
}

// TestModFileRecallVsSyft checks every module Syft reports for the real
// go.mod files in ../shared/data is reported too.
func TestModFileRecallVsSyft(t *testing.T) {
	base := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles", "go")
	if _, err := os.Stat(base); err != nil {
		t.Skipf("shared data not present at %s", base)
	}
	for _, dir := range []string{"fzf", "logrus"} {
		t.Run(dir, func(t *testing.T) {
			pkgs := catalogtest.Run(t, NewModFile(), filepath.Join(base, dir))
			have := map[string]bool{}
			for _, p := range pkgs {
				have[p.Name+"@"+p.Version] = true
			}
			for a := range catalogtest.SyftNameVersions(t, filepath.Join(base, dir, "syft.json")) {
				if !have[a] {
					t.Errorf("syft reports %s, we do not", a)
				}
			}
		})
	}
}

func FuzzParseModFile(f *testing.F) {
	b, err := os.ReadFile("testdata/gomod/go.mod")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range ParseModFile("go.mod", data) {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
		}
	})
}
