package store

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
)

func adv(id, eco, pkg, fixed string) advisory.Advisory {
	return advisory.Advisory{
		ID: id, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Affected: []advisory.Affected{{Ecosystem: eco, Package: pkg, Ranges: []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Introduced: "0"}, {Fixed: fixed}}}}}},
	}
}

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "vuln.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestImportLookupAndChanges(t *testing.T) {
	db := openTemp(t)
	st, err := db.Import("osv:PyPI", "test", []advisory.Advisory{
		adv("PYSEC-1", "PyPI", "Django_Rest.framework", "1.0"),
		adv("PYSEC-2", "PyPI", "requests", "2.0"),
	})
	if err != nil || st.Added != 2 {
		t.Fatalf("import: %+v %v", st, err)
	}
	// PEP 503: any spelling finds the package.
	got, err := db.Lookup("PyPI", "django-rest-framework")
	if err != nil || len(got) != 1 || got[0].ID != "PYSEC-1" {
		t.Fatalf("lookup: %v %v", got, err)
	}
	// Re-import: one unchanged, one updated (and re-indexed), one new.
	moved := adv("PYSEC-2", "PyPI", "urllib3", "2.1")
	st, err = db.Import("osv:PyPI", "test", []advisory.Advisory{adv("PYSEC-1", "PyPI", "Django_Rest.framework", "1.0"), moved, adv("PYSEC-3", "PyPI", "flask", "3")})
	if err != nil || st.Unchanged != 1 || st.Updated != 1 || st.Added != 1 {
		t.Fatalf("re-import: %+v %v", st, err)
	}
	if got, _ := db.Lookup("PyPI", "requests"); len(got) != 0 {
		t.Errorf("stale index entry for requests: %v", got)
	}
	if got, _ := db.Lookup("PyPI", "urllib3"); len(got) != 1 {
		t.Errorf("urllib3 not indexed after update")
	}
	if err := db.ImportKEV("kev.json", []advisory.KEV{{CVE: "CVE-2024-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.KEV("CVE-2024-1"); !ok {
		t.Error("KEV entry missing")
	}
	s, err := db.Status()
	if err != nil || s.Advisories != 3 || s.KEV != 1 || len(s.Sources) != 2 {
		t.Fatalf("status %+v %v", s, err)
	}
}

func TestMissingDatabaseMessage(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.db"), false)
	if !errors.Is(err, ErrNoDatabase) || !bytes.Contains([]byte(err.Error()), []byte("db update")) {
		t.Fatalf("got %v", err)
	}
}

func TestBundles(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	src := openTemp(t)
	if _, err := src.Import("osv:Go", "test", []advisory.Advisory{adv("GO-1", "Go", "example.com/m", "1.2.3")}); err != nil {
		t.Fatal(err)
	}
	var bundle bytes.Buffer
	if err := src.ExportBundle(&bundle, priv); err != nil {
		t.Fatal(err)
	}

	// An existing database that must survive every rejected import.
	dst := filepath.Join(t.TempDir(), "site.db")
	old, err := Open(dst, true)
	if err != nil {
		t.Fatal(err)
	}
	old.Import("osv:npm", "old", []advisory.Advisory{adv("OLD-1", "npm", "lodash", "4.17.21")})
	old.Close()
	stillOld := func(t *testing.T) {
		t.Helper()
		db, err := Open(dst, false)
		if err != nil {
			t.Fatalf("previous database no longer opens: %v", err)
		}
		defer db.Close()
		if got, _ := db.Lookup("npm", "lodash"); len(got) != 1 {
			t.Fatal("previous database lost its records")
		}
	}
	b := bundle.Bytes()
	tampered := bytes.Clone(b)
	tampered[len(tampered)/2] ^= 0xff
	for name, tc := range map[string]struct {
		data []byte
		key  ed25519.PublicKey
	}{
		"wrong key": {b, otherPub},
		"tampered":  {tampered, pub},
		"truncated": {b[:len(b)/2], pub},
		"empty":     {nil, pub},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ImportBundle(bytes.NewReader(tc.data), tc.key, dst); !errors.Is(err, ErrBadBundle) {
				t.Fatalf("want ErrBadBundle, got %v", err)
			}
			stillOld(t)
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".bulkhead-db-import-*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	if _, err := ImportBundle(bytes.NewReader(b), pub, dst); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, _ := db.Lookup("Go", "example.com/m"); len(got) != 1 {
		t.Fatal("imported bundle lacks its record")
	}
	if _, err := os.Stat(dst); err != nil {
		t.Fatal(err)
	}
}

func TestSignBundle(t *testing.T) {
	pubA, privA, _ := ed25519.GenerateKey(rand.Reader)
	pubB, privB, _ := ed25519.GenerateKey(rand.Reader)
	src := openTemp(t)
	src.Import("osv:Go", "test", []advisory.Advisory{adv("GO-1", "Go", "example.com/m", "1.2.3")})
	var a bytes.Buffer
	if err := src.ExportBundle(&a, privA); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := SignBundle(bytes.NewReader(a.Bytes()), &b, privB); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "x.db")
	if _, err := ImportBundle(bytes.NewReader(b.Bytes()), pubA, dst); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("re-signed bundle verified with the old key: %v", err)
	}
	if _, err := ImportBundle(bytes.NewReader(b.Bytes()), pubB, dst); err != nil {
		t.Fatalf("re-signed bundle: %v", err)
	}
	bad := bytes.Clone(a.Bytes())
	bad[len(bad)-2000] ^= 0xff
	if err := SignBundle(bytes.NewReader(bad), io.Discard, privB); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("signed a damaged bundle: %v", err)
	}
}
