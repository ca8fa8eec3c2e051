// Package storetest opens the inventory store on every backend available
// to a test: SQLite in a temporary directory always, PostgreSQL when
// $BULKHEAD_TEST_POSTGRES names a server (a fresh schema per call, dropped
// at cleanup). Without it the PostgreSQL case is skipped with a message,
// or fails when BULKHEAD_REQUIRE_INTEGRATION=1 (testenv.Missing).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// Backend is one store under test.
type Backend struct {
	Name string
	// Open opens it; nil when the backend is unavailable (Skip says why).
	Open func(t testing.TB) *store.SQL
	Skip string
}

// Backends lists SQLite and PostgreSQL.
func Backends() []Backend {
	bs := []Backend{{Name: "sqlite", Open: func(t testing.TB) *store.SQL {
		p := filepath.Join(t.TempDir(), "inventory.db")
		return open(t, p)
	}}}
	pg := os.Getenv("BULKHEAD_TEST_POSTGRES")
	if pg == "" {
		bs = append(bs, Backend{Name: "postgres", Skip: "BULKHEAD_TEST_POSTGRES is not set (eval \"$(scripts/test-env.sh)\")"})
		return bs
	}
	bs = append(bs, Backend{Name: "postgres", Open: func(t testing.TB) *store.SQL {
		return open(t, PostgresURL(t))
	}})
	return bs
}

// PostgresURL creates a fresh schema on $BULKHEAD_TEST_POSTGRES, drops it
// at cleanup, and returns a URL whose search_path selects it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BULKHEAD_TEST_POSTGRES")
	if base == "" {
		testenv.Missing(t, "BULKHEAD_TEST_POSTGRES is not set (eval \"$(scripts/test-env.sh)\")")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "bh_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		testenv.Missing(t, "PostgreSQL at BULKHEAD_TEST_POSTGRES unusable: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, u string) *store.SQL {
	t.Helper()
	s, err := store.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Run runs f once per backend as a subtest.
func Run(t *testing.T, f func(t *testing.T, s *store.SQL)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Open == nil {
				testenv.Missing(t, "%s", b.Skip)
			}
			f(t, b.Open(t))
		})
	}
}

// RunShared runs f once per backend with two stores open on the same
// database, as two servers sharing it would have.
func RunShared(t *testing.T, f func(t *testing.T, a, b *store.SQL)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Open == nil {
				testenv.Missing(t, "%s", b.Skip)
			}
			var u string
			if b.Name == "sqlite" {
				u = filepath.Join(t.TempDir(), "inventory.db")
			} else {
				u = PostgresURL(t)
			}
			f(t, open(t, u), open(t, u))
		})
	}
}
