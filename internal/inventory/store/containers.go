package store

// Container queries: search and pages run on the container index
// (fleet.go), rows come from the database.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/fleet"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

const containerCols = `c.id, c.name, c.host, c.image_id, c.image_ref, c.repo_tags, c.repo_digests, c.labels, c.state,
	c.created, c.started, c.finished, c.destroyed, c.exit_code, c.command, c.usr, c.privileged, c.cap_add, c.cap_drop,
	c.mounts, c.networks, c.ports, c.restart_count, c.observed, c.first_seen, c.last_seen`

func scanContainer(r scanner) (api.Container, error) {
	var c api.Container
	var tags, digests, labels, cmd, capAdd, capDrop, mounts, nets, ports string
	var created, started, finished, destroyed, exit sql.NullInt64
	var priv int
	var obs, first, last int64
	err := r.Scan(&c.ID, &c.Name, &c.Host, &c.ImageID, &c.ImageRef, &tags, &digests, &labels, &c.State,
		&created, &started, &finished, &destroyed, &exit, &cmd, &c.User, &priv, &capAdd, &capDrop,
		&mounts, &nets, &ports, &c.RestartCount, &obs, &first, &last)
	if err != nil {
		return c, err
	}
	c.Created, c.Started, c.Finished, c.Destroyed = fromNull(created), fromNull(started), fromNull(finished), fromNull(destroyed)
	if exit.Valid {
		e := int(exit.Int64)
		c.ExitCode = &e
	}
	c.Privileged = priv != 0
	c.ObservedAt, c.FirstSeen, c.LastSeen = fromNanos(obs), fromNanos(first), fromNanos(last)
	for _, x := range []struct {
		s string
		v any
	}{{tags, &c.RepoTags}, {digests, &c.RepoDigests}, {labels, &c.Labels}, {cmd, &c.Command}, {capAdd, &c.CapAdd},
		{capDrop, &c.CapDrop}, {mounts, &c.Mounts}, {nets, &c.Networks}, {ports, &c.Ports}} {
		if err := json.Unmarshal([]byte(x.s), x.v); err != nil {
			return c, fmt.Errorf("container %s: stored JSON: %w", c.ID, err)
		}
	}
	return c, nil
}

// Container implements Store.
func (s *SQL) Container(ctx context.Context, id string) (*api.Container, error) {
	c, err := scanContainer(s.r.QueryRowContext(ctx, "SELECT "+containerCols+" FROM containers c WHERE c.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Containers implements Store: the container index selects and orders,
// the database supplies the page's rows.
func (s *SQL) Containers(ctx context.Context, q Query) (*api.ContainerList, error) {
	out := &api.ContainerList{Items: []api.Container{}}
	fq, empty, err := s.fleetQuery(ctx, &q)
	if err != nil || empty {
		return out, err
	}
	idx, err := s.fleet(ctx)
	if err != nil {
		return nil, err
	}
	total, ids := idx.Page(fq, q.Offset, q.limit())
	out.Total = total
	if out.Items, err = s.containersByID(ctx, ids); err != nil {
		return nil, err
	}
	return out, nil
}

// containersByID reads containers in the order of ids (one missing, pruned
// since the index was read, is left out).
func (s *SQL) containersByID(ctx context.Context, ids []string) ([]api.Container, error) {
	items := []api.Container{}
	if len(ids) == 0 {
		return items, nil
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+containerCols+" FROM containers c WHERE c.id IN ("+placeholders(1, len(ids))+")", anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[string]api.Container, len(ids))
	for rows.Next() {
		c, err := scanContainer(rows)
		if err != nil {
			return nil, err
		}
		byID[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			items = append(items, c)
		}
	}
	return items, nil
}

// fleetQuery translates q's container filters for the container index:
// selector, host, state and time range as they are; image, tag, package
// and severity become the set of image ids they allow (from SQL). empty
// reports that no container can match.
func (s *SQL) fleetQuery(ctx context.Context, q *Query) (fleet.Query, bool, error) {
	fq := fleet.Query{Selector: q.Selector, Host: q.Host}
	switch q.State {
	case "", "all", "any":
	case "active":
		fq.States = ActiveStates
	default:
		fq.States = []string{q.State}
	}
	if !q.Since.IsZero() {
		fq.Since = nanos(q.Since)
	}
	if !q.Until.IsZero() {
		fq.Until = nanos(q.Until)
	}
	var sets [][]string
	addSet := func(query string, args ...any) error {
		ids, err := s.strings(ctx, query, args...)
		sets = append(sets, ids)
		return err
	}
	if q.Image != "" {
		h := strings.TrimPrefix(q.Image, "sha256:")
		var err error
		switch {
		case api.ValidImageID(q.Image):
			sets = append(sets, []string{q.Image})
		case len(h) >= 12 && len(h) <= 64 && strings.Trim(h, "0123456789abcdef") == "":
			err = addSet("SELECT id FROM images WHERE id >= $1 AND id < $2 UNION SELECT image_id FROM containers WHERE image_id >= $1 AND image_id < $2",
				"sha256:"+h, "sha256:"+h+"~")
		default:
			err = addSet("SELECT image_id FROM image_tags WHERE tag = $1 OR repo = $2", q.Image, q.Image)
		}
		if err != nil {
			return fq, false, err
		}
	}
	if q.Tag != "" {
		if err := addSet("SELECT image_id FROM image_tags WHERE tag = $1 OR repo = $2", q.Tag, q.Tag); err != nil {
			return fq, false, err
		}
	}
	keys, ok, err := s.matchingPackages(ctx, q)
	if err != nil {
		return fq, false, err
	}
	if ok {
		if len(keys) == 0 {
			return fq, true, nil
		}
		idx, err := s.fleet(ctx)
		if err != nil {
			return fq, false, err
		}
		sets = append(sets, idx.ImagesWith(keys))
	}
	if q.Severity != "" {
		if err := addSet("SELECT DISTINCT ip.image_id FROM image_packages ip JOIN vulns v ON v.pkey = ip.pkey WHERE v.resolved IS NULL AND v.sev_rank >= $1",
			sbom.SeverityRank(q.Severity)); err != nil {
			return fq, false, err
		}
	}
	if len(sets) == 0 {
		return fq, false, nil
	}
	fq.Images = map[string]bool{}
	for _, id := range sets[0] {
		fq.Images[id] = true
	}
	for _, set := range sets[1:] {
		keep := map[string]bool{}
		for _, id := range set {
			if fq.Images[id] {
				keep[id] = true
			}
		}
		fq.Images = keep
	}
	return fq, len(fq.Images) == 0, nil
}
