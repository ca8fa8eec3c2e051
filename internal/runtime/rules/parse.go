package rules

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is the category of every condition parse error; the detail is
// a *SyntaxError.
var ErrSyntax = errors.New("condition syntax error")

// SyntaxError reports where and why a condition failed to parse.
type SyntaxError struct {
	Offset int // byte offset into the condition
	Line   int // 1-based
	Col    int // 1-based, in bytes
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Reason)
}

// Is lets callers test errors.Is(err, ErrSyntax).
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Node is a parsed condition. The concrete types are AndNode, OrNode,
// NotNode, MacroRef and CheckNode.
type Node interface{ Pos() int }

// AndNode is the conjunction of its children.
type AndNode struct {
	Offset int
	Kids   []Node
}

// OrNode is the disjunction of its children.
type OrNode struct {
	Offset int
	Kids   []Node
}

// NotNode negates its child.
type NotNode struct {
	Offset int
	Kid    Node
}

// MacroRef names a macro to be expanded at compile time.
type MacroRef struct {
	Offset int
	Name   string
}

// Operand is one literal on the right of an operator. Quoted operands are
// never taken as list names.
type Operand struct {
	Offset int
	Text   string
	Quoted bool
}

// CheckNode is "field op value", "field op (list)" or "field exists".
type CheckNode struct {
	Offset   int
	Field    string
	Arg      string
	HasArg   bool
	Op       string
	Values   []Operand
	IsList   bool // right side was a parenthesised list
	ValuePos int
}

// Pos implementations.
func (n *AndNode) Pos() int   { return n.Offset }
func (n *OrNode) Pos() int    { return n.Offset }
func (n *NotNode) Pos() int   { return n.Offset }
func (n *MacroRef) Pos() int  { return n.Offset }
func (n *CheckNode) Pos() int { return n.Offset }

// operators maps every supported operator to whether it takes a list.
var operators = map[string]opKind{
	"=": opScalar, "==": opScalar, "!=": opScalar,
	"<": opScalar, "<=": opScalar, ">": opScalar, ">=": opScalar,
	"contains": opScalar, "icontains": opScalar, "bcontains": opScalar,
	"startswith": opScalar, "bstartswith": opScalar, "endswith": opScalar,
	"glob": opScalar, "iglob": opScalar, "regex": opScalar,
	"in": opList, "intersects": opList, "pmatch": opList,
	"exists": opUnary,
}

type opKind uint8

const (
	opScalar opKind = iota + 1
	opList
	opUnary
)

// ParseCondition parses a Falco condition into an AST. Macro and list
// names are left unresolved; Compile resolves them.
func ParseCondition(src string) (Node, error) {
	p := &parser{src: src}
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, p.errf(p.pos, "empty condition")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errf(p.pos, "unexpected %s, expected \"and\", \"or\" or end of condition", p.describe())
	}
	return n, nil
}

