package version

import (
	"errors"
	"fmt"
	"strings"

	gem "github.com/aquasecurity/go-gem-version"
	pep440 "github.com/aquasecurity/go-pep440-version"
	mvn "github.com/masahiro331/go-mvn-version"
)

// debComparer orders dpkg versions ([epoch:]upstream[-revision]): '~' sorts
// before everything, letters before other symbols. The comparison is
// hand-written (deb.go); it used to be github.com/knqyf263/go-deb-version.
// https://www.debian.org/doc/debian-policy/ch-controlfields.html#version
type debComparer struct{ eco string }

func (c debComparer) parse(v string) (debVersion, error) {
	if err := firstErr(checkCommon(v), checkASCII(v), checkDigitRuns(v)); err != nil {
		return debVersion{}, invalid(c.eco, v, err)
	}
	pv, err := parseDeb(v)
	if err != nil {
		return debVersion{}, invalid(c.eco, v, err)
	}
	return pv, nil
}

func (c debComparer) compareParsed(a, b debVersion) (int, error) { return compareDeb(a, b), nil }

func (c debComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c debComparer) Compare(a, b string) (int, error) { return compareParsedStrings(c, a, b) }

// apkComparer orders apk-tools versions (1.2.3_rc1 < 1.2.3 < 1.2.3-r1 <
// 1.2.3_p1). The comparison is hand-written (apk.go), a port of
// github.com/knqyf263/go-apk-version.
// https://gitlab.alpinelinux.org/alpine/apk-tools/-/blob/master/src/version.c
type apkComparer struct{ eco string }

func (c apkComparer) parse(v string) (string, error) {
	if err := firstErr(checkCommon(v), checkASCII(v), checkDigitRuns(v), checkAPKRevision(v)); err != nil {
		return "", invalid(c.eco, v, err)
	}
	if !validAPK(v) {
		return "", invalid(c.eco, v, errors.New("invalid version"))
	}
	return v, nil
}

func (c apkComparer) compareParsed(a, b string) (int, error) { return compareAPK(a, b), nil }

func (c apkComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c apkComparer) Compare(a, b string) (int, error) { return compareParsedStrings(c, a, b) }

// checkAPKRevision enforces apk-tools' "-r<N>" revision syntax; the library
// takes '-' followed by any character as a revision.
func checkAPKRevision(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] == '-' && (i+1 == len(v) || v[i+1] != 'r') {
			return errors.New("'-' not followed by a revision 'r<N>'")
		}
	}
	return nil
}

// rpmComparer orders RPM [epoch:]version[-release] strings with rpmvercmp:
// '~' sorts before the base version, '^' after it. The comparison is
// hand-written (rpm.go); it used to be github.com/knqyf263/go-rpm-version.
// https://rpm-software-management.github.io/rpm/manual/dependencies.html#versioning
type rpmComparer struct{ eco string }

func (c rpmComparer) parse(v string) (rpmVersion, error) {
	if err := c.check(v); err != nil {
		return rpmVersion{}, invalid(c.eco, v, err)
	}
	return splitRPM(v), nil
}

// check adds the validation the library leaves out: it accepts any string
// and reads a bad epoch as 0.
func (c rpmComparer) check(v string) error {
	if err := firstErr(checkCommon(v), checkASCII(v)); err != nil {
		return err
	}
	evr := v
	if epoch, rest, ok := strings.Cut(v, ":"); ok {
		if epoch == "" || len(epoch) > 9 || strings.Trim(epoch, "0123456789") != "" {
			return fmt.Errorf("epoch %q is not a number", epoch)
		}
		evr = rest
	}
	if strings.Count(evr, "-") > 1 {
		return errors.New("more than one '-'")
	}
	ver, rel, hasRel := strings.Cut(evr, "-")
	if ver == "" || (hasRel && rel == "") {
		return errors.New("empty version or release")
	}
	if strings.ContainsRune(evr, ':') {
		return errors.New("more than one ':'")
	}
	return nil
}

func (c rpmComparer) compareParsed(a, b rpmVersion) (int, error) { return compareRPM(a, b), nil }

func (c rpmComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c rpmComparer) Compare(a, b string) (int, error) { return compareParsedStrings(c, a, b) }

