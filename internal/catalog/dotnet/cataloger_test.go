package dotnet

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var (
	_ catalog.Cataloger = (*DepsCataloger)(nil)
	_ catalog.Cataloger = (*PackagesLockCataloger)(nil)
)

func TestWants(t *testing.T) {
	deps, lock := NewDeps(), NewPackagesLock()
	tests := []struct {
		path       string
		deps, lock bool
	}{
		{"/app/MyApp.deps.json", true, false},
		{"/app/.deps.json", false, false},
		{"/app/MyApp.runtimeconfig.json", false, false},
		{"/src/packages.lock.json", false, true},
		{"/packages.lock.json", false, true},
		{"/src/my-packages.lock.json", false, false},
		{"/src/package-lock.json", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := deps.Wants(tt.path, 0o644); got != tt.deps {
				t.Errorf("deps.Wants = %v, want %v", got, tt.deps)
			}
			if got := lock.Wants(tt.path, 0o644); got != tt.lock {
				t.Errorf("lock.Wants = %v, want %v", got, tt.lock)
			}
		})
	}
	if deps.Wants("/a.deps.json", fs.ModeDir) || lock.Wants("/packages.lock.json", fs.ModeSymlink) {
		t.Error("wants a non-regular file")
	}
	if n := testing.AllocsPerRun(100, func() { deps.Wants("/usr/lib/libc.so.6", 0o644); lock.Wants("/usr/lib/libc.so.6", 0o644) }); n != 0 {
		t.Errorf("Wants allocates %v times for a no", n)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		dir   string
		c     catalog.Cataloger
		count int
	}{
		{"trivy-fixture-ExampleApp1", NewDeps(), 2},
		{"syft-dir-example-1", NewDeps(), 14},
		// The two referenceassembly libraries are left out.
		{"syft-deps-with-referenceassembly", NewDeps(), 2},
		{"flow-launcher-infrastructure", NewPackagesLock(), 30},
		{"flow-launcher-plugin", NewPackagesLock(), 11},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			pkgs := catalogtest.Run(t, tt.c, filepath.Join("testdata", tt.dir))
			if len(pkgs) != tt.count {
				t.Errorf("got %d packages, want %d", len(pkgs), tt.count)
			}
			catalogtest.Golden(t, filepath.Join("testdata", "golden", tt.dir+".json"), pkgs)
		})
	}
}

func TestPackagesLockDedupe(t *testing.T) {
	in := `{"version":1,"dependencies":{
	  "net8.0":{"Newtonsoft.Json":{"type":"Direct","requested":"[13.0.1, )","resolved":"13.0.1","contentHash":"abc"},
	            "Lib":{"type":"Project"}},
	  "net6.0":{"newtonsoft.json":{"type":"Direct","resolved":"13.0.1"},
	            "Newtonsoft.Json.Bson":{"type":"Transitive","resolved":"1.0.2"}}}}`
	res, err := NewPackagesLock().Parse(context.Background(), catalogtest.NewInput("/packages.lock.json", []byte(in)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sbom.Package{}
	for _, p := range res.Packages {
		got[p.Name+"@"+p.Version] = p
	}
	if len(res.Packages) != 3 {
		t.Errorf("got %d packages, want 3: %v", len(res.Packages), got)
	}
	if p, ok := got["Lib@"]; !ok || p.PURL != "pkg:nuget/Lib" || p.Metadata["type"] != "Project" {
		t.Errorf("project entry: %+v", p)
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{"", "{", `{"libraries": 3}`, `{"dependencies": {"x": 1}}`, `[]`} {
		_, err1 := NewDeps().Parse(context.Background(), catalogtest.NewInput("/a.deps.json", []byte(in)))
		_, err2 := NewPackagesLock().Parse(context.Background(), catalogtest.NewInput("/packages.lock.json", []byte(in)))
		if err1 == nil && err2 == nil {
			t.Errorf("%q: no error from either parser", in)
		}
	}
}

// TestRecallAgainstSyft checks that every package Syft 1.57.1 reported for
// the shared .NET lockfiles is reported here too. Syft writes "UNKNOWN" for
// a project reference without a version; Bulkhead leaves the version empty.
func TestRecallAgainstSyft(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles", "dotnet")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Skipf("shared data not available (%s): %v", root, err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			syft := readSyft(t, filepath.Join(dir, "syft.json"))
			if len(syft) == 0 {
				t.Fatal("syft.json lists no packages")
			}
			var got []sbom.Package
			got = append(got, catalogtest.Run(t, NewDeps(), dir)...)
			got = append(got, catalogtest.Run(t, NewPackagesLock(), dir)...)
			have := map[string]bool{}
			for _, p := range got {
				have[p.Name+"@"+p.Version] = true
			}
			for _, k := range syft {
				if !have[k] {
					t.Errorf("Syft reported %s, we did not", k)
				}
			}
			if len(got) != len(syft) {
				t.Errorf("got %d packages, Syft %d", len(got), len(syft))
			}
		})
	}
}

func readSyft(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Artifacts []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range doc.Artifacts {
		if a.Version == "UNKNOWN" {
			a.Version = ""
		}
		out = append(out, a.Name+"@"+a.Version)
	}
	return out
}

func FuzzParseDepsJSON(f *testing.F) {
	c := NewDeps()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = c.Parse(context.Background(), catalogtest.NewInput("/app/a.deps.json", data))
	})
}

func FuzzParsePackagesLock(f *testing.F) {
	c := NewPackagesLock()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = c.Parse(context.Background(), catalogtest.NewInput("/packages.lock.json", data))
	})
}
