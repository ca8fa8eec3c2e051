package golang

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
)

// buildBinary compiles a small module with one dependency (served from a
// local replace, so no network is needed) and returns the binary's path.
func buildBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH: cannot build a test binary")
	}
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.22\n\nrequire example.com/dep v1.2.3\n\nreplace example.com/dep => ./dep\n")
	write("main.go", "package main\n\nimport \"example.com/dep\"\n\nfunc main() { println(dep.Hello()) }\n")
	write("dep/go.mod", "module example.com/dep\n\ngo 1.22\n")
	write("dep/dep.go", "package dep\n\nfunc Hello() string { return \"hi\" }\n")
	out := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestGoBinary(t *testing.T) {
	bin := buildBinary(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	in := catalogtest.NewInput("/usr/local/bin/hello", data)
	in.M = 0o755
	c := New()
	if !c.Wants(in.P, in.M) {
		t.Fatal("an executable must be wanted")
	}
	res, err := c.Parse(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range res.Packages {
		got[p.Name] = p.Version + " " + p.PURL
	}
	want := map[string]string{
		"example.com/hello": "(devel) pkg:golang/example.com/hello",
		// A replaced module is reported as its replacement (a local path
		// has no version).
		"./dep":  "(devel) pkg:golang/./dep",
		"stdlib": runtime.Version() + " pkg:golang/stdlib@" + strings.TrimPrefix(runtime.Version(), "go"),
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if len(res.Packages) != len(want) {
		t.Errorf("got %d packages, want %d: %v", len(res.Packages), len(want), got)
	}
}

func TestNotGo(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"script", []byte("#!/bin/sh\necho hi\n")},
		{"empty", nil},
		{"truncated elf", []byte("\x7fELF\x02\x01\x01")},
	}
	if b, err := os.ReadFile("/bin/true"); err == nil {
		tests = append(tests, struct {
			name string
			data []byte
		}{"C binary /bin/true", b})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New().Parse(context.Background(), catalogtest.NewInput("/bin/x", tt.data))
			if len(res.Packages) != 0 {
				t.Errorf("found packages in a non-Go file: %+v", res.Packages)
			}
			if tt.name != "truncated elf" && err != nil {
				t.Errorf("non-Go executables are not errors: %v", err)
			}
		})
	}
}

func FuzzParseGoBinary(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte("MZ\x90\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = New().Parse(context.Background(), catalogtest.NewInput("/bin/x", data))
	})
}
