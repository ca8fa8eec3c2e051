package inspect

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// listed renders a listing as "path type mode size layer-index [-> target]"
// lines, with layers named by their position in the image.
func listed(fl *sbom.FileListing, layers ...[]byte) []string {
	idx := map[string]int{}
	for i, l := range layers {
		idx[diffID(l)] = i + 1
	}
	var out []string
	for _, f := range fl.Files {
		s := fmt.Sprintf("%s %s %s %d L%d", f.Path, f.Type, f.Mode, f.Size, idx[f.Layer])
		if f.LinkTarget != "" {
			s += " -> " + f.LinkTarget
		}
		out = append(out, s)
	}
	return out
}

func TestFileListing(t *testing.T) {
	base := layerTar(t,
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/busybox", body: "\x7fELF-busybox", mode: 0o755},
		entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		entry{name: "bin/ash", typ: tar.TypeLink, link: "bin/busybox"},
		entry{name: "bin/suid", body: "s", mode: 0o4750},
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		entry{name: "opt/tool/run", body: "#!/bin/sh\n", mode: 0o700},
		entry{name: "opt/tool/data", body: "d"},
		entry{name: "var/cache/x", body: "xx", mode: 0o755},
		entry{name: "dev/null", typ: tar.TypeChar},
		entry{name: "usr/bin/gone", body: "g", mode: 0o755},
		entry{name: "srv", typ: tar.TypeDir},
		entry{name: "srv/old", body: "o", mode: 0o755},
	)
	top := layerTar(t,
		entry{name: "usr/bin/.wh.gone"},
		entry{name: "opt/tool/.wh..wh..opq"},
		entry{name: "opt/tool/new", body: "n", mode: 0o755},
		entry{name: "bin/busybox", body: "\x7fELF-busybox-2", mode: 0o755},
		entry{name: "var/cache/x", body: "now data"}, // no longer executable
		entry{name: "srv", body: "a file replaces the directory"},
		entry{name: "../../escape", body: "e", mode: 0o755}, // skipped by the walk, as Docker refuses it
	)
	for _, tc := range []struct {
		scope sbom.FileScope
		want  []string
	}{
		{sbom.FilesExecutable, []string{
			"/bin/ash file 0755 12 L1", // hard link: mode and size of the lower busybox it shares an inode with
			"/bin/busybox file 0755 14 L2",
			"/bin/sh symlink 0644 0 L1 -> busybox",
			"/bin/suid file 4750 1 L1",
			"/opt/tool/new file 0755 1 L2",
		}},
		{sbom.FilesAll, []string{
			"/bin/ash file 0755 12 L1",
			"/bin/busybox file 0755 14 L2",
			"/bin/sh symlink 0644 0 L1 -> busybox",
			"/bin/suid file 4750 1 L1",
			"/etc/passwd file 0644 26 L1",
			"/opt/tool/new file 0755 1 L2",
			"/srv file 0644 29 L2",
			"/var/cache/x file 0644 8 L2",
		}},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			doc, err := New(osCatalogers(), WithFileListing(tc.scope)).ScanImage(context.Background(), image(base, top))
			if err != nil {
				t.Fatal(err)
			}
			fl := doc.FileListing
			if fl == nil {
				t.Fatal("no file listing")
			}
			if got := listed(fl, base, top); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("listing:\n got %q\nwant %q", got, tc.want)
			}
			if fl.Scope != tc.scope || fl.Truncated {
				t.Errorf("scope %q truncated %v", fl.Scope, fl.Truncated)
			}
		})
	}
}

func TestFileListingOff(t *testing.T) {
	l := layerTar(t, entry{name: "bin/x", body: "x", mode: 0o755})
	doc, err := New(osCatalogers()).ScanImage(context.Background(), image(l))
	if err != nil {
		t.Fatal(err)
	}
	if doc.FileListing != nil {
		t.Fatalf("listing without WithFileListing: %+v", doc.FileListing)
	}
}

