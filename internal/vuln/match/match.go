// Package match turns an SBOM's packages into vulnerability findings using
// an advisory source.
//
// Rules (docs/matching.md):
//   - distro-source: Debian, Ubuntu and Alpine packages are looked up by
//     their source package in the release's ecosystem ("Debian:12") and
//     compared at the source version; RPM distributions publish per binary
//     package, so those are looked up by name at epoch:version-release.
//   - language: language packages in their ecosystem (PyPI, npm, Go, …);
//     Go binaries also get "stdlib" at their toolchain version.
//   - owned-by-os: a language package or binary whose files an OS package
//     installed is matched through the distribution only, unless
//     Options.MatchOwned is set (then rule language-owned).
//
// It imports internal/sbom, internal/vuln/advisory and internal/vuln/version.
package match

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/version"
)

// Source is where advisories come from (the store, or an in-memory set in
// tests).
type Source interface {
	Lookup(ecosystem, pkg string) ([]advisory.Entry, error)
	KEV(cve string) (advisory.KEV, bool)
	EPSS(cve string) (advisory.EPSS, bool)
}

// Options tune matching.
type Options struct {
	// MatchOwned also matches language packages and binaries that an OS
	// package installed against their language's advisories.
	MatchOwned bool
}

// Matcher matches SBOMs against a Source.
type Matcher struct {
	src  Source
	opts Options

	mu    sync.Mutex
	spare [][]sbom.Finding // emptied finding chunks kept for the next Match
}

// maxSpare bounds the chunks a Matcher keeps between Match calls (at
// 4096 findings each, about 26 MB).
const maxSpare = 16

// New returns a Matcher.
func New(src Source, opts Options) *Matcher { return &Matcher{src: src, opts: opts} }

// query is one lookup for one package.
type query struct {
	ecosystems []string // tried in order; the first with records wins
	name       string
	version    string
	rule       string
}

// Ecosystem names, as OSV spells them.
var languageEcosystems = map[sbom.Type]string{
	sbom.TypeNPM:      "npm",
	sbom.TypePython:   "PyPI",
	sbom.TypeGo:       "Go",
	sbom.TypeJava:     "Maven",
	sbom.TypeRust:     "crates.io",
	sbom.TypeGem:      "RubyGems",
	sbom.TypeComposer: "Packagist",
	sbom.TypeDotnet:   "NuGet",
}

// queries decides how a package is looked up; nil when it cannot be.
func (m *Matcher) queries(p sbom.Package, d *sbom.Distro) []query {
	switch p.Type {
	case sbom.TypeDeb, sbom.TypeAPK, sbom.TypeRPM:
		ecos := DistroEcosystems(d)
		if len(ecos) == 0 {
			return nil
		}
		name, ver := p.SourceName, p.SourceVersion
		if p.Type == sbom.TypeRPM || name == "" {
			name, ver = p.Name, p.Version
		}
		if ver == "" {
			ver = p.Version
		}
		return []query{{ecosystems: ecos, name: name, version: ver, rule: "distro-source"}}
	}
	eco, ok := languageEcosystems[p.Type]
	if !ok || p.Version == "" {
		return nil
	}
	rule := "language"
	if p.OwnedBy != "" {
		if !m.opts.MatchOwned {
			return nil
		}
		rule = "language-owned"
	}
	name, ver := p.Name, p.Version
	switch p.Type {
	case sbom.TypeGo:
		if name == "stdlib" {
			ver = strings.TrimPrefix(ver, "go")
		}
		if ver == "(devel)" {
			return nil
		}
	case sbom.TypeJava:
		if g := p.Metadata["groupId"]; g != "" && !strings.Contains(name, ":") {
			name = g + ":" + name
		} else if ns := purlNamespace(p.PURL); ns != "" && !strings.Contains(name, ":") {
			name = ns + ":" + name
		}
	}
	return []query{{ecosystems: []string{eco}, name: name, version: ver, rule: rule}}
}

