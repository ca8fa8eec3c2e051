package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// osTypes are the package types whose advisories depend on the distribution.
var osTypes = map[sbom.Type]bool{sbom.TypeDeb: true, sbom.TypeAPK: true, sbom.TypeRPM: true}

// DistroKey renders a distribution as "id:versionID" ("" for nil).
func DistroKey(d *sbom.Distro) string {
	if d == nil || d.ID == "" {
		return ""
	}
	return d.ID + ":" + d.VersionID
}

// PkgOf returns the stored record of a package found in a target with
// distribution d. Two images holding the same package at the same version
// share one record.
func PkgOf(p *sbom.Package, d *sbom.Distro) Pkg {
	r := Pkg{
		Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL,
		SourceName: p.SourceName, SourceVersion: p.SourceVersion, Arch: p.Arch,
		Group: p.Metadata["groupId"], Owned: p.OwnedBy != "",
	}
	if osTypes[p.Type] {
		r.Distro = DistroKey(d)
	}
	h := sha256.New()
	for _, s := range []string{string(r.Type), r.Name, r.Version, r.PURL, r.Distro, r.SourceName, r.SourceVersion, r.Arch, r.Group, fmt.Sprint(r.Owned)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	r.Key = hex.EncodeToString(h.Sum(nil)[:16])
	return r
}

// Package returns the record as an sbom.Package whose ID is the key (what
// the matcher needs), and the distribution to match it in.
func (p Pkg) Package() (sbom.Package, *sbom.Distro) {
	sp := sbom.Package{ID: p.Key, Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL,
		SourceName: p.SourceName, SourceVersion: p.SourceVersion, Arch: p.Arch}
	if p.Group != "" {
		sp.Metadata = map[string]string{"groupId": p.Group}
	}
	if p.Owned {
		sp.OwnedBy = "os"
	}
	var d *sbom.Distro
	if id, ver, ok := strings.Cut(p.Distro, ":"); ok {
		d = &sbom.Distro{ID: id, VersionID: ver}
	}
	return sp, d
}

// ingestTx is the state of one batch's transaction.
type ingestTx struct {
	s       *SQL
	tx      *sql.Tx
	ex      execer // tx, with the backend's placeholder style for bulk inserts
	ctx     context.Context
	now     int64
	host    string
	newPkgs map[string]Pkg
	labels  [][]any
	// labelRow indexes labels by (container id, key).
	labelRow map[[2]string]int
	layers   map[string]int64
	// serverMatches: vulnerability findings come from the server's own
	// matching, so agent-reported ones are ignored.
	serverMatches bool
	ctrStmt       *sql.Stmt
	chg           int64 // this transaction's change number (changeNumber)
}

// Ingest implements Store. A transaction PostgreSQL aborts as a deadlock
// or serialization victim is retried (up to 5 times).
func (s *SQL) Ingest(ctx context.Context, b *api.Batch, now time.Time, match MatchFunc) (api.IngestResponse, error) {
	for attempt := 1; ; attempt++ {
		resp, err := s.ingest(ctx, b, now, match)
		if err == nil || attempt == 5 || !retryable(err) {
			return resp, err
		}
		time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
	}
}

// retryable reports PostgreSQL deadlock (40P01) and serialization
// (40001) failures.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (s *SQL) ingest(ctx context.Context, b *api.Batch, now time.Time, match MatchFunc) (api.IngestResponse, error) {
	var resp api.IngestResponse
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return resp, err
	}
	defer tx.Rollback()
	var last int64
	err = tx.QueryRowContext(ctx, "SELECT seq FROM agent_streams WHERE agent_id = $1 AND stream = $2", b.AgentID, b.Stream).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return resp, fmt.Errorf("stream position: %w", err)
	}
	it := &ingestTx{s: s, tx: tx, ex: &sqlTx{tx, s.backend == "sqlite"}, ctx: ctx, now: nanos(now), host: b.Host, newPkgs: map[string]Pkg{}, layers: map[string]int64{}, serverMatches: match != nil}
	defer func() {
		if it.ctrStmt != nil {
			it.ctrStmt.Close()
		}
	}()
	hw := uint64(last)
	for i := range b.Items {
		item := &b.Items[i]
		if item.Seq <= uint64(last) {
			resp.Duplicates++
			continue
		}
		if err := it.apply(item); err != nil {
			return resp, fmt.Errorf("items[%d] (seq %d, %s): %w", i, item.Seq, item.Type, err)
		}
		resp.Accepted++
		hw = max(hw, item.Seq)
	}
	// Shared rows are inserted once per batch in key order, so that
	// concurrent batches lock them in the same order (no deadlocks on
	// PostgreSQL).
	if err := it.flushShared(); err != nil {
		return resp, err
	}
	if len(it.labels) > 0 {
		if err := bulkInsert(ctx, it.ex, "INSERT INTO container_labels (container_id, key, value)",
			"ON CONFLICT (container_id, key) DO UPDATE SET value = excluded.value", 3, it.labels); err != nil {
			return resp, err
		}
	}
	if len(it.newPkgs) > 0 && match != nil {
		pkgs := make([]Pkg, 0, len(it.newPkgs))
		for _, p := range it.newPkgs {
			pkgs = append(pkgs, p)
		}
		found, err := match(pkgs)
		if err != nil {
			return resp, fmt.Errorf("match: %w", err)
		}
		if err := upsertVulns(ctx, it.ex, found, "server", it.now); err != nil {
			return resp, err
		}
	}
	if hw > uint64(last) {
		_, err = tx.ExecContext(ctx, `INSERT INTO agent_streams (agent_id, stream, seq, updated) VALUES ($1, $2, $3, $4)
			ON CONFLICT (agent_id, stream) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`, b.AgentID, b.Stream, int64(hw), it.now)
		if err != nil {
			return resp, fmt.Errorf("stream position: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE agents SET last_seen = $1 WHERE id = $2", it.now, b.AgentID); err != nil {
		return resp, err
	}
	if err := tx.Commit(); err != nil {
		return resp, fmt.Errorf("commit: %w", err)
	}
	resp.AckSeq = hw
	return resp, nil
}

// change returns the transaction's change number, taking one on first use.
func (it *ingestTx) change() (int64, error) {
	if it.chg == 0 {
		chg, err := changeNumber(it.ctx, it.tx, it.s.backend)
		if err != nil {
			return 0, err
		}
		it.chg = chg
	}
	return it.chg, nil
}

func (it *ingestTx) apply(item *api.Item) error {
	switch item.Type {
	case api.ItemHost:
		return it.host1(item.Host)
	case api.ItemContainer:
		return it.container(item)
	case api.ItemImage:
		return it.image(item.Image)
	case api.ItemHostSBOM:
		return it.hostSBOM(item.HostSBOM)
	case api.ItemFindings:
		return it.findings(item.Findings)
	case api.ItemAlert:
		return it.alert(item)
	}
	return fmt.Errorf("unknown item type %q", item.Type)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		switch v.(type) {
		case map[string]string:
			return "{}"
		}
		return "[]"
	}
	return string(b)
}

