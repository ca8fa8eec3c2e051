package version

// Hand-written apk version comparison.
//
// Spec: apk-tools src/version.c
// (https://gitlab.alpinelinux.org/alpine/apk-tools/-/blob/master/src/version.c):
// a version is a token stream (digits, a letter, _suffix with number,
// -r revision); tokens are compared pairwise, pre-release suffixes
// (_alpha, _beta, _pre, _rc) sort before the end, everything else after.
//
// This is a line-by-line port of github.com/knqyf263/go-apk-version's
// tokenizer (a port of version.c), with its bufio.Reader replaced by an
// index into the string, so it orders exactly as the library does,
// quirks included.
//
// Why: the library allocates a 4 KiB bufio.Reader per version per call and
// validates by tokenizing once more (12.8 µs, 16 KB per Compare); this
// allocates nothing (220 ns including validation, 58× faster, measured
// with BenchmarkCompareAPK). TestAPKMatchesLibrary and FuzzAPKMatchesLibrary
// check it against the library.

type apkToken int

const (
	apkInvalid apkToken = iota - 1
	apkDigitOrZero
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkRevisionNo
	apkEnd
)

var (
	apkPreSuffixes  = [...]string{"alpha", "beta", "pre", "rc"}
	apkPostSuffixes = [...]string{"cvs", "svn", "git", "hg", "p"}
)

// apkReader mimics the bufio.Reader operations the library uses on an
// ASCII string: readRune, unreadRune (only right after a successful
// readRune), peek-at-end and discard.
type apkReader struct {
	s    string
	pos  int
	last int // size of the last rune read, -1 when unreadRune must fail
}

func newAPKReader(s string) apkReader { return apkReader{s: s, last: -1} }

// readRune returns the next byte, or 0 and false at the end.
func (r *apkReader) readRune() (rune, bool) {
	if r.pos >= len(r.s) {
		r.last = -1
		return 0, false
	}
	c := r.s[r.pos]
	r.pos++
	r.last = 1
	return rune(c), true
}

func (r *apkReader) unreadRune() {
	if r.last > 0 {
		r.pos -= r.last
	}
	r.last = -1
}

func (r *apkReader) atEnd() bool { r.last = -1; return r.pos >= len(r.s) }

func (r *apkReader) hasPrefix(p string) bool {
	r.last = -1
	return len(r.s)-r.pos >= len(p) && r.s[r.pos:r.pos+len(p)] == p
}

func (r *apkReader) discard(n int) { r.pos += n; r.last = -1 }

func isLowerRune(c rune) bool { return 'a' <= c && c <= 'z' }
func isDigitRune(c rune) bool { return '0' <= c && c <= '9' }

func (r *apkReader) nextToken(t apkToken) apkToken {
	n := apkInvalid
	c, ok := r.readRune()
	if !ok {
		n = apkEnd
	}
	switch {
	case (t == apkDigit || t == apkDigitOrZero) && isLowerRune(c):
		n = apkLetter
	case t == apkLetter && isDigitRune(c):
		n = apkDigit
	case t == apkSuffix && isDigitRune(c):
		n = apkSuffixNo
	default:
		switch c {
		case '.':
			n = apkDigitOrZero
		case '_':
			n = apkSuffix
		case '-':
			if _, ok := r.readRune(); !ok {
				n = apkInvalid
			} else {
				n = apkRevisionNo
			}
		}
	}
	if n == apkEnd || n == apkLetter || n == apkDigit || n == apkSuffixNo {
		r.unreadRune()
	}
	if n < t {
		switch {
		case n == apkDigitOrZero && t == apkDigit:
			return n
		case n == apkSuffix && t == apkSuffixNo:
			return n
		case n == apkDigit && t == apkLetter:
			return n
		default:
			return apkInvalid
		}
	}
	return n
}

func (r *apkReader) getToken(t apkToken) (int, apkToken) {
	nt := apkInvalid
	value := 0
	c, _ := r.readRune()
	switch t {
	case apkDigitOrZero:
		// Leading zero digits get a special treatment.
		if c == '0' {
			for {
				value--
				c2, ok := r.readRune()
				if !ok {
					break
				}
				if c2 != '0' {
					r.unreadRune()
					break
				}
			}
			nt = apkDigit
			break
		}
		fallthrough
	case apkDigit, apkSuffixNo, apkRevisionNo:
		for isDigitRune(c) {
			value = value*10 + int(c-'0')
			var ok bool
			if c, ok = r.readRune(); !ok {
				break
			}
		}
		r.unreadRune()
	case apkLetter:
		value = int(c)
	case apkSuffix:
		r.unreadRune()
		for i, s := range apkPreSuffixes {
			if r.hasPrefix(s) {
				value = i - len(apkPreSuffixes)
				r.discard(len(s))
				break
			}
		}
		if value != 0 {
			break
		}
		value = -1
		for i, s := range apkPostSuffixes {
			if r.hasPrefix(s) {
				value = i
				r.discard(len(s))
				break
			}
		}
		if value >= 0 {
			break
		}
		return -1, apkInvalid
	default:
		return -1, apkInvalid
	}
	switch {
	case r.atEnd():
		t = apkEnd
	case nt != apkInvalid:
		t = nt
	default:
		t = r.nextToken(t)
	}
	return value, t
}

// validAPK is the library's Valid.
func validAPK(v string) bool {
	t := apkDigit
	r := newAPKReader(v)
	for t != apkEnd && t != apkInvalid {
		_, t = r.getToken(t)
	}
	return t == apkEnd
}

// compareAPK is the library's compare, returning -1, 0 or +1.
func compareAPK(a, b string) int {
	ra, rb := newAPKReader(a), newAPKReader(b)
	at, bt := apkDigit, apkDigit
	var av, bv int
	for at == bt && at != apkEnd && at != apkInvalid && av == bv {
		av, at = ra.getToken(at)
		bv, bt = rb.getToken(bt)
	}
	switch {
	case av < bv:
		return -1
	case av > bv:
		return 1
	case at == bt:
		return 0
	}
	// Leading components are equal: the non-terminating version is greater
	// unless it continues with a pre-release suffix.
	if at == apkSuffix {
		if v, _ := ra.getToken(at); v < 0 {
			return -1
		}
	}
	if bt == apkSuffix {
		if v, _ := rb.getToken(bt); v < 0 {
			return 1
		}
	}
	switch {
	case at > bt:
		return -1
	case at < bt:
		return 1
	}
	return 0
}
