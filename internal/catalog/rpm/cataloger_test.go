package rpm

import (
	"context"
	"encoding/binary"
	"io"
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

var _ catalog.Cataloger = (*Cataloger)(nil)

const (
	sqliteFixture = "testdata/sqlite-bulkhead/var/lib/rpm/rpmdb.sqlite"
	bdbFixture    = "testdata/bdb-libuuid/var/lib/rpm/Packages"
	ndbFixture    = "testdata/ndb-sle15-bci/usr/lib/sysimage/rpm/Packages.db"
)

func TestWants(t *testing.T) {
	c := New()
	for path, want := range map[string]bool{
		"/var/lib/rpm/Packages":                true,
		"/var/lib/rpm/Packages.db":             true,
		"/var/lib/rpm/rpmdb.sqlite":            true,
		"/usr/lib/sysimage/rpm/Packages":       true,
		"/usr/lib/sysimage/rpm/Packages.db":    true,
		"/usr/lib/sysimage/rpm/rpmdb.sqlite":   true,
		"/var/lib/rpm/rpmdb.sqlite-wal":        false,
		"/var/lib/rpm/Name":                    false,
		"/var/lib/rpm/sub/Packages":            false,
		"/opt/var/lib/rpm/Packages":            false,
		"/usr/share/rpm/Packages":              false,
		"/var/lib/rpmmanifest/container-manif": false,
	} {
		if got := c.Wants(path, 0o644); got != want {
			t.Errorf("Wants(%q) = %v, want %v", path, got, want)
		}
	}
	if c.Wants("/var/lib/rpm/Packages", fs.ModeSymlink) {
		t.Error("wants a symlink")
	}
	if n := testing.AllocsPerRun(100, func() { c.Wants("/usr/lib/libc.so.6", 0o644); c.Wants("/var/lib/rpm/Name", 0o644) }); n != 0 {
		t.Errorf("Wants allocates %v times for a no", n)
	}
}

// summary is what the golden files pin for the larger fixtures: the full
// package without its (long) file list, plus the file count.
type summary struct {
	sbom.Package
	FileCount int `json:"fileCount"`
}

func TestGolden(t *testing.T) {
	tests := []struct {
		dir   string
		count int
		full  bool
	}{
		{"sqlite-bulkhead", 2, true}, // the gpg-pubkey entry is skipped
		{"bdb-libuuid", 1, true},
		{"ndb-sle15-bci", 35, false},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			pkgs := catalogtest.Run(t, New(), filepath.Join("testdata", tt.dir))
			if len(pkgs) != tt.count {
				t.Errorf("got %d packages, want %d", len(pkgs), tt.count)
			}
			golden := filepath.Join("testdata", "golden", tt.dir+".json")
			if tt.full {
				catalogtest.Golden(t, golden, pkgs)
				return
			}
			var s []summary
			for _, p := range pkgs {
				n := len(p.Files)
				p.Files = nil
				s = append(s, summary{p, n})
			}
			catalogtest.Golden(t, golden, s)
		})
	}
}

