package ruby

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxListLines bounds how far a list literal ("s.licenses = [" ...) is
// followed onto later lines.
const maxListLines = 64

// parseGemspec reads the Ruby source RubyGems writes for an installed gem
// (Gem::Specification#to_ruby):
//
//	s.name = "rake".freeze
//	s.version = "13.0.6"
//	s.licenses = ["MIT".freeze]
//
// with a line scanner; no Ruby is evaluated. Assignments are recognised by
// their left-hand side alone ("<receiver>.name"), so hand-written gemspecs
// using "spec." or "gem." parse too. Values that are not string literals
// (computed versions, constants) are ignored; a file without a literal name
// and version gives no package.
func parseGemspec(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var (
		name, version, homepage, platform string
		licenses                          []string
		inList                            bool // inside a "licenses = [" spanning lines
		listLines                         int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inList {
			items, closed := stringList(line)
			licenses = append(licenses, items...)
			listLines++
			if closed || listLines >= maxListLines {
				inList = false
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		lhs, rhs, ok := strings.Cut(line, "=")
		if !ok || rhs == "" || rhs[0] == '=' || rhs[0] == '~' || rhs[0] == '>' {
			continue // not an assignment (==, =~, =>)
		}
		lhs = strings.TrimSpace(lhs)
		dot := strings.LastIndexByte(lhs, '.')
		if dot <= 0 || strings.ContainsAny(lhs, " \t\"'") {
			continue
		}
		rhs = strings.TrimSpace(rhs)
		switch lhs[dot+1:] {
		case "name":
			if s, ok := stringLiteral(rhs); ok {
				name = s
			}
		case "version":
			if s, ok := stringLiteral(rhs); ok {
				version = s
			}
		case "homepage":
			if s, ok := stringLiteral(rhs); ok && !strings.Contains(s, "#{") {
				homepage = s
			}
		case "platform":
			if s, ok := stringLiteral(rhs); ok {
				platform = s
			}
		case "license":
			if s, ok := stringLiteral(rhs); ok && s != "" {
				licenses = append(licenses, s)
			}
		case "licenses":
			if !strings.HasPrefix(rhs, "[") {
				continue
			}
			items, closed := stringList(rhs[1:])
			licenses = append(licenses, items...)
			if !closed {
				inList, listLines = true, 0
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read gemspec: %w", err)
	}
	if name == "" || version == "" {
		return nil, nil
	}
	p := newGem(name, version, foundBy)
	if platform != "" && platform != "ruby" {
		p.PURL = gemPURL(name, version, platform)
		p.Metadata = map[string]string{"platform": platform}
	}
	if homepage != "" {
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		p.Metadata["homepage"] = homepage
	}
	p.Licenses = licenses
	return []sbom.Package{p}, nil
}

// stringLiteral decodes a Ruby string literal that starts s, optionally
// followed by .freeze, and reports whether s started with one.
func stringLiteral(s string) (string, bool) {
	v, n, ok := rubyString(s)
	if !ok {
		return "", false
	}
	rest := strings.TrimSpace(s[n:])
	rest = strings.TrimPrefix(rest, ".freeze")
	// Anything after the literal other than a trailing condition or
	// comment ("... if s.respond_to? :x=") makes it an expression.
	if rest != "" && rest[0] != '#' && !strings.HasPrefix(rest, "if ") && !strings.HasPrefix(rest, "unless ") {
		return "", false
	}
	return v, true
}

// stringList reads the string literals of a list body (after the '[') up to
// the closing ']', reporting whether it was reached on this line. nil and
// other non-strings are skipped.
func stringList(s string) (items []string, closed bool) {
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return items, false
		}
		switch s[0] {
		case ']':
			return items, true
		case '"', '\'':
			v, n, ok := rubyString(s)
			if !ok {
				return items, true
			}
			if v != "" {
				items = append(items, v)
			}
			s = strings.TrimPrefix(s[n:], ".freeze")
		default:
			// nil, a constant or an expression: skip to the next comma.
			i := strings.IndexAny(s, ",]")
			if i < 0 {
				return items, false
			}
			s = s[i:]
		}
	}
}

// rubyString decodes the single- or double-quoted string at the start of s
// and returns it with the number of bytes it took. Double-quoted strings
// get Ruby's common escapes (\n, \t, \", \\, \#, \uXXXX, \u{...}); RubyGems
// writes non-ASCII as \uXXXX.
func rubyString(s string) (string, int, bool) {
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return "", 0, false
	}
	q := s[0]
	end := -1
	escaped := false
	for i := 1; i < len(s); i++ {
		switch {
		case escaped:
			escaped = false
		case s[i] == '\\':
			escaped = true
		case s[i] == q:
			end = i
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return "", 0, false
	}
	body := s[1:end]
	if !strings.ContainsRune(body, '\\') {
		return body, end + 1, true
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		c = body[i]
		if q == '\'' {
			// Single quotes only escape \\ and \'.
			if c != '\\' && c != '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'u':
			r, n := unicodeEscape(body[i+1:])
			if n == 0 {
				b.WriteByte('u')
				continue
			}
			b.WriteRune(r)
			i += n
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), end + 1, true
}

// unicodeEscape decodes the part of \uXXXX or \u{X...} after the 'u'.
func unicodeEscape(s string) (rune, int) {
	var hex string
	var n int
	if strings.HasPrefix(s, "{") {
		i := strings.IndexByte(s, '}')
		if i < 2 || i > 7 {
			return 0, 0
		}
		hex, n = s[1:i], i+1
	} else {
		if len(s) < 4 {
			return 0, 0
		}
		hex, n = s[:4], 4
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || !utf8.ValidRune(rune(v)) {
		return 0, 0
	}
	return rune(v), n
}