func (it *ingestTx) host1(h *api.Host) error {
	_, err := it.tx.ExecContext(it.ctx, `INSERT INTO hosts (name, os, kernel, arch, agent_id, agent_version, engine, labels, first_seen, last_seen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (name) DO UPDATE SET os = excluded.os, kernel = excluded.kernel, arch = excluded.arch,
		agent_id = excluded.agent_id, agent_version = excluded.agent_version, engine = excluded.engine,
		labels = excluded.labels, last_seen = excluded.last_seen`,
		h.Name, h.OS, h.Kernel, h.Arch, h.AgentID, h.AgentVersion, h.Engine, jsonText(h.Labels), it.now)
	return err
}

// touchHost makes sure a host row exists for a host named by a container.
func (it *ingestTx) touchHost(name string) error {
	_, err := it.tx.ExecContext(it.ctx, `INSERT INTO hosts (name, first_seen, last_seen) VALUES ($1, $2, $2)
		ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen`, name, it.now)
	return err
}

// Snapshot columns: the values of the latest observation win.
// A newer snapshot that lacks a text or list value (a destroy event
// carries little) does not erase the stored one.
var snapshotCols = []string{"privileged", "restart_count"}

var keepCols = map[string]string{"name": "''", "image_ref": "''", "usr": "''", "repo_tags": "'[]'", "repo_digests": "'[]'",
	"labels": "'{}'", "command": "'[]'", "cap_add": "'[]'", "cap_drop": "'[]'", "mounts": "'[]'", "networks": "'[]'", "ports": "'[]'",
	"exit_code": "NULL"}

