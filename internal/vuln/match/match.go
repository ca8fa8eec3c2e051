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
	spare [][]rec // emptied record chunks kept for the next Match
}

// maxSpare bounds the chunks a Matcher keeps between Match calls (at
// 4096 records each, about 5 MB).
const maxSpare = 16

// New returns a Matcher.
func New(src Source, opts Options) *Matcher { return &Matcher{src: src, opts: opts} }

// query is one lookup for one package.
type query struct {
	ecosystems []string // tried in order; the first with records wins; shared, never modified
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

// languageEcosystemList holds each language ecosystem as a one-element
// list, so queries need not allocate one per package.
var languageEcosystemList = func() map[sbom.Type][]string {
	m := make(map[sbom.Type][]string, len(languageEcosystems))
	for t, e := range languageEcosystems {
		m[t] = []string{e}
	}
	return m
}()

// queryFor decides how a package is looked up; ok is false when it cannot
// be. distroEcos is DistroEcosystems of the document's distribution.
func (m *Matcher) queryFor(p sbom.Package, distroEcos []string) (query, bool) {
	switch p.Type {
	case sbom.TypeDeb, sbom.TypeAPK, sbom.TypeRPM:
		ecos := distroEcos
		if len(ecos) == 0 {
			return query{}, false
		}
		name, ver := p.SourceName, p.SourceVersion
		if p.Type == sbom.TypeRPM || name == "" {
			name, ver = p.Name, p.Version
		}
		if ver == "" {
			ver = p.Version
		}
		return query{ecosystems: ecos, name: name, version: ver, rule: "distro-source"}, true
	}
	ecos, ok := languageEcosystemList[p.Type]
	if !ok || p.Version == "" {
		return query{}, false
	}
	rule := "language"
	if p.OwnedBy != "" {
		if !m.opts.MatchOwned {
			return query{}, false
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
			return query{}, false
		}
	case sbom.TypeJava:
		if g := p.Metadata["groupId"]; g != "" && !strings.Contains(name, ":") {
			name = g + ":" + name
		} else if ns := purlNamespace(p.PURL); ns != "" && !strings.Contains(name, ":") {
			name = ns + ":" + name
		}
	}
	return query{ecosystems: ecos, name: name, version: ver, rule: rule}, true
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
	l := &lookup{src: m.src, memo: make(map[memoKey]entries, len(doc.Packages)/2), scores: map[string]scores{}, owner: map[string]int{}}
	m.mu.Lock()
	l.found.spare, m.spare = m.spare, nil
	m.mu.Unlock()
	distroEcos := DistroEcosystems(doc.Distro)
	for i := range doc.Packages {
		if err := m.matchPackage(l, &doc.Packages[i], distroEcos); err != nil {
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

// lookup is the state of one Match call. It memoises Source lookups:
// images repeat names (every Go binary has a stdlib, every multi-arch
// package a twin) and advisories repeat CVEs. It also holds scratch space
// reused from one advisory entry to the next.
type lookup struct {
	src    Source
	memo   map[memoKey]entries
	scores map[string]scores // KEV and EPSS by CVE

	found findings

	// Slabs the small slices and pointers findings keep are carved from.
	strSlab   []string
	floatSlab []float64
	querySlab []query

	// Scratch space.
	ranges []version.Range // check
	events []version.Event
	hits   []*template    // one package's matching entries
	pkg    []sbom.Finding // one package's findings, when they need merging
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

// entries are the advisory entries of one lookup, with the part of a
// finding that depends only on the entry built on its first hit.
type entries struct {
	es    []advisory.Entry
	tmpls []*template
}

// template is what every finding of one entry shares. Its strings are
// private copies (entry strings may share the database's memory map) and
// its slices are clipped, so a finding that appends to them copies first.
type template struct {
	id                      string
	aliases, sources, fixed []string
	severity, vector        string
	summary                 string
	score                   float64
	kev                     bool
	epss                    *float64
}

func (l *lookup) get(eco, name string) (entries, error) {
	k := memoKey{eco, name}
	if es, ok := l.memo[k]; ok {
		return es, nil
	}
	es, err := l.src.Lookup(eco, name)
	if err != nil {
		return entries{}, err
	}
	r := entries{es: es}
	if len(es) > 0 {
		r.tmpls = make([]*template, len(es))
	}
	l.memo[k] = r
	return r, nil
}

// template builds e's finding template: strings copied into one heap
// string, the preferred id chosen (a CVE), aliases sorted, KEV and EPSS
// looked up. ranges are e's ranges as versionRanges converted them.
func (l *lookup) template(e *advisory.Entry, ranges []version.Range) *template {
	n := len(e.ID) + len(e.Level) + len(e.Vector) + len(e.Summary)
	for _, a := range e.Aliases {
		n += len(a)
	}
	nfixed := 0
	for _, r := range ranges {
		if r.Type == version.RangeGit {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed != "" {
				n += len(ev.Fixed)
				nfixed++
			}
		}
	}
	// One copy of every string the findings keep, sliced.
	var b strings.Builder
	b.Grow(n)
	b.WriteString(e.ID)
	b.WriteString(string(e.Level))
	b.WriteString(e.Vector)
	b.WriteString(e.Summary)
	for _, a := range e.Aliases {
		b.WriteString(a)
	}
	for _, r := range ranges {
		if r.Type == version.RangeGit {
			continue
		}
		for _, ev := range r.Events {
			b.WriteString(ev.Fixed)
		}
	}
	all := b.String()
	off := 0
	take := func(k int) string {
		s := all[off : off+k]
		off += k
		return s
	}
	t := &template{score: e.Score}
	rawID := take(len(e.ID))
	t.severity = take(len(e.Level))
	if t.severity == "" {
		t.severity = "unknown"
	}
	t.vector = take(len(e.Vector))
	t.summary = take(len(e.Summary))
	aliases := l.strings(len(e.Aliases), 1)
	for i, a := range e.Aliases {
		aliases[i] = take(len(a))
	}
	fixed := l.strings(0, nfixed)
	for _, r := range ranges {
		if r.Type == version.RangeGit {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed == "" {
				continue
			}
			f := take(len(ev.Fixed))
			if !slices.Contains(fixed, f) {
				fixed = append(fixed, f)
			}
		}
	}
	if len(fixed) > 0 {
		t.fixed = slices.Clip(fixed)
	}
	t.sources = l.strings(1, 0)
	t.sources[0] = rawID
	// The preferred id is a CVE; the record's own id becomes an alias.
	t.id = preferredID(rawID, aliases)
	if t.id != rawID {
		aliases = append(aliases, rawID)
		aliases = slices.DeleteFunc(aliases, func(s string) bool { return s == t.id })
	}
	slices.Sort(aliases)
	t.aliases = slices.Clip(slices.Compact(aliases))
	if strings.HasPrefix(t.id, "CVE-") {
		sc := l.scoresFor(t.id)
		t.kev = sc.kev
		if sc.hasEPSS {
			t.epss = l.float(sc.epss)
		}
	}
	return t
}

// matchPackage adds p's findings to l.found.
func (m *Matcher) matchPackage(l *lookup, p *sbom.Package, distroEcos []string) error {
	q, ok := m.queryFor(*p, distroEcos)
	if !ok {
		return nil
	}
	hits := l.hits[:0]
	defer func() {
		clear(hits)
		l.hits = hits[:0]
	}()
	var hitEco string
	for _, eco := range q.ecosystems {
		entries, err := l.get(eco, q.name)
		if err != nil {
			return fmt.Errorf("lookup %s/%s: %w", eco, q.name, err)
		}
		if len(entries.es) == 0 {
			continue
		}
		cmp, err := version.ForEcosystem(eco)
		if err != nil {
			return err
		}
		for i := range entries.es {
			e := &entries.es[i]
			if e.Withdrawn || e.Ecosystem != eco || !sameName(eco, e.Package, q.name) {
				continue
			}
			t, err := l.check(q.version, cmp, e, &entries.tmpls[i])
			if err != nil {
				// One record with a version this comparer rejects must
				// not hide the others; skip it.
				continue
			}
			if t != nil {
				hits = append(hits, t)
			}
		}
		hitEco = eco
		break
	}
	if len(hits) == 0 {
		return nil
	}
	qp := l.query(q)
	if len(hits) < 2 || !l.sharesID(hits) {
		for _, t := range hits {
			l.found.add(rec{p: p, t: t, q: qp, eco: hitEco})
		}
		return nil
	}
	found := l.pkg[:0]
	for _, t := range hits {
		found = append(found, sbom.Finding{})
		t.fill(&found[len(found)-1], p, qp, hitEco)
	}
	l.mergeAliases(found, hits, p, qp, hitEco)
	clear(found) // drop references until the next package
	l.pkg = found[:0]
	return nil
}

// query returns a copy of q that outlives the package being matched,
// carved from a slab.
func (l *lookup) query(q query) *query {
	if len(l.querySlab) == cap(l.querySlab) {
		l.querySlab = make([]query, 0, 1024)
	}
	l.querySlab = append(l.querySlab, q)
	return &l.querySlab[len(l.querySlab)-1]
}

// sharesID reports whether any two templates name a common id, so that
// their findings merge.
func (l *lookup) sharesID(ts []*template) bool {
	owner := l.owner
	clear(owner)
	seen := func(i int, id string) bool {
		if j, ok := owner[id]; ok {
			return j != i
		}
		owner[id] = i
		return false
	}
	for i, t := range ts {
		if seen(i, t.id) {
			return true
		}
		for _, a := range t.aliases {
			if seen(i, a) {
				return true
			}
		}
	}
	return false
}

// strings returns a slice of n empty strings with room for extra more,
// carved from a slab shared by one Match call's findings (appending past
// the room copies, so findings never share elements).
func (l *lookup) strings(n, extra int) []string {
	c := n + extra
	if c == 0 {
		return nil
	}
	if len(l.strSlab)+c > cap(l.strSlab) {
		l.strSlab = make([]string, 0, max(slabSize, c))
	}
	i := len(l.strSlab)
	l.strSlab = l.strSlab[:i+c]
	return l.strSlab[i : i+n : i+c]
}

// float returns a pointer to a copy of v, carved from a slab.
func (l *lookup) float(v float64) *float64 {
	if len(l.floatSlab) == cap(l.floatSlab) {
		l.floatSlab = make([]float64, 0, slabSize)
	}
	l.floatSlab = append(l.floatSlab, v)
	return &l.floatSlab[len(l.floatSlab)-1]
}

const slabSize = 4096

// check returns the template of entry e when version ver is affected,
// building it on the entry's first hit; nil when it is not affected.
func (l *lookup) check(ver string, cmp version.Comparer, e *advisory.Entry, tmpl **template) (*template, error) {
	ranges := l.versionRanges(e)
	// The explicit version list is checked here, on the entry's packed
	// form; Affected validates the version first, as the OSV rules want.
	hit, err := version.Affected(cmp, ver, ranges, nil)
	if err == nil && !hit {
		hit = e.HasVersion(ver)
	}
	if err != nil || !hit {
		return nil, err
	}
	if *tmpl == nil {
		*tmpl = l.template(e, ranges)
	}
	return *tmpl, nil
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
