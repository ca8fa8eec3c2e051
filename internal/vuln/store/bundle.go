package store

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A bundle carries a whole database to an air-gapped site: a tar holding
// manifest.json (schema, creation time, size and SHA-256 of the database),
// manifest.sig (ed25519 signature of manifest.json, base64) and db.gz.
const (
	bundleManifest = "manifest.json"
	bundleSig      = "manifest.sig"
	bundleDB       = "db.gz"
	maxBundleDB    = 8 << 30
)

// Manifest describes a bundle's database.
type Manifest struct {
	Schema  int       `json:"schema"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
}

// ErrBadBundle is wrapped by every bundle verification failure.
var ErrBadBundle = errors.New("invalid database bundle")

// ExportBundle writes a signed bundle of db to w.
func (db *DB) ExportBundle(w io.Writer, key ed25519.PrivateKey) error {
	tmp, err := os.CreateTemp("", "bulkhead-db-*.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	var size int64
	zw := gzip.NewWriter(tmp)
	err = db.b.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		_, err := tx.WriteTo(io.MultiWriter(zw, h))
		return err
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	man, _ := json.Marshal(Manifest{Schema: SchemaVersion, Created: time.Now().UTC(), Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	sig := []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(key, man)))
	st, err := tmp.Stat()
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeBundle(w, man, sig, tmp, st.Size())
}

// ImportBundle verifies a bundle with pub and, only if everything checks
// out, atomically replaces the database at dst. A tampered, truncated or
// unsigned bundle leaves dst untouched.
func ImportBundle(r io.Reader, pub ed25519.PublicKey, dst string) (Manifest, error) {
	var man Manifest
	var manRaw, sig []byte
	tr := tar.NewReader(r)
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return man, err
	}
	tmp, err := os.CreateTemp(dir, ".bulkhead-db-import-*")
	if err != nil {
		return man, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	gotDB := false
	h := sha256.New()
	var size int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return man, fmt.Errorf("%w: %v", ErrBadBundle, err)
		}
		switch hdr.Name {
		case bundleManifest, bundleSig:
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return man, fmt.Errorf("%w: %s: %v", ErrBadBundle, hdr.Name, err)
			}
			if hdr.Name == bundleManifest {
				manRaw = b
			} else {
				sig = b
			}
		case bundleDB:
			// The signature must be checked before the database is trusted,
			// but the manifest comes first in our bundles; verify it now.
			if err := verify(manRaw, sig, pub, &man); err != nil {
				return man, err
			}
			zr, err := gzip.NewReader(tr)
			if err != nil {
				return man, fmt.Errorf("%w: db.gz: %v", ErrBadBundle, err)
			}
			size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(zr, maxBundleDB))
			if err != nil {
				return man, fmt.Errorf("%w: db.gz truncated or corrupt: %v", ErrBadBundle, err)
			}
			gotDB = true
		default:
			return man, fmt.Errorf("%w: unexpected member %q", ErrBadBundle, hdr.Name)
		}
	}
	if !gotDB {
		return man, fmt.Errorf("%w: no database in the bundle", ErrBadBundle)
	}
	if size != man.Size || hex.EncodeToString(h.Sum(nil)) != man.SHA256 {
		return man, fmt.Errorf("%w: database does not match its signed manifest (size %d, want %d)", ErrBadBundle, size, man.Size)
	}
	if man.Schema != SchemaVersion {
		return man, fmt.Errorf("%w: schema %d, this Bulkhead reads %d", ErrBadBundle, man.Schema, SchemaVersion)
	}
	if err := tmp.Close(); err != nil {
		return man, err
	}
	// Open it once to be sure it is a database we can read.
	check, err := Open(tmp.Name(), false)
	if err != nil {
		return man, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	check.Close()
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return man, err
	}
	return man, nil
}

func verify(manRaw, sig []byte, pub ed25519.PublicKey, man *Manifest) error {
	if manRaw == nil || sig == nil {
		return fmt.Errorf("%w: manifest or signature missing before the database", ErrBadBundle)
	}
	raw, err := base64.StdEncoding.DecodeString(string(sig))
	if err != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, manRaw, raw) {
		return fmt.Errorf("%w: signature does not verify with the given public key", ErrBadBundle)
	}
	if err := json.Unmarshal(manRaw, man); err != nil {
		return fmt.Errorf("%w: manifest: %v", ErrBadBundle, err)
	}
	return nil
}

// SignBundle copies a bundle from r to w with a new signature by key. The
// database is checked against the manifest first, so a damaged bundle is
// never signed.
func SignBundle(r io.Reader, w io.Writer, key ed25519.PrivateKey) error {
	tr := tar.NewReader(r)
	var man []byte
	tmp, err := os.CreateTemp("", "bulkhead-sign-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var dbSize int64
	h := sha256.New()
	var rawSize int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadBundle, err)
		}
		switch hdr.Name {
		case bundleManifest:
			if man, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return fmt.Errorf("%w: %v", ErrBadBundle, err)
			}
		case bundleSig:
		case bundleDB:
			if dbSize, err = io.Copy(tmp, tr); err != nil {
				return fmt.Errorf("%w: %v", ErrBadBundle, err)
			}
		default:
			return fmt.Errorf("%w: unexpected member %q", ErrBadBundle, hdr.Name)
		}
	}
	var m Manifest
	if man == nil || json.Unmarshal(man, &m) != nil {
		return fmt.Errorf("%w: no readable manifest", ErrBadBundle)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(tmp)
	if err != nil {
		return fmt.Errorf("%w: db.gz: %v", ErrBadBundle, err)
	}
	if rawSize, err = io.Copy(h, io.LimitReader(zr, maxBundleDB)); err != nil {
		return fmt.Errorf("%w: db.gz: %v", ErrBadBundle, err)
	}
	if rawSize != m.Size || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		return fmt.Errorf("%w: database does not match its manifest; refusing to sign", ErrBadBundle)
	}
	sig := []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(key, man)))
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeBundle(w, man, sig, tmp, dbSize)
}

// writeBundle writes the three members in the order ImportBundle expects:
// the manifest and its signature before the database.
func writeBundle(w io.Writer, man, sig []byte, db io.Reader, dbSize int64) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	for _, m := range []struct {
		name string
		size int64
		r    io.Reader
	}{
		{bundleManifest, int64(len(man)), bytes.NewReader(man)},
		{bundleSig, int64(len(sig)), bytes.NewReader(sig)},
		{bundleDB, dbSize, db},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: m.size, Typeflag: tar.TypeReg, ModTime: now}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, m.r); err != nil {
			return err
		}
	}
	return tw.Close()
}