var containerUpsert = func() string {
	var set []string
	for _, c := range snapshotCols {
		set = append(set, fmt.Sprintf("%s = CASE WHEN excluded.observed >= containers.observed THEN excluded.%s ELSE containers.%s END", c, c, c))
	}
	for _, c := range slices.Sorted(mapKeys(keepCols)) {
		empty, stored := "excluded."+c+" = "+keepCols[c], "containers."+c+" = "+keepCols[c]
		if keepCols[c] == "NULL" {
			empty, stored = "excluded."+c+" IS NULL", "containers."+c+" IS NULL"
		}
		set = append(set, fmt.Sprintf("%s = CASE WHEN %s THEN containers.%s WHEN %s OR excluded.observed >= containers.observed THEN excluded.%s ELSE containers.%s END", c, empty, c, stored, c, c))
	}
	// Lifecycle times are never lost: a later snapshot without one keeps
	// the stored value; when both have one the newer observation wins
	// (a restart moves started/finished forward).
	for _, c := range []string{"started", "finished"} {
		set = append(set, fmt.Sprintf("%s = CASE WHEN excluded.%s IS NULL THEN containers.%s WHEN containers.%s IS NULL OR excluded.observed >= containers.observed THEN excluded.%s ELSE containers.%s END", c, c, c, c, c, c))
	}
	set = append(set,
		"created = COALESCE(containers.created, excluded.created)",
		"destroyed = COALESCE(containers.destroyed, excluded.destroyed)",
		"image_id = CASE WHEN excluded.image_id = '' THEN containers.image_id ELSE excluded.image_id END",
		"host = excluded.host",
		// destroyed is final whatever order snapshots arrive in.
		"state = CASE WHEN containers.destroyed IS NOT NULL OR excluded.destroyed IS NOT NULL THEN 'destroyed' WHEN excluded.observed >= containers.observed THEN excluded.state ELSE containers.state END",
		"observed = CASE WHEN excluded.observed > containers.observed THEN excluded.observed ELSE containers.observed END",
		"last_seen = CASE WHEN excluded.last_seen > containers.last_seen THEN excluded.last_seen ELSE containers.last_seen END",
		"chg = excluded.chg",
	)
	return `INSERT INTO containers (id, name, host, image_id, image_ref, repo_tags, repo_digests, labels, state,
		created, started, finished, destroyed, exit_code, command, usr, privileged, cap_add, cap_drop, mounts, networks, ports,
		restart_count, observed, first_seen, last_seen, chg)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$25,$26)
		ON CONFLICT (id) DO UPDATE SET ` + strings.Join(set, ", ")
}()

