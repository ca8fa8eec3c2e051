package version

import (
	"errors"
	"regexp"
	"strings"
)

// packagistComparer orders Composer versions. Written here because no
// maintained Go library reproduces Composer: it is Composer's
// VersionParser::normalize followed by PHP's version_compare, which is how
// Composer's Comparator orders versions.
//
//   - normalize: https://github.com/composer/semver/blob/main/src/VersionParser.php
//     ("v1.2" -> "1.2.0.0", "1.0-b2" -> "1.0.0.0-beta2", "1.0-pl1" ->
//     "1.0.0.0-patch1", build metadata "+..." dropped, date versions
//     like "20230101" kept as digits); branch names ("dev-main") are not
//     orderable and are rejected;
//   - version_compare: https://www.php.net/manual/en/function.version-compare.php
//     canonicalises '-', '_', '+' and digit/letter boundaries to '.', then
//     compares part by part, numbers numerically and words by rank:
//     any other word < dev < alpha = a < beta = b < RC = rc < number < pl = p.
type packagistComparer struct{ eco string }

func (c packagistComparer) parse(v string) ([]string, error) {
	if err := checkCommon(v); err != nil {
		return nil, invalid(c.eco, v, err)
	}
	n, err := normalizeComposer(v)
	if err != nil {
		return nil, invalid(c.eco, v, err)
	}
	return phpCanonicalParts(n), nil
}

func (c packagistComparer) Valid(v string) error { _, err := c.parse(v); return err }

func (c packagistComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, phpCompareParts)
}

// composerDate is Composer's date(time) version pattern with its modifier
// suffix; the classical form is parsed by hand because it is the common one.
var composerDate = regexp.MustCompile(`(?i)^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})` +
	`[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?$`)

// normalizeComposer mirrors VersionParser::normalize for concrete versions.
func normalizeComposer(v string) (string, error) {
	if len(v) >= 4 && strings.EqualFold(v[:4], "dev-") {
		return "", errors.New("branch names are not orderable")
	}
	// Strip build metadata: ^([^,\s+]++)\+[^\s]++$
	if i := strings.IndexByte(v, '+'); i > 0 && i < len(v)-1 {
		v = v[:i]
	}
	if n, ok := normalizeClassical(v); ok {
		return n, nil
	}
	if m := composerDate.FindStringSubmatch(v); m != nil {
		digits := strings.Map(func(r rune) rune {
			if r < '0' || r > '9' {
				return '.'
			}
			return r
		}, m[1])
		return withModifier(digits, m[2], m[3], m[4] != ""), nil
	}
	return "", errors.New("not a Composer version")
}

// normalizeClassical handles
// ^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?<modifier>$ (case-insensitive),
// padding to four numeric parts.
func normalizeClassical(v string) (string, bool) {
	s := v
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	var parts [4]string
	n := 0
	for n < 4 {
		if n > 0 {
			if len(s) < 2 || s[0] != '.' || !isDigit(s[1]) {
				break
			}
			s = s[1:]
		}
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 || (n == 0 && i > 5) {
			return "", false
		}
		parts[n], s = s[:i], s[i:]
		n++
	}
	for ; n < 4; n++ {
		parts[n] = "0"
	}
	stab, num, dev, ok := parseModifier(s)
	if !ok {
		return "", false
	}
	return withModifier(strings.Join(parts[:], "."), stab, num, dev), true
}

// parseModifier matches
// [._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?$
// case-insensitively, trying alternatives in the regexp's order.
func parseModifier(s string) (stab, num string, dev, ok bool) {
	starts := []string{s}
	if s != "" && (s[0] == '.' || s[0] == '_' || s[0] == '-') {
		starts = []string{s[1:], s} // greedy '?' first, then without
	}
	for _, t := range starts {
		for _, k := range []string{"stable", "beta", "b", "RC", "alpha", "a", "patch", "pl", "p"} {
			if len(t) < len(k) || !strings.EqualFold(t[:len(k)], k) {
				continue
			}
			rest := t[len(k):]
			n, tail := scanNumbers(rest)
			if d, ok := devSuffix(tail); ok {
				return t[:len(k)], n, d, true
			}
		}
		if d, ok := devSuffix(t); ok {
			return "", "", d, true
		}
	}
	return "", "", false, false
}

// scanNumbers consumes (?:[.-]?\d+)* possessively.
func scanNumbers(s string) (num, rest string) {
	i := 0
	for {
		j := i
		if j < len(s) && (s[j] == '.' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k == j {
			return s[:i], s[i:]
		}
		i = k
	}
}

// devSuffix matches ([.-]?dev)?$ and reports whether "dev" was present.
func devSuffix(s string) (dev, ok bool) {
	if s == "" {
		return false, true
	}
	if s[0] == '.' || s[0] == '-' {
		s = s[1:]
	}
	return true, strings.EqualFold(s, "dev")
}

func withModifier(version, stab, num string, dev bool) string {
	if stab != "" {
		st := strings.ToLower(stab)
		if st == "stable" {
			return version
		}
		switch st {
		case "a":
			st = "alpha"
		case "b":
			st = "beta"
		case "p", "pl":
			st = "patch"
		case "rc":
			st = "RC"
		}
		version += "-" + st + strings.TrimLeft(num, ".-")
	}
	if dev {
		version += "-dev"
	}
	return version
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// phpCanonicalParts is php_canonicalize_version split on '.': every
// non-alphanumeric byte separates parts, and so does each boundary between
// digits and letters ("1.0-RC1" -> 1 0 RC 1).
func phpCanonicalParts(v string) []string {
	parts := make([]string, 0, 8)
	start := -1
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case !isAlnum(c):
			if start >= 0 {
				parts = append(parts, v[start:i])
				start = -1
			}
		case start < 0:
			start = i
		case isDigit(v[i-1]) != isDigit(c):
			parts = append(parts, v[start:i])
			start = i
		}
	}
	if start >= 0 {
		parts = append(parts, v[start:])
	}
	return parts
}

// phpSpecial ranks a non-numeric part like compare_special_version_forms:
// by prefix, in this order; unknown words rank -1.
func phpSpecial(s string) int {
	for _, f := range [...]struct {
		name  string
		order int
	}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}} {
		if strings.HasPrefix(s, f.name) {
			return f.order
		}
	}
	return -1
}

const phpNumber = "#N#" // what version_compare compares a number with a word as

// phpCompareParts is php_version_compare on canonical parts.
func phpCompareParts(a, b []string) int {
	n := min(len(a), len(b))
	for i := range n {
		var r int
		da, db := a[i] != "" && isDigit(a[i][0]), b[i] != "" && isDigit(b[i][0])
		switch {
		case da && db:
			r = compareNumeric(a[i], b[i])
		case !da && !db:
			r = sign(phpSpecial(a[i]) - phpSpecial(b[i]))
		case da:
			r = sign(phpSpecial(phpNumber) - phpSpecial(b[i]))
		default:
			r = sign(phpSpecial(a[i]) - phpSpecial(phpNumber))
		}
		if r != 0 {
			return r
		}
	}
	switch {
	case len(a) > n:
		if a[n] != "" && isDigit(a[n][0]) {
			return 1
		}
		return phpCompareParts(a[n:], []string{phpNumber})
	case len(b) > n:
		if b[n] != "" && isDigit(b[n][0]) {
			return -1
		}
		return phpCompareParts([]string{phpNumber}, b[n:])
	}
	return 0
}
