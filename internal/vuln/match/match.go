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
