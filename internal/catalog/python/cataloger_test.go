package python

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var (
	_ catalog.Cataloger = (*InstalledCataloger)(nil)
	_ catalog.Assembler = (*InstalledCataloger)(nil)
	_ catalog.Cataloger = (*LockCataloger)(nil)
)

func TestInstalledGolden(t *testing.T) {
	got := catalogtest.Run(t, NewInstalled(), filepath.Join("testdata", "installed"))
	catalogtest.Golden(t, filepath.Join("testdata", "golden", "installed.json"), got)
	byName := map[string]sbom.Package{}
	for _, p := range got {
		byName[p.Name] = p
	}
	for name, want := range map[string]struct {
		licenses []string
		file     string
		files    int
	}{
		"blinker":  {[]string{"MIT License"}, "/usr/lib/python3/dist-packages/blinker/base.py", 8},
		"distro":   {[]string{"Apache License, Version 2.0"}, "/usr/lib/python3/dist-packages/distro/distro.py", 10},
		"jmespath": {[]string{"MIT"}, "/usr/local/bin/jp.py", 24},
		"idna":     {[]string{"BSD-3-Clause"}, "/usr/local/lib/python3.11/site-packages/idna/core.py", 22},
		"six":      {[]string{"MIT"}, "/usr/local/lib/python3.11/site-packages/six.py", 6},
		"PyJWT":    {[]string{"MIT"}, "", 0},
		"crcmod":   {[]string{"MIT"}, "", 0},
	} {
		p, ok := byName[name]
		if !ok {
			t.Errorf("%s not found", name)
			continue
		}
		if !slices.Equal(p.Licenses, want.licenses) {
			t.Errorf("%s licenses = %q, want %q", name, p.Licenses, want.licenses)
		}
		if len(p.Files) != want.files || (want.file != "" && !slices.Contains(p.Files, want.file)) {
			t.Errorf("%s: %d files, want %d including %q", name, len(p.Files), want.files, want.file)
		}
	}
}

func TestLockGolden(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "lockfiles"))
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
			if len(got) == 0 {
				t.Error("no packages")
			}
			catalogtest.Golden(t, filepath.Join("testdata", "golden", "lock-"+filepath.Base(root)+".json"), got)
		})
	}
}