func (it *ingestTx) container(item *api.Item) error {
	c := item.Container
	host := c.Host
	if host == "" {
		host = it.host
	}
	obs := c.ObservedAt
	if obs.IsZero() {
		obs = item.Time
	}
	if obs.IsZero() {
		obs = time.Unix(0, it.now)
	}
	state := c.State
	if c.Destroyed != nil {
		state = api.StateDestroyed
	}
	if it.ctrStmt == nil {
		if err := it.touchHost(host); err != nil {
			return err
		}
		if _, err := it.change(); err != nil {
			return err
		}
		st, err := it.tx.PrepareContext(it.ctx, containerUpsert)
		if err != nil {
			return err
		}
		it.ctrStmt = st
	} else if host != it.host {
		if err := it.touchHost(host); err != nil {
			return err
		}
	}
	var exit any
	if c.ExitCode != nil {
		exit = *c.ExitCode
	}
	_, err := it.ctrStmt.ExecContext(it.ctx, c.ID, strings.TrimPrefix(c.Name, "/"), host, c.ImageID, c.ImageRef,
		jsonText(c.RepoTags), jsonText(c.RepoDigests), jsonText(c.Labels), state,
		nullNanos(c.Created), nullNanos(c.Started), nullNanos(c.Finished), nullNanos(c.Destroyed), exit,
		jsonText(c.Command), c.User, b2i(c.Privileged), jsonText(c.CapAdd), jsonText(c.CapDrop),
		jsonText(c.Mounts), jsonText(c.Networks), jsonText(c.Ports), c.RestartCount, obs.UnixNano(), it.now, it.chg)
	if err != nil {
		return err
	}
	// Docker labels are fixed at create time, so they are only added.
	// One row per (container, key) per batch: a batch often holds several
	// records of one container (create, start), and PostgreSQL refuses an
	// upsert statement that touches one row twice.
	if it.labelRow == nil {
		it.labelRow = map[[2]string]int{}
	}
	for k, v := range c.Labels {
		if i, ok := it.labelRow[[2]string{c.ID, k}]; ok {
			it.labels[i][2] = v
			continue
		}
		it.labelRow[[2]string{c.ID, k}] = len(it.labels)
		it.labels = append(it.labels, []any{c.ID, k, v})
	}
	return nil
}

// agentFindings stores findings an agent computed for a subject: package
// vulnerabilities (when pkgKeys maps their PackageID) as per-package vulns
// of origin "agent" — ignored when the server matches itself — and
// everything else per subject.
func (it *ingestTx) agentFindings(kind, id string, fs []sbom.Finding, pkgKeys map[string]string) error {
	var vulns map[string][]sbom.Finding
	var other []sbom.Finding
	for _, f := range fs {
		if f.Kind == "" {
			f.Kind = api.KindVulnerability
		}
		if f.Kind == api.KindVulnerability {
			if k, ok := pkgKeys[f.PackageID]; ok {
				if it.serverMatches {
					continue
				}
				if vulns == nil {
					vulns = map[string][]sbom.Finding{}
				}
				f.PackageID = k
				vulns[k] = append(vulns[k], f)
				continue
			}
		}
		other = append(other, f)
	}
	if err := upsertVulns(it.ctx, it.ex, vulns, "agent", it.now); err != nil {
		return err
	}
	if len(other) > 0 {
		return it.findings(&api.FindingsReport{SubjectKind: kind, SubjectID: id, Kind: other[0].Kind, Findings: other})
	}
	return nil
}

func findingKey(f *sbom.Finding) string {
	h := sha256.New()
	loc := ""
	if len(f.Locations) > 0 {
		loc = f.Locations[0].Path
	}
	for _, s := range []string{f.ID, f.PackageID, f.PackageName, f.InstalledVersion, loc} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (it *ingestTx) findings(r *api.FindingsReport) error {
	var rows [][]any
	keys := map[string]bool{}
	for i := range r.Findings {
		f := r.Findings[i]
		if f.Kind == "" {
			f.Kind = r.Kind
		}
		k := findingKey(&f)
		if keys[k] {
			continue
		}
		keys[k] = true
		rows = append(rows, []any{r.SubjectKind, r.SubjectID, r.Kind, k, f.ID, f.Severity, jsonText(f), it.now, it.now})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][3].(string) < rows[j][3].(string) })
	err := bulkInsert(it.ctx, it.ex, "INSERT INTO findings (subject_kind, subject_id, kind, fkey, finding_id, severity, data, first_seen, last_seen)",
		`ON CONFLICT (subject_kind, subject_id, kind, fkey) DO UPDATE SET severity = excluded.severity, data = excluded.data,
		last_seen = excluded.last_seen, resolved = NULL`, 9, rows)
	if err != nil || !r.Complete {
		return err
	}
	// Resolve the open findings of this subject and kind the report lacks.
	q := `UPDATE findings SET resolved = $1 WHERE subject_kind = $2 AND subject_id = $3 AND kind = $4 AND resolved IS NULL AND last_seen < $1`
	_, err = it.tx.ExecContext(it.ctx, q, it.now, r.SubjectKind, r.SubjectID, r.Kind)
	return err
}

