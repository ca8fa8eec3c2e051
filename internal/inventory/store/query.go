package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// where builds a conjunction with '?' placeholders numbered on render.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// render returns " WHERE …" with $n placeholders starting at $from, and
// the arguments.
func (w *where) render(from int) (string, []any) {
	if len(w.conds) == 0 {
		return "", nil
	}
	s := strings.Join(w.conds, " AND ")
	var b strings.Builder
	b.WriteString(" WHERE ")
	n := from
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			b.WriteString("$" + strconv.Itoa(n))
			n++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), w.args
}

func qs(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// labelConds adds a selector's requirements over a label table. The first
// equality (else the first positive requirement) is an IN subquery the
// planner drives the query from, through the (key, value, id) index; every
// other requirement is a correlated [NOT] EXISTS probe of the (id, key)
// primary key, so that a broad term ("env=prod", "env!=dev") is checked per
// candidate row instead of being materialised.
func labelConds(w *where, col, table, idcol string, sel selector.Selector) {
	driver := -1
	for i, r := range sel {
		if r.Op == selector.Equals {
			driver = i
			break
		}
	}
	if driver < 0 {
		for i, r := range sel {
			if r.Op == selector.In || r.Op == selector.Exists {
				driver = i
				break
			}
		}
	}
	for i, r := range sel {
		probe := "SELECT 1 FROM " + table + " l WHERE l." + idcol + " = " + col + " AND l.key = ?"
		if i == driver {
			probe = "SELECT " + idcol + " FROM " + table + " WHERE key = ?"
		}
		args := []any{r.Key}
		switch r.Op {
		case selector.Equals, selector.NotEquals:
			probe += " AND value = ?"
			args = append(args, r.Values[0])
		case selector.In, selector.NotIn:
			probe += " AND value IN (" + qs(len(r.Values)) + ")"
			args = append(args, anys(r.Values)...)
		}
		switch {
		case i == driver:
			w.add(col+" IN ("+probe+")", args...)
		case r.Op == selector.NotEquals || r.Op == selector.NotIn || r.Op == selector.NotExists:
			w.add("NOT EXISTS ("+probe+")", args...)
		default:
			w.add("EXISTS ("+probe+")", args...)
		}
	}
}

// imageCond restricts an image-id column to the images named by ref: a
// full id, an id prefix of at least 12 hex digits, a tag or a repository.
func imageCond(w *where, col, ref string) {
	h := strings.TrimPrefix(ref, "sha256:")
	if api.ValidImageID(ref) {
		w.add(col+" = ?", ref)
		return
	}
	if len(h) >= 12 && len(h) <= 64 && strings.Trim(h, "0123456789abcdef") == "" {
		w.add(col+" >= ? AND "+col+" < ?", "sha256:"+h, "sha256:"+h+"~")
		return
	}
	w.add(col+" IN (SELECT image_id FROM image_tags WHERE tag = ? OR repo = ?)", ref, ref)
}

// matchingPackages returns the keys of the packages named by q.Package
// within q's version range; nil, false when no package filter is set.
func (s *SQL) matchingPackages(ctx context.Context, q *Query) ([]string, bool, error) {
	if q.Package == "" {
		return nil, false, nil
	}
	pkgs, err := s.packagesByName(ctx, q.Package)
	if err != nil {
		return nil, true, err
	}
	keys := []string{}
	for _, p := range pkgs {
		if q.VersionMatch == nil || q.VersionMatch(p) {
			keys = append(keys, p.Key)
		}
	}
	return keys, true, nil
}

func (s *SQL) packagesByName(ctx context.Context, name string) ([]Pkg, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+pkgCols+" FROM packages WHERE name = $1", name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Pkg
	for rows.Next() {
		p, err := scanPkg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

const pkgCols = "pkey, type, name, version, purl, distro, source_name, source_version, arch, grp, owned"

type scanner interface{ Scan(...any) error }

func scanPkg(r scanner) (Pkg, error) {
	var p Pkg
	var typ string
	var owned int
	err := r.Scan(&p.Key, &typ, &p.Name, &p.Version, &p.PURL, &p.Distro, &p.SourceName, &p.SourceVersion, &p.Arch, &p.Group, &owned)
	p.Type, p.Owned = sbom.Type(typ), owned != 0
	return p, err
}

// imagesWithPackages is the subquery of images holding any of keys.
func imagesWithPackages(keys []string) (string, []any) {
	return "SELECT image_id FROM image_packages WHERE pkey IN (" + qs(len(keys)) + ")", anys(keys)
}

// ActiveStates are the states "active" stands for.
var ActiveStates = []string{api.StateCreated, api.StateRunning, api.StatePaused, api.StateRestarting}

func stateCond(w *where, col, state string) {
	switch state {
	case "", "all", "any":
	case "active":
		w.add(col+" IN ("+qs(len(ActiveStates))+")", anys(ActiveStates)...)
	default:
		w.add(col+" = ?", state)
	}
}

const imageCols = "i.id, i.repo_tags, i.repo_digests, i.labels, i.os, i.arch, i.packages, i.sbom IS NOT NULL, i.first_seen, i.last_seen"

func scanImage(r scanner) (api.Image, error) {
	var im api.Image
	var tags, digests, labels string
	var first, last int64
	if err := r.Scan(&im.ID, &tags, &digests, &labels, &im.OS, &im.Architecture, &im.Packages, &im.HasSBOM, &first, &last); err != nil {
		return im, err
	}
	im.FirstSeen, im.LastSeen = fromNanos(first), fromNanos(last)
	for _, x := range []struct {
		s string
		v any
	}{{tags, &im.RepoTags}, {digests, &im.RepoDigests}, {labels, &im.Labels}} {
		if err := json.Unmarshal([]byte(x.s), x.v); err != nil {
			return im, fmt.Errorf("image %s: stored JSON: %w", im.ID, err)
		}
	}
	return im, nil
}

// Image implements Store: the image with its layers (and config when
// withConfig is set), without its SBOM.
func (s *SQL) Image(ctx context.Context, id string, withConfig bool) (*api.Image, error) {
	im, err := scanImage(s.r.QueryRowContext(ctx, "SELECT "+imageCols+" FROM images i WHERE i.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if withConfig {
		var cfg string
		if err := s.r.QueryRowContext(ctx, "SELECT config FROM images WHERE id = $1", id).Scan(&cfg); err != nil {
			return nil, err
		}
		if cfg != "" {
			im.Config = json.RawMessage(cfg)
		}
	}
	rows, err := s.r.QueryContext(ctx, "SELECT l.diff_id, l.size FROM image_layers il JOIN layers l ON l.diff_id = il.diff_id WHERE il.image_id = $1 ORDER BY il.idx", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var l api.Layer
		if err := rows.Scan(&l.DiffID, &l.Size); err != nil {
			return nil, err
		}
		im.Layers = append(im.Layers, l)
	}
	return &im, rows.Err()
}

// Images implements Store.
func (s *SQL) Images(ctx context.Context, q Query) (*api.ImageList, error) {
	out := &api.ImageList{Items: []api.Image{}}
	w := &where{}
	labelConds(w, "i.id", "image_labels", "image_id", q.Selector)
	if q.Image != "" {
		imageCond(w, "i.id", q.Image)
	}
	if q.Tag != "" {
		w.add("i.id IN (SELECT image_id FROM image_tags WHERE tag = ? OR repo = ?)", q.Tag, q.Tag)
	}
	if q.Host != "" || q.State != "" {
		cw := &where{}
		if q.Host != "" {
			cw.add("host = ?", q.Host)
		}
		stateCond(cw, "state", q.State)
		w.add("i.id IN (SELECT image_id FROM containers"+renderQ(cw)+")", cw.args...)
	}
	keys, ok, err := s.matchingPackages(ctx, &q)
	if err != nil {
		return nil, err
	}
	if ok {
		if len(keys) == 0 {
			return out, nil
		}
		sub, args := imagesWithPackages(keys)
		w.add("i.id IN ("+sub+")", args...)
	}
	if q.Severity != "" {
		w.add("i.id IN (SELECT ip.image_id FROM image_packages ip JOIN vulns v ON v.pkey = ip.pkey WHERE v.resolved IS NULL AND v.sev_rank >= ?)", sbom.SeverityRank(q.Severity))
	}
	if !q.Since.IsZero() {
		w.add("i.last_seen >= ?", nanos(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("i.first_seen <= ?", nanos(q.Until))
	}
	cond, args := w.render(1)
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM images i"+cond, args...).Scan(&out.Total); err != nil {
		return nil, err
	}
	n := len(args)
	rows, err := s.r.QueryContext(ctx, "SELECT "+imageCols+" FROM images i"+cond+
		fmt.Sprintf(" ORDER BY i.id LIMIT $%d OFFSET $%d", n+1, n+2), append(args, q.limit(), max(q.Offset, 0))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, im)
	}
	return out, rows.Err()
}

// renderQ renders a where clause with '?' kept (for nesting into another
// where, which numbers placeholders once).
func renderQ(w *where) string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// ImageSBOM implements Store.
func (s *SQL) ImageSBOM(ctx context.Context, id string) ([]byte, error) {
	var blob []byte
	err := s.r.QueryRowContext(ctx, "SELECT sbom FROM images WHERE id = $1", id).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) || err == nil && blob == nil {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return gunzip(blob)
}

// HostSBOM implements Store.
func (s *SQL) HostSBOM(ctx context.Context, name string) ([]byte, error) {
	var blob []byte
	err := s.r.QueryRowContext(ctx, "SELECT sbom FROM hosts WHERE name = $1", name).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) || err == nil && blob == nil {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return gunzip(blob)
}

func (s *SQL) packageList(ctx context.Context, query string, args ...any) (*api.PackageList, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &api.PackageList{Items: []api.Package{}}
	for rows.Next() {
		var p api.Package
		var typ string
		if err := rows.Scan(&p.Key, &p.Name, &p.Version, &typ, &p.PURL, &p.Distro, &p.Layer); err != nil {
			return nil, err
		}
		p.Type = sbom.Type(typ)
		out.Items = append(out.Items, p)
	}
	out.Total = len(out.Items)
	return out, rows.Err()
}

// ImagePackages implements Store.
func (s *SQL) ImagePackages(ctx context.Context, id string) (*api.PackageList, error) {
	if err := s.exists(ctx, "SELECT 1 FROM images WHERE id = $1", id); err != nil {
		return nil, err
	}
	return s.packageList(ctx, `SELECT p.pkey, p.name, p.version, p.type, p.purl, p.distro, ip.layer FROM image_packages ip
		JOIN packages p ON p.pkey = ip.pkey WHERE ip.image_id = $1 ORDER BY p.type, p.name, p.version`, id)
}

// HostPackages implements Store.
func (s *SQL) HostPackages(ctx context.Context, name string) (*api.PackageList, error) {
	if err := s.exists(ctx, "SELECT 1 FROM hosts WHERE name = $1", name); err != nil {
		return nil, err
	}
	return s.packageList(ctx, `SELECT p.pkey, p.name, p.version, p.type, p.purl, p.distro, '' FROM host_packages hp
		JOIN packages p ON p.pkey = hp.pkey WHERE hp.host = $1 ORDER BY p.type, p.name, p.version`, name)
}

func (s *SQL) exists(ctx context.Context, q string, args ...any) error {
	var one int
	err := s.r.QueryRowContext(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Layer implements Store.
func (s *SQL) Layer(ctx context.Context, diffID string) (*api.LayerInfo, error) {
	l := &api.LayerInfo{DiffID: diffID, Images: []string{}}
	err := s.r.QueryRowContext(ctx, "SELECT size FROM layers WHERE diff_id = $1", diffID).Scan(&l.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	l.Images, err = s.strings(ctx, "SELECT DISTINCT image_id FROM image_layers WHERE diff_id = $1 ORDER BY image_id", diffID)
	return l, err
}

func (s *SQL) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Packages implements Store: packages named q.Package (within the version
// range) with the images and hosts holding them.
func (s *SQL) Packages(ctx context.Context, q Query) (*api.PackageList, error) {
	out := &api.PackageList{Items: []api.Package{}}
	if q.Package == "" {
		return out, nil
	}
	pkgs, err := s.packagesByName(ctx, q.Package)
	if err != nil {
		return nil, err
	}
	sort.Slice(pkgs, func(i, j int) bool {
		return pkgs[i].Type < pkgs[j].Type || pkgs[i].Type == pkgs[j].Type && (pkgs[i].Version < pkgs[j].Version || pkgs[i].Version == pkgs[j].Version && pkgs[i].Key < pkgs[j].Key)
	})
	for _, p := range pkgs {
		if q.VersionMatch != nil && !q.VersionMatch(p) {
			continue
		}
		out.Total++
		if out.Total <= max(q.Offset, 0) || len(out.Items) >= q.limit() {
			continue
		}
		ap := api.Package{Key: p.Key, Name: p.Name, Version: p.Version, Type: p.Type, PURL: p.PURL, Distro: p.Distro}
		if ap.Images, err = s.strings(ctx, "SELECT image_id FROM image_packages WHERE pkey = $1 ORDER BY image_id LIMIT 1000", p.Key); err != nil {
			return nil, err
		}
		if ap.Hosts, err = s.strings(ctx, "SELECT host FROM host_packages WHERE pkey = $1 ORDER BY host LIMIT 1000", p.Key); err != nil {
			return nil, err
		}
		out.Items = append(out.Items, ap)
	}
	return out, nil
}

// PackageUsers implements Store.
func (s *SQL) PackageUsers(ctx context.Context, pkey string, limit int) ([]string, []string, error) {
	im, err := s.strings(ctx, "SELECT image_id FROM image_packages WHERE pkey = $1 ORDER BY image_id LIMIT $2", pkey, limit)
	if err != nil {
		return nil, nil, err
	}
	hs, err := s.strings(ctx, "SELECT host FROM host_packages WHERE pkey = $1 ORDER BY host LIMIT $2", pkey, limit)
	return im, hs, err
}

func scanHost(r scanner) (api.Host, error) {
	var h api.Host
	var labels string
	var scanned sql.NullInt64
	var first, last int64
	err := r.Scan(&h.Name, &h.OS, &h.Kernel, &h.Arch, &h.AgentID, &h.AgentVersion, &h.Engine, &labels, &scanned, &first, &last)
	if err != nil {
		return h, err
	}
	h.Scanned, h.FirstSeen, h.LastSeen = fromNull(scanned), fromNanos(first), fromNanos(last)
	if err := json.Unmarshal([]byte(labels), &h.Labels); err != nil {
		return h, fmt.Errorf("host %s: stored JSON: %w", h.Name, err)
	}
	return h, nil
}

const hostCols = "h.name, h.os, h.kernel, h.arch, h.agent_id, h.agent_version, h.engine, h.labels, h.scanned, h.first_seen, h.last_seen"

// Host implements Store.
func (s *SQL) Host(ctx context.Context, name string) (*api.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, "SELECT "+hostCols+" FROM hosts h WHERE h.name = $1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Hosts implements Store. The selector applies to host labels; image,
// tag, state, package and severity select hosts running such containers
// (package also matches the host's own packages).
func (s *SQL) Hosts(ctx context.Context, q Query) (*api.HostList, error) {
	out := &api.HostList{Items: []api.Host{}}
	w := &where{}
	if q.Host != "" {
		w.add("h.name = ?", q.Host)
	}
	// Image, tag, state, package and severity: hosts running such
	// containers (the container index), or for a package alone also hosts
	// holding it themselves.
	var allowed map[string]bool
	if q.Image != "" || q.Tag != "" || q.State != "" || q.Severity != "" || q.Package != "" {
		cq := q
		cq.Selector, cq.Host = nil, ""
		fq, empty, err := s.fleetQuery(ctx, &cq)
		if err != nil {
			return nil, err
		}
		idx, err := s.fleet(ctx)
		if err != nil {
			return nil, err
		}
		allowed = map[string]bool{}
		if !empty {
			for _, h := range idx.HostsRunning(fq) {
				allowed[h] = true
			}
		}
		if keys, ok, err := s.matchingPackages(ctx, &q); err != nil {
			return nil, err
		} else if ok && len(keys) > 0 && q.Image == "" && q.Tag == "" && q.State == "" && q.Severity == "" {
			for _, h := range idx.HostsWith(keys) {
				allowed[h] = true
			}
		}
	}
	if !q.Since.IsZero() {
		w.add("h.last_seen >= ?", nanos(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("h.first_seen <= ?", nanos(q.Until))
	}
	cond, args := w.render(1)
	rows, err := s.r.QueryContext(ctx, "SELECT "+hostCols+" FROM hosts h"+cond+" ORDER BY h.name", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		if !q.Selector.Matches(h.Labels) || (allowed != nil && !allowed[h.Name]) {
			continue
		}
		out.Total++
		if out.Total > max(q.Offset, 0) && len(out.Items) < q.limit() {
			out.Items = append(out.Items, h)
		}
	}
	return out, rows.Err()
}
