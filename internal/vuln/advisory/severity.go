package advisory

import "strings"

// Level is Bulkhead's normalised severity.
type Level string

// Levels, from most to least severe.
const (
	LevelCritical Level = "critical"
	LevelHigh     Level = "high"
	LevelMedium   Level = "medium"
	LevelLow      Level = "low"
	LevelUnknown  Level = "unknown"
)

func (l Level) rank() int {
	switch l {
	case LevelCritical:
		return 4
	case LevelHigh:
		return 3
	case LevelMedium:
		return 2
	case LevelLow:
		return 1
	}
	return 0
}

// Normalize reduces a record's severities to one Level and the CVSS score it
// came from (0 when the level comes from a rating). The rule, documented in
// docs/severity.md:
//
//  1. The highest base score of the newest CVSS version present wins
//     (v4.0 over v3.x over v2), mapped by the CVSS v3 qualitative scale:
//     >= 9.0 critical, >= 7.0 high, >= 4.0 medium, >= 0.1 low. Vectors that do
//     not parse and scores of 0.0 ("None") are ignored.
//  2. Without a usable CVSS score, the highest source rating is mapped
//     (Debian urgency, Ubuntu priority, GHSA severity, Red Hat style words).
//  3. Otherwise LevelUnknown.
//
// Callers matching an affected package pass the advisory's severities and
// that Affected's together: a distro's per-package rating counts.
func Normalize(sevs []Severity) (Level, float64) {
	best := map[string]float64{}
	for _, s := range sevs {
		score := s.Score
		typ := s.Type
		if score <= 0 && s.Vector != "" {
			t, sc, err := ParseCVSS(s.Vector)
			if err != nil {
				continue
			}
			score = sc
			if cvssRank(typ) == 0 {
				typ = t
			}
		}
		if cvssRank(typ) == 0 || score <= 0 {
			continue
		}
		if score > best[typ] {
			best[typ] = score
		}
	}
	for _, typ := range []string{SeverityCVSSv4, SeverityCVSSv3, SeverityCVSSv2} {
		if sc, ok := best[typ]; ok {
			return ScoreLevel(sc), sc
		}
	}
	level := LevelUnknown
	for _, s := range sevs {
		if s.Rating == "" {
			continue
		}
		if l := RatingLevel(s.Rating); l.rank() > level.rank() {
			level = l
		}
	}
	return level, 0
}

func cvssRank(typ string) int {
	switch typ {
	case SeverityCVSSv4:
		return 3
	case SeverityCVSSv3:
		return 2
	case SeverityCVSSv2:
		return 1
	}
	return 0
}

// ScoreLevel maps a CVSS base score by the CVSS v3 qualitative scale; 0.0
// ("None") maps to LevelUnknown because Bulkhead has no "none" level.
func ScoreLevel(score float64) Level {
	switch {
	case score >= 9.0:
		return LevelCritical
	case score >= 7.0:
		return LevelHigh
	case score >= 4.0:
		return LevelMedium
	case score >= 0.1:
		return LevelLow
	}
	return LevelUnknown
}

// RatingLevel maps a source's own severity word (case-insensitive, Debian's
// "**" not-yet-reviewed marks ignored) to a Level; see docs/severity.md.
func RatingLevel(rating string) Level {
	r := strings.ToLower(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(rating), "*")))
	switch r {
	case "critical":
		return LevelCritical // Ubuntu, GHSA, Red Hat
	case "high", "important":
		return LevelHigh // Debian, Ubuntu, GHSA; Red Hat "Important"
	case "medium", "moderate":
		return LevelMedium // Debian, Ubuntu; GHSA and Red Hat "Moderate"
	case "low", "unimportant", "negligible":
		return LevelLow // Debian "unimportant", Ubuntu "negligible"
	}
	// "not yet assigned", "end-of-life", "untriaged", "none", "unknown", ...
	return LevelUnknown
}
