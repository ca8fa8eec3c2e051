package elfsect

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"
)

// TestAgainstDebugELF compares Find with the standard library's parser on
// real binaries of this machine and on this test binary (a Go program).
func TestAgainstDebugELF(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{self, "/bin/true", "/bin/sh", "/usr/lib/x86_64-linux-gnu/libc.so.6"}
	want := []string{".go.buildinfo", ".note.go.buildid", ".text", ".dynstr", ".dep-v0"}
	checked := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		checked++
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := Find(bytes.NewReader(b), int64(len(b)), want...)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, name := range want {
			s := ef.Section(name)
			g, ok := got[name]
			if (s != nil) != ok {
				t.Errorf("%s %s: debug/elf has=%v, Find has=%v", p, name, s != nil, ok)
				continue
			}
			if s != nil && (g.Offset != s.Offset || g.Size != s.Size) {
				t.Errorf("%s %s: got %+v, want offset %d size %d", p, name, g, s.Offset, s.Size)
			}
		}
		if !HasSections(bytes.NewReader(b), int64(len(b))) {
			t.Errorf("%s: HasSections false", p)
		}
	}
	if checked < 2 {
		t.Fatalf("only %d real ELF files found to compare", checked)
	}
	if _, ok := mustFind(t, self)[".go.buildinfo"]; !ok {
		t.Error("the Go test binary has no .go.buildinfo")
	}
}

func mustFind(t *testing.T, p string) map[string]Section {
	b, _ := os.ReadFile(p)
	m, err := Find(bytes.NewReader(b), int64(len(b)), ".go.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBadInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not elf":   []byte("#!/bin/sh\n"),
		"truncated": []byte("\x7fELF\x02\x01\x01\x00"),
	} {
		if _, err := Find(bytes.NewReader(b), int64(len(b)), ".text"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzFind(f *testing.F) {
	if b, err := os.ReadFile("/bin/true"); err == nil {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Find(bytes.NewReader(data), int64(len(data)), ".go.buildinfo")
	})
}