// DistroEcosystems names the OSV ecosystems for a distribution release,
// most specific first.
func DistroEcosystems(d *sbom.Distro) []string {
	if d == nil {
		return nil
	}
	major, _, _ := strings.Cut(d.VersionID, ".")
	switch d.ID {
	case "debian":
		if major == "" {
			return nil
		}
		return []string{"Debian:" + major}
	case "ubuntu":
		if d.VersionID == "" {
			return nil
		}
		return []string{"Ubuntu:" + d.VersionID + ":LTS", "Ubuntu:" + d.VersionID}
	case "alpine":
		parts := strings.SplitN(d.VersionID, ".", 3)
		if len(parts) < 2 {
			return nil
		}
		return []string{"Alpine:v" + parts[0] + "." + parts[1]}
	case "almalinux":
		return []string{"AlmaLinux:" + major}
	case "rocky":
		return []string{"Rocky Linux:" + major}
	}
	return nil
}

// Match returns the findings for doc, sorted by severity, then package and
// id.
func (m *Matcher) Match(doc *sbom.SBOM) ([]sbom.Finding, error) {
	l := &lookup{src: m.src, memo: map[memoKey][]advisory.Entry{}, scores: map[string]scores{}, owner: map[string]int{}, strs: map[string]string{}}
	m.mu.Lock()
	l.found.spare, m.spare = m.spare, nil
	m.mu.Unlock()
	for _, p := range doc.Packages {
		if err := m.matchPackage(l, p, doc.Distro); err != nil {
			m.recycle(&l.found)
			return nil, err
		}
	}
	out := l.found.sorted()
	m.recycle(&l.found)
	return out, nil
}

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

// findings collects one Match call's findings in chunks, so that growing
// never copies the findings already collected; sorted then moves each
// finding once. Full-sized chunks are recycled by the Matcher.
type findings struct {
	chunks [][]sbom.Finding
	n      int
	spare  [][]sbom.Finding // empty chunks of chunkSize to use first
}

const chunkSize = 4096

func (fs *findings) add(f *sbom.Finding) {
	if k := len(fs.chunks); k == 0 || len(fs.chunks[k-1]) == cap(fs.chunks[k-1]) {
		var c []sbom.Finding
		switch {
		case len(fs.spare) > 0:
			c = fs.spare[len(fs.spare)-1]
			fs.spare = fs.spare[:len(fs.spare)-1]
		case k == 0:
			c = make([]sbom.Finding, 0, 64)
		default:
			c = make([]sbom.Finding, 0, min(2*cap(fs.chunks[k-1]), chunkSize))
		}
		fs.chunks = append(fs.chunks, c)
	}
	last := &fs.chunks[len(fs.chunks)-1]
	*last = append(*last, *f)
	fs.n++
}

// sorted returns the findings in Sort's order; nil if there are none.
func (fs *findings) sorted() []sbom.Finding {
	if fs.n == 0 {
		return nil
	}
	keys := make([]sortKey, 0, fs.n)
	for _, c := range fs.chunks {
		for i := range c {
			keys = append(keys, newSortKey(&c[i], len(keys)))
		}
	}
	sortKeys(keys)
	out := make([]sbom.Finding, len(keys))
	for i, k := range keys {
		out[i] = *k.f
	}
	return out
}

// lookup is the state of one Match call. It memoises Source lookups:
// images repeat names (every Go binary has a stdlib, every multi-arch
// package a twin) and advisories repeat CVEs. It also holds scratch space
// reused from one advisory entry to the next.
type lookup struct {
	src    Source
	memo   map[memoKey][]advisory.Entry
	scores map[string]scores // KEV and EPSS by CVE

	found findings

	// strs interns the strings findings keep: entry strings may share the
	// database's memory map and must be copied, and the same ids, summaries,
	// vectors and fixed versions recur across findings — one copy each.
	strs map[string]string

	// Scratch space.
	ranges []version.Range // check
	events []version.Event
	pkg    []sbom.Finding // one package's findings
	owner  map[string]int // mergeAliases
	parent []int
	next   []int
	head   []int
	lastOf []int
	heads  []int
}

