package inspect

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// TestDirCacheEvictsLeastRecentlyUsed fills a bounded cache past its bound
// and checks the least recently used entries go first, a hit refreshes an
// entry, and the entry just written survives.
func TestDirCacheEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	lr := func(n int) *LayerResult {
		r := &LayerResult{DiffID: "sha256:x"}
		for i := range n {
			r.Unknowns = append(r.Unknowns, sbom.Unknown{Location: sbom.Location{Path: time.Duration(i * 7919).String()}, Error: "e"})
		}
		return r
	}
	// Measure one entry's size with an unbounded cache.
	probe, err := NewDirCache(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Put("x", lr(200)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(probe.path("x"))
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()

	c, err := NewDirCacheLimit(filepath.Join(dir, "c"), 3*size+size/2) // room for three
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	for i, k := range []string{"a", "b", "c"} {
		if err := c.Put(k, lr(200)); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(c.path(k), at, at); err != nil {
			t.Fatal(err)
		}
	}
	// A hit on "a" makes it the most recent; "b" is now the oldest.
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a: miss")
	}
	if err := c.Put("d", lr(200)); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("after eviction, %s cached = %v, want %v", k, ok, want)
		}
	}
	if _, err := NewDirCacheLimit(dir, -1); err == nil {
		t.Error("negative bound accepted")
	}
}
