package javascript

import (
	"context"
	"encoding/json"
	"fmt"
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
	_ catalog.Cataloger = (*PackageCataloger)(nil)
)

func TestLockGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata/lockfiles")
	if err != nil {
		t.Fatal(err)
	}
	roots := []string{"edge"}
	for _, d := range dirs {
		roots = append(roots, filepath.Join("lockfiles", d.Name()))
	}
	for _, root := range roots {
		t.Run(root, func(t *testing.T) {
			got := catalogtest.Run(t, NewLock(), filepath.Join("testdata", root))
			if len(got) == 0 && root != "lockfiles/actions-toolkit-core-lockv1" {
				t.Error("no packages")
			}
			name := "lock-" + filepath.Base(root) + ".json"
			catalogtest.Golden(t, filepath.Join("testdata", "golden", name), got)
		})
	}
}

func TestPackageGolden(t *testing.T) {
	for _, root := range []string{"edge", "installed"} {
		t.Run(root, func(t *testing.T) {
			got := catalogtest.Run(t, NewPackage(), filepath.Join("testdata", root))
			catalogtest.Golden(t, filepath.Join("testdata", "golden", "package-"+root+".json"), got)
		})
	}
}

func TestLockWants(t *testing.T) {
	c := NewLock()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/app/package-lock.json", true},
		{"/yarn.lock", true},
		{"/srv/web/pnpm-lock.yaml", true},
		{"/app/node_modules/foo/package-lock.json", false},
		{"/app/node_modules/.package-lock.json", false},
		{"/app/package.json", false},
		{"/app/xyarn.lock", false},
		{"/app/yarn.lock.bak", false},
	} {
		if got := c.Wants(tc.path, 0o644); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if c.Wants("/yarn.lock", fs.ModeDir) {
		t.Error("wants a directory")
	}
}

func TestPackageWants(t *testing.T) {
	c := NewPackage()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/app/node_modules/express/package.json", true},
		{"/app/node_modules/@types/node/package.json", true},
		{"/app/node_modules/send/node_modules/ms/package.json", true},
		{"/app/node_modules/.pnpm/react@18.2.0/node_modules/react/package.json", true},
		{"/usr/lib/node_modules/npm/package.json", true},
		{"/app/package.json", false},
		{"/app/node_modules/package.json", false},
		{"/app/node_modules/@types/package.json", false},
		{"/app/node_modules/.bin/package.json", false},
		{"/app/node_modules/express/lib/package.json", false},
		{"/app/node_modules/express/test/fixtures/x/package.json", false},
		{"/app/node_modules/@a/b/c/package.json", false},
		{"/app/node_modules/express/package.json.orig", false},
		{"package.json", false},
	} {
		if got := c.Wants(tc.path, 0o644); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestWantsNoAlloc(t *testing.T) {
	l, p := NewLock(), NewPackage()
	allocs := testing.AllocsPerRun(100, func() {
		l.Wants("/usr/share/doc/libc6/changelog.gz", 0o644)
		p.Wants("/usr/share/doc/libc6/changelog.gz", 0o644)
		p.Wants("/app/node_modules/express/package.json", 0o644)
	})
	if allocs != 0 {
		t.Errorf("Wants allocates %v times", allocs)
	}
}

func TestPURL(t *testing.T) {
	for name, want := range map[string]string{
		"lodash":             "pkg:npm/lodash@1.0.0",
		"@types/node":        "pkg:npm/%40types/node@1.0.0",
		"@sentry-internal/x": "pkg:npm/%40sentry-internal/x@1.0.0",
	} {
		if got := purl(name, "1.0.0"); got != want {
			t.Errorf("purl(%q) = %s, want %s", name, got, want)
		}
	}
}

// TestHostile feeds malformed and adversarial files: each must give an
// error or nothing, never a panic.
func TestHostile(t *testing.T) {
	laughs := "x:\n  l0: &l0 [a, b]\n"
	for i := 1; i < 40; i++ {
		laughs += fmt.Sprintf("  l%d: &l%d [*l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1)
	}
	laughs += "lockfileVersion: *l39\n"
	deep := strings.Repeat(`{"dependencies":{"a":{"version":"1",`, 200) + strings.Repeat("}}}", 200)
	for _, tc := range []struct {
		path, data string
		wantErr    bool
	}{
		{"/package-lock.json", "", true},
		{"/package-lock.json", "{", true},
		{"/package-lock.json", `{"packages": []}`, true},
		{"/package-lock.json", `{"packages": {"node_modules/a": {"version": 1}}}`, true},
		{"/package-lock.json", `{"lockfileVersion":1,` + deep[1:], true},
		{"/package-lock.json", `{"packages": {"node_modules/": {"version": "1"}, "node_modules/a b": {"version": "1"}}}`, false},
		{"/yarn.lock", "\x00\x01:\n  version", false},
		{"/yarn.lock", "a@1:\n  version \"1 2\"\n" + strings.Repeat("x", maxLine+1), true},
		{"/pnpm-lock.yaml", "packages: [1, 2]", true},
		{"/pnpm-lock.yaml", "a: &a [*a, *a]", false},
		{"/pnpm-lock.yaml", laughs, true},
		{"/pnpm-lock.yaml", "lockfileVersion: 5.4\npackages:\n  /: {}\n  //: {}\n  /a/: {}\n", false},
		{"/pnpm-lock.yaml", "", false},
	} {
		res, err := NewLock().Parse(context.Background(), catalogtest.NewInput(tc.path, []byte(tc.data)))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s %.40q: err = %v, want error %v", tc.path, tc.data, err, tc.wantErr)
		}
		if len(res.Packages) != 0 {
			t.Errorf("%s %.40q: got packages %v", tc.path, tc.data, res.Packages)
		}
	}
	for _, data := range []string{"", "[]", `{"name": 1}`, `{"name":"a"}`, `{"version":"1"}`, `{"name":"a b","version":"1"}`} {
		res, _ := NewPackage().Parse(context.Background(), catalogtest.NewInput("/node_modules/a/package.json", []byte(data)))
		if len(res.Packages) != 0 {
			t.Errorf("%q: got packages %v", data, res.Packages)
		}
	}
}

func sharedData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("recall against Syft needs %s: %v", dir, err)
	}
	return dir
}

