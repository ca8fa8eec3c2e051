package rules

import "errors"

// globMatch matches s against a shell-style pattern: '*' matches any run of
// characters including '/', '?' one character, '[...]' a class (ranges,
// leading '!' or '^' negates), '\' escapes. This follows fnmatch(3)
// without FNM_PATHNAME, which is what Falco's glob operator uses. It does
// not allocate.
func globMatch(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, next, valid := matchClass(pattern, px, s[sx], fold); valid {
					if ok {
						px = next
						sx++
						continue
					}
				} else if eqByte('[', s[sx], fold) {
					px++
					sx++
					continue
				}
			default:
				if c == '\\' && px+1 < len(pattern) {
					c = pattern[px+1]
					if eqByte(c, s[sx], fold) {
						px += 2
						sx++
						continue
					}
				} else if eqByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starPx < 0 {
			return false
		}
		starSx++
		px, sx = starPx+1, starSx
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// matchClass matches c against the class starting at pattern[px] == '['.
// valid is false when the class is unterminated.
func matchClass(pattern string, px int, c byte, fold bool) (ok bool, next int, valid bool) {
	i := px + 1
	neg := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(pattern) && (first || pattern[i] != ']') {
		first = false
		lo := pattern[i]
		if lo == '\\' && i+1 < len(pattern) {
			i++
			lo = pattern[i]
		}
		hi := lo
		if i+2 < len(pattern) && pattern[i+1] == '-' && pattern[i+2] != ']' {
			hi = pattern[i+2]
			i += 2
		}
		if (lo <= c && c <= hi) || (fold && lo <= lower(c) && lower(c) <= hi) || (fold && lo <= upper(c) && upper(c) <= hi) {
			ok = true
		}
		i++
	}
	if i >= len(pattern) {
		return false, 0, false
	}
	return ok != neg, i + 1, true
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// checkGlob rejects patterns that end in a lone escape.
func checkGlob(p string) error {
	n := 0
	for i := len(p) - 1; i >= 0 && p[i] == '\\'; i-- {
		n++
	}
	if n%2 == 1 {
		return errors.New("glob pattern ends with a lone backslash")
	}
	return nil
}
