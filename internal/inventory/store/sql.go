package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

//go:embed migrations
var migrations embed.FS

// SQL is the database/sql implementation of Store for both backends.
type SQL struct {
	backend string
	w       *sql.DB // writes (SQLite: one connection, IMMEDIATE transactions)
	r       *sql.DB // reads (SQLite: a pool of WAL readers)
	fl      fleetState
}

var _ Store = (*SQL)(nil)

// DefaultPath is where `bulkhead server` keeps its SQLite file when
// --store is not given: $XDG_DATA_HOME/bulkhead/inventory.db
// (~/.local/share/bulkhead/inventory.db).
func DefaultPath() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "bulkhead", "inventory.db")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "bulkhead", "inventory.db")
	}
	return filepath.Join(os.TempDir(), "bulkhead", "inventory.db")
}

// Open opens (creating and migrating) the store named by u:
// "postgres://…" or "postgresql://…" for PostgreSQL, "sqlite:///path",
// "sqlite://relative/path" or a plain path for SQLite, "" for DefaultPath.
func Open(ctx context.Context, u string) (*SQL, error) {
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return openPostgres(ctx, u)
	case strings.HasPrefix(u, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(u, "sqlite://"))
	case strings.Contains(u, "://"):
		return nil, fmt.Errorf("store %q: want postgres://…, sqlite:///path or a file path", redact(u))
	case u == "":
		return openSQLite(ctx, DefaultPath())
	}
	return openSQLite(ctx, u)
}

// redact hides a URL's password.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

func openSQLite(ctx context.Context, path string) (*SQL, error) {
	if path == "" {
		return nil, errors.New("sqlite store: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)&_pragma=foreign_keys(0)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(8192)&_pragma=temp_store(memory)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s := &SQL{backend: "sqlite", w: w, r: r}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	return s, nil
}

func openPostgres(ctx context.Context, u string) (*SQL, error) {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(u), err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &SQL{backend: "postgres", w: db, r: db}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %w", redact(u), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %w", redact(u), err)
	}
	return s, nil
}

// Backend implements Store.
func (s *SQL) Backend() string { return s.backend }

// Close implements Store.
func (s *SQL) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping implements Store.
func (s *SQL) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// SchemaVersion is the newest migration this build knows.
func SchemaVersion() int {
	files, _ := fs.Glob(migrations, "migrations/sqlite/*.sql")
	return len(files)
}

// migrate applies the backend's migrations newer than the stored version,
// each in its own transaction; a store newer than this build is refused.
func (s *SQL) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/"+s.backend+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.backend == "postgres" {
		// Serialise concurrent servers migrating the same database.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(727274)"); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return err
	}
	if cur > len(files) {
		return fmt.Errorf("schema version %d is newer than this Bulkhead knows (%d): upgrade Bulkhead", cur, len(files))
	}
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", f)
		}
		if n <= cur {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		for _, stmt := range splitSQL(string(body)) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w (in %.60q)", filepath.Base(f), err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)", n, time.Now().UnixNano()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// splitSQL splits a migration file into statements at ';' line ends,
// dropping comment lines.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// Helpers for the encodings the schema uses.

func nanos(t time.Time) int64 { return t.UnixNano() }

func nullNanos(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNull(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "$from,$from+1,…" for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// execer is a *sql.Tx or *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// bulkInsert inserts rows of ncol values with multi-row VALUES statements
// of at most 500 rows (staying under both backends' parameter limits).
// head is "INSERT INTO t (a,b,c)", tail e.g. "ON CONFLICT DO NOTHING".
func bulkInsert(ctx context.Context, tx execer, head, tail string, ncol int, rows [][]any) error {
	const chunk = 500
	// SQLite resolves "$N" parameters by name, which costs O(n²) in a
	// statement with thousands of them; anonymous "?" are positional.
	anon := false
	if t, ok := tx.(*sqlTx); ok {
		tx, anon = t.Tx, t.sqlite
	}
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		args := make([]any, 0, (end-start)*ncol)
		for i, r := range rows[start:end] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			if anon {
				b.WriteString(anonPlaceholders[ncol])
			} else {
				b.WriteString(placeholders(len(args)+1, ncol))
			}
			b.WriteByte(')')
			args = append(args, r...)
		}
		b.WriteByte(' ')
		b.WriteString(tail)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("%s: %w", head, err)
		}
	}
	return nil
}

// anonPlaceholders[n] is "?,?,…" with n marks.
var anonPlaceholders = func() []string {
	out := make([]string, 16)
	for n := 1; n < len(out); n++ {
		out[n] = strings.TrimSuffix(strings.Repeat("?,", n), ",")
	}
	return out
}()

// sqlTx is a transaction that knows its backend.
type sqlTx struct {
	*sql.Tx
	sqlite bool
}