type memoKey struct{ eco, name string }

// scores is what enrich reads from the Source for one CVE.
type scores struct {
	kev     bool
	epss    float64
	hasEPSS bool
}

func (l *lookup) scoresFor(cve string) scores {
	if s, ok := l.scores[cve]; ok {
		return s
	}
	var s scores
	if _, ok := l.src.KEV(cve); ok {
		s.kev = true
	}
	if e, ok := l.src.EPSS(cve); ok {
		s.epss, s.hasEPSS = e.Score, true
	}
	l.scores[cve] = s
	return s
}

// versionRanges converts an entry's ranges into the scratch buffers; the
// result is valid until the next call.
func (l *lookup) versionRanges(e *advisory.Entry) []version.Range {
	n := 0
	for _, r := range e.Ranges {
		n += len(r.Events)
	}
	if cap(l.events) < n {
		l.events = make([]version.Event, 0, max(n, 2*cap(l.events)))
	}
	events := l.events[:0]
	ranges := l.ranges[:0]
	for _, r := range e.Ranges {
		start := len(events)
		for _, ev := range r.Events {
			events = append(events, version.Event{Introduced: ev.Introduced, Fixed: ev.Fixed, LastAffected: ev.LastAffected, Limit: ev.Limit})
		}
		ranges = append(ranges, version.Range{Type: r.Type, Events: events[start:len(events):len(events)]})
	}
	l.ranges, l.events = ranges, events
	return ranges
}

func (l *lookup) get(eco, name string) ([]advisory.Entry, error) {
	k := memoKey{eco, name}
	if es, ok := l.memo[k]; ok {
		return es, nil
	}
	es, err := l.src.Lookup(eco, name)
	if err != nil {
		return nil, err
	}
	l.memo[k] = es
	return es, nil
}

// matchPackage adds p's findings to l.found.
func (m *Matcher) matchPackage(l *lookup, p sbom.Package, d *sbom.Distro) error {
	found := l.pkg[:0]
	defer func() {
		clear(found) // drop references until the next package
		l.pkg = found[:0]
	}()
	for _, q := range m.queries(p, d) {
		for _, eco := range q.ecosystems {
			entries, err := l.get(eco, q.name)
			if err != nil {
				return fmt.Errorf("lookup %s/%s: %w", eco, q.name, err)
			}
			if len(entries) == 0 {
				continue
			}
			cmp, err := version.ForEcosystem(eco)
			if err != nil {
				return err
			}
			for i := range entries {
				e := &entries[i]
				if e.Withdrawn || e.Ecosystem != eco || !sameName(eco, e.Package, q.name) {
					continue
				}
				f, ok, err := m.check(l, p, q, eco, cmp, e)
				if err != nil {
					// One record with a version this comparer rejects must
					// not hide the others; skip it.
					continue
				}
				if ok {
					found = append(found, f)
				}
			}
			break
		}
	}
	if len(found) < 2 {
		for i := range found {
			l.found.add(&found[i])
		}
		return nil
	}
	l.mergeAliases(found)
	return nil
}

// intern returns a heap copy of s, one per distinct value per Match.
func (l *lookup) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := l.strs[s]; ok {
		return c
	}
	c := strings.Clone(s)
	l.strs[c] = c
	return c
}

