package store

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/fleet"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Impact implements Store. The id may be any alias; the default state
// filter is "running" (q.State "all" lists every state).
func (s *SQL) Impact(ctx context.Context, vulnID string, q Query) (*api.Impact, error) {
	out := &api.Impact{ID: vulnID, Images: []api.ImpactImage{}, Containers: []api.ImpactContainer{}, Hosts: []api.ImpactHost{}}
	// The vulnerabilities vulnID names and all their aliases, in one query.
	arows, err := s.r.QueryContext(ctx, "SELECT vuln_id, alias FROM vuln_aliases WHERE vuln_id IN (SELECT vuln_id FROM vuln_aliases WHERE alias = $1)", vulnID)
	if err != nil {
		return nil, err
	}
	var ids, aliases []string
	for arows.Next() {
		var id, alias string
		if err := arows.Scan(&id, &alias); err != nil {
			arows.Close()
			return nil, err
		}
		ids, aliases = append(ids, id), append(aliases, alias)
	}
	arows.Close()
	if err := arows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return out, nil
	}
	slices.Sort(ids)
	slices.Sort(aliases)
	ids, aliases = slices.Compact(ids), slices.Compact(aliases)
	if !slices.Contains(ids, vulnID) && len(ids) == 1 {
		out.ID = ids[0]
	}
	for _, a := range aliases {
		if a != out.ID {
			out.Aliases = append(out.Aliases, a)
		}
	}
	// The affected package records.
	rows, err := s.r.QueryContext(ctx, "SELECT pkey, data, kev FROM vulns WHERE resolved IS NULL AND vuln_id IN ("+placeholders(1, len(ids))+") ORDER BY pkey", anys(ids)...)
	if err != nil {
		return nil, err
	}
	affected := map[string]api.AffectedPackage{}
	var keys []string
	for rows.Next() {
		var k, data string
		var kev int
		if err := rows.Scan(&k, &data, &kev); err != nil {
			rows.Close()
			return nil, err
		}
		var f sbom.Finding
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := affected[k]; !ok {
			keys = append(keys, k)
		}
		affected[k] = api.AffectedPackage{Name: f.PackageName, Type: f.PackageType, PURL: f.PURL, InstalledVersion: f.InstalledVersion, FixedVersions: f.FixedVersions, Severity: f.Severity}
		if sbom.SeverityRank(f.Severity) > sbom.SeverityRank(out.Severity) {
			out.Severity = f.Severity
		}
		out.KEV = out.KEV || kev != 0
		if out.Summary == "" {
			out.Summary = f.Summary
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return out, nil
	}
	// Images holding an affected record, their containers that the
	// filters select (running by default), and the hosts running them or
	// holding an affected record themselves: the container index.
	cq := q
	if cq.State == "" {
		cq.State = api.StateRunning
	}
	fq, empty, err := s.fleetQuery(ctx, &cq)
	if err != nil || empty {
		return out, err
	}
	idx, err := s.fleet(ctx)
	if err != nil {
		return nil, err
	}
	ci := idx.Impact(fleet.ImpactQuery{Query: fq, Keys: keys, Limit: q.limit(),
		// With a container filter, images follow the containers.
		ImagesWithContainers: len(q.Selector) > 0 || q.Host != "" || q.State != "",
		HostPackages:         q.Image == "" && q.Tag == "" && len(q.Selector) == 0})
	out.TotalContainers, out.TotalImages, out.TotalHosts = ci.Total, ci.Images, ci.Hosts
	for _, c := range ci.Containers {
		out.Containers = append(out.Containers, api.ImpactContainer{ID: c.ID, Name: c.Name, Host: c.Host, ImageID: c.ImageID,
			ImageRef: c.ImageRef, State: c.State, Labels: c.Labels})
	}
	packages := func(ks []string) []api.AffectedPackage {
		var ps []api.AffectedPackage
		for _, k := range ks {
			ps = append(ps, affected[k])
		}
		return ps
	}
	for _, h := range ci.ImageHits {
		out.Images = append(out.Images, api.ImpactImage{ID: h.ID, RepoTags: h.Tags, Containers: h.Containers, Packages: packages(h.Keys)})
	}
	for _, h := range ci.HostHits {
		out.Hosts = append(out.Hosts, api.ImpactHost{Name: h.Name, Containers: h.Containers, Packages: packages(h.Keys)})
	}
	out.Truncated = len(out.Containers) < out.TotalContainers || len(out.Images) < out.TotalImages || len(out.Hosts) < out.TotalHosts
	return out, nil
}

func (s *SQL) counts(ctx context.Context, q string, args ...any) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// VulnReach counts, for each open vulnerability, the images holding an
// affected package (for dashboards and benchmarks picking a widespread
// vulnerability).
func (s *SQL) VulnReach(ctx context.Context) (map[string]int, error) {
	return s.counts(ctx, `SELECT v.vuln_id, COUNT(DISTINCT ip.image_id) FROM vulns v JOIN image_packages ip ON ip.pkey = v.pkey
		WHERE v.resolved IS NULL GROUP BY v.vuln_id`)
}