func (it *ingestTx) alert(item *api.Item) error {
	a := item.Alert
	kind, id := api.SubjectContainer, a.ContainerID
	if id == "" {
		kind, id = api.SubjectHost, it.host
	}
	t := a.Time
	if t.IsZero() {
		t = item.Time
	}
	if t.IsZero() {
		t = time.Unix(0, it.now)
	}
	f := sbom.Finding{ID: a.Rule, Kind: api.KindRuntime, Severity: strings.ToLower(a.Priority), Summary: a.Output, Sources: a.Tags}
	data := jsonText(f)
	h := sha256.Sum256([]byte(a.Rule))
	// A redelivered alert (same time) is not counted twice.
	_, err := it.tx.ExecContext(it.ctx, `INSERT INTO findings (subject_kind, subject_id, kind, fkey, finding_id, severity, data, count, first_seen, last_seen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)
		ON CONFLICT (subject_kind, subject_id, kind, fkey) DO UPDATE SET
		count = CASE WHEN excluded.last_seen > findings.last_seen THEN findings.count + 1 ELSE findings.count END,
		data = CASE WHEN excluded.last_seen > findings.last_seen THEN excluded.data ELSE findings.data END,
		last_seen = CASE WHEN excluded.last_seen > findings.last_seen THEN excluded.last_seen ELSE findings.last_seen END,
		resolved = NULL`,
		kind, id, api.KindRuntime, hex.EncodeToString(h[:16]), a.Rule, f.Severity, data, t.UnixNano())
	return err
}

// vulnData is a finding as stored per package: where it was found in one
// image does not belong to the shared package record.
func vulnData(f sbom.Finding) string {
	f.Locations, f.Layer = nil, ""
	return jsonText(f)
}

func fixable(f *sbom.Finding) bool { return len(f.FixedVersions) > 0 }

// upsertVulns stores findings per package key (re-opening resolved ones).
func upsertVulns(ctx context.Context, tx execer, found map[string][]sbom.Finding, origin string, now int64) error {
	var rows, aliases [][]any
	seenAlias := map[[2]string]bool{}
	for _, k := range slices.Sorted(mapKeys(found)) {
		seen := map[string]bool{}
		for _, f := range found[k] {
			if seen[f.ID] {
				continue
			}
			seen[f.ID] = true
			rows = append(rows, []any{k, f.ID, f.Severity, sbom.SeverityRank(f.Severity), b2i(f.KEV), b2i(fixable(&f)), vulnData(f), origin, now, now})
			for _, a := range append([]string{f.ID}, f.Aliases...) {
				if !seenAlias[[2]string{a, f.ID}] {
					seenAlias[[2]string{a, f.ID}] = true
					aliases = append(aliases, []any{a, f.ID})
				}
			}
		}
	}
	sort.Slice(aliases, func(i, j int) bool {
		return aliases[i][0].(string)+"\x00"+aliases[i][1].(string) < aliases[j][0].(string)+"\x00"+aliases[j][1].(string)
	})
	if err := bulkInsert(ctx, tx, "INSERT INTO vulns (pkey, vuln_id, severity, sev_rank, kev, fixable, data, origin, first_seen, last_seen)",
		`ON CONFLICT (pkey, vuln_id) DO UPDATE SET severity = excluded.severity, sev_rank = excluded.sev_rank, kev = excluded.kev,
		fixable = excluded.fixable, data = excluded.data, origin = excluded.origin, last_seen = excluded.last_seen, resolved = NULL`, 10, rows); err != nil {
		return err
	}
	return bulkInsert(ctx, tx, "INSERT INTO vuln_aliases (alias, vuln_id)", "ON CONFLICT DO NOTHING", 2, aliases)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
