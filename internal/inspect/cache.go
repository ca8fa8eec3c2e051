package inspect

import (
	"bytes"
	"compress/gzip"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cache stores per-layer results by key.
type Cache interface {
	Get(key string) (*LayerResult, bool)
	Put(key string, lr *LayerResult) error
}

// DirCache is a Cache of gzip'd gob files in one directory. gob, not JSON:
// a warm re-scan is mostly this decode, and gob decodes the file lists of a
// Debian layer about three times faster.
//
// With a size bound (NewDirCacheLimit), entries are evicted least recently
// used first (a hit refreshes the file's modification time) after each Put
// that takes the directory over the bound.
type DirCache struct {
	dir      string
	maxBytes int64
	mu       sync.Mutex // one eviction pass at a time
}

// DefaultCacheBytes is the layer cache bound the CLI uses unless told
// otherwise.
const DefaultCacheBytes = 2 << 30

// NewDirCache returns an unbounded cache rooted at dir, creating it.
func NewDirCache(dir string) (*DirCache, error) { return NewDirCacheLimit(dir, 0) }

// NewDirCacheLimit returns a cache rooted at dir holding at most maxBytes
// of entries (0: no bound).
func NewDirCacheLimit(dir string, maxBytes int64) (*DirCache, error) {
	if maxBytes < 0 {
		return nil, fmt.Errorf("layer cache: negative size bound %d", maxBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &DirCache{dir: dir, maxBytes: maxBytes}, nil
}

func (c *DirCache) path(key string) string { return filepath.Join(c.dir, key+".gob.gz") }

// Get returns the cached result; a missing or unreadable entry is a miss.
func (c *DirCache) Get(key string) (*LayerResult, bool) {
	f, err := os.Open(c.path(key))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, false
	}
	var lr LayerResult
	if err := gob.NewDecoder(io.LimitReader(zr, 1<<30)).Decode(&lr); err != nil {
		return nil, false
	}
	if c.maxBytes > 0 {
		now := time.Now()
		_ = os.Chtimes(c.path(key), now, now) // recency for eviction
	}
	return &lr, true
}

// evict removes the least recently used entries until the directory holds
// at most maxBytes. keep (the entry just written) is removed last.
func (c *DirCache) evict(keep string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type entry struct {
		name string
		size int64
		mod  time.Time
	}
	var es []entry
	var total int64
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), ".gob.gz") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		es = append(es, entry{de.Name(), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	if total <= c.maxBytes {
		return nil
	}
	slices.SortFunc(es, func(a, b entry) int {
		if (a.name == keep) != (b.name == keep) {
			if a.name == keep {
				return 1
			}
			return -1
		}
		return a.mod.Compare(b.mod)
	})
	for _, e := range es {
		if total <= c.maxBytes {
			break
		}
		if err := os.Remove(filepath.Join(c.dir, e.name)); err != nil && !os.IsNotExist(err) {
			return err
		}
		total -= e.size
	}
	return nil
}

// Put writes the entry atomically (temporary file, then rename).
func (c *DirCache) Put(key string, lr *LayerResult) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := gob.NewEncoder(zw).Encode(lr); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return err
	}
	if c.maxBytes > 0 {
		return c.evict(filepath.Base(c.path(key)))
	}
	return nil
}
