// Package license recognises SPDX license identifiers and license
// expressions, so that encoders can tell a real SPDX id ("MIT") from an
// expression ("MIT OR Apache-2.0") and from free text ("BSD-style").
//
// The identifier list is generated from the SPDX enum that the CycloneDX
// 1.6 JSON schema uses (see gen.go), so an id this package accepts is one
// that schema accepts.
//
// This package imports only the standard library.
package license

//go:generate go run gen.go

import (
	"strings"
	"sync"
)

var lower = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[strings.ToLower(id)] = id
	}
	return m
})

// ID returns the canonical spelling of s if s (ignoring case and
// surrounding space) is a known SPDX license or exception identifier.
func ID(s string) (string, bool) {
	id, ok := lower()[strings.ToLower(strings.TrimSpace(s))]
	return id, ok
}

// HasOperator reports whether s contains an SPDX expression operator
// (AND, OR or WITH) as a separate word, in either case as SPDX allows.
func HasOperator(s string) bool {
	for _, tok := range tokens(s) {
		switch tok {
		case "AND", "OR", "WITH", "and", "or", "with":
			return true
		}
	}
	return false
}

// Normalize parses s as an SPDX license expression in which every license
// is a known identifier (optionally followed by "+") or a
// LicenseRef-/DocumentRef- reference, and every exception after WITH is a
// known identifier. It returns the expression with canonical identifier
// spelling, upper-case operators and single spaces, and false if s is not
// such an expression.
func Normalize(s string) (string, bool) {
	p := parser{toks: tokens(s)}
	if len(p.toks) == 0 {
		return "", false
	}
	if !p.expr(0) || p.pos != len(p.toks) {
		return "", false
	}
	var b strings.Builder
	for i, t := range p.out {
		if i > 0 && t != ")" && p.out[i-1] != "(" {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String(), true
}

// IsRef reports whether s is a valid user-defined license reference:
// "LicenseRef-" followed by letters, digits, '.' or '-', optionally
// prefixed by "DocumentRef-<id>:".
func IsRef(s string) bool {
	if doc, rest, ok := strings.Cut(s, ":"); ok {
		d, ok := strings.CutPrefix(doc, "DocumentRef-")
		if !ok || !idstring(d) {
			return false
		}
		s = rest
	}
	r, ok := strings.CutPrefix(s, "LicenseRef-")
	return ok && idstring(r)
}

func idstring(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func tokens(s string) []string {
	var toks []string
	for _, f := range strings.Fields(s) {
		for f != "" {
			i := strings.IndexAny(f, "()")
			switch {
			case i < 0:
				toks = append(toks, f)
				f = ""
			case i == 0:
				toks = append(toks, f[:1])
				f = f[1:]
			default:
				toks = append(toks, f[:i])
				f = f[i:]
			}
		}
	}
	return toks
}

// maxDepth bounds parenthesis nesting so hostile input cannot exhaust the
// stack.
const maxDepth = 64

// parser is a recursive-descent parser for
//
//	expr   = and { "OR" and }
//	and    = with { "AND" with }
//	with   = simple [ "WITH" exception ] | "(" expr ")"
type parser struct {
	toks []string
	pos  int
	out  []string
}

func (p *parser) peekOp(op string) bool {
	return p.pos < len(p.toks) && strings.EqualFold(p.toks[p.pos], op) &&
		(p.toks[p.pos] == op || p.toks[p.pos] == strings.ToLower(op))
}

func (p *parser) expr(depth int) bool {
	if !p.and(depth) {
		return false
	}
	for p.peekOp("OR") {
		p.pos++
		p.out = append(p.out, "OR")
		if !p.and(depth) {
			return false
		}
	}
	return true
}

func (p *parser) and(depth int) bool {
	if !p.with(depth) {
		return false
	}
	for p.peekOp("AND") {
		p.pos++
		p.out = append(p.out, "AND")
		if !p.with(depth) {
			return false
		}
	}
	return true
}

func (p *parser) with(depth int) bool {
	if p.pos >= len(p.toks) {
		return false
	}
	if p.toks[p.pos] == "(" {
		if depth >= maxDepth {
			return false
		}
		p.pos++
		p.out = append(p.out, "(")
		if !p.expr(depth+1) || p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return false
		}
		p.pos++
		p.out = append(p.out, ")")
		return true
	}
	if !p.simple() {
		return false
	}
	if p.peekOp("WITH") {
		p.pos++
		if p.pos >= len(p.toks) {
			return false
		}
		exc, ok := ID(p.toks[p.pos])
		if !ok {
			return false
		}
		p.pos++
		p.out = append(p.out, "WITH", exc)
	}
	return true
}

func (p *parser) simple() bool {
	tok := p.toks[p.pos]
	switch tok {
	case "(", ")", "AND", "OR", "WITH", "and", "or", "with":
		return false
	}
	if IsRef(tok) {
		p.pos++
		p.out = append(p.out, tok)
		return true
	}
	id, ok := ID(tok)
	if !ok {
		base, plus := strings.CutSuffix(tok, "+")
		if !plus {
			return false
		}
		if id, ok = ID(base); !ok {
			return false
		}
		id += "+"
	}
	p.pos++
	p.out = append(p.out, id)
	return true
}
