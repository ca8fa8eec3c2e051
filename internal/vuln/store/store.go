// Package store is Bulkhead's local advisory database: one bbolt file holding
// advisories as compressed JSON, indexed by ecosystem and package name, with
// the CISA KEV catalog, EPSS scores and per-source import metadata.
//
// Why bbolt (docs/decisions.md): a single file, pure Go, memory-mapped reads
// with no query planner between the matcher and the bytes, and whole-import
// atomicity from one write transaction.
//
// It imports the standard library, bbolt and internal/vuln/advisory.
package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
)

// SchemaVersion is bumped whenever the layout changes; an older file is
// refused with a message saying how to rebuild it.
const SchemaVersion = 3

var (
	bMeta    = []byte("meta")
	bAdv     = []byte("advisories") // id → gzip(JSON Advisory)
	bIndex   = []byte("index")      // ecosystem \x00 package \x00 id → ""
	bSources = []byte("sources")    // source name → JSON SourceInfo
	bKEV     = []byte("kev")        // CVE → JSON KEV
	bEPSS    = []byte("epss")       // CVE → JSON EPSS
	bHash    = []byte("hashes")     // id → sha256 of the record's JSON
)

// ErrNoDatabase is returned when the database file does not exist.
var ErrNoDatabase = errors.New("no vulnerability database")

// DB is an open advisory database.
type DB struct {
	b    *bolt.DB
	path string
}

// SourceInfo is what the database knows about one imported source.
type SourceInfo struct {
	Name      string    `json:"name"`
	Records   int       `json:"records"`
	Imported  time.Time `json:"imported"`
	Newest    time.Time `json:"newestModified,omitempty"`
	Origin    string    `json:"origin,omitempty"`
	Withdrawn int       `json:"withdrawn,omitempty"`
}

// Status summarises the database.
type Status struct {
	Path       string       `json:"path"`
	Schema     int          `json:"schema"`
	Built      time.Time    `json:"built"`
	Updated    time.Time    `json:"updated"`
	Advisories int          `json:"advisories"`
	KEV        int          `json:"kev"`
	EPSS       int          `json:"epss"`
	Sources    []SourceInfo `json:"sources"`
}

// Open opens (creating when create is set) the database at path.
func Open(path string, create bool) (*DB, error) {
	if !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: run 'bulkhead db update' (online) or 'bulkhead db import-bundle FILE' (air-gapped)", ErrNoDatabase, path)
		}
	}
	b, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: !create})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{b: b, path: path}
	if create {
		err = b.Update(func(tx *bolt.Tx) error {
			for _, n := range [][]byte{bMeta, bAdv, bIndex, bSources, bKEV, bEPSS, bHash} {
				if _, err := tx.CreateBucketIfNotExists(n); err != nil {
					return err
				}
			}
			m := tx.Bucket(bMeta)
			if m.Get([]byte("schema")) == nil {
				m.Put([]byte("schema"), []byte(fmt.Sprint(SchemaVersion)))
				m.Put([]byte("built"), []byte(time.Now().UTC().Format(time.RFC3339)))
			}
			return nil
		})
		if err != nil {
			b.Close()
			return nil, err
		}
	}
	if err := db.checkSchema(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) checkSchema() error {
	return db.b.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if m == nil {
			return fmt.Errorf("%s is not a Bulkhead vulnerability database", db.path)
		}
		if got := string(m.Get([]byte("schema"))); got != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("%s has schema %q, this Bulkhead reads %d: rebuild it with 'bulkhead db update' or import a newer bundle", db.path, got, SchemaVersion)
		}
		return nil
	})
}

// Close closes the database.
func (db *DB) Close() error { return db.b.Close() }

// Path is the database file.
func (db *DB) Path() string { return db.path }

// IndexKey is how packages are looked up: the ecosystem as OSV names it,
// including the release for distributions ("Debian:12"), and the package
// name normalised for that ecosystem.
func IndexKey(ecosystem, pkg string) string {
	return ecosystem + "\x00" + NormalizeName(ecosystem, pkg) + "\x00"
}

// NormalizeName applies the ecosystem's name equivalence: PEP 503 for PyPI,
// case-insensitivity for NuGet, Packagist and RubyGems-insensitive? (no:
// RubyGems is case-sensitive), as is everything else.
func NormalizeName(ecosystem, pkg string) string {
	switch baseEcosystem(ecosystem) {
	case "PyPI":
		pkg = strings.ToLower(pkg)
		var b strings.Builder
		prevSep := false
		for _, r := range pkg {
			if r == '-' || r == '_' || r == '.' {
				if !prevSep {
					b.WriteByte('-')
				}
				prevSep = true
				continue
			}
			prevSep = false
			b.WriteRune(r)
		}
		return b.String()
	case "NuGet", "Packagist":
		return strings.ToLower(pkg)
	}
	return pkg
}

func baseEcosystem(e string) string {
	b, _, _ := strings.Cut(e, ":")
	return b
}

