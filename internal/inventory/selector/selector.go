// Package selector parses Kubernetes-style label selectors
// ("app=web,tier!=db,env in (prod,stage),!canary,team") and evaluates them
// against label maps. The inventory store turns the same requirements into
// indexed SQL.
//
// It imports the standard library only.
package selector

import (
	"fmt"
	"sort"
	"strings"
)

// Op is a requirement's operator.
type Op int

// Operators.
const (
	Equals    Op = iota // key=value, key==value
	NotEquals           // key!=value (also true when key is absent)
	In                  // key in (v1,v2)
	NotIn               // key notin (v1,v2) (also true when key is absent)
	Exists              // key
	NotExists           // !key
)

// Requirement is one comma-separated term.
type Requirement struct {
	Key    string
	Op     Op
	Values []string // one for Equals/NotEquals, several for In/NotIn
}

// Selector is a conjunction of requirements; the empty selector matches
// everything.
type Selector []Requirement

// MaxLen bounds a selector's text.
const MaxLen = 4096

// Parse parses a selector.
func Parse(s string) (Selector, error) {
	if len(s) > MaxLen {
		return nil, fmt.Errorf("selector longer than %d bytes", MaxLen)
	}
	p := &parser{s: s}
	var sel Selector
	p.space()
	if p.eof() {
		return nil, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, err
		}
		sel = append(sel, r)
		p.space()
		if p.eof() {
			return sel, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("at offset %d: expected ',' got %q", p.i, p.s[p.i])
		}
		p.i++
		p.space()
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// word reads a key or value: letters, digits and - _ . / (Kubernetes
// qualified names and values, plus ':' and '@' which Docker labels use).
func (p *parser) word() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./:@+", c) >= 0 {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *parser) requirement() (Requirement, error) {
	if p.eof() {
		return Requirement{}, fmt.Errorf("at offset %d: expected a requirement", p.i)
	}
	if p.s[p.i] == '!' {
		p.i++
		p.space()
		k := p.word()
		if k == "" {
			return Requirement{}, fmt.Errorf("at offset %d: expected a label key after '!'", p.i)
		}
		return Requirement{Key: k, Op: NotExists}, nil
	}
	k := p.word()
	if k == "" {
		return Requirement{}, fmt.Errorf("at offset %d: expected a label key", p.i)
	}
	p.space()
	if p.eof() || p.s[p.i] == ',' {
		return Requirement{Key: k, Op: Exists}, nil
	}
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "=="):
		p.i += 2
		return p.single(k, Equals)
	case strings.HasPrefix(rest, "!="):
		p.i += 2
		return p.single(k, NotEquals)
	case strings.HasPrefix(rest, "="):
		p.i++
		return p.single(k, Equals)
	}
	op := p.word()
	switch op {
	case "in":
		return p.set(k, In)
	case "notin":
		return p.set(k, NotIn)
	}
	return Requirement{}, fmt.Errorf("at offset %d: expected =, ==, !=, in or notin after %q", p.i-len(op), k)
}

func (p *parser) single(k string, op Op) (Requirement, error) {
	p.space()
	v := p.word() // empty value is allowed: "a=" matches a label set to ""
	return Requirement{Key: k, Op: op, Values: []string{v}}, nil
}

func (p *parser) set(k string, op Op) (Requirement, error) {
	p.space()
	if p.eof() || p.s[p.i] != '(' {
		return Requirement{}, fmt.Errorf("at offset %d: expected '(' after in/notin", p.i)
	}
	p.i++
	var vals []string
	for {
		p.space()
		vals = append(vals, p.word())
		p.space()
		if p.eof() {
			return Requirement{}, fmt.Errorf("unterminated value list for %q", k)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			continue
		case ')':
			p.i++
			sort.Strings(vals)
			return Requirement{Key: k, Op: op, Values: vals}, nil
		}
		return Requirement{}, fmt.Errorf("at offset %d: expected ',' or ')' in value list", p.i)
	}
}

// Matches evaluates the selector against labels.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.Key]
		switch r.Op {
		case Equals:
			if !ok || v != r.Values[0] {
				return false
			}
		case NotEquals:
			if ok && v == r.Values[0] {
				return false
			}
		case In:
			if !ok || !contains(r.Values, v) {
				return false
			}
		case NotIn:
			if ok && contains(r.Values, v) {
				return false
			}
		case Exists:
			if !ok {
				return false
			}
		case NotExists:
			if ok {
				return false
			}
		}
	}
	return true
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// String renders the selector canonically.
func (s Selector) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		switch r.Op {
		case Equals:
			parts[i] = r.Key + "=" + r.Values[0]
		case NotEquals:
			parts[i] = r.Key + "!=" + r.Values[0]
		case In:
			parts[i] = r.Key + " in (" + strings.Join(r.Values, ",") + ")"
		case NotIn:
			parts[i] = r.Key + " notin (" + strings.Join(r.Values, ",") + ")"
		case Exists:
			parts[i] = r.Key
		case NotExists:
			parts[i] = "!" + r.Key
		}
	}
	return strings.Join(parts, ",")
}
