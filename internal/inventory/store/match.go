package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// AllPackages implements Store.
func (s *SQL) AllPackages(ctx context.Context, fn func(Pkg) error) error {
	rows, err := s.r.QueryContext(ctx, "SELECT "+pkgCols+" FROM packages")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPkg(rows)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ApplyMatch implements Store.
func (s *SQL) ApplyMatch(ctx context.Context, found map[string][]sbom.Finding, now time.Time) (MatchDiff, error) {
	var d MatchDiff
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return d, err
	}
	defer tx.Rollback()
	type key struct{ pkey, id string }
	type row struct {
		data     string
		resolved bool
	}
	stored := map[key]row{}
	rows, err := tx.QueryContext(ctx, "SELECT pkey, vuln_id, data, resolved FROM vulns")
	if err != nil {
		return d, err
	}
	for rows.Next() {
		var k key
		var r row
		var res sql.NullInt64
		if err := rows.Scan(&k.pkey, &k.id, &r.data, &res); err != nil {
			rows.Close()
			return d, err
		}
		if _, matched := found[k.pkey]; !matched {
			continue
		}
		r.resolved = res.Valid
		stored[k] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, err
	}
	upd := map[string][]sbom.Finding{}
	seen := map[key]bool{}
	for pk, fs := range found {
		for _, f := range fs {
			k := key{pk, f.ID}
			if seen[k] {
				continue
			}
			seen[k] = true
			f.PackageID = pk
			r, ok := stored[k]
			switch {
			case !ok || r.resolved:
				d.New = append(d.New, f)
				upd[pk] = append(upd[pk], f)
			case r.data != vulnData(f):
				upd[pk] = append(upd[pk], f)
			}
			d.Open++
		}
	}
	if err := upsertVulns(ctx, &sqlTx{tx, s.backend == "sqlite"}, upd, "server", nanos(now)); err != nil {
		return d, err
	}
	var stmt *sql.Stmt
	for k, r := range stored {
		if r.resolved || seen[k] {
			continue
		}
		if stmt == nil {
			if stmt, err = tx.PrepareContext(ctx, "UPDATE vulns SET resolved = $1 WHERE pkey = $2 AND vuln_id = $3"); err != nil {
				return d, err
			}
			defer stmt.Close()
		}
		if _, err := stmt.ExecContext(ctx, nanos(now), k.pkey, k.id); err != nil {
			return d, err
		}
		var f sbom.Finding
		_ = json.Unmarshal([]byte(r.data), &f)
		f.PackageID = k.pkey
		d.Resolved = append(d.Resolved, f)
	}
	if err := tx.Commit(); err != nil {
		return d, err
	}
	return d, nil
}
