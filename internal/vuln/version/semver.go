package version

import (
	"errors"
	"strings"

	"golang.org/x/mod/semver"
)

// semverComparer orders SemVer 2.0 versions (https://semver.org/#spec-item-11):
// pre-releases sort before the release, identifiers compare numerically or
// in ASCII order, build metadata is ignored. A leading "v" is tolerated, as
// node-semver and SwiftPM do; shorthand like "1.2" is not.
type semverComparer struct{ eco string }

// toSemver returns v in golang.org/x/mod/semver's "v"-prefixed form if it
// is a full major.minor.patch SemVer 2.0 version.
func toSemver(v string) (string, error) {
	if err := checkCommon(v); err != nil {
		return "", err
	}
	sv := v
	if sv[0] != 'v' {
		sv = "v" + sv
	}
	if !semver.IsValid(sv) {
		return "", errors.New("not SemVer 2.0")
	}
	core := sv
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	if strings.Count(core, ".") != 2 {
		return "", errors.New("not major.minor.patch")
	}
	return sv, nil
}

func (c semverComparer) parse(v string) (string, error) {
	sv, err := toSemver(v)
	if err != nil {
		return "", invalid(c.eco, v, err)
	}
	return sv, nil
}

func (c semverComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c semverComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, semver.Compare)
}

// pubComparer orders Dart pub versions: SemVer 2.0 precedence, except that
// pub_semver does not ignore build metadata: 1.0.0 < 1.0.0+1 < 1.0.0+2.
// https://github.com/dart-lang/pub_semver/blob/master/lib/src/version.dart (compareTo)
type pubComparer struct{ eco string }

func (c pubComparer) parse(v string) (string, error) {
	sv, err := toSemver(v)
	if err != nil {
		return "", invalid(c.eco, v, err)
	}
	return sv, nil
}

func (c pubComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c pubComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y string) int {
		if r := semver.Compare(x, y); r != 0 {
			return r
		}
		bx := strings.TrimPrefix(semver.Build(x), "+")
		by := strings.TrimPrefix(semver.Build(y), "+")
		switch {
		case bx == by:
			return 0
		case bx == "":
			return -1 // no build sorts before any build
		case by == "":
			return 1
		}
		return compareIdentifiers(strings.Split(bx, "."), strings.Split(by, "."), false)
	})
}

// compareIdentifiers compares dot-separated identifier lists as SemVer
// §11.4 does: numeric identifiers numerically and before alphanumeric ones,
// alphanumeric ones in ASCII order (or case-folded if fold), and a shorter
// list first when one is a prefix of the other.
func compareIdentifiers(x, y []string, fold bool) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		nx, ny := isDigits(x[i]), isDigits(y[i])
		var r int
		switch {
		case nx && ny:
			r = compareNumeric(x[i], y[i])
		case nx:
			r = -1
		case ny:
			r = 1
		case fold:
			r = compareFold(x[i], y[i])
		default:
			r = strings.Compare(x[i], y[i])
		}
		if r != 0 {
			return r
		}
	}
	return sign(len(x) - len(y))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareNumeric compares two digit strings of any length by value.
func compareNumeric(x, y string) int {
	x = strings.TrimLeft(x, "0")
	y = strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		return sign(len(x) - len(y))
	}
	return strings.Compare(x, y)
}

// compareFold compares ASCII strings ignoring case, like .NET's
// StringComparer.OrdinalIgnoreCase does for them.
func compareFold(x, y string) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		cx, cy := upper(x[i]), upper(y[i])
		if cx != cy {
			return sign(int(cx) - int(cy))
		}
	}
	return sign(len(x) - len(y))
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// goComparer orders Go module versions with golang.org/x/mod/semver, which
// is what the go command uses: pseudo-versions are pre-releases of the next
// patch (v1.2.3 < v1.2.4-0.2020... < v1.2.4) and "+incompatible" is build
// metadata. The leading "v" is optional because OSV's Go ranges drop it.
// Go toolchain and stdlib versions in the go command's spelling ("go1.21.3",
// "go1.21", "go1.21rc2") are mapped the way golang.org/x/vuln does:
// go1.21rc2 -> v1.21.0-rc.2, go1.21 -> v1.21.0.
// https://go.dev/ref/mod#versions, https://go.dev/doc/toolchain#version
type goComparer struct{ eco string }

func (c goComparer) parse(v string) (string, error) {
	if err := checkCommon(v); err != nil {
		return "", invalid(c.eco, v, err)
	}
	sv := v
	switch {
	case strings.HasPrefix(v, "go"):
		var ok bool
		if sv, ok = goTagToSemver(v); !ok {
			return "", invalid(c.eco, v, errors.New("not a Go release tag"))
		}
	case v[0] != 'v':
		sv = "v" + v
	}
	if !semver.IsValid(sv) {
		return "", invalid(c.eco, v, errors.New("not a semantic version"))
	}
	return sv, nil
}

// goTagToSemver converts "go1.21.3", "go1.21", "go1.21rc2", "go1.9beta1" and
// "go1" to semver. It accepts exactly go<major>.<minor>[.<patch>][(rc|beta)N].
func goTagToSemver(tag string) (string, bool) {
	s := strings.TrimPrefix(tag, "go")
	if s == "1" {
		return "v1.0.0", true
	}
	var nums []string
	var pre string
	for {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return "", false
		}
		nums = append(nums, s[:i])
		s = s[i:]
		if s == "" {
			break
		}
		if s[0] == '.' && len(nums) < 3 {
			s = s[1:]
			continue
		}
		for _, p := range []string{"rc", "beta"} {
			if n, ok := strings.CutPrefix(s, p); ok && isDigits(n) {
				pre = "-" + p + "." + n
				s = ""
			}
		}
		if s != "" {
			return "", false
		}
		break
	}
	if len(nums) < 2 {
		return "", false
	}
	if len(nums) == 2 {
		nums = append(nums, "0")
	}
	return "v" + strings.Join(nums, ".") + pre, true
}

func (c goComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c goComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, semver.Compare)
}
