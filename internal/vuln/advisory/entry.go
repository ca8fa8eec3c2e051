package advisory

import "strings"

// Entry is one affected package of one advisory, reduced to what matching
// needs, with the severity already normalised. The store indexes entries by
// ecosystem and package and keeps them in a compact binary form, so a lookup
// does not decode whole advisories (whose enumerated version lists make up
// most of their size).
type Entry struct {
	ID        string
	Source    string
	Aliases   []string
	Summary   string
	Withdrawn bool
	Level     Level
	Score     float64
	Vector    string
	Ecosystem string
	Package   string
	Ranges    []Range
	// Versions is the affected package's explicit version list, each
	// version followed by a NUL byte: one string rather than a slice, so
	// that a lookup of a record enumerating hundreds of versions (PyPI,
	// Go) costs no allocation. Use HasVersion.
	Versions string
}

// HasVersion reports whether v is in the entry's explicit version list.
func (e *Entry) HasVersion(v string) bool {
	s := e.Versions
	for s != "" {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			return s == v
		}
		if s[:i] == v {
			return true
		}
		s = s[i+1:]
	}
	return false
}

// joinVersions builds Entry.Versions.
func joinVersions(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String()
}

// Entries returns the advisory's entries, one per affected package.
func (a *Advisory) Entries() []Entry {
	out := make([]Entry, 0, len(a.Affected))
	for _, af := range a.Affected {
		sevs := af.Severity
		if len(sevs) == 0 {
			sevs = a.Severity
		}
		level, score := Normalize(sevs)
		vector := ""
		for _, s := range sevs {
			if s.Vector != "" && s.Score == score {
				vector = s.Vector
			}
		}
		summary := a.Summary
		if len(summary) > 300 {
			summary = summary[:300] + "…"
		}
		out = append(out, Entry{
			ID: a.ID, Source: a.Source, Aliases: a.Aliases, Summary: summary, Withdrawn: a.Withdrawn != nil,
			Level: level, Score: score, Vector: vector,
			Ecosystem: af.Ecosystem, Package: af.Package, Ranges: af.Ranges, Versions: joinVersions(af.Versions),
		})
	}
	return out
}
