package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// ErrConflict is returned when an agent id is already enrolled with
// another live token.
var ErrConflict = errors.New("conflict")

// Enroll implements Store: it records the agent (id = r.AgentID, or the
// host name when empty) and binds it to tokenID.
func (s *SQL) Enroll(ctx context.Context, tokenID string, r api.EnrollRequest, now time.Time) (api.Agent, error) {
	id := r.AgentID
	if id == "" {
		id = r.Hostname
	}
	a := api.Agent{ID: id, Host: r.Hostname, Version: r.Version}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return a, err
	}
	defer tx.Rollback()
	var bound string
	var enrolled int64
	err = tx.QueryRowContext(ctx, "SELECT token_id, enrolled FROM agents WHERE id = $1", id).Scan(&bound, &enrolled)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		enrolled = nanos(now)
	case err != nil:
		return a, err
	case bound != tokenID && bound != "":
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT revoked FROM tokens WHERE id = $1", bound).Scan(&revoked)
		if err == nil && !revoked.Valid {
			return a, fmt.Errorf("%w: agent %q is enrolled with another token", ErrConflict, id)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO agents (id, host, version, token_id, enrolled, last_seen) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, version = excluded.version, token_id = excluded.token_id, last_seen = excluded.last_seen`,
		id, r.Hostname, r.Version, tokenID, enrolled, nanos(now))
	if err != nil {
		return a, err
	}
	if err := tx.Commit(); err != nil {
		return a, err
	}
	a.Enrolled, a.LastSeen = fromNanos(enrolled), now.UTC()
	return a, nil
}

// AgentToken returns the token id an agent is enrolled with.
func (s *SQL) AgentToken(ctx context.Context, agentID string) (string, error) {
	var t string
	err := s.r.QueryRowContext(ctx, "SELECT token_id FROM agents WHERE id = $1", agentID).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return t, err
}

// Agents implements Store.
func (s *SQL) Agents(ctx context.Context) ([]api.Agent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.id, a.host, a.version, COALESCE(t.name, ''), a.enrolled, a.last_seen
		FROM agents a LEFT JOIN tokens t ON t.id = a.token_id ORDER BY a.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.Agent{}
	for rows.Next() {
		var a api.Agent
		var en, ls int64
		if err := rows.Scan(&a.ID, &a.Host, &a.Version, &a.TokenName, &en, &ls); err != nil {
			return nil, err
		}
		a.Enrolled, a.LastSeen = fromNanos(en), fromNanos(ls)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateToken implements Store.
func (s *SQL) CreateToken(ctx context.Context, t TokenRecord) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (id, kind, name, hash, agent_id, created, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Kind, t.Name, t.Hash, t.AgentID, nanos(t.Created), t.CreatedBy)
	return err
}

// TokenByHash implements Store.
func (s *SQL) TokenByHash(ctx context.Context, hash string) (TokenRecord, error) {
	var t TokenRecord
	var created int64
	var revoked sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT id, kind, name, hash, agent_id, created, created_by, revoked FROM tokens WHERE hash = $1", hash).
		Scan(&t.ID, &t.Kind, &t.Name, &t.Hash, &t.AgentID, &created, &t.CreatedBy, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	t.Created, t.Revoked = fromNanos(created), fromNull(revoked)
	return t, err
}

// Tokens implements Store.
func (s *SQL) Tokens(ctx context.Context) ([]api.Token, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, kind, name, created, created_by, revoked, last_used FROM tokens ORDER BY created")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.Token{}
	for rows.Next() {
		var t api.Token
		var created int64
		var revoked, used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Kind, &t.Name, &created, &t.CreatedBy, &revoked, &used); err != nil {
			return nil, err
		}
		t.Created, t.Revoked, t.LastUsed = fromNanos(created), fromNull(revoked), fromNull(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements Store.
func (s *SQL) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, "UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL", nanos(now), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchTokens implements Store.
func (s *SQL) TouchTokens(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id, t := range used {
		if _, err := tx.ExecContext(ctx, "UPDATE tokens SET last_used = $1 WHERE id = $2 AND (last_used IS NULL OR last_used < $1)", nanos(t), id); err != nil {
			return fmt.Errorf("token last use: %w", err)
		}
	}
	return tx.Commit()
}

// CountTokens implements Store (live tokens of a kind).
func (s *SQL) CountTokens(ctx context.Context, kind string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM tokens WHERE kind = $1 AND revoked IS NULL", kind).Scan(&n)
	return n, err
}

// Audit implements Store.
func (s *SQL) Audit(ctx context.Context, e api.AuditEntry) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO audit (time, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
		nanos(e.Time), e.Actor, e.Action, e.Target, e.Detail)
	return err
}

// AuditLog implements Store: newest first, ids below before (0: no bound).
func (s *SQL) AuditLog(ctx context.Context, limit int, before int64) ([]api.AuditEntry, error) {
	if limit <= 0 || limit > MaxLimit {
		limit = DefaultLimit
	}
	if before <= 0 {
		before = 1<<62 - 1
	}
	rows, err := s.r.QueryContext(ctx, "SELECT id, time, actor, action, target, detail FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2", before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.AuditEntry{}
	for rows.Next() {
		var e api.AuditEntry
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = fromNanos(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneContainers implements Store.
func (s *SQL) PruneContainers(ctx context.Context, cutoff time.Time) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM container_labels WHERE container_id IN (SELECT id FROM containers WHERE destroyed < $1)", nanos(cutoff)); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM findings WHERE subject_kind = 'container' AND subject_id IN (SELECT id FROM containers WHERE destroyed < $1)", nanos(cutoff)); err != nil {
		return 0, err
	}
	// Tombstones tell every server's container index (fleet.go).
	chg, err := changeNumber(ctx, tx, s.backend)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO container_tombstones (id, chg, deleted) SELECT id, $1, $2 FROM containers WHERE destroyed < $3
		ON CONFLICT (id) DO UPDATE SET chg = excluded.chg, deleted = excluded.deleted`, chg, time.Now().UnixNano(), nanos(cutoff)); err != nil {
		return 0, fmt.Errorf("tombstones: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM container_tombstones WHERE deleted < $1", time.Now().Add(-tombstoneRetention).UnixNano()); err != nil {
		return 0, fmt.Errorf("tombstones: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM containers WHERE destroyed < $1", nanos(cutoff))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// Optimize implements Store: SQLite's PRAGMA optimize (bounded
// analysis), PostgreSQL's ANALYZE (sampled) of the inventory tables.
func (s *SQL) Optimize(ctx context.Context) error {
	q := "PRAGMA analysis_limit=1000; PRAGMA optimize"
	if s.backend != "sqlite" {
		q = "ANALYZE containers, container_labels, images, image_packages, image_tags, packages, vulns, vuln_aliases, host_packages"
	}
	_, err := s.w.ExecContext(ctx, q)
	return err
}
