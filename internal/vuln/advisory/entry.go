package advisory

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
	Versions  []string
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
			Ecosystem: af.Ecosystem, Package: af.Package, Ranges: af.Ranges, Versions: af.Versions,
		})
	}
	return out
}
