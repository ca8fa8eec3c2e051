package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/dpkg"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/osrelease"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// entry is one tar member of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layerTar(t testing.TB, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, Linkname: e.link}
		if e.mode != 0 {
			h.Mode = e.mode
		}
		if e.typ != 0 {
			h.Typeflag = e.typ
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func diffID(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func stanza(name, version string) string {
	return "Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version + "\n\n"
}

// image builds an inspect.Image from in-memory layer tars.
func image(layers ...[]byte) Image {
	info := sbom.Source{Kind: "test"}
	for _, l := range layers {
		info.Layers = append(info.Layers, sbom.Layer{DiffID: diffID(l)})
	}
	return Image{Info: info, Open: func(_ context.Context, i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layers[i])), nil
	}}
}

func osCatalogers() []catalog.Cataloger {
	return []catalog.Cataloger{osrelease.New(), dpkg.New()}
}

func pkgsByName(doc *sbom.SBOM) map[string]sbom.Package {
	m := map[string]sbom.Package{}
	for _, p := range doc.Packages {
		m[p.Name] = p
	}
	return m
}

func TestWhiteoutsAndAttribution(t *testing.T) {
	osr, err := os.ReadFile("../catalog/osrelease/testdata/debian-12")
	if err != nil {
		t.Fatal(err)
	}
	l1 := layerTar(t,
		entry{name: "usr/lib/os-release", body: string(osr)},
		entry{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
		entry{name: "var/lib/dpkg/status", body: stanza("base-files", "12.4") + stanza("curl", "7.88.1-10") + stanza("zlib1g", "1:1.2.13")},
		entry{name: "var/lib/dpkg/status.d/gone", body: stanza("gone", "1.0")},
		entry{name: "var/lib/dpkg/status.d/kept", body: stanza("kept", "1.0")},
		entry{name: "opt/app/var/lib/dpkg/status.d/x", body: stanza("x", "1")},
	)
	// Layer 2 removes curl (rewrites status), upgrades zlib1g, deletes one
	// distroless record with a whiteout.
	l2 := layerTar(t,
		entry{name: "var/lib/dpkg/status", body: stanza("base-files", "12.4") + stanza("zlib1g", "1:1.2.13.dfsg-1")},
		entry{name: "var/lib/dpkg/status.d/.wh.gone"},
	)
	// Layer 3 adds a package and makes a directory opaque.
	l3 := layerTar(t,
		entry{name: "var/lib/dpkg/status", body: stanza("base-files", "12.4") + stanza("zlib1g", "1:1.2.13.dfsg-1") + stanza("jq", "1.6")},
		entry{name: "var/lib/dpkg/status.d/.wh..wh..opq"},
		entry{name: "var/lib/dpkg/status.d/fresh", body: stanza("fresh", "2.0")},
	)
	doc, err := New(osCatalogers()).ScanImage(context.Background(), image(l1, l2, l3))
	if err != nil {
		t.Fatal(err)
	}
	got := pkgsByName(doc)
	for _, name := range []string{"curl", "gone", "kept"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s was removed by an upper layer but is reported", name)
		}
	}
	want := map[string]struct{ version, layer, file string }{
		"base-files": {"12.4", diffID(l1), diffID(l3)},
		"zlib1g":     {"1:1.2.13.dfsg-1", diffID(l2), diffID(l3)},
		"jq":         {"1.6", diffID(l3), diffID(l3)},
		"fresh":      {"2.0", diffID(l3), diffID(l3)},
	}
	for name, w := range want {
		p, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if p.Version != w.version || p.Layer != w.layer || p.Locations[0].Layer != w.file {
			t.Errorf("%s: version %s introduced in %s read from %s; want %s, %s, %s",
				name, p.Version, short(p.Layer), short(p.Locations[0].Layer), w.version, short(w.layer), short(w.file))
		}
	}
	// opt/app/... is not a dpkg database location.
	if _, ok := got["x"]; ok {
		t.Error("a status.d file outside /var/lib/dpkg was cataloged")
	}
	if doc.Distro == nil || doc.Distro.ID != "debian" || doc.Distro.VersionID != "12" {
		t.Fatalf("distro %+v, want debian 12", doc.Distro)
	}
	if p := got["jq"]; p.PURL != "pkg:deb/debian/jq@1.6?arch=amd64&distro=debian-12" {
		t.Errorf("jq purl %q", p.PURL)
	}
}

func TestCacheReuse(t *testing.T) {
	l1 := layerTar(t, entry{name: "var/lib/dpkg/status", body: stanza("a", "1")})
	cache, err := NewDirCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := New(osCatalogers(), WithCache(cache))
	first, err := e.ScanImage(context.Background(), image(l1))
	if err != nil {
		t.Fatal(err)
	}
	img := image(l1)
	img.Open = func(context.Context, int) (io.ReadCloser, error) {
		t.Fatal("a cached layer must not be read again")
		return nil, nil
	}
	second, err := e.ScanImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Source.Layers[0].Cached || len(second.Packages) != 1 || second.Packages[0].ID != first.Packages[0].ID {
		t.Fatalf("cached scan differs: %+v", second.Packages)
	}
	// A different cataloger set is a different key.
	e2 := New([]catalog.Cataloger{dpkg.New()}, WithCache(cache))
	if _, err := e2.ScanImage(context.Background(), image(l1)); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedLayerRejected(t *testing.T) {
	l1 := layerTar(t, entry{name: "var/lib/dpkg/status", body: stanza("a", "1")})
	img := image(l1)
	img.Info.Layers[0].DiffID = diffID([]byte("something else"))
	_, err := New(osCatalogers()).ScanImage(context.Background(), img)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("tampered")) {
		t.Fatalf("want a tampered-layer error, got %v", err)
	}
}