func TestFixtureFields(t *testing.T) {
	pkgs := catalogtest.Run(t, New(), filepath.Join("testdata", "sqlite-bulkhead"))
	if len(pkgs) != 2 {
		t.Fatalf("got %d packages", len(pkgs))
	}
	p := pkgs[0]
	checks := []struct{ field, got, want string }{
		{"name", p.Name, "bulkhead-fixture"},
		{"version", p.Version, "2:1.0-3.bh1"},
		{"arch", p.Arch, "x86_64"},
		{"purl", p.PURL, "pkg:rpm/bulkhead-fixture@1.0-3.bh1?arch=x86_64&epoch=2&upstream=bulkhead-fixture-1.0-3.bh1.src.rpm"},
		{"sourceName", p.SourceName, "bulkhead-fixture"},
		{"sourceVersion", p.SourceVersion, "2:1.0-3.bh1"},
		{"license", strings.Join(p.Licenses, "|"), "MIT AND Apache-2.0"},
		{"vendor", p.Metadata["vendor"], "Bulkhead"},
		{"epoch", p.Metadata["epoch"], "2"},
		{"purlNeedsDistro", p.Metadata["purlNeedsDistro"], "1"},
		{"files", strings.Join(p.Files, " "), "/etc/bulkhead-fixture.conf /usr/share/bulkhead-fixture /usr/share/bulkhead-fixture/hello.txt /usr/share/bulkhead-fixture/world.txt"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	q := pkgs[1]
	if q.Version != "0.9.1-1" || q.Metadata["epoch"] != "" || q.PURL != "pkg:rpm/bulkhead-noepoch@0.9.1-1?arch=noarch&upstream=bulkhead-noepoch-0.9.1-1.src.rpm" {
		t.Errorf("bulkhead-noepoch: %+v", q)
	}
}

// TestSharedDatabases reads the real databases in shared/ (go-rpmdb's test
// data) and checks the package counts rpm itself reports for them, less the
// gpg-pubkey entries.
func TestSharedDatabases(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "os-package-dbs", "rpm")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("shared rpm databases not available (%s): %v", root, err)
	}
	for _, tt := range []struct {
		file, path string
		count      int
	}{
		{"cbl-mariner-2.0/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite", 129},
		{"sle15-bci/Packages.db", "/usr/lib/sysimage/rpm/Packages.db", 35},
		{"libuuid/Packages", "/var/lib/rpm/Packages", 1},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := New().Parse(context.Background(), catalogtest.NewInput(tt.path, data))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Packages) != tt.count {
				t.Errorf("got %d packages, want %d", len(res.Packages), tt.count)
			}
			for _, p := range res.Packages {
				if p.Name == "" || p.Version == "" || p.Arch == "" || p.SourceName == "" || !strings.HasPrefix(p.PURL, "pkg:rpm/") {
					t.Errorf("incomplete package: %+v", p)
				}
			}
		})
	}
}

func TestSplitSourceRPM(t *testing.T) {
	for _, tt := range []struct{ in, name, vr string }{
		{"util-linux-2.32.1-42.el8_8.src.rpm", "util-linux", "2.32.1-42.el8_8"},
		{"gcc11-11.2.1+git610-1.3.9.src.rpm", "gcc11", "11.2.1+git610-1.3.9"},
		{"foo-1-2.nosrc.rpm", "foo", "1-2"},
		{"", "", ""},
		{"noversion.src.rpm", "", ""},
		{"a-1.src.rpm", "", ""},
		{"-1-2.src.rpm", "", ""},
		{"a--2.src.rpm", "", ""},
	} {
		name, vr, _ := splitSourceRPM(tt.in)
		if name != tt.name || vr != tt.vr {
			t.Errorf("splitSourceRPM(%q) = %q, %q; want %q, %q", tt.in, name, vr, tt.name, tt.vr)
		}
	}
}

