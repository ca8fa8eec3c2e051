// Package catalogtest helps test catalogers: an in-memory Input, a runner
// that feeds a cataloger every wanted file below a testdata directory the
// way the engine does, and golden-file comparison.
package catalogtest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Input is an in-memory catalog.Input.
type Input struct {
	P    string
	Data []byte
	M    fs.FileMode
	r    *bytes.Reader
}

// NewInput returns an Input for a regular file with the given content.
func NewInput(p string, data []byte) *Input {
	return &Input{P: p, Data: data, M: 0o644, r: bytes.NewReader(data)}
}

func (i *Input) Path() string                   { return i.P }
func (i *Input) Size() int64                    { return int64(len(i.Data)) }
func (i *Input) Mode() fs.FileMode              { return i.M }
func (i *Input) Read(b []byte) (int, error)     { return i.r.Read(b) }
func (i *Input) ReaderAt() (io.ReaderAt, error) { return bytes.NewReader(i.Data), nil }
func (i *Input) Peek(n int) ([]byte, error) {
	if n > len(i.Data) {
		n = len(i.Data)
	}
	return i.Data[:n], nil
}

// Run walks root (a directory standing for a target's "/"), offers every
// regular file to c, parses those it wants and assembles the result as the
// engine would for a single-layer target. Parse errors fail the test unless
// allowErrors is set.
func Run(t testing.TB, c catalog.Cataloger, root string) []sbom.Package {
	t.Helper()
	var parts []catalog.Part
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		abs := path.Join("/", filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !c.Wants(abs, info.Mode()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		in := NewInput(abs, data)
		in.M = info.Mode()
		res, err := c.Parse(context.Background(), in)
		if err != nil {
			t.Errorf("%s: parse %s: %v", c.Name(), abs, err)
			return nil
		}
		for i := range res.Packages {
			if len(res.Packages[i].Locations) == 0 {
				res.Packages[i].Locations = []sbom.Location{{Path: abs}}
			}
			if res.Packages[i].FoundBy == "" {
				res.Packages[i].FoundBy = c.Name()
			}
		}
		parts = append(parts, catalog.Part{Path: abs, Result: res})
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	var pkgs []sbom.Package
	if a, ok := c.(catalog.Assembler); ok {
		pkgs = a.Assemble(parts)
	} else {
		pkgs = catalog.PackagesOf(parts)
	}
	for i := range pkgs {
		sbom.AssignID(&pkgs[i])
	}
	sbom.Sort(pkgs)
	return pkgs
}

// Golden compares got, as indented JSON, with the file at path; with
// -update it rewrites the file instead.
func Golden(t testing.TB, path string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run with -update to create): %v", path, err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from golden (run with -update after checking the change):\n%s", path, firstDiff(want, b))
	}
}

func firstDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return "line " + itoa(i+1) + ":\n- " + string(x) + "\n+ " + string(y)
		}
	}
	return ""
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// SyftNameVersions reads Syft's JSON output (syft-json) and returns its
// artifacts as "name@version" keys, for recall tests.
func SyftNameVersions(t testing.TB, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Artifacts []struct{ Name, Version string }
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]bool{}
	for _, a := range doc.Artifacts {
		out[a.Name+"@"+a.Version] = true
	}
	return out
}

// SharedData returns ../shared/data/<elem...> as seen from a package
// directory under internal/catalog, or skips the test when it is absent.
func SharedData(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "..", "..", "shared", "data"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not available at %s: %v", p, err)
	}
	return p
}

// ExactRecallVsSyft runs c over every folder below dir that holds Syft's
// syft.json and fails unless the (name, version) sets are equal.
func ExactRecallVsSyft(t *testing.T, c catalog.Cataloger, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			root := filepath.Join(dir, e.Name())
			want := SyftNameVersions(t, filepath.Join(root, "syft.json"))
			got := map[string]bool{}
			for _, p := range Run(t, c, root) {
				got[p.Name+"@"+p.Version] = true
			}
			for nv := range want {
				if !got[nv] {
					t.Errorf("Syft reports %s, we do not", nv)
				}
			}
			if len(got) != len(want) {
				t.Errorf("we report %d packages, Syft %d", len(got), len(want))
			}
		})
	}
}