// ImportStats says what one import changed.
type ImportStats struct {
	Source             string
	Added, Updated     int
	Unchanged, Skipped int
}

// Import stores advisories from one source in a single transaction: records
// whose content did not change are left alone, so re-importing a mirror
// rewrites only what changed. Nothing is stored if the transaction fails.
func (db *DB) Import(source, origin string, advs []advisory.Advisory) (ImportStats, error) {
	st := ImportStats{Source: source}
	err := db.b.Update(func(tx *bolt.Tx) error {
		adv, idx, hb := tx.Bucket(bAdv), tx.Bucket(bIndex), tx.Bucket(bHash)
		info := SourceInfo{Name: source, Origin: origin}
		if raw := tx.Bucket(bSources).Get([]byte(source)); raw != nil {
			_ = json.Unmarshal(raw, &info)
			info.Origin = origin
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // reused: a flate writer costs ~1 MB to make
		for i := range advs {
			a := &advs[i]
			if a.ID == "" {
				st.Skipped++
				continue
			}
			if a.Source == "" {
				a.Source = source
			}
			key := storeKey(a)
			js, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("advisory %s: %w", a.ID, err)
			}
			sum := sha256.Sum256(js)
			old := hb.Get(key)
			if old != nil && bytes.Equal(old, sum[:]) {
				st.Unchanged++
				continue
			}
			if old != nil {
				// Remove the previous version's index entries.
				if prev, err := getAdvisory(adv, string(key)); err == nil {
					for _, af := range prev.Affected {
						ik := append([]byte(IndexKey(af.Ecosystem, af.Package)), key...)
						for idx.Get(ik) != nil {
							idx.Delete(ik)
							ik = append(ik, '+')
						}
					}
				}
				st.Updated++
			} else {
				st.Added++
				info.Records++
				if a.Withdrawn != nil {
					info.Withdrawn++
				}
			}
			buf.Reset()
			zw.Reset(&buf)
			zw.Write(js)
			zw.Close()
			// bbolt keeps the slice until commit: give it its own copy.
			if err := adv.Put(key, bytes.Clone(buf.Bytes())); err != nil {
				return err
			}
			if err := hb.Put(key, sum[:]); err != nil {
				return err
			}
			for _, e := range a.Entries() {
				if e.Ecosystem == "" || e.Package == "" {
					continue
				}
				// Entries of one advisory for the same package (rare) are
				// told apart by their position.
				ik := append([]byte(IndexKey(e.Ecosystem, e.Package)), key...)
				for idx.Get(ik) != nil {
					ik = append(ik, '+')
				}
				if err := idx.Put(ik, encodeEntry(e)); err != nil {
					return err
				}
			}
			if a.Modified.After(info.Newest) {
				info.Newest = a.Modified
			}
		}
		info.Imported = time.Now().UTC()
		raw, _ := json.Marshal(info)
		if err := tx.Bucket(bSources).Put([]byte(source), raw); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("updated"), []byte(info.Imported.Format(time.RFC3339)))
	})
	return st, err
}

