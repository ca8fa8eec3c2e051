package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/fleet"
)

// The container index (docs/inventory.md, decision 10).
//
// Container search and the impact query run on an in-memory index of
// every container (internal/inventory/fleet) instead of SQL. The database
// stays the only source of truth: every write to a container row stamps
// it with a change number (chg), a prune leaves a tombstone, and before
// each query the index reads what was stamped since it last looked — one
// indexed query that returns nothing when nothing changed. With
// PostgreSQL several servers share one database and each one's index
// sees the others' writes the same way.
//
// Change numbers: SQLite has one writer, so a counter (change_seq)
// incremented by each writing transaction is in commit order and "read
// chg ≥ next" is exact. PostgreSQL transactions commit in any order, so
// chg is the writing transaction's id: a read under snapshot S takes the
// rows with chg ≥ from that it has not read yet, then moves from to
// S's xmin (every transaction below it has ended, and its rows were
// visible) and remembers which transactions at or above it it has read
// (they had committed, since their rows were visible).

// fleetState is the index and how far it has read the changes.
type fleetState struct {
	mu     sync.Mutex
	idx    *fleet.Index
	loaded bool
	from   int64
	seen   map[int64]bool // PostgreSQL: transactions ≥ from already read
}

// changeNumber returns the writing transaction's change number; called
// once per transaction before its first container write.
func changeNumber(ctx context.Context, tx *sql.Tx, backend string) (int64, error) {
	var n int64
	q := "UPDATE change_seq SET n = n + 1 WHERE id = 1 RETURNING n"
	if backend == "postgres" {
		q = "SELECT pg_current_xact_id()::text::bigint"
	}
	if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("change number: %w", err)
	}
	return n, nil
}

const fleetCols = "id, name, host, image_id, image_ref, state, labels, created, first_seen, destroyed, chg"

type fleetChange struct {
	chg     int64
	deleted bool
	c       fleet.Container
}

// fleet returns the container index, brought up to date with the
// database first.
func (s *SQL) fleet(ctx context.Context) (*fleet.Index, error) {
	f := &s.fl
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.idx == nil {
		f.idx = fleet.New()
	}
	position := "(SELECT n + 1 FROM change_seq WHERE id = 1)"
	if s.backend == "postgres" {
		position = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
	}
	// The position is written into the statements as literals (they are
	// numbers this code made): with a parameter, PostgreSQL switches to a
	// generic plan after five runs, and "chg >= $1" then looks unselective
	// enough for a sequential scan of every container.
	where := fmt.Sprintf(" WHERE chg >= %d", f.from)
	pkgWhere := fmt.Sprintf(" WHERE pkg_chg >= %d", f.from)
	if len(f.seen) > 0 {
		var b strings.Builder
		for i, k := range slices.Sorted(maps.Keys(f.seen)) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(k, 10))
		}
		where += " AND chg NOT IN (" + b.String() + ")"
		pkgWhere += " AND pkg_chg NOT IN (" + b.String() + ")"
	}
	if f.loaded {
		// The usual case, nothing new: one statement (one snapshot) says
		// so and gives the new starting point.
		var next int64
		var changed bool
		err := s.r.QueryRowContext(ctx, "SELECT "+position+", EXISTS (SELECT 1 FROM containers"+where+
			") OR EXISTS (SELECT 1 FROM container_tombstones"+where+") OR EXISTS (SELECT 1 FROM images"+pkgWhere+
			") OR EXISTS (SELECT 1 FROM hosts"+pkgWhere+")").Scan(&next, &changed)
		if err != nil {
			return nil, fmt.Errorf("container index: changes: %w", err)
		}
		if !changed {
			for k := range f.seen {
				if k < next {
					delete(f.seen, k)
				}
			}
			f.from = next
			return f.idx, nil
		}
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.backend == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("container index: %w", err)
	}
	defer tx.Rollback()
	// The new starting point, read first so that it belongs to the same
	// snapshot as the rows.
	var next int64
	if err := tx.QueryRowContext(ctx, "SELECT "+position).Scan(&next); err != nil {
		return nil, fmt.Errorf("container index: change position: %w", err)
	}
	var changes []fleetChange
	var imagePkgs, hostPkgs, imageTags map[string][]string
	var pkgChgs []int64 // change numbers of the images and hosts read
	if !f.loaded {
		if changes, err = readContainerChanges(ctx, tx, "SELECT "+fleetCols+" FROM containers"); err != nil {
			return nil, err
		}
		if imagePkgs, err = readPackageSets(ctx, tx, nil, "", "SELECT image_id, pkey FROM image_packages"); err != nil {
			return nil, err
		}
		if hostPkgs, err = readPackageSets(ctx, tx, nil, "", "SELECT host, pkey FROM host_packages"); err != nil {
			return nil, err
		}
		if imageTags, err = readTags(ctx, tx, "SELECT id, repo_tags FROM images"); err != nil {
			return nil, err
		}
	} else {
		if changes, err = readContainerChanges(ctx, tx, "SELECT "+fleetCols+" FROM containers"+where); err != nil {
			return nil, err
		}
		if imagePkgs, err = readPackageSets(ctx, tx, &pkgChgs, "SELECT id, pkg_chg FROM images"+pkgWhere,
			"SELECT image_id, pkey FROM image_packages WHERE image_id IN (SELECT id FROM images"+pkgWhere+")"); err != nil {
			return nil, err
		}
		if imageTags, err = readTags(ctx, tx, "SELECT id, repo_tags FROM images"+pkgWhere); err != nil {
			return nil, err
		}
		if hostPkgs, err = readPackageSets(ctx, tx, &pkgChgs, "SELECT name, pkg_chg FROM hosts"+pkgWhere,
			"SELECT host, pkey FROM host_packages WHERE host IN (SELECT name FROM hosts"+pkgWhere+")"); err != nil {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, "SELECT id, chg FROM container_tombstones"+where)
		if err != nil {
			return nil, fmt.Errorf("container index: tombstones: %w", err)
		}
		for rows.Next() {
			var ch fleetChange
			if err := rows.Scan(&ch.c.ID, &ch.chg); err != nil {
				rows.Close()
				return nil, fmt.Errorf("container index: tombstones: %w", err)
			}
			ch.deleted = true
			changes = append(changes, ch)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("container index: tombstones: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("container index: %w", err)
	}
	// Apply in change order: a container pruned and then reported again
	// ends up present, one reported and then pruned absent.
	slices.SortStableFunc(changes, func(a, b fleetChange) int {
		switch {
		case a.chg < b.chg:
			return -1
		case a.chg > b.chg:
			return 1
		}
		return 0
	})
	var up []fleet.Container
	flush := func() {
		if len(up) > 0 {
			f.idx.Upsert(up...)
			up = up[:0]
		}
	}
	for _, ch := range changes {
		if ch.deleted {
			flush()
			f.idx.Delete(ch.c.ID)
			continue
		}
		up = append(up, ch.c)
	}
	flush()
	f.idx.SetImagePackages(imagePkgs)
	f.idx.SetImageTags(imageTags)
	f.idx.SetHostPackages(hostPkgs)
	if s.backend == "postgres" {
		seen := map[int64]bool{}
		for k := range f.seen {
			if k >= next {
				seen[k] = true
			}
		}
		for _, ch := range changes {
			if ch.chg >= next {
				seen[ch.chg] = true
			}
		}
		for _, chg := range pkgChgs {
			if chg >= next {
				seen[chg] = true
			}
		}
		f.seen = seen
	}
	f.from, f.loaded = next, true
	return f.idx, nil
}

// readPackageSets reads (owner, pkey) rows into package sets; owners
// (when given) lists the owners whose sets changed, so that one left with
// no packages is reported with an empty set.
// The owners query also returns each owner's change number, appended to
// *chgs.
func readPackageSets(ctx context.Context, tx *sql.Tx, chgs *[]int64, owners, pairs string) (map[string][]string, error) {
	out := map[string][]string{}
	if owners != "" {
		rows, err := tx.QueryContext(ctx, owners)
		if err != nil {
			return nil, fmt.Errorf("container index: %w", err)
		}
		for rows.Next() {
			var id string
			var chg int64
			if err := rows.Scan(&id, &chg); err != nil {
				rows.Close()
				return nil, fmt.Errorf("container index: %w", err)
			}
			out[id] = nil
			*chgs = append(*chgs, chg)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("container index: %w", err)
		}
		if len(out) == 0 {
			return out, nil
		}
	}
	rows, err := tx.QueryContext(ctx, pairs)
	if err != nil {
		return nil, fmt.Errorf("container index: packages: %w", err)
	}
	defer rows.Close()
	// Millions of rows name a few thousand distinct keys and owners: scan
	// into reused bytes and keep one string per distinct value.
	strs := map[string]string{}
	intern := func(b sql.RawBytes) string {
		if v, ok := strs[string(b)]; ok {
			return v
		}
		v := string(b)
		strs[v] = v
		return v
	}
	var owner, key sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&owner, &key); err != nil {
			return nil, fmt.Errorf("container index: packages: %w", err)
		}
		o := intern(owner)
		out[o] = append(out[o], intern(key))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("container index: packages: %w", err)
	}
	return out, nil
}

