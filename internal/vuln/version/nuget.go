package version

import (
	"errors"
	"fmt"
	"strings"
)

// nugetComparer orders NuGet versions. Written here because no maintained
// Go library implements NuGet's rules, which follow NuGet.Versioning's
// VersionComparer (VersionComparison.Default):
// https://learn.microsoft.com/en-us/nuget/concepts/package-versioning
//
//   - one to four numeric parts, missing parts are 0 (1.0 == 1.0.0.0) and
//     leading zeros are allowed (1.01 == 1.1);
//   - a release label after '-' makes a pre-release, sorted before the
//     release; labels are dot-separated and compared one by one, numeric
//     ones numerically and before alphanumeric ones, alphanumeric ones
//     case-insensitively (1.0.0-Beta == 1.0.0-beta);
//   - build metadata after '+' is ignored.
//
// Unlike NuGet, numeric parts are not limited to Int32: they are compared
// as numbers of any length.
type nugetComparer struct{ eco string }

type nugetVersion struct {
	parts [4]string // numeric, leading zeros kept; "" means 0
	pre   []string
}

func (c nugetComparer) parse(v string) (nugetVersion, error) {
	var nv nugetVersion
	if err := checkCommon(v); err != nil {
		return nv, invalid(c.eco, v, err)
	}
	s := v
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if err := checkLabels(s[i+1:]); err != nil {
			return nv, invalid(c.eco, v, fmt.Errorf("build metadata: %w", err))
		}
		s = s[:i]
	}
	core, pre, hasPre := strings.Cut(s, "-")
	if hasPre {
		if err := checkLabels(pre); err != nil {
			return nv, invalid(c.eco, v, fmt.Errorf("release label: %w", err))
		}
		nv.pre = strings.Split(pre, ".")
	}
	n := 0
	for part := range strings.SplitSeq(core, ".") {
		if n == len(nv.parts) {
			return nv, invalid(c.eco, v, errors.New("more than four numeric parts"))
		}
		if !isDigits(part) {
			return nv, invalid(c.eco, v, fmt.Errorf("numeric part %q is not a number", part))
		}
		nv.parts[n] = part
		n++
	}
	return nv, nil
}

// checkLabels accepts non-empty dot-separated identifiers of [0-9A-Za-z-].
func checkLabels(s string) error {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return errors.New("empty identifier")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}

func (c nugetComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c nugetComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, compareNuGet)
}

func compareNuGet(x, y nugetVersion) int {
	for i := range x.parts {
		if r := compareNumeric(x.parts[i], y.parts[i]); r != 0 {
			return r
		}
	}
	switch {
	case len(x.pre) == 0 && len(y.pre) == 0:
		return 0
	case len(x.pre) == 0:
		return 1
	case len(y.pre) == 0:
		return -1
	}
	return compareIdentifiers(x.pre, y.pre, true)
}