// ImportKEV replaces the KEV catalog.
func (db *DB) ImportKEV(origin string, kevs []advisory.KEV) error {
	return db.replaceSet(bKEV, "kev", origin, len(kevs), func(put func(k string, v any) error) error {
		for _, k := range kevs {
			if err := put(k.CVE, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ImportEPSS replaces the EPSS scores.
func (db *DB) ImportEPSS(origin string, scores []advisory.EPSS) error {
	return db.replaceSet(bEPSS, "epss", origin, len(scores), func(put func(k string, v any) error) error {
		for _, s := range scores {
			if err := put(s.CVE, s); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) replaceSet(bucket []byte, source, origin string, n int, fill func(func(string, any) error) error) error {
	return db.b.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucket); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		if err := fill(func(k string, v any) error {
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return b.Put([]byte(k), raw)
		}); err != nil {
			return err
		}
		info, _ := json.Marshal(SourceInfo{Name: source, Origin: origin, Records: n, Imported: time.Now().UTC()})
		return tx.Bucket(bSources).Put([]byte(source), info)
	})
}

// storeKey qualifies an advisory id with its source: two feeds may both
// publish a bare "CVE-2024-1234" with different content.
func storeKey(a *advisory.Advisory) []byte {
	return []byte(a.Source + "/" + a.ID)
}

func getAdvisory(b *bolt.Bucket, id string) (*advisory.Advisory, error) {
	raw := b.Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("advisory %s not found", id)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	var a advisory.Advisory
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	return &a, nil
}

// Lookup returns the index entries naming pkg in ecosystem (one
// transaction; use View for many).
func (db *DB) Lookup(ecosystem, pkg string) ([]advisory.Entry, error) {
	var out []advisory.Entry
	err := db.b.View(func(tx *bolt.Tx) error {
		var err error
		out, err = lookup(tx.Bucket(bIndex).Cursor(), ecosystem, pkg, false)
		return err
	})
	return out, err
}

// Reader answers lookups inside one read transaction: a scan makes
// thousands of them, and a transaction each costs more than the lookup.
type Reader struct {
	idx, kev, epss *bolt.Bucket
	cur            *bolt.Cursor // reused: a cursor per lookup allocates its stack
}

// View runs fn with a Reader valid until fn returns.
func (db *DB) View(fn func(r *Reader) error) error {
	return db.b.View(func(tx *bolt.Tx) error {
		r := &Reader{idx: tx.Bucket(bIndex), kev: tx.Bucket(bKEV), epss: tx.Bucket(bEPSS)}
		r.cur = r.idx.Cursor()
		if r.kev != nil && r.kev.Stats().KeyN == 0 {
			r.kev = nil
		}
		if r.epss != nil && r.epss.Stats().KeyN == 0 {
			r.epss = nil
		}
		return fn(r)
	})
}

// Lookup returns the index entries naming pkg in ecosystem. Their strings
// share the database's memory map and are valid only until View's function
// returns: copy (strings.Clone) whatever must outlive it.
func (r *Reader) Lookup(ecosystem, pkg string) ([]advisory.Entry, error) {
	return lookup(r.cur, ecosystem, pkg, true)
}

// KEV returns the KEV entry for a CVE.
func (r *Reader) KEV(cve string) (advisory.KEV, bool) {
	var k advisory.KEV
	return k, r.kev != nil && getJSONFrom(r.kev, cve, &k)
}

// EPSS returns the EPSS score for a CVE.
func (r *Reader) EPSS(cve string) (advisory.EPSS, bool) {
	var e advisory.EPSS
	return e, r.epss != nil && getJSONFrom(r.epss, cve, &e)
}

func getJSONFrom(b *bolt.Bucket, key string, v any) bool {
	raw := b.Get([]byte(key))
	return raw != nil && json.Unmarshal(raw, v) == nil
}

func lookup(c *bolt.Cursor, ecosystem, pkg string, view bool) ([]advisory.Entry, error) {
	prefix := []byte(IndexKey(ecosystem, pkg))
	// Count first (keys only), so the result is allocated once.
	n := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]advisory.Entry, 0, n)
	var slab *entrySlab
	if n > 1 {
		slab = &entrySlab{entries: n}
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		e, err := decodeEntryInto(v, view, slab)
		if err != nil {
			return nil, fmt.Errorf("index entry %q: %w", k[len(prefix):], err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Get returns one advisory by source and id.
func (db *DB) Get(source, id string) (*advisory.Advisory, error) {
	var a *advisory.Advisory
	err := db.b.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getAdvisory(tx.Bucket(bAdv), source+"/"+id)
		return err
	})
	return a, err
}

// KEV returns the KEV entry for a CVE.
func (db *DB) KEV(cve string) (advisory.KEV, bool) {
	var k advisory.KEV
	ok := db.getJSON(bKEV, cve, &k)
	return k, ok
}

// EPSS returns the EPSS score for a CVE.
func (db *DB) EPSS(cve string) (advisory.EPSS, bool) {
	var e advisory.EPSS
	ok := db.getJSON(bEPSS, cve, &e)
	return e, ok
}

func (db *DB) getJSON(bucket []byte, key string, v any) bool {
	found := false
	db.b.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if raw := b.Get([]byte(key)); raw != nil {
			found = json.Unmarshal(raw, v) == nil
		}
		return nil
	})
	return found
}

// Status reads the database's metadata.
func (db *DB) Status() (Status, error) {
	st := Status{Path: db.path, Schema: SchemaVersion}
	err := db.b.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		st.Built, _ = time.Parse(time.RFC3339, string(m.Get([]byte("built"))))
		st.Updated, _ = time.Parse(time.RFC3339, string(m.Get([]byte("updated"))))
		st.Advisories = tx.Bucket(bAdv).Stats().KeyN
		if b := tx.Bucket(bKEV); b != nil {
			st.KEV = b.Stats().KeyN
		}
		if b := tx.Bucket(bEPSS); b != nil {
			st.EPSS = b.Stats().KeyN
		}
		return tx.Bucket(bSources).ForEach(func(k, v []byte) error {
			var si SourceInfo
			if err := json.Unmarshal(v, &si); err != nil {
				return err
			}
			st.Sources = append(st.Sources, si)
			return nil
		})
	})
	sort.Slice(st.Sources, func(i, j int) bool { return st.Sources[i].Name < st.Sources[j].Name })
	return st, err
}

// Ecosystems lists the ecosystems present in the index (for diagnostics).
func (db *DB) Ecosystems() ([]string, error) {
	var out []string
	err := db.b.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bIndex).Cursor()
		for k, _ := c.First(); k != nil; {
			eco, _, _ := bytes.Cut(k, []byte{0})
			out = append(out, string(eco))
			k, _ = c.Seek(append(slices.Clone(eco), 1))
		}
		return nil
	})
	return out, err
}