type parser struct {
	src   string
	pos   int
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

func (p *parser) errf(pos int, format string, args ...any) error {
	line, col := 1, 1
	for i := 0; i < pos && i < len(p.src); i++ {
		if p.src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Offset: pos, Line: line, Col: col, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) describe() string {
	if p.pos >= len(p.src) {
		return "end of condition"
	}
	end := p.pos
	for end < len(p.src) && end-p.pos < 20 && !isSpace(p.src[end]) {
		end++
	}
	if end == p.pos {
		end++
	}
	return fmt.Sprintf("%q", p.src[p.pos:end])
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// keyword reports whether the keyword kw starts at the current position
// and is followed by a boundary, consuming it if so.
func (p *parser) keyword(kw string) bool {
	if !strings.HasPrefix(p.src[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end < len(p.src) && isIdentChar(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *parser) parseOr() (Node, error) {
	start := p.pos
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []Node{first}
	for {
		p.skipSpace()
		if !p.keyword("or") {
			break
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &OrNode{Offset: start, Kids: kids}, nil
}

func (p *parser) parseAnd() (Node, error) {
	p.skipSpace()
	start := p.pos
	first, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	kids := []Node{first}
	for {
		p.skipSpace()
		save := p.pos
		if !p.keyword("and") {
			p.pos = save
			break
		}
		n, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &AndNode{Offset: start, Kids: kids}, nil
}

func (p *parser) parseNot() (Node, error) {
	p.skipSpace()
	start := p.pos
	if p.keyword("not") {
		p.depth++
		if p.depth > maxDepth {
			return nil, p.errf(start, "expression nested more than %d levels", maxDepth)
		}
		kid, err := p.parseNot()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &NotNode{Offset: start, Kid: kid}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (Node, error) {
	p.skipSpace()
	start := p.pos
	if p.pos >= len(p.src) {
		return nil, p.errf(p.pos, "unexpected end of condition, expected a field, macro, \"not\" or \"(\"")
	}
	c := p.src[p.pos]
	if c == '(' {
		p.depth++
		if p.depth > maxDepth {
			return nil, p.errf(start, "expression nested more than %d levels", maxDepth)
		}
		p.pos++
		n, err := p.parseOr()
		p.depth--
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.errf(p.pos, "unexpected %s, expected \")\" to close \"(\" at offset %d", p.describe(), start)
		}
		p.pos++
		return n, nil
	}
	if !isIdentChar(c) || c == '.' {
		return nil, p.errf(p.pos, "unexpected %s, expected a field, macro, \"not\" or \"(\"", p.describe())
	}
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	name := p.src[start:p.pos]
	if name == "and" || name == "or" {
		return nil, p.errf(start, "unexpected %q, expected a field, macro, \"not\" or \"(\"", name)
	}
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return nil, p.errf(start, "field transformer or function %q is not supported", name)
	}
	if !strings.Contains(name, ".") {
		return &MacroRef{Offset: start, Name: name}, nil
	}
	chk := &CheckNode{Offset: start, Field: name}
	if p.pos < len(p.src) && p.src[p.pos] == '[' {
		end := strings.IndexByte(p.src[p.pos:], ']')
		if end < 0 {
			return nil, p.errf(p.pos, "unterminated field argument, expected \"]\"")
		}
		chk.Arg = p.src[p.pos+1 : p.pos+end]
		chk.HasArg = true
		p.pos += end + 1
	}
	p.skipSpace()
	opPos := p.pos
	op := p.readOperator()
	if op == "" {
		return nil, p.errf(opPos, "unexpected %s after field %s, expected an operator", p.describe(), name)
	}
	chk.Op = op
	switch operators[op] {
	case opUnary:
		return chk, nil
	case opList:
		p.skipSpace()
		chk.ValuePos = p.pos
		if p.pos >= len(p.src) || p.src[p.pos] != '(' {
			return nil, p.errf(p.pos, "unexpected %s, operator %q needs a list \"(a, b)\"", p.describe(), op)
		}
		vals, err := p.parseList()
		if err != nil {
			return nil, err
		}
		chk.Values, chk.IsList = vals, true
		return chk, nil
	}
	p.skipSpace()
	chk.ValuePos = p.pos
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return nil, p.errf(p.pos, "operator %q takes a single value, not a list", op)
	}
	v, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	if !v.Quoted && v.Text == "val" && p.pos < len(p.src) && p.src[p.pos] == '(' {
		return nil, p.errf(v.Offset, "field comparison with val() is not supported")
	}
	chk.Values = []Operand{v}
	return chk, nil
}

func (p *parser) readOperator() string {
	s := p.src[p.pos:]
	for _, sym := range []string{"==", "!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(s, sym) {
			p.pos += len(sym)
			return sym
		}
	}
	end := 0
	for end < len(s) && s[end] >= 'a' && s[end] <= 'z' {
		end++
	}
	word := s[:end]
	if k, ok := operators[word]; ok && k != 0 && (end == len(s) || !isIdentChar(s[end])) {
		p.pos += end
		return word
	}
	return ""
}

// parseValue reads a quoted string or a bare word. Bare words end at
// whitespace, parentheses or a comma; a backslash in a bare word is literal.
func (p *parser) parseValue() (Operand, error) {
	start := p.pos
	if p.pos >= len(p.src) {
		return Operand{}, p.errf(p.pos, "unexpected end of condition, expected a value")
	}
	if q := p.src[p.pos]; q == '"' || q == '\'' {
		var b strings.Builder
		p.pos++
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			switch {
			case c == q:
				p.pos++
				return Operand{Offset: start, Text: b.String(), Quoted: true}, nil
			case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == q || p.src[p.pos+1] == '\\'):
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
			default:
				b.WriteByte(c)
				p.pos++
			}
		}
		return Operand{}, p.errf(start, "unterminated quoted string")
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if isSpace(c) || c == '(' || c == ')' || c == ',' {
			break
		}
		p.pos++
	}
	if p.pos == start {
		return Operand{}, p.errf(p.pos, "unexpected %s, expected a value", p.describe())
	}
	return Operand{Offset: start, Text: p.src[start:p.pos]}, nil
}

func (p *parser) parseList() ([]Operand, error) {
	open := p.pos
	p.pos++ // (
	var out []Operand
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return out, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errf(open, "unterminated list, expected \")\"")
		}
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errf(open, "unterminated list, expected \")\"")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return out, nil
		default:
			return nil, p.errf(p.pos, "unexpected %s in list, expected \",\" or \")\"", p.describe())
		}
	}
}
