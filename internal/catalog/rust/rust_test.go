package rust

import (
	"bytes"
	"context"
	"debug/elf"
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
	_ catalog.Cataloger = (*BinaryCataloger)(nil)
)

func TestWants(t *testing.T) {
	tests := []struct {
		c    catalog.Cataloger
		path string
		mode os.FileMode
		want bool
	}{
		{NewLock(), "/src/app/Cargo.lock", 0o644, true},
		{NewLock(), "/Cargo.lock", 0o644, true},
		{NewLock(), "/src/app/Cargo.toml", 0o644, false},
		{NewLock(), "/src/app/xCargo.lock", 0o644, false},
		{NewLock(), "/src/Cargo.lock", os.ModeDir | 0o755, false},
		{NewBinary(), "/usr/bin/rg", 0o755, true},
		{NewBinary(), "/usr/bin/rg", 0o700, true},
		{NewBinary(), "/usr/lib/libx.so", 0o644, false},
		{NewBinary(), "/usr/bin/link", os.ModeSymlink | 0o777, false},
	}
	for _, tt := range tests {
		t.Run(tt.c.Name()+tt.path, func(t *testing.T) {
			if got := tt.c.Wants(tt.path, tt.mode); got != tt.want {
				t.Errorf("Wants(%q, %v) = %v, want %v", tt.path, tt.mode, got, tt.want)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		c    catalog.Cataloger
	}{
		{"lock", NewLock()},
		{"binary", NewBinary()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := catalogtest.Run(t, tt.c, filepath.Join("testdata", "root"))
			if len(pkgs) == 0 {
				t.Fatal("no packages")
			}
			catalogtest.Golden(t, filepath.Join("testdata", "golden", tt.name+".json"), pkgs)
		})
	}
}

func TestCargoLockDetails(t *testing.T) {
	lock := `# comment
version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "serde 1.0.0",
 "gitdep",
]

[[package]]
name = "gitdep"
version = "0.2.0"
source = "git+https://example.com/x/y?branch=main#0123abcd"

[[package]]
name = "serde"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abc"

[[package]]
name = "old"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum old 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)" = "def"
`
	pkgs, err := parseCargoLock(strings.NewReader(lock), "x")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sbom.Package{}
	for _, p := range pkgs {
		got[p.Name] = p
	}
	if len(got) != 4 {
		t.Fatalf("got %d packages, want 4: %+v", len(got), pkgs)
	}
	if p := got["app"]; p.PURL != "" || p.Version != "0.1.0" {
		t.Errorf("workspace crate: %+v (want no PURL)", p)
	}
	if p := got["gitdep"]; p.Metadata["source"] != "git+https://example.com/x/y?branch=main#0123abcd" {
		t.Errorf("git source: %+v", p)
	}
	if p := got["serde"]; p.PURL != "pkg:cargo/serde@1.0.0" || p.Metadata["checksum"] != "sha256:abc" {
		t.Errorf("serde: %+v", p)
	}
	if p := got["old"]; p.Metadata["checksum"] != "sha256:def" {
		t.Errorf("v1 metadata checksum: %+v", p)
	}
}

func TestCargoLockErrors(t *testing.T) {
	for _, in := range []string{
		"[[package]]\nname = bare\n",
		"[[package]]\nname = \"unterminated\n",
		"[[package]]\nname = \"" + strings.Repeat("a", maxLine+10) + "\"\n",
	} {
		if _, err := parseCargoLock(strings.NewReader(in), "x"); err == nil {
			t.Errorf("parseCargoLock(%.40q): no error", in)
		}
	}
}

func TestAuditBinaryNotRust(t *testing.T) {
	c := NewBinary()
	// A shell script and this test binary (an ELF without .dep-v0) give
	// nothing and no error.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	selfData, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"script": []byte("#!/bin/sh\necho hi\n"),
		"empty":  nil,
		"self":   selfData,
	} {
		res, err := c.Parse(context.Background(), catalogtest.NewInput("/bin/"+name, data))
		if err != nil || len(res.Packages) != 0 {
			t.Errorf("%s: got %v, %v; want nothing", name, res.Packages, err)
		}
	}
}

func TestAuditBinaryCorrupt(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "root", "usr", "bin", "hello-auditable"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".dep-v0")
	if sec == nil {
		t.Fatal("fixture has no .dep-v0")
	}
	bad := bytes.Clone(data)
	copy(bad[sec.Offset:], "not zlib")
	_, err = NewBinary().Parse(context.Background(), catalogtest.NewInput("/bin/x", bad))
	if err == nil || !strings.Contains(err.Error(), ".dep-v0") {
		t.Errorf("corrupt section: err = %v, want an error naming .dep-v0", err)
	}
	// A truncated ELF is an error, not a panic.
	_, err = NewBinary().Parse(context.Background(), catalogtest.NewInput("/bin/x", data[:100]))
	if err == nil {
		t.Error("truncated ELF: no error")
	}
}

func TestAuditBinaryBuildDepsDropped(t *testing.T) {
	pkgs := catalogtest.Run(t, NewBinary(), filepath.Join("testdata", "root"))
	for _, p := range pkgs {
		if p.Name == "cc" || p.Name == "pkg-config" {
			t.Errorf("build dependency %s reported", p.Name)
		}
		if p.Name == "hello-auditable" && (p.PURL != "" || p.Metadata["root"] != "true") {
			t.Errorf("root crate: %+v", p)
		}
	}
}

// TestRecallAgainstSyft checks that every (name, version) Syft 1.57.1
// reported for the shared Cargo.lock fixtures is reported here too.
func TestRecallAgainstSyft(t *testing.T) {
	catalogtest.ExactRecallVsSyft(t, NewLock(), catalogtest.SharedData(t, "lockfiles", "rust"))
}

func FuzzParseCargoLock(f *testing.F) {
	f.Add([]byte("[[package]]\nname = \"a\"\nversion = \"1\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewLock().Parse(context.Background(), catalogtest.NewInput("/Cargo.lock", data))
	})
}

func FuzzParseAuditBinary(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewBinary().Parse(context.Background(), catalogtest.NewInput("/bin/x", data))
	})
}

func BenchmarkParseCargoLock(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "root", "ripgrep", "Cargo.lock"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseCargoLock(bytes.NewReader(data), "x"); err != nil {
			b.Fatal(err)
		}
	}
}