// pep440Comparer orders Python versions per PEP 440 (epochs, pre/post/dev
// releases, local labels, normalised spellings) with
// github.com/aquasecurity/go-pep440-version. Parsing with it takes
// microseconds (one big regexp), so parsed versions are memoised in a
// bounded cache (pep440Cache): advisories name the same fixed versions
// over and over.
// https://packaging.python.org/en/latest/specifications/version-specifiers/
type pep440Comparer struct{ eco string }

// pep440Version is a parsed version: its normal form and comparison key.
// It is immutable once cached (the library's Version is not: its Compare
// appends into it), so it keeps only the original string for the library.
type pep440Version struct {
	orig  string
	norm  string
	key   pep440Key
	keyOK bool // false: compare with the library (never seen in practice)
}

var pep440Cache = newParseCache[*pep440Version](1 << 16)

func (c pep440Comparer) parse(v string) (pv *pep440Version, err error) {
	if pv, ok := pep440Cache.get(v); ok {
		return pv, nil
	}
	if err := checkCommon(v); err != nil {
		return nil, invalid(c.eco, v, err)
	}
	defer func() {
		if r := recover(); r != nil {
			pv, err = nil, invalid(c.eco, v, fmt.Errorf("library panic: %v", r))
		}
	}()
	v = strings.Clone(v) // the cache must not pin the caller's buffer
	lv, err := pep440.Parse(v)
	if err != nil {
		return nil, invalid(c.eco, v, err)
	}
	pv = &pep440Version{orig: v, norm: lv.String()}
	pv.key, pv.keyOK = pep440KeyOf(pv.norm)
	pep440Cache.put(v, pv)
	return pv, nil
}

func (c pep440Comparer) compareParsed(a, b *pep440Version) (n int, err error) {
	if a == b || a.norm == b.norm {
		return 0, nil // what the library's Compare starts with
	}
	if a.keyOK && b.keyOK {
		return comparePEP440Keys(&a.key, &b.key), nil
	}
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("%s: comparing %q with %q: %w: library panic: %v", c.eco, a.orig, b.orig, ErrInvalidVersion, r)
		}
	}()
	va, err := pep440.Parse(a.orig)
	if err != nil {
		return 0, invalid(c.eco, a.orig, err)
	}
	vb, err := pep440.Parse(b.orig)
	if err != nil {
		return 0, invalid(c.eco, b.orig, err)
	}
	return sign(va.Compare(vb)), nil
}

func (c pep440Comparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c pep440Comparer) Compare(a, b string) (int, error) { return compareParsedStrings(c, a, b) }

// mavenComparer orders Maven versions like ComparableVersion: qualifiers
// alpha < beta < milestone < rc < snapshot < "" < sp, trailing zeros ignored.
// https://maven.apache.org/pom.html#version-order-specification
type mavenComparer struct{ eco string }

func (c mavenComparer) parse(v string) (mvn.Version, error) {
	// The library accepts every string; Maven does too, except that it
	// keeps big numbers exact where the library would overflow an int.
	if err := firstErr(checkCommon(v), checkDigitRuns(v)); err != nil {
		return mvn.Version{}, invalid(c.eco, v, err)
	}
	pv, err := mvn.NewVersion(v)
	if err != nil {
		return mvn.Version{}, invalid(c.eco, v, err)
	}
	return pv, nil
}

func (c mavenComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c mavenComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y mvn.Version) int { return x.Compare(y) })
}

// gemComparer orders RubyGems versions like Gem::Version: a segment with a
// letter makes a prerelease (1.0.a < 1.0, 1.0.0.pre < 1.0.0).
// https://guides.rubygems.org/patterns/#prerelease-gems
type gemComparer struct{ eco string }

func (c gemComparer) parse(v string) (gem.Version, error) {
	if err := firstErr(checkCommon(v), checkDigitRuns(v)); err != nil {
		return gem.Version{}, invalid(c.eco, v, err)
	}
	pv, err := gem.NewVersion(v)
	if err != nil {
		return gem.Version{}, invalid(c.eco, v, err)
	}
	return pv, nil
}

func (c gemComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c gemComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y gem.Version) int { return x.Compare(y) })
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
