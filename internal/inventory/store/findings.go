package store

// Findings and posture of images, hosts and containers.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// vulnFindings returns the vulnerability findings of the packages selected
// by sub (a subquery of pkeys with '?' args).
func (s *SQL) vulnFindings(ctx context.Context, sub string, args []any, all bool, floor int64) ([]api.StoredFinding, error) {
	w := &where{}
	w.add("v.pkey IN ("+sub+")", args...)
	if !all {
		w.add("v.resolved IS NULL")
	}
	cond, a := w.render(1)
	rows, err := s.r.QueryContext(ctx, "SELECT v.data, v.first_seen, v.last_seen, v.resolved FROM vulns v"+cond+" ORDER BY v.sev_rank DESC, v.vuln_id, v.pkey", a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.StoredFinding
	for rows.Next() {
		var f api.StoredFinding
		var data string
		var first, last int64
		var resolved sql.NullInt64
		if err := rows.Scan(&data, &first, &last, &resolved); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &f.Finding); err != nil {
			return nil, err
		}
		// An image's finding exists since both the image and the
		// package's finding were known.
		f.FirstSeen, f.LastSeen, f.Resolved = fromNanos(max(first, floor)), fromNanos(last), fromNull(resolved)
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *SQL) subjectFindings(ctx context.Context, kind, id string, all bool) ([]api.StoredFinding, error) {
	q := "SELECT kind, data, count, first_seen, last_seen, resolved FROM findings WHERE subject_kind = $1 AND subject_id = $2"
	if !all {
		q += " AND resolved IS NULL"
	}
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY kind, finding_id, fkey", kind, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.StoredFinding
	for rows.Next() {
		var f api.StoredFinding
		var k, data string
		var first, last int64
		var resolved sql.NullInt64
		if err := rows.Scan(&k, &data, &f.Count, &first, &last, &resolved); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &f.Finding); err != nil {
			return nil, err
		}
		f.Kind = k
		f.SubjectKind, f.SubjectID = kind, id
		f.FirstSeen, f.LastSeen, f.Resolved = fromNanos(first), fromNanos(last), fromNull(resolved)
		out = append(out, f)
	}
	return out, rows.Err()
}

// firstSeen reads a subject's first_seen with query, or ErrNotFound.
func (s *SQL) firstSeen(ctx context.Context, query, id string, floor *int64) error {
	err := s.r.QueryRowContext(ctx, query, id).Scan(floor)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Findings implements Store.
func (s *SQL) Findings(ctx context.Context, kind, id string, all bool) (*api.FindingList, error) {
	var sub string
	var floor int64
	switch kind {
	case api.SubjectImage:
		if err := s.firstSeen(ctx, "SELECT first_seen FROM images WHERE id = $1", id, &floor); err != nil {
			return nil, err
		}
		sub = "SELECT pkey FROM image_packages WHERE image_id = ?"
	case api.SubjectHost:
		if err := s.firstSeen(ctx, "SELECT first_seen FROM hosts WHERE name = $1", id, &floor); err != nil {
			return nil, err
		}
		sub = "SELECT pkey FROM host_packages WHERE host = ?"
	case api.SubjectContainer:
		if err := s.exists(ctx, "SELECT 1 FROM containers WHERE id = $1", id); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("subject kind %q", kind)
	}
	out := &api.FindingList{Items: []api.StoredFinding{}}
	if sub != "" {
		v, err := s.vulnFindings(ctx, sub, []any{id}, all, floor)
		if err != nil {
			return nil, err
		}
		for i := range v {
			v[i].SubjectKind, v[i].SubjectID = kind, id
		}
		out.Items = append(out.Items, v...)
	}
	o, err := s.subjectFindings(ctx, kind, id, all)
	if err != nil {
		return nil, err
	}
	out.Items = append(out.Items, o...)
	out.Total = len(out.Items)
	return out, nil
}

// Posture implements Store.
func (s *SQL) Posture(ctx context.Context, kind, id string) (*api.Posture, error) {
	p := &api.Posture{SubjectKind: kind, SubjectID: id, BySeverity: map[string]int{}}
	for _, l := range sbom.SeverityLevels {
		p.BySeverity[l] = 0
	}
	var sub string
	var args []any
	switch kind {
	case api.SubjectImage:
		if err := s.r.QueryRowContext(ctx, "SELECT packages FROM images WHERE id = $1", id).Scan(&p.Packages); errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		} else if err != nil {
			return nil, err
		}
		sub, args = "SELECT pkey FROM image_packages WHERE image_id = $1", []any{id}
	case api.SubjectHost:
		if err := s.exists(ctx, "SELECT 1 FROM hosts WHERE name = $1", id); err != nil {
			return nil, err
		}
		imgs := "SELECT DISTINCT image_id FROM containers WHERE host = $1 AND state <> 'destroyed'"
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM containers WHERE host = $1 AND state <> 'destroyed'", id).Scan(&p.Containers); err != nil {
			return nil, err
		}
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+imgs+") x", id).Scan(&p.Images); err != nil {
			return nil, err
		}
		sub = "SELECT pkey FROM host_packages WHERE host = $1 UNION SELECT pkey FROM image_packages WHERE image_id IN (" + imgs + ")"
		args = []any{id}
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+sub+") x", id).Scan(&p.Packages); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("posture of %q", kind)
	}
	rows, err := s.r.QueryContext(ctx, "SELECT severity, fixable, kev, COUNT(*) FROM vulns WHERE resolved IS NULL AND pkey IN ("+sub+") GROUP BY severity, fixable, kev", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sev string
		var fix, kev, n int
		if err := rows.Scan(&sev, &fix, &kev, &n); err != nil {
			return nil, err
		}
		if sbom.SeverityRank(sev) < 0 {
			sev = "unknown"
		}
		p.BySeverity[sev] += n
		p.Total += n
		if fix != 0 {
			p.Fixable += n
		}
		if kev != 0 {
			p.KEV += n
		}
	}
	return p, rows.Err()
}
