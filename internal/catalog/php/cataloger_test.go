package php

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var (
	_ catalog.Cataloger = (*LockCataloger)(nil)
	_ catalog.Cataloger = (*InstalledCataloger)(nil)
)

func TestWants(t *testing.T) {
	lock, inst := NewLock(), NewInstalled()
	tests := []struct {
		path       string
		lock, inst bool
	}{
		{"/composer.lock", true, false},
		{"/srv/app/composer.lock", true, false},
		{"/srv/app/my-composer.lock", false, false},
		{"/srv/app/composer.lock.bak", false, false},
		{"/srv/app/vendor/composer/installed.json", false, true},
		{"/installed.json", false, false},
		{"/srv/app/vendor/composer/installed.php", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := lock.Wants(tt.path, 0o644); got != tt.lock {
				t.Errorf("lock.Wants = %v, want %v", got, tt.lock)
			}
			if got := inst.Wants(tt.path, 0o644); got != tt.inst {
				t.Errorf("installed.Wants = %v, want %v", got, tt.inst)
			}
		})
	}
	if lock.Wants("/composer.lock", fs.ModeDir) {
		t.Error("lock cataloger wants a directory")
	}
	if n := testing.AllocsPerRun(100, func() { lock.Wants("/usr/lib/libc.so.6", 0o644); inst.Wants("/usr/lib/libc.so.6", 0o644) }); n != 0 {
		t.Errorf("Wants allocates %v times for a no", n)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		dir string
		c   catalog.Cataloger
	}{
		{"lock-syft", NewLock()},
		{"lock-nextcloud", NewLock()},
		{"installed-v2", NewInstalled()},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			pkgs := catalogtest.Run(t, tt.c, filepath.Join("testdata", tt.dir))
			if len(pkgs) == 0 {
				t.Fatal("no packages")
			}
			catalogtest.Golden(t, filepath.Join("testdata", "golden", tt.dir+".json"), pkgs)
		})
	}
}

func TestLockScopes(t *testing.T) {
	pkgs := catalogtest.Run(t, NewLock(), filepath.Join("testdata", "lock-syft"))
	want := map[string]string{ // name@version -> scope; from Syft's own expectations plus packages-dev
		"adoy/fastcgi-client@1.0.2":        "",
		"alcaeus/mongo-php-adapter@1.1.11": "",
	}
	got := map[string]string{}
	for _, p := range pkgs {
		got[p.Name+"@"+p.Version] = p.Scope
		if p.PURL == "" || !strings.HasPrefix(p.PURL, "pkg:composer/") {
			t.Errorf("%s: bad purl %q", p.Name, p.PURL)
		}
	}
	for k, scope := range want {
		s, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
		} else if s != scope {
			t.Errorf("%s: scope %q, want %q", k, s, scope)
		}
	}
	if len(got) != 4 {
		t.Errorf("got %d packages, want 2 packages + 2 packages-dev", len(got))
	}
}

// TestInstalledComposer1 feeds the Composer 2 fixture's package list as a
// top-level array, which is how Composer 1 wrote installed.json.
func TestInstalledComposer1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "installed-v2", "app", "vendor", "composer", "installed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packages json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	c := NewInstalled()
	v1, err := c.Parse(context.Background(), catalogtest.NewInput("/vendor/composer/installed.json", doc.Packages))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c.Parse(context.Background(), catalogtest.NewInput("/vendor/composer/installed.json", data))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(v1)
	b, _ := json.Marshal(v2)
	if string(a) != string(b) {
		t.Errorf("composer 1 and 2 forms differ:\n%s\n%s", a, b)
	}
}

func TestInstalledDevPackageNames(t *testing.T) {
	in := `{"packages":[{"name":"a/b","version":"1.0.0","license":"MIT"},{"name":"c/d","version":"v2.0.0"}],"dev":true,"dev-package-names":["c/d"]}`
	res, err := NewInstalled().Parse(context.Background(), catalogtest.NewInput("/vendor/composer/installed.json", []byte(in)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 2 {
		t.Fatalf("got %d packages", len(res.Packages))
	}
	if p := res.Packages[0]; p.Scope != "" || len(p.Licenses) != 1 || p.Licenses[0] != "MIT" || p.PURL != "pkg:composer/a/b@1.0.0" {
		t.Errorf("a/b: %+v", p)
	}
	if p := res.Packages[1]; p.Scope != "dev" || p.PURL != "pkg:composer/c/d@v2.0.0" {
		t.Errorf("c/d: %+v", p)
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{"", "{", "[", "null x", `{"packages": 3}`, `"str"`, `{"packages":[{"name":{}}]}`} {
		_, err1 := NewLock().Parse(context.Background(), catalogtest.NewInput("/composer.lock", []byte(in)))
		_, err2 := NewInstalled().Parse(context.Background(), catalogtest.NewInput("/vendor/composer/installed.json", []byte(in)))
		if err1 == nil && err2 == nil && in != "" {
			t.Errorf("%q: no error from either parser", in)
		}
	}
}

// TestRecallAgainstSyft checks that every package Syft 1.57.1 reported for
// the shared PHP lockfiles is reported here too. Extra packages must be dev
// scoped: Syft drops "packages-dev", Bulkhead keeps them as Scope "dev".
func TestRecallAgainstSyft(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles", "php")
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
			var got []sbom.Package
			got = append(got, catalogtest.Run(t, NewLock(), dir)...)
			got = append(got, catalogtest.Run(t, NewInstalled(), dir)...)
			have := map[string]bool{}
			for _, p := range got {
				have[p.Name+"@"+p.Version] = true
			}
			for _, k := range syft {
				if !have[k] {
					t.Errorf("Syft reported %s, we did not", k)
				}
				delete(have, k)
			}
			for _, p := range got {
				if have[p.Name+"@"+p.Version] && p.Scope != "dev" {
					t.Errorf("extra package %s@%s is not dev scoped", p.Name, p.Version)
				}
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
		out = append(out, a.Name+"@"+a.Version)
	}
	return out
}

func FuzzParseComposerLock(f *testing.F) {
	c := NewLock()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = c.Parse(context.Background(), catalogtest.NewInput("/composer.lock", data))
	})
}

func FuzzParseInstalledJSON(f *testing.F) {
	c := NewInstalled()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = c.Parse(context.Background(), catalogtest.NewInput("/vendor/composer/installed.json", data))
	})
}
