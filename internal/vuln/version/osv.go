package version

import (
	"errors"
	"fmt"
	"slices"
)

// OSV range types. https://ossf.github.io/osv-schema/#affectedrangestype-field
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemVer    = "SEMVER"
	RangeGit       = "GIT"
)

// Range is one entry of an OSV affected[].ranges list.
type Range struct {
	Type   string
	Events []Event
}

// Event is one OSV range event; exactly one field is set.
// https://ossf.github.io/osv-schema/#affectedrangesevents-fields
type Event struct {
	Introduced   string
	Fixed        string
	LastAffected string
	Limit        string
}

// ErrMalformedRange is wrapped by errors about ranges that break the OSV
// schema (unknown type, an event with no field or several).
var ErrMalformedRange = errors.New("malformed OSV range")

type eventKind int

// The order breaks ties between events at the same version: an introduced
// event is applied before a fixed or last_affected one, so that
// introduced=X, fixed=X affects nothing and introduced=X,
// last_affected=X affects exactly X.
const (
	evIntroduced eventKind = iota
	evFixed
	evLastAffected
	evLimit
)

type event struct {
	kind    eventKind
	version string
}

func (e Event) kind() (event, error) {
	var ev event
	n := 0
	for _, f := range []struct {
		k eventKind
		v string
	}{{evIntroduced, e.Introduced}, {evFixed, e.Fixed}, {evLastAffected, e.LastAffected}, {evLimit, e.Limit}} {
		if f.v != "" {
			ev = event{f.k, f.v}
			n++
		}
	}
	if n != 1 {
		return event{}, fmt.Errorf("%w: event %+v must set exactly one field", ErrMalformedRange, e)
	}
	return ev, nil
}

// Affected reports whether version is affected according to an OSV
// affected[] entry's ranges and versions, following the schema's evaluation
// algorithm (https://ossf.github.io/osv-schema/#evaluation):
//
//   - a version listed in versions (exact string match) is affected;
//   - ECOSYSTEM and SEMVER ranges are evaluated with cmp: events are sorted
//     by version, introduced "0" first; the version is affected after an
//     introduced event it is at or past, and no longer once it is at or past
//     a fixed event or past a last_affected event; if the range has limit
//     events ("*" meaning none), the version must also be below one of them;
//   - GIT ranges name commits, not versions, and are skipped.
//
// cmp is used for SEMVER ranges too: those appear for ecosystems (Go, npm,
// crates.io, ...) whose Comparer already implements SemVer precedence.
//
// An invalid version, an invalid event version or a malformed range is an
// error; the version's error names it and cmp's ecosystem.
func Affected(cmp Comparer, version string, ranges []Range, versions []string) (bool, error) {
	if ok, handled, err := affectedWith(cmp, version, ranges, versions); handled {
		return ok, err
	}
	return affectedParsed(unparsed{cmp}, version, ranges, versions)
}

// unparsed lets any Comparer use the one range evaluator: its "parsed"
// form is the validated string itself.
type unparsed struct{ Comparer }

func (u unparsed) parse(v string) (string, error)         { return v, u.Valid(v) }
func (u unparsed) compareParsed(a, b string) (int, error) { return u.Compare(a, b) }

// isZero reports the introduced "0" event, which precedes every version.
func isZero(e event) bool { return e.kind == evIntroduced && e.version == "0" }

// FixedVersions returns the fixed versions named by ECOSYSTEM and SEMVER
// ranges, without duplicates, in the order they appear. GIT ranges are
// skipped: their fixed events are commits.
func FixedVersions(ranges []Range) []string {
	var out []string
	for _, r := range ranges {
		if r.Type == RangeGit {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && !slices.Contains(out, e.Fixed) {
				out = append(out, e.Fixed)
			}
		}
	}
	return out
}
