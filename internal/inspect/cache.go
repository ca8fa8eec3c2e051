package inspect

import (
	"bytes"
	"compress/gzip"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Cache stores per-layer results by key.
type Cache interface {
	Get(key string) (*LayerResult, bool)
	Put(key string, lr *LayerResult) error
}

// DirCache is a Cache of gzip'd gob files in one directory. gob, not JSON:
// a warm re-scan is mostly this decode, and gob decodes the file lists of a
// Debian layer about three times faster.
type DirCache struct{ dir string }

// NewDirCache returns a cache rooted at dir, creating it.
func NewDirCache(dir string) (*DirCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &DirCache{dir: dir}, nil
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
	return &lr, true
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
	return os.Rename(tmp.Name(), c.path(key))
}
