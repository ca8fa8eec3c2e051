package apk

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
)

var _ catalog.Cataloger = (*Cataloger)(nil)

func TestWants(t *testing.T) {
	c := New()
	for path, want := range map[string]bool{
		"/lib/apk/db/installed":          true,
		"/lib/apk/db/installed.bak":      false,
		"/usr/lib/apk/db/installed":      false,
		"/lib/apk/db/lock":               false,
		"/etc/apk/world":                 false,
		"/srv/rootfs/lib/apk/db/install": false,
	} {
		if got := c.Wants(path, 0o644); got != want {
			t.Errorf("Wants(%q) = %v, want %v", path, got, want)
		}
	}
	if c.Wants(dbPath, fs.ModeSymlink) {
		t.Error("wants a symlink")
	}
	if n := testing.AllocsPerRun(100, func() { c.Wants("/usr/lib/libc.so.6", 0o644) }); n != 0 {
		t.Errorf("Wants allocates %v times for a no", n)
	}
}

func TestGolden(t *testing.T) {
	pkgs := catalogtest.Run(t, New(), filepath.Join("testdata", "alpine-3.16"))
	if len(pkgs) != 14 {
		t.Errorf("got %d packages, want 14", len(pkgs))
	}
	catalogtest.Golden(t, filepath.Join("testdata", "golden", "alpine-3.16.json"), pkgs)
}

func TestFields(t *testing.T) {
	pkgs := catalogtest.Run(t, New(), filepath.Join("testdata", "alpine-3.16"))
	byName := map[string]int{}
	for i, p := range pkgs {
		byName[p.Name] = i
	}
	i, ok := byName["libcrypto1.1"]
	if !ok {
		t.Fatal("libcrypto1.1 missing")
	}
	p := pkgs[i]
	if p.Version != "1.1.1q-r0" || p.Arch != "x86_64" || p.SourceName != "openssl" || p.SourceVersion != "1.1.1q-r0" {
		t.Errorf("libcrypto1.1: %+v", p)
	}
	if want := "pkg:apk/alpine/libcrypto1.1@1.1.1q-r0?arch=x86_64&upstream=openssl"; p.PURL != want {
		t.Errorf("purl %q, want %q", p.PURL, want)
	}
	if p.Metadata["purlNeedsDistro"] != "1" {
		t.Error("purlNeedsDistro not set")
	}
	// Files come from several F: folders.
	for _, f := range []string{"/etc/ssl/openssl.cnf", "/lib/libcrypto.so.1.1", "/usr/lib/libcrypto.so.1.1"} {
		if !slices.Contains(p.Files, f) {
			t.Errorf("libcrypto1.1 files lack %s: %v", f, p.Files)
		}
	}
	m := pkgs[byName["musl"]]
	if want := "pkg:apk/alpine/musl@1.2.3-r0?arch=x86_64"; m.PURL != want { // origin == name: no upstream
		t.Errorf("musl purl %q, want %q", m.PURL, want)
	}
	if len(m.Licenses) != 1 || m.Licenses[0] != "MIT" {
		t.Errorf("musl licenses %v", m.Licenses)
	}
	for _, p := range pkgs {
		for _, f := range p.Files {
			if !strings.HasPrefix(f, "/") || strings.Contains(f, "//") {
				t.Errorf("%s: bad file path %q", p.Name, f)
			}
		}
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		count   int
		wantErr bool
	}{
		{"empty", "", 0, false},
		{"no trailing blank line", "P:a\nV:1-r0\nA:x86_64", 1, false},
		{"CRLF-free junk then a stanza (Syft's corrupt fixture)", "this is a corrupt db\n\nP:a\nV:1-r0\n", 1, false},
		{"junk only", "hello world\nfoo\n", 0, true},
		{"stanza without name skipped", "V:1\nA:x\n\nP:b\nV:2\n\n\n", 1, false},
		{"files before any F: are at /", "P:a\nV:1\nR:top\n", 1, false},
		{"line too long", "P:a\nT:" + strings.Repeat("x", maxLine+1) + "\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New().Parse(context.Background(), catalogtest.NewInput(dbPath, []byte(tt.in)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(res.Packages) != tt.count {
				t.Errorf("got %d packages, want %d", len(res.Packages), tt.count)
			}
		})
	}
	res, _ := New().Parse(context.Background(), catalogtest.NewInput(dbPath, []byte("P:a\nV:1\nR:top\n")))
	if got := res.Packages[0].Files; len(got) != 1 || got[0] != "/top" {
		t.Errorf("files %v", got)
	}
}

func BenchmarkParse(b *testing.B) {
	data := readFixture(b)
	c := New()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Parse(context.Background(), catalogtest.NewInput(dbPath, data)); err != nil {
			b.Fatal(err)
		}
	}
}

func readFixture(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "alpine-3.16", "lib", "apk", "db", "installed"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func FuzzParseInstalled(f *testing.F) {
	c := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := c.Parse(context.Background(), catalogtest.NewInput(dbPath, data))
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
		}
	})
}
