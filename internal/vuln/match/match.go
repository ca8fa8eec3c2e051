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
	"sort"
	"strings"

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
}

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
	var out []sbom.Finding
	l := &lookup{src: m.src, memo: map[string][]advisory.Entry{}}
	for _, p := range doc.Packages {
		fs, err := m.matchPackage(l, p, doc.Distro)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	Sort(out)
	return out, nil
}

// lookup memoises Source lookups for one Match call: images repeat names
// (every Go binary has a stdlib, every multi-arch package a twin).
type lookup struct {
	src  Source
	memo map[string][]advisory.Entry
}

func (l *lookup) get(eco, name string) ([]advisory.Entry, error) {
	k := eco + "\x00" + name
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

func (m *Matcher) matchPackage(l *lookup, p sbom.Package, d *sbom.Distro) ([]sbom.Finding, error) {
	var found []sbom.Finding
	for _, q := range m.queries(p, d) {
		for _, eco := range q.ecosystems {
			entries, err := l.get(eco, q.name)
			if err != nil {
				return nil, fmt.Errorf("lookup %s/%s: %w", eco, q.name, err)
			}
			if len(entries) == 0 {
				continue
			}
			cmp, err := version.ForEcosystem(eco)
			if err != nil {
				return nil, err
			}
			for i := range entries {
				e := &entries[i]
				if e.Withdrawn || e.Ecosystem != eco || !sameName(eco, e.Package, q.name) {
					continue
				}
				f, ok, err := m.check(p, q, eco, cmp, e)
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
	return mergeAliases(found), nil
}

func (m *Matcher) check(p sbom.Package, q query, eco string, cmp version.Comparer, e *advisory.Entry) (sbom.Finding, bool, error) {
	ranges := make([]version.Range, 0, len(e.Ranges))
	for _, r := range e.Ranges {
		vr := version.Range{Type: r.Type, Events: make([]version.Event, 0, len(r.Events))}
		for _, ev := range r.Events {
			vr.Events = append(vr.Events, version.Event{Introduced: ev.Introduced, Fixed: ev.Fixed, LastAffected: ev.LastAffected, Limit: ev.Limit})
		}
		ranges = append(ranges, vr)
	}
	hit, err := version.Affected(cmp, q.version, ranges, e.Versions)
	if err != nil || !hit {
		return sbom.Finding{}, false, err
	}
	f := sbom.Finding{
		ID:               e.ID,
		Aliases:          slices.Clone(e.Aliases),
		Kind:             "vulnerability",
		PackageID:        p.ID,
		PackageName:      p.Name,
		PackageType:      p.Type,
		PURL:             p.PURL,
		InstalledVersion: p.Version,
		FixedVersions:    version.FixedVersions(ranges),
		Locations:        p.Locations,
		Layer:            p.Layer,
		Severity:         string(e.Level),
		Score:            e.Score,
		Vector:           e.Vector,
		Summary:          e.Summary,
		Sources:          []string{e.ID},
		Ecosystem:        eco,
		MatchedName:      q.name,
		Rule:             q.rule,
	}
	if f.Severity == "" {
		f.Severity = "unknown"
	}
	m.enrich(&f)
	return f, true, nil
}

func sameName(eco, a, b string) bool {
	switch base, _, _ := strings.Cut(eco, ":"); base {
	case "PyPI":
		return normPyPI(a) == normPyPI(b)
	case "NuGet", "Packagist":
		return strings.EqualFold(a, b)
	}
	return a == b
}

func normPyPI(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "-", ".", "-").Replace(s)
}

// enrich sets the preferred id (a CVE), KEV and EPSS.
func (m *Matcher) enrich(f *sbom.Finding) {
	cve := preferredID(f.ID, f.Aliases)
	if cve != f.ID {
		f.Aliases = append(f.Aliases, f.ID)
		f.Aliases = slices.DeleteFunc(f.Aliases, func(s string) bool { return s == cve })
		f.ID = cve
	}
	if strings.HasPrefix(f.ID, "CVE-") {
		if _, ok := m.src.KEV(f.ID); ok {
			f.KEV = true
		}
		if e, ok := m.src.EPSS(f.ID); ok {
			s := e.Score
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
// vulnerability (sharing any id) into one, keeping every source.
func mergeAliases(fs []sbom.Finding) []sbom.Finding {
	if len(fs) < 2 {
		return fs
	}
	parent := make([]int, len(fs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, f := range fs {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := range fs {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	out := make([]sbom.Finding, 0, len(roots))
	for _, r := range roots {
		f := fs[groups[r][0]]
		for _, i := range groups[r][1:] {
			g := fs[i]
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
		out = append(out, f)
	}
	return out
}

// Sort orders findings by severity (most severe first), package, id.
func Sort(fs []sbom.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := sbom.SeverityRank(a.Severity), sbom.SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.PackageName != b.PackageName {
			return a.PackageName < b.PackageName
		}
		if a.InstalledVersion != b.InstalledVersion {
			return a.InstalledVersion < b.InstalledVersion
		}
		return a.ID < b.ID
	})
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
