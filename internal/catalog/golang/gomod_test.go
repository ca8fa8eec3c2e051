package golang

import (
	"os"
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
	catalogtest.ExactRecallVsSyft(t, NewModFile(), catalogtest.SharedData(t, "lockfiles", "go"))
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