func TestFileListingCompleteness(t *testing.T) {
	ok := layerTar(t, entry{name: "a", body: "a", mode: 0o755}, entry{name: "b", body: "b", mode: 0o755}, entry{name: "c", body: "c", mode: 0o755})
	corrupt := ok[:2*1024+100] // cut inside the third header
	long := layerTar(t, entry{name: strings.Repeat("d/", 40) + "x", body: "x", mode: 0o755})
	for _, tc := range []struct {
		name      string
		layer     []byte
		max       int
		pathLen   int
		complete  bool
		truncated bool
		gap       string
	}{
		{"complete", ok, 10, 4096, true, false, ""},
		{"at the bound", ok, 3, 4096, true, false, ""},
		{"over the bound", ok, 2, 4096, false, true, "truncated"},
		{"corrupt layer", corrupt, 10, 4096, false, false, "corrupt"},
		{"skipped long name", long, 10, 32, false, false, "path limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := DefaultLimits()
			lim.MaxListedFiles, lim.MaxPathLen = tc.max, tc.pathLen
			img := image(tc.layer)
			doc, err := New(nil, WithLimits(lim), WithFileListing(sbom.FilesAll)).ScanImage(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			fl := doc.FileListing
			if fl.Complete != tc.complete || fl.Truncated != tc.truncated {
				t.Fatalf("complete %v truncated %v gaps %q; want %v %v", fl.Complete, fl.Truncated, fl.Gaps, tc.complete, tc.truncated)
			}
			if tc.gap != "" && !strings.Contains(strings.Join(fl.Gaps, "\n"), tc.gap) {
				t.Errorf("gaps %q lack %q", fl.Gaps, tc.gap)
			}
			if len(fl.Files) > tc.max {
				t.Errorf("%d files listed over a bound of %d", len(fl.Files), tc.max)
			}
		})
	}
}

// TestFileListingCached checks the listing is part of the cached layer
// result: a warm scan reads no layer and lists the same files, and a scan
// without the listing neither uses nor is confused by the listing's entry.
func TestFileListingCached(t *testing.T) {
	l := layerTar(t,
		entry{name: "var/lib/dpkg/status", body: stanza("a", "1")},
		entry{name: "bin/x", body: "x", mode: 0o755},
	)
	cache, err := NewDirCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	noRead := image(l)
	noRead.Open = func(context.Context, int) (io.ReadCloser, error) {
		t.Fatal("a cached layer must not be read again")
		return nil, nil
	}
	plain := New(osCatalogers(), WithCache(cache))
	if _, err := plain.ScanImage(context.Background(), image(l)); err != nil {
		t.Fatal(err)
	}
	// A cache entry written without the listing must not satisfy a scan
	// that wants one.
	withList := New(osCatalogers(), WithCache(cache), WithFileListing(sbom.FilesExecutable))
	first, err := withList.ScanImage(context.Background(), image(l))
	if err != nil {
		t.Fatal(err)
	}
	if first.Source.Layers[0].Cached {
		t.Fatal("the listing scan reused a result without entries")
	}
	second, err := withList.ScanImage(context.Background(), noRead)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Source.Layers[0].Cached || !reflect.DeepEqual(second.FileListing, first.FileListing) {
		t.Fatalf("warm listing differs:\n%+v\n%+v", second.FileListing, first.FileListing)
	}
	if got := listed(second.FileListing, l); !reflect.DeepEqual(got, []string{"/bin/x file 0755 1 L1"}) || !second.FileListing.Complete {
		t.Fatalf("cached listing %q complete=%v", got, second.FileListing.Complete)
	}
	// And the plain scan still hits its own entry.
	again, err := plain.ScanImage(context.Background(), noRead)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Source.Layers[0].Cached || again.FileListing != nil {
		t.Fatal("plain scan lost its cache entry or gained a listing")
	}
}

// TestFileListingHostileMerge checks a deep tree hidden by one whiteout and
// a bounded node count: the merge stays linear and bounded.
func TestFileListingHostileMerge(t *testing.T) {
	var es []entry
	for i := range 2000 {
		es = append(es, entry{name: fmt.Sprintf("deep/%s/f%d", strings.Repeat("x/", i%50), i), body: "x", mode: 0o755})
	}
	low := layerTar(t, es...)
	high := layerTar(t, entry{name: ".wh.deep"})
	lim := DefaultLimits()
	lim.MaxListedFiles = 100_000
	doc, err := New(nil, WithLimits(lim), WithFileListing(sbom.FilesAll)).ScanImage(context.Background(), image(low, high))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(doc.FileListing.Files); n != 0 || !doc.FileListing.Complete {
		t.Fatalf("%d files survive a whiteout of their root (complete=%v)", n, doc.FileListing.Complete)
	}
	// 2000 files under up to 50 implied directories each: a node bound of
	// 2×max+1 = 21 stops the merge from growing and marks it truncated.
	lim.MaxListedFiles = 10
	doc, err = New(nil, WithLimits(lim), WithFileListing(sbom.FilesAll)).ScanImage(context.Background(), image(low))
	if err != nil {
		t.Fatal(err)
	}
	if fl := doc.FileListing; !fl.Truncated || fl.Complete || len(fl.Files) > 10 {
		t.Fatalf("truncated %v complete %v files %d", fl.Truncated, fl.Complete, len(fl.Files))
	}
}