type syftDoc struct {
	Artifacts []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"artifacts"`
}

func readSyft(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc syftDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	for _, a := range doc.Artifacts {
		out = append(out, a.Name+"@"+a.Version)
	}
	return out
}

// notReported lists what Syft reports and Bulkhead leaves out on purpose:
// the project itself (the lockfile's root entry, whose name is the
// author's choice: vscode's extension calls itself "npm", which would
// match the npm CLI's advisories) and local yarn workspaces.
var notReported = map[string]map[string]bool{
	"npm/dependabot-fixture-npm8-mixed-v3-hybrid": {"mixed-dependencies-test@1.0.0": true},
	"npm/generated-npm11-lockv2":                  {"generated-lockv2@1.0.0": true},
	"npm/vscode-ext-npm-lockv3":                   {"npm@1.0.1": true},
	"npm-installed/app":                           {"app@1.0.0": true},
	"npm/dependabot-fixture-yarn-berry-workspaces": {
		"bump-test@0.0.0-use.local":     true,
		"other_package@0.0.0-use.local": true,
		"package1@0.0.0-use.local":      true,
	},
}

// TestRecallSyft checks that every package Syft 1.57.1 found in the shared
// real lockfiles is found here too. Extra packages are the dev
// dependencies Syft drops (the v1 lock's @types/node, the vscode v3 lock's
// dev entries, pnpm's @zeit/ncc); they must carry Scope "dev".
func TestRecallSyft(t *testing.T) {
	data := sharedData(t)
	dirs, _ := filepath.Glob(filepath.Join(data, "npm", "*"))
	dirs = append(dirs, filepath.Join(data, "npm-installed", "app"))
	for _, dir := range dirs {
		rel, _ := filepath.Rel(data, dir)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			got := map[string]sbom.Package{}
			for _, p := range catalogtest.Run(t, NewLock(), dir) {
				got[p.Name+"@"+p.Version] = p
			}
			want := map[string]bool{}
			for _, nv := range readSyft(t, filepath.Join(dir, "syft.json")) {
				want[nv] = true
				if notReported[rel][nv] {
					if _, ok := got[nv]; ok {
						t.Errorf("%s reported, but it is the project itself", nv)
					}
					continue
				}
				if _, ok := got[nv]; !ok {
					t.Errorf("Syft found %s, Bulkhead did not", nv)
				}
			}
			for nv, p := range got {
				if !want[nv] && p.Scope != "dev" {
					t.Errorf("extra package %s is not a dev dependency", nv)
				}
			}
		})
	}
}

// TestRecallInstalled checks the package cataloger against npm's own view
// of the installed tree (npm ls --all --json) and Syft's run with the
// node_modules cataloger.
func TestRecallInstalled(t *testing.T) {
	root := filepath.Join("testdata", "installed", "app")
	got := map[string]bool{}
	for _, p := range catalogtest.Run(t, NewPackage(), root) {
		got[p.Name+"@"+p.Version] = true
	}
	b, err := os.ReadFile(filepath.Join(root, "npm-ls.json"))
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Version      string          `json:"version"`
		Dependencies map[string]node `json:"dependencies"`
	}
	var tree node
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var walk func(map[string]node)
	walk = func(m map[string]node) {
		for n, d := range m {
			want[n+"@"+d.Version] = true
			walk(d.Dependencies)
		}
	}
	walk(tree.Dependencies)
	if len(want) != 56 {
		t.Errorf("npm ls lists %d packages, want 56", len(want))
	}
	for nv := range want {
		if !got[nv] {
			t.Errorf("npm ls lists %s, Bulkhead did not find it", nv)
		}
	}
	for nv := range got {
		if !want[nv] {
			t.Errorf("extra package %s", nv)
		}
	}
	data := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles", "npm-installed", "app")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("recall against Syft needs %s: %v", data, err)
	}
	for _, nv := range readSyft(t, filepath.Join(data, "syft.with-node_modules.json")) {
		if !got[nv] && !notReported["npm-installed/app"][nv] {
			t.Errorf("Syft found %s, Bulkhead did not", nv)
		}
	}
}

func BenchmarkParsePackageLock(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "lockfiles", "generated-npm11-lockv2", "package-lock.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parsePackageLock(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseYarnLock(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "lockfiles", "vscode-ext-npm-yarnv1", "yarn.lock"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseYarnLock(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