func TestMalformed(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"short":        []byte("SQLite"),
		"text":         []byte(strings.Repeat("not an rpm database\n", 10)),
		"sqlite magic": append([]byte(sqliteMagic), make([]byte, 200)...),
		"ndb magic":    append([]byte("RpmP"), make([]byte, 200)...),
		"bdb magic":    append(append(make([]byte, 12), 0x61, 0x15, 0x06, 0x00), make([]byte, 600)...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New().Parse(context.Background(), catalogtest.NewInput("/var/lib/rpm/Packages", data)); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestTruncatedAndFlipped cuts and corrupts the real fixtures: every result
// must be packages or an error, never a panic or a hang.
func TestTruncatedAndFlipped(t *testing.T) {
	for _, f := range []string{sqliteFixture, bdbFixture} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(data); cut += 4093 {
			_, _ = New().Parse(context.Background(), catalogtest.NewInput("/var/lib/rpm/Packages", data[:cut]))
		}
		for i := 0; i < len(data); i += 97 {
			b := slices.Clone(data)
			b[i] ^= 0xff
			_, _ = New().Parse(context.Background(), catalogtest.NewInput("/var/lib/rpm/Packages", b))
		}
	}
}

// panicReaderAt stands in for a parser bug: the recover in Parse must turn
// it into an error.
type panicInput struct{ *catalogtest.Input }

func (panicInput) ReaderAt() (io.ReaderAt, error) { return panicReaderAt{}, nil }

type panicReaderAt struct{}

func (panicReaderAt) ReadAt([]byte, int64) (int, error) { panic("boom") }

func TestPanicBecomesError(t *testing.T) {
	in := panicInput{catalogtest.NewInput("/var/lib/rpm/Packages", make([]byte, 64))}
	_, err := New().Parse(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("err = %v, want a panic turned into an error", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	be := binary.BigEndian
	hdr := func(il, dl uint32, entries ...[4]uint32) []byte {
		b := be.AppendUint32(nil, il)
		b = be.AppendUint32(b, dl)
		for _, e := range entries {
			for _, v := range e {
				b = be.AppendUint32(b, v)
			}
		}
		return b
	}
	for name, blob := range map[string][]byte{
		"short":             {0, 0, 0},
		"zero entries":      hdr(0, 0),
		"too many entries":  hdr(1<<20, 0),
		"does not fit":      hdr(2, 100),
		"offset past data":  append(hdr(1, 4, [4]uint32{tagName, typeString, 9, 1}), "abc\x00"...),
		"unterminated name": append(hdr(1, 3, [4]uint32{tagName, typeString, 0, 1}), "abc"...),
		"name as int":       append(hdr(1, 4, [4]uint32{tagName, typeInt32, 0, 1}), 0, 0, 0, 1),
		"huge string count": append(hdr(1, 4, [4]uint32{tagBasenames, typeStringArray, 0, 1 << 30}), "a\x00b\x00"...),
		"huge int count":    append(hdr(1, 4, [4]uint32{tagDirIndexes, typeInt32, 0, 1 << 30}), 0, 0, 0, 0),
	} {
		if _, err := parseHeader(blob); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkParseSQLite(b *testing.B) { benchmarkParse(b, sqliteFixture) }
func BenchmarkParseNDB(b *testing.B)    { benchmarkParse(b, ndbFixture) }
func BenchmarkParseBDB(b *testing.B)    { benchmarkParse(b, bdbFixture) }

func benchmarkParse(b *testing.B, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	c := New()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := c.Parse(context.Background(), catalogtest.NewInput("/var/lib/rpm/Packages", data)); err != nil {
			b.Fatal(err)
		}
	}
}

func fuzzParse(f *testing.F, fixture string) {
	if data, err := os.ReadFile(fixture); err == nil {
		f.Add(data)
	}
	c := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := c.Parse(context.Background(), catalogtest.NewInput("/var/lib/rpm/Packages", data))
		if err != nil && strings.Contains(err.Error(), "parser panic") {
			t.Fatal(err)
		}
		for _, p := range res.Packages {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
		}
	})
}

func FuzzParseSQLite(f *testing.F) { fuzzParse(f, sqliteFixture) }
func FuzzParseNDB(f *testing.F)    { fuzzParse(f, ndbFixture) }
func FuzzParseBDB(f *testing.F)    { fuzzParse(f, bdbFixture) }

func FuzzParseHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := parseHeader(blob)
		if err != nil {
			return
		}
		_, _ = h.files()
		_, _ = h.toPackage("fuzz")
	})
}

func TestFileListBound(t *testing.T) {
	long := strings.Repeat("d", 1<<20)
	h := &header{name: "x", dirnames: []string{long}}
	for range 100 {
		h.basenames = append(h.basenames, "f")
		h.dirIndexes = append(h.dirIndexes, 0)
	}
	if _, err := h.files(); err == nil {
		t.Error("a 100 MB file list was accepted")
	}
}
