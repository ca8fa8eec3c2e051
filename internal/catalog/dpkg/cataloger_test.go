package dpkg

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
)

func TestCatalog(t *testing.T) {
	for _, dir := range []string{"bookworm", "distroless"} {
		t.Run(dir, func(t *testing.T) {
			pkgs := catalogtest.Run(t, New(), "testdata/"+dir)
			catalogtest.Golden(t, "testdata/golden/"+dir+".json", pkgs)
		})
	}
}

func TestStatusFacts(t *testing.T) {
	pkgs := catalogtest.Run(t, New(), "testdata/bookworm")
	byName := map[string]int{}
	for i, p := range pkgs {
		byName[p.Name] = i
	}
	if _, ok := byName["oldpkg-conffiles"]; ok {
		t.Error("a package in state config-files must not be reported as installed")
	}
	libc := pkgs[byName["libc6"]]
	if libc.SourceName != "glibc" || libc.Arch != "amd64" {
		t.Errorf("libc6: source %q arch %q, want glibc amd64", libc.SourceName, libc.Arch)
	}
	if !strings.HasPrefix(libc.PURL, "pkg:deb/libc6@") || !strings.Contains(libc.PURL, "upstream=glibc") {
		t.Errorf("libc6 purl %q", libc.PURL)
	}
	if !slices.Contains(libc.Files, "/lib/x86_64-linux-gnu/libc.so.6") {
		t.Errorf("libc6 file list lacks libc.so.6: %d files", len(libc.Files))
	}
	bf := pkgs[byName["base-files"]]
	if len(bf.Licenses) == 0 {
		t.Error("base-files: no license from its copyright file")
	}
	bsd := pkgs[byName["bsdutils"]]
	if bsd.SourceName != "util-linux" || bsd.SourceVersion == bsd.Version {
		t.Errorf("bsdutils: Source with its own version not parsed: %q %q (version %q)", bsd.SourceName, bsd.SourceVersion, bsd.Version)
	}
}

func TestParseStatusErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no package", "Version: 1\n\n", "no Package field"},
		{"no version", "Package: a\nStatus: install ok installed\n", "has no Version"},
		{"garbage", "Package: a\nthis is not a field\n", "neither a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStatus(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	b, err := os.ReadFile("testdata/bookworm/var/lib/dpkg/status")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseStatus(strings.NewReader(string(data)))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzParseCopyright(f *testing.F) {
	b, err := os.ReadFile("testdata/bookworm/usr/share/doc/libc6/copyright")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseCopyright(strings.NewReader(string(data)))
		_, _ = parseList(strings.NewReader(string(data)))
		_, _ = parseMD5Sums(strings.NewReader(string(data)))
	})
}
