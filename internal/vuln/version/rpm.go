package version

import (
	"strconv"
	"strings"
)

// Hand-written RPM version comparison.
//
// Spec: rpmvercmp (https://github.com/rpm-software-management/rpm/blob/master/rpmio/rpmvercmp.cc,
// https://rpm-software-management.github.io/rpm/manual/dependencies.html#versioning):
// compare epochs as numbers, then version, then release; each is split
// into alphabetic runs, digit runs and single '~' or '^' characters (other
// characters only separate); '~' sorts before anything, even the end, '^'
// after the end but before anything else, digit runs numerically and above
// alphabetic runs, alphabetic runs by bytes, and when one side runs out of
// segments the longer one wins.
//
// This follows github.com/knqyf263/go-rpm-version's segment-wise rendering
// of that algorithm exactly (that is what Bulkhead shipped with and what
// its advisories were checked against).
//
// Why: the library splits both strings with a regexp and converts segments
// to []rune on every Compare (2.1 µs, 14 allocations); this walks the
// strings in place without allocating (160 ns including validation, 13×
// faster, measured with BenchmarkCompareRPM). TestRPMMatchesLibrary and
// FuzzRPMMatchesLibrary check it against the library.

// rpmVersion is a validated [epoch:]version[-release]; the strings point
// into the original.
type rpmVersion struct {
	epoch   int
	version string
	release string
}

// splitRPM splits a version that rpmComparer.check accepted.
func splitRPM(v string) rpmVersion {
	var r rpmVersion
	if e, rest, ok := strings.Cut(v, ":"); ok {
		r.epoch, _ = strconv.Atoi(e) // check allows 1-9 digits only
		v = rest
	}
	r.version, r.release, _ = strings.Cut(v, "-")
	return r
}

func compareRPM(a, b rpmVersion) int {
	if a.epoch != b.epoch {
		if a.epoch < b.epoch {
			return -1
		}
		return 1
	}
	if c := rpmvercmp(a.version, b.version); c != 0 {
		return c
	}
	return rpmvercmp(a.release, b.release)
}

// rpmSegment returns the segment of s at or after i (alphabetic run, digit
// run, '~' or '^') and the index after it; seg is "" at the end.
func rpmSegment(s string, i int) (seg string, next int) {
	for i < len(s) && !isAlnum(s[i]) && s[i] != '~' && s[i] != '^' {
		i++
	}
	if i == len(s) {
		return "", i
	}
	start := i
	switch c := s[i]; {
	case c == '~' || c == '^':
		i++
	case isDigit(c):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		for i < len(s) && isLetter(s[i]) {
			i++
		}
	}
	return s[start:i], i
}

// rpmvercmp compares one version or release string, returning -1, 0 or +1.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for {
		sa, ni := rpmSegment(a, i)
		sb, nj := rpmSegment(b, j)
		if sa == "" || sb == "" {
			switch {
			case sa == "" && sb == "":
				// Same segments; only the separators differed.
				return 0
			case sa != "":
				if sa[0] == '~' {
					return -1
				}
				return 1 // more segments wins
			default:
				if sb[0] == '~' {
					return 1
				}
				return -1
			}
		}
		i, j = ni, nj
		ca, cb := sa[0], sb[0]
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
		}
		if ca == '^' || cb == '^' {
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
		}
		if isDigit(ca) {
			if !isDigit(cb) {
				return 1
			}
			sa = strings.TrimLeft(sa, "0")
			sb = strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		} else if isDigit(cb) {
			return -1
		}
		if sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
	}
}
