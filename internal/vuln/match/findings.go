package match

// Collecting, merging and ordering one Match call's findings.

import (
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// recycle empties fs's chunks (dropping their references) and keeps the
// full-sized ones for the next Match call.
func (m *Matcher) recycle(fs *findings) {
	keep := fs.spare
	for _, c := range fs.chunks {
		if cap(c) == chunkSize && len(keep) < maxSpare {
			clear(c)
			keep = append(keep, c[:0])
		}
	}
	m.mu.Lock()
	if len(keep) > len(m.spare) {
		m.spare = keep
	}
	m.mu.Unlock()
}

// rec is one finding while a Match call runs: the package, the query
// that found it and the entry's template, or a finding merged from several
// entries. The sbom.Finding (a few hundred bytes) is built only once, in
// its final place in the sorted result.
type rec struct {
	p      *sbom.Package
	t      *template // nil for a merged finding
	merged int       // index in findings.merged when t is nil
	q      *query
	eco    string
}

// findings collects one Match call's records in chunks, so that growing
// never copies the records already collected. Full-sized chunks are
// recycled by the Matcher.
type findings struct {
	chunks [][]rec
	n      int
	spare  [][]rec // empty chunks of chunkSize to use first
	merged []sbom.Finding
}

const chunkSize = 4096

func (fs *findings) add(r rec) {
	if k := len(fs.chunks); k == 0 || len(fs.chunks[k-1]) == cap(fs.chunks[k-1]) {
		var c []rec
		switch {
		case len(fs.spare) > 0:
			c = fs.spare[len(fs.spare)-1]
			fs.spare = fs.spare[:len(fs.spare)-1]
		case k == 0:
			c = make([]rec, 0, 256)
		default:
			c = make([]rec, 0, min(2*cap(fs.chunks[k-1]), chunkSize))
		}
		fs.chunks = append(fs.chunks, c)
	}
	last := &fs.chunks[len(fs.chunks)-1]
	*last = append(*last, r)
	fs.n++
}

// addMerged adds a finding of package p merged from several entries.
func (fs *findings) addMerged(f *sbom.Finding, p *sbom.Package) {
	fs.merged = append(fs.merged, *f)
	fs.add(rec{p: p, merged: len(fs.merged) - 1})
}

// sorted returns the findings in Sort's order; nil if there are none.
//
// Sort compares severity, package name, installed version and id. Here
// the packages are ranked once (by name and version, equal pairs sharing
// a rank), so that sorting the records compares integers and ids only.
func (fs *findings) sorted() []sbom.Finding {
	if fs.n == 0 {
		return nil
	}
	// The packages in record order (a package's records are adjacent).
	var pkgs []*sbom.Package
	recPkg := make([]int32, 0, fs.n)
	for _, c := range fs.chunks {
		for i := range c {
			if len(pkgs) == 0 || pkgs[len(pkgs)-1] != c[i].p {
				pkgs = append(pkgs, c[i].p)
			}
			recPkg = append(recPkg, int32(len(pkgs)-1))
		}
	}
	byName := make([]int32, len(pkgs))
	for i := range byName {
		byName[i] = int32(i)
	}
	slices.SortFunc(byName, func(a, b int32) int {
		pa, pb := pkgs[a], pkgs[b]
		if c := strings.Compare(pa.Name, pb.Name); c != 0 {
			return c
		}
		return strings.Compare(pa.Version, pb.Version)
	})
	pkgRank := make([]int32, len(pkgs))
	for i, j := range byName {
		if i > 0 {
			prev := pkgs[byName[i-1]]
			if prev.Name == pkgs[j].Name && prev.Version == pkgs[j].Version {
				pkgRank[j] = pkgRank[byName[i-1]]
				continue
			}
		}
		pkgRank[j] = int32(i)
	}
	keys := make([]recKey, 0, fs.n)
	for _, c := range fs.chunks {
		for i := range c {
			r := &c[i]
			k := recKey{idx: int32(len(keys)), pkg: pkgRank[recPkg[len(keys)]], r: r}
			if r.t != nil {
				k.sev, k.id = int32(sbom.SeverityRank(r.t.severity)), r.t.id
			} else {
				f := &fs.merged[r.merged]
				k.sev, k.id = int32(sbom.SeverityRank(f.Severity)), f.ID
			}
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y recKey) int {
		if x.sev != y.sev {
			return int(y.sev - x.sev) // most severe first
		}
		if x.pkg != y.pkg {
			return int(x.pkg - y.pkg)
		}
		if c := strings.Compare(x.id, y.id); c != 0 {
			return c
		}
		return int(x.idx - y.idx)
	})
	out := make([]sbom.Finding, len(keys))
	for i, k := range keys {
		if k.r.t == nil {
			out[i] = fs.merged[k.r.merged]
			continue
		}
		k.r.t.fill(&out[i], k.r.p, k.r.q, k.r.eco)
	}
	return out
}

// recKey is a record's place in Sort's order.
type recKey struct {
	sev, pkg, idx int32
	id            string
	r             *rec
}

// fill writes the finding of package p matched by query q in ecosystem eco
// through t into f.
func (t *template) fill(f *sbom.Finding, p *sbom.Package, q *query, eco string) {
	*f = sbom.Finding{
		ID:               t.id,
		Aliases:          t.aliases,
		Kind:             "vulnerability",
		PackageID:        p.ID,
		PackageName:      p.Name,
		PackageType:      p.Type,
		PURL:             p.PURL,
		InstalledVersion: p.Version,
		FixedVersions:    t.fixed,
		Locations:        p.Locations,
		Layer:            p.Layer,
		Severity:         t.severity,
		Score:            t.score,
		Vector:           t.vector,
		KEV:              t.kev,
		EPSS:             t.epss,
		Summary:          t.summary,
		Sources:          t.sources,
		Ecosystem:        eco,
		MatchedName:      q.name,
		Rule:             q.rule,
	}
}

// mergeAliases folds findings of one package that name the same
// vulnerability (sharing any id) into one, keeping every source, and adds
// the results to l.found in order of each group's first finding. fs has at
// least two findings, built from templates ts of package p found by q in
// eco; a finding alone in its group is added as its template's record.
func (l *lookup) mergeAliases(fs []sbom.Finding, ts []*template, p *sbom.Package, q *query, eco string) {
	n := len(fs)
	parent := fill(&l.parent, n, 0)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := l.owner
	clear(owner)
	union := func(i int, id string) {
		if j, ok := owner[id]; ok {
			parent[find(i)] = find(j)
		} else {
			owner[id] = i
		}
	}
	for i := range fs {
		union(i, fs[i].ID)
		for _, id := range fs[i].Aliases {
			union(i, id)
		}
	}
	// Chain each group's members in index order, the group's first
	// finding at its head (the union-find root need not be the first):
	// next[i] is the member after i, -1 at the end.
	next := fill(&l.next, n, -1)
	head := fill(&l.head, n, -1)
	lastOf := fill(&l.lastOf, n, 0)
	heads := l.heads[:0]
	for i := range fs {
		r := find(i)
		if head[r] < 0 {
			head[r], lastOf[r] = i, i
			heads = append(heads, i)
			continue
		}
		next[lastOf[r]] = i
		lastOf[r] = i
	}
	l.heads = heads
	for _, h := range heads {
		f := fs[h]
		if next[h] < 0 {
			// Alone in its group: already in normal form (its slices are
			// shared with other findings and must not be changed).
			l.found.add(rec{p: p, t: ts[h], q: q, eco: eco})
			continue
		}
		// The slices are clipped, so these appends copy before writing.
		for i := next[h]; i >= 0; i = next[i] {
			g := &fs[i]
			f.Aliases = append(f.Aliases, g.ID)
			f.Aliases = append(f.Aliases, g.Aliases...)
			f.Sources = append(f.Sources, g.Sources...)
			f.FixedVersions = append(f.FixedVersions, g.FixedVersions...)
			if g.Score > f.Score || sbom.SeverityRank(g.Severity) > sbom.SeverityRank(f.Severity) {
				f.Severity, f.Score, f.Vector = g.Severity, g.Score, g.Vector
			}
			f.KEV = f.KEV || g.KEV
			if f.EPSS == nil {
				f.EPSS = g.EPSS
			}
		}
		f.ID = preferredID(f.ID, f.Aliases)
		f.Aliases = slices.DeleteFunc(f.Aliases, func(s string) bool { return s == f.ID })
		slices.Sort(f.Aliases)
		f.Aliases = slices.Compact(f.Aliases)
		slices.Sort(f.Sources)
		f.Sources = slices.Compact(f.Sources)
		slices.Sort(f.FixedVersions)
		f.FixedVersions = slices.Compact(f.FixedVersions)
		l.found.addMerged(&f, p)
	}
}

// fill sets *buf to n copies of v, reusing its memory.
func fill(buf *[]int, n, v int) []int {
	b := slices.Grow((*buf)[:0], n)[:n]
	for i := range b {
		b[i] = v
	}
	*buf = b
	return b
}

// sortKey is a finding's place in Sort's order: severity rank first, then
// the finding's fields, then idx (which makes the sort stable).
// The compared fields are copied into the key so that sorting does not
// chase pointers into findings scattered over memory.
type sortKey struct {
	rank          int
	idx           int
	name, ver, id string
	f             *sbom.Finding
}

func newSortKey(f *sbom.Finding, idx int) sortKey {
	return sortKey{rank: sbom.SeverityRank(f.Severity), idx: idx, name: f.PackageName, ver: f.InstalledVersion, id: f.ID, f: f}
}

func sortKeys(keys []sortKey) {
	slices.SortFunc(keys, func(x, y sortKey) int {
		if x.rank != y.rank {
			return y.rank - x.rank // most severe first
		}
		if x.name != y.name {
			return strings.Compare(x.name, y.name)
		}
		if x.ver != y.ver {
			return strings.Compare(x.ver, y.ver)
		}
		if c := strings.Compare(x.id, y.id); c != 0 {
			return c
		}
		return x.idx - y.idx
	})
}

// Sort orders findings by severity (most severe first), package, id. It
// is stable.
//
// A Finding is a few hundred bytes, so it sorts small keys and then moves
// each finding once, rather than swapping findings while sorting.
func Sort(fs []sbom.Finding) {
	keys := make([]sortKey, len(fs))
	for i := range fs {
		keys[i] = newSortKey(&fs[i], i)
	}
	sortKeys(keys)
	// Apply the permutation in place, one cycle at a time: position i
	// receives the finding that was at keys[i].idx.
	for i := range keys {
		if keys[i].idx < 0 || keys[i].idx == i {
			continue
		}
		tmp := fs[i]
		j := i
		for {
			src := keys[j].idx
			keys[j].idx = -1
			if src == i {
				fs[j] = tmp
				break
			}
			fs[j] = fs[src]
			j = src
		}
	}
}
