package inspect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/golang"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// peakHeap samples the live heap while fn runs and returns the maximum.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func hasUnknown(us []sbom.Unknown, substr string) bool {
	for _, u := range us {
		if strings.Contains(u.Error, substr) {
			return true
		}
	}
	return false
}

func TestHostileTar(t *testing.T) {
	good := stanza("good", "1")
	tests := []struct {
		name        string
		layer       []byte
		wantPkgs    []string
		wantUnknown string
	}{
		{
			name: "traversal names are skipped, not confined",
			layer: layerTar(t,
				entry{name: "../../../var/lib/dpkg/status", body: stanza("evil", "1")},
				entry{name: "var/lib/dpkg/status.d/good", body: good},
			),
			wantPkgs:    []string{"good"},
			wantUnknown: "outside the image root",
		},
		{
			name:        "absolute names are skipped",
			layer:       layerTar(t, entry{name: "/var/lib/dpkg/status", body: stanza("evil", "1")}),
			wantUnknown: "outside the image root",
		},
		{
			name: "symlink to a host file is never followed",
			layer: layerTar(t,
				entry{name: "var/lib/dpkg/status", typ: tar.TypeSymlink, link: "/var/lib/dpkg/status"},
			),
		},
		{
			name: "hard link escaping the root",
			layer: layerTar(t,
				entry{name: "var/lib/dpkg/status", typ: tar.TypeLink, link: "../../../../var/lib/dpkg/status"},
			),
			wantUnknown: "hard link",
		},
		{
			name: "hard link inside the layer reuses the target's result",
			layer: layerTar(t,
				entry{name: "var/lib/dpkg/status.d/a", body: good},
				entry{name: "var/lib/dpkg/status.d/b", typ: tar.TypeLink, link: "var/lib/dpkg/status.d/a"},
			),
			wantPkgs: []string{"good", "good"},
		},
		{
			name: "overlong path",
			layer: layerTar(t,
				entry{name: strings.Repeat("a/", 3000) + "status", body: good},
				entry{name: "var/lib/dpkg/status.d/good", body: good},
			),
			wantPkgs:    []string{"good"},
			wantUnknown: "path limit",
		},
		{
			name: "truncated layer keeps what was read",
			layer: func() []byte {
				b := layerTar(t,
					entry{name: "var/lib/dpkg/status.d/good", body: good},
					entry{name: "big", body: strings.Repeat("x", 10000)},
				)
				return b[:3000]
			}(),
			wantPkgs:    []string{"good"},
			wantUnknown: "corrupt",
		},
		{
			name:        "garbage is not a tar",
			layer:       []byte(strings.Repeat("\x00garbage", 200)),
			wantUnknown: "corrupt",
		},
		{
			name: "unparsable database becomes an unknown, the scan goes on",
			layer: layerTar(t,
				entry{name: "var/lib/dpkg/status", body: "Package: x\nthis line is junk\n"},
				entry{name: "var/lib/dpkg/status.d/good", body: good},
			),
			wantPkgs:    []string{"good"},
			wantUnknown: "neither a field",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(osCatalogers())
			lr, err := e.analyzeTar(context.Background(), bytes.NewReader(tt.layer), "sha256:test")
			if err != nil {
				t.Fatal(err)
			}
			doc := e.assemble(sbom.Source{}, []*LayerResult{lr})
			var names []string
			for _, p := range doc.Packages {
				names = append(names, p.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.wantPkgs) && !(len(names) == 0 && len(tt.wantPkgs) == 0) {
				t.Errorf("packages %v, want %v", names, tt.wantPkgs)
			}
			if tt.wantUnknown != "" && !hasUnknown(doc.Unknowns, tt.wantUnknown) {
				t.Errorf("no unknown mentioning %q in %+v", tt.wantUnknown, doc.Unknowns)
			}
		})
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGzipBombIsBounded(t *testing.T) {
	// 256 MiB of zeros in one file compresses to about 256 KiB.
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	// An executable that looks like ELF, so the Go cataloger asks for all
	// of it.
	const size = 256 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "usr/bin/bomb", Mode: 0o755, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("\x7fELF"))
	if _, err := io.CopyN(tw, zeros{}, size-4); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	t.Logf("bomb: %d compressed bytes", gz.Len())

	t.Run("layer limit stops it", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxLayerBytes = 32 << 20
		e := New(osCatalogers(), WithLimits(lim))
		zr, _ := gzip.NewReader(bytes.NewReader(gz.Bytes()))
		_, err := e.analyzeTar(context.Background(), zr, "sha256:bomb")
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("want ErrLimit, got %v", err)
		}
	})
	t.Run("a wanted file past the per-file limit is not read into memory", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxFileSize = 1 << 20
		e := New(append(osCatalogers(), golang.New()), WithLimits(lim))
		var lr *LayerResult
		peak := peakHeap(func() {
			zr, _ := gzip.NewReader(bytes.NewReader(gz.Bytes()))
			var err error
			lr, err = e.analyzeTar(context.Background(), zr, "sha256:bomb")
			if err != nil {
				t.Error(err)
			}
		})
		if !hasUnknown(lr.Unknowns, "per-file read limit") {
			t.Errorf("want a per-file limit unknown, got %+v", lr.Unknowns)
		}
		if peak > 96<<20 {
			t.Errorf("peak heap %d MiB while streaming a 256 MiB file", peak>>20)
		}
	})
}