func TestRequirementLines(t *testing.T) {
	for line, want := range map[string]string{
		"requests==2.31.0":                       "requests@2.31.0",
		"  Django == 4.2.7  ":                    "Django@4.2.7",
		"requests[security]==2.31.0":             "requests@2.31.0",
		"zope.interface===6.1":                   "zope.interface@6.1",
		`a==1.0 ; python_version < "3.8"`:        "a@1.0",
		"a==1.0 --hash=sha256:abc":               "a@1.0",
		"a==1.0\t--hash=sha256:abc":              "a@1.0",
		"a==1.0 # comment":                       "a@1.0",
		"a==1.0#egg":                             "",
		"# a==1.0":                               "",
		"-r other.txt":                           "",
		"--requirement=other.txt":                "",
		"-e .":                                   "",
		"a>=1.0":                                 "",
		"a==1.*":                                 "",
		"a==1.0,<2":                              "",
		"a":                                      "",
		"a @ https://example.com/a-1.0.tar.gz":   "",
		"https://example.com/a-1.0.tar.gz":       "",
		"a[x==1.0":                               "",
		"-a==1.0":                                "",
		"a.==1.0":                                "",
		"==1.0":                                  "",
		"a==":                                    "",
		"a===":                                   "",
		"a== 1.0 2":                              "",
		"a==1.0; extra == 'x' or python_version": "a@1.0",
	} {
		p, ok := requirement(line)
		got := ""
		if ok {
			got = p.Name + "@" + p.Version
		}
		if got != want {
			t.Errorf("requirement(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Jinja2": "jinja2", "aiohttp_cors": "aiohttp-cors", "zope.interface": "zope-interface",
		"ruamel.yaml.clib": "ruamel-yaml-clib", "A__b--C..d": "a-b-c-d", "PyYAML": "pyyaml",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := newPackage("Jinja2", "3.1.6").PURL; got != "pkg:pypi/jinja2@3.1.6" {
		t.Errorf("purl = %s", got)
	}
}

func TestRecordPaths(t *testing.T) {
	const sp = "/usr/local/lib/python3.11/site-packages"
	record := strings.Join([]string{
		"jmespath/__init__.py,sha256=G97,281",
		"../../../bin/jp.py,sha256=zMD,1718",
		`"weird,name.py",sha256=x,1`,
		"./a/../b.py,,",
		"/etc/absolute.conf,,",
		"../../../../etc/passwd,,",
		"../../../../../../../../../etc/shadow,,",
		"../../..,,",
		",,",
		"bad\x00nul,,",
	}, "\n")
	got, err := parseRecord(strings.NewReader(record), sp)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		sp + "/jmespath/__init__.py", "/usr/local/bin/jp.py", sp + "/weird,name.py",
		sp + "/b.py", "/etc/absolute.conf", "/usr/local",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	files, err := parseInstalledFiles(strings.NewReader("../six.py\nPKG-INFO\n../../../../../x\n"), sp+"/six.egg-info")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{sp + "/six.py", sp + "/six.egg-info/PKG-INFO"}; !slices.Equal(files, want) {
		t.Errorf("installed-files: got %q, want %q", files, want)
	}
}

func TestMetadataLicenses(t *testing.T) {
	for _, tc := range []struct {
		meta string
		want []string
	}{
		{"Name: a\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n", []string{"MIT OR Apache-2.0"}},
		{"Name: a\nVersion: 1\nLicense: BSD\nClassifier: License :: OSI Approved :: BSD License\n", []string{"BSD"}},
		{"Name: a\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n", []string{"MIT License"}},
		{"Name: a\nVersion: 1\nLicense: Copyright (c) 2020\n        Permission is hereby granted\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved\n", []string{"MIT License"}},
		{"Name: a\nVersion: 1\nLicense: " + strings.Repeat("x", 200) + "\n", nil},
		{"Name: a\nVersion: 1\n\nLicense: MIT\n", nil}, // body, not header
	} {
		p, ok, err := parseMetadata(strings.NewReader(tc.meta))
		if err != nil || !ok {
			t.Fatalf("%q: ok=%v err=%v", tc.meta, ok, err)
		}
		if !slices.Equal(p.Licenses, tc.want) {
			t.Errorf("%.60q: licenses %q, want %q", tc.meta, p.Licenses, tc.want)
		}
	}
}

func TestWants(t *testing.T) {
	in, lock := NewInstalled(), NewLock()
	for _, tc := range []struct {
		path            string
		installed, lock bool
	}{
		{"/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", true, false},
		{"/usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD", true, false},
		{"/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", true, false},
		{"/usr/lib/python3/dist-packages/six-1.16.0.egg-info/installed-files.txt", true, false},
		{"/usr/lib/python3/dist-packages/six-1.16.0.egg-info", true, false},
		{"/usr/lib/python3/dist-packages/six-1.16.0.dist-info/WHEEL", false, false},
		{"/usr/lib/python3/dist-packages/six.py", false, false},
		{"/app/requirements.txt", false, true},
		{"/app/requirements-dev.txt", false, true},
		{"/app/dev-requirements.txt", false, true},
		{"/app/requirements/base.txt", false, false},
		{"/app/requirements.in", false, false},
		{"/app/poetry.lock", false, true},
		{"/app/Pipfile.lock", false, true},
		{"/app/Pipfile", false, false},
		{"/app/uv.lock", false, true},
		{"/usr/lib/python3/dist-packages/pkg/requirements.txt", false, false},
		{"/venv/lib/python3.12/site-packages/x/poetry.lock", false, false},
	} {
		if got := in.Wants(tc.path, 0o644); got != tc.installed {
			t.Errorf("installed Wants(%q) = %v", tc.path, got)
		}
		if got := lock.Wants(tc.path, 0o644); got != tc.lock {
			t.Errorf("lock Wants(%q) = %v", tc.path, got)
		}
	}
	if in.Wants("/x.egg-info", fs.ModeDir) || lock.Wants("/uv.lock", fs.ModeSymlink) {
		t.Error("wants a non-regular file")
	}
	allocs := testing.AllocsPerRun(100, func() {
		in.Wants("/usr/share/doc/libc6/changelog.gz", 0o644)
		lock.Wants("/usr/share/doc/libc6/changelog.gz", 0o644)
	})
	if allocs != 0 {
		t.Errorf("Wants allocates %v times", allocs)
	}
}

// TestHostile feeds malformed files: each gives an error or nothing, never
// a panic.
func TestHostile(t *testing.T) {
	long := strings.Repeat("x", maxLine+1)
	for _, tc := range []struct {
		path, data string
		wantErr    bool
	}{
		{"/Pipfile.lock", "", true},
		{"/Pipfile.lock", `{"default": []}`, true},
		{"/Pipfile.lock", `{"default": {"a": {}, "../x": {"version": "==1"}, "b": {"version": "==1 2"}}}`, false},
		{"/poetry.lock", "[[package]\n", true},
		{"/poetry.lock", "[[package]]\nname = 1\n", true},
		{"/poetry.lock", "[[package]]\nname = \"a b\"\nversion = \"1\"\n", false},
		{"/uv.lock", "package = 3", true},
		{"/uv.lock", "[[package]]\nname = \"a\"\nsource = { editable = \".\" }\ndependencies = [{ name = \"a\" }]\n", false},
		{"/requirements.txt", "a==1.0 \\\n" + long, true},
		{"/requirements.txt", strings.Repeat("a \\\n", maxJoined/2), true},
	} {
		res, err := NewLock().Parse(context.Background(), catalogtest.NewInput(tc.path, []byte(tc.data)))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s %.40q: err = %v, want error %v", tc.path, tc.data, err, tc.wantErr)
		}
		if len(res.Packages) != 0 {
			t.Errorf("%s %.40q: got %v", tc.path, tc.data, res.Packages)
		}
	}
	for _, data := range []string{"", "Name: a\n", "Version: 1\n", "Name: a b\nVersion: 1\n", "Name: a\nVersion: 1" + long} {
		res, _ := NewInstalled().Parse(context.Background(), catalogtest.NewInput("/a.dist-info/METADATA", []byte(data)))
		if len(res.Packages) != 0 {
			t.Errorf("%.40q: got %v", data, res.Packages)
		}
	}
}

type syftDoc struct {
	Artifacts []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"artifacts"`
}

// notReported lists what Syft reports and Bulkhead leaves out on purpose:
// the uv project itself (an editable workspace member).
var notReported = map[string]bool{"python-i18n/python-i18n@0.3.9": true}

// TestRecallSyft checks that every package Syft 1.57.1 found in the shared
// real lockfiles is found here too (names compared PEP 503-normalised, as
// Syft normalises them; Syft's "UNKNOWN" version is an empty one here).
// Extra packages are the Pipfile "develop" entries Syft drops; they carry
// Scope "dev".
func TestRecallSyft(t *testing.T) {
	data := filepath.Join("..", "..", "..", "..", "shared", "data", "lockfiles", "python")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("recall against Syft needs %s: %v", data, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			got := map[string]sbom.Package{}
			for _, p := range catalogtest.Run(t, NewLock(), dir) {
				got[normalize(p.Name)+"@"+p.Version] = p
			}
			b, err := os.ReadFile(filepath.Join(dir, "syft.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc syftDoc
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, a := range doc.Artifacts {
				v := a.Version
				if v == "UNKNOWN" {
					v = ""
				}
				nv := normalize(a.Name) + "@" + v
				want[nv] = true
				_, ok := got[nv]
				switch {
				case notReported[name+"/"+nv] && ok:
					t.Errorf("%s reported, but it is the project itself", nv)
				case !notReported[name+"/"+nv] && !ok:
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

func BenchmarkParseRequirements(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "lockfiles", "home-assistant-core", "requirements.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseRequirements(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
