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
	if err := cmp.Valid(version); err != nil {
		return false, err
	}
	if slices.Contains(versions, version) {
		return true, nil
	}
	for i, r := range ranges {
		switch r.Type {
		case RangeGit:
			continue
		case RangeEcosystem, RangeSemVer:
		default:
			return false, fmt.Errorf("%w: range %d: unknown type %q", ErrMalformedRange, i, r.Type)
		}
		hit, err := inRange(cmp, version, r.Events)
		if err != nil {
			return false, fmt.Errorf("range %d (%s): %w", i, r.Type, err)
		}
		if hit {
			return true, nil
		}
	}
	return false, nil
}

// inRange evaluates one ECOSYSTEM or SEMVER range for a valid version.
func inRange(cmp Comparer, version string, raw []Event) (bool, error) {
	// Most ranges hold one or two events; keep them off the heap.
	var buf [4]event
	events := buf[:0]
	var limits []string
	for _, e := range raw {
		ev, err := e.kind()
		if err != nil {
			return false, err
		}
		if ev.kind == evLimit {
			if ev.version != "*" {
				if err := cmp.Valid(ev.version); err != nil {
					return false, err
				}
				limits = append(limits, ev.version)
			}
			continue
		}
		events = append(events, ev)
	}

	// Check the order (validating every event version on the way) and sort
	// only when the advisory did not.
	sorted := true
	for i := 1; i < len(events); i++ {
		c, err := compareEvents(cmp, events[i-1], events[i])
		if err != nil {
			return false, err
		}
		if c > 0 {
			sorted = false
		}
	}
	if len(events) == 1 && !isZero(events[0]) {
		if err := cmp.Valid(events[0].version); err != nil {
			return false, err
		}
	}
	if !sorted {
		// Every version is valid now, so the comparison cannot fail.
		slices.SortStableFunc(events, func(a, b event) int {
			c, _ := compareEvents(cmp, a, b)
			return c
		})
	}

	affected := false
	for _, ev := range events {
		if isZero(ev) {
			affected = true
			continue
		}
		c, err := cmp.Compare(version, ev.version)
		if err != nil {
			return false, err
		}
		if c < 0 {
			break // every later event is at or above this one
		}
		switch ev.kind {
		case evIntroduced:
			affected = true
		case evFixed:
			affected = false
		case evLastAffected:
			if c > 0 {
				affected = false
			}
		}
	}
	if !affected || len(limits) == 0 {
		return affected, nil
	}
	for _, l := range limits {
		c, err := cmp.Compare(version, l)
		if err != nil {
			return false, err
		}
		if c < 0 {
			return true, nil
		}
	}
	return false, nil
}

// isZero reports the introduced "0" event, which precedes every version.
func isZero(e event) bool { return e.kind == evIntroduced && e.version == "0" }

func compareEvents(cmp Comparer, a, b event) (int, error) {
	switch za, zb := isZero(a), isZero(b); {
	case za && zb:
		return 0, nil
	case za:
		if err := cmp.Valid(b.version); err != nil {
			return 0, err
		}
		return -1, nil
	case zb:
		if err := cmp.Valid(a.version); err != nil {
			return 0, err
		}
		return 1, nil
	}
	c, err := cmp.Compare(a.version, b.version)
	if err != nil || c != 0 {
		return c, err
	}
	return sign(int(a.kind) - int(b.kind)), nil
}

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