// manyFiles writes a tar of n one-byte files through a pipe, so the test
// itself holds no archive in memory.
func manyFiles(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for i := range n {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%d", i%1000, i), Mode: 0o755, Size: 1, Typeflag: tar.TypeReg}); err != nil {
				pw.CloseWithError(err)
				return
			}
			tw.Write([]byte{'x'})
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

func TestMillionFilesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 1M-file layer")
	}
	const n = 1_000_000
	// Every file is executable, so the Go cataloger peeks at each one.
	e := New([]catalog.Cataloger{golang.New()})
	var lr *LayerResult
	peak := peakHeap(func() {
		var err error
		lr, err = e.analyzeTar(context.Background(), manyFiles(n), "sha256:many")
		if err != nil {
			t.Error(err)
		}
	})
	if lr == nil || lr.Files != n {
		t.Fatalf("read %v files, want %d", lr, n)
	}
	if peak > 128<<20 {
		t.Errorf("peak heap %d MiB for 1M tiny files", peak>>20)
	}
	t.Logf("peak heap %d MiB", peak>>20)

	lim := DefaultLimits()
	lim.MaxFiles = 1000
	_, err := New(nil, WithLimits(lim)).analyzeTar(context.Background(), manyFiles(5000), "sha256:many")
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("file-count limit: want ErrLimit, got %v", err)
	}
}

func TestTreeNeverFollowsSymlinks(t *testing.T) {
	outside := t.TempDir()
	root := t.TempDir()
	// A real-looking status file outside the root.
	if err := os.MkdirAll(filepath.Join(outside, "dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "dpkg", "status"), []byte(stanza("secret", "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(p string) string {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		return full
	}
	// File symlink and directory symlink, both pointing out of the root.
	if err := os.Symlink(filepath.Join(outside, "dpkg", "status"), mk("var/lib/dpkg/status")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "dpkg"), mk("var/lib/dpkg/status.d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../..", mk("usr/lib/loop")); err != nil {
		t.Fatal(err)
	}
	// A FIFO must not block the walk.
	if err := mkfifo(mk("var/lib/dpkg/info/x.list")); err != nil {
		t.Logf("mkfifo: %v", err)
	}
	doc, err := New(osCatalogers()).ScanTree(context.Background(), root, sbom.Source{Kind: "dir"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 0 {
		t.Fatalf("followed a symlink out of the root: %+v", doc.Packages)
	}
}