// readTags reads (image id, repo tags JSON) rows.
func readTags(ctx context.Context, tx *sql.Tx, q string) (map[string][]string, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("container index: tags: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id string
		var tags sql.RawBytes
		if err := rows.Scan(&id, &tags); err != nil {
			return nil, fmt.Errorf("container index: tags: %w", err)
		}
		var ts []string
		if err := json.Unmarshal(tags, &ts); err != nil {
			return nil, fmt.Errorf("container index: image %s: stored tags: %w", id, err)
		}
		out[id] = ts
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("container index: tags: %w", err)
	}
	return out, nil
}

func readContainerChanges(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]fleetChange, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("container index: %w", err)
	}
	defer rows.Close()
	var out []fleetChange
	for rows.Next() {
		var ch fleetChange
		var labels string
		var created, destroyed sql.NullInt64
		c := &ch.c
		if err := rows.Scan(&c.ID, &c.Name, &c.Host, &c.ImageID, &c.ImageRef, &c.State, &labels, &created, &c.FirstSeen, &destroyed, &ch.chg); err != nil {
			return nil, fmt.Errorf("container index: %w", err)
		}
		if err := json.Unmarshal([]byte(labels), &c.Labels); err != nil {
			return nil, fmt.Errorf("container index: container %s: stored labels: %w", c.ID, err)
		}
		c.Created, c.Destroyed = created.Int64, destroyed.Int64
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("container index: %w", err)
	}
	return out, nil
}

// tombstoneRetention is how long pruned container ids are kept for other
// servers' indexes to learn of the prune.
const tombstoneRetention = 7 * 24 * time.Hour

// LoadIndex loads (or brings up to date) the container index and returns
// how many containers it holds; a server calls it at start so that the
// first query does not pay for the load.
func (s *SQL) LoadIndex(ctx context.Context) (int, error) {
	idx, err := s.fleet(ctx)
	if err != nil {
		return 0, err
	}
	return idx.Len(), nil
}