func (m *Matcher) check(l *lookup, p sbom.Package, q query, eco string, cmp version.Comparer, e *advisory.Entry) (sbom.Finding, bool, error) {
	ranges := l.versionRanges(e)
	// The explicit version list is checked here, on the entry's packed
	// form; Affected validates the version first, as the OSV rules want.
	hit, err := version.Affected(cmp, q.version, ranges, nil)
	if err == nil && !hit {
		hit = e.HasVersion(q.version)
	}
	if err != nil || !hit {
		return sbom.Finding{}, false, err
	}
	// Entry strings may share the database's memory map (store.Reader):
	// everything a finding keeps is copied.
	aliases := make([]string, len(e.Aliases), len(e.Aliases)+1) // enrich may add one
	for i, a := range e.Aliases {
		aliases[i] = l.intern(a)
	}
	fixed := version.FixedVersions(ranges)
	for i := range fixed {
		fixed[i] = l.intern(fixed[i])
	}
	id := l.intern(e.ID)
	f := sbom.Finding{
		ID:               id,
		Aliases:          aliases,
		Kind:             "vulnerability",
		PackageID:        p.ID,
		PackageName:      p.Name,
		PackageType:      p.Type,
		PURL:             p.PURL,
		InstalledVersion: p.Version,
		FixedVersions:    fixed,
		Locations:        p.Locations,
		Layer:            p.Layer,
		Severity:         l.intern(string(e.Level)),
		Score:            e.Score,
		Vector:           l.intern(e.Vector),
		Summary:          l.intern(e.Summary),
		Sources:          []string{id},
		Ecosystem:        eco,
		MatchedName:      q.name,
		Rule:             q.rule,
	}
	if f.Severity == "" {
		f.Severity = "unknown"
	}
	m.enrich(l, &f)
	return f, true, nil
}

func sameName(eco, a, b string) bool {
	switch base, _, _ := strings.Cut(eco, ":"); base {
	case "PyPI":
		return samePyPI(a, b)
	case "NuGet", "Packagist":
		return strings.EqualFold(a, b)
	}
	return a == b
}

// normPyPI is PEP 503 normalisation as this matcher has always done it:
// lower case, '_' and '.' read as '-'.
func normPyPI(s string) string {
	s = strings.ToLower(s)
	return pypiReplacer.Replace(s)
}

var pypiReplacer = strings.NewReplacer("_", "-", ".", "-")

// samePyPI is normPyPI(a) == normPyPI(b) without allocating for ASCII
// names.
func samePyPI(a, b string) bool {
	if len(a) != len(b) {
		return normPyPI(a) == normPyPI(b)
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 0x80 || y >= 0x80 {
			return normPyPI(a) == normPyPI(b)
		}
		if x != y && pypiFold(x) != pypiFold(y) {
			return false
		}
	}
	return true
}

func pypiFold(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_' || c == '.':
		return '-'
	}
	return c
}

// enrich sets the preferred id (a CVE), KEV and EPSS.
func (m *Matcher) enrich(l *lookup, f *sbom.Finding) {
	cve := preferredID(f.ID, f.Aliases)
	if cve != f.ID {
		f.Aliases = append(f.Aliases, f.ID)
		f.Aliases = slices.DeleteFunc(f.Aliases, func(s string) bool { return s == cve })
		f.ID = cve
	}
	if strings.HasPrefix(f.ID, "CVE-") {
		sc := l.scoresFor(f.ID)
		f.KEV = f.KEV || sc.kev
		if sc.hasEPSS {
			s := sc.epss
			f.EPSS = &s
		}
	}
	slices.Sort(f.Aliases)
	f.Aliases = slices.Compact(f.Aliases)
}

// preferredID picks the CVE among an advisory's ids; distro records such as
// DEBIAN-CVE-2024-1234 carry it in their own id.
func preferredID(id string, aliases []string) string {
	if strings.HasPrefix(id, "CVE-") {
		return id
	}
	for _, a := range aliases {
		if strings.HasPrefix(a, "CVE-") {
			return a
		}
	}
	if i := strings.Index(id, "CVE-"); i > 0 {
		return id[i:]
	}
	return id
}

// mergeAliases folds findings of one package that name the same
// vulnerability (sharing any id) into one, keeping every source, and adds
// the results to l.found in order of each group's first finding. fs has at
// least two findings.
func (l *lookup) mergeAliases(fs []sbom.Finding) {
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
		l.found.add(&f)
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

func purlNamespace(purl string) string {
	// pkg:maven/group/artifact@v
	rest, ok := strings.CutPrefix(purl, "pkg:maven/")
	if !ok {
		return ""
	}
	ns, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(ns, "%2F", "/")
}
