package rules

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Error categories for compile failures; detail is wrapped around them.
var (
	ErrUnknownField   = errors.New("unknown field")
	ErrUndefinedMacro = errors.New("undefined macro")
	ErrCycle          = errors.New("reference cycle")
	ErrBadOperand     = errors.New("invalid operand")
)

// UnknownFieldError lists the fields a rule uses that the registry does
// not know.
type UnknownFieldError struct{ Fields []string }

func (e *UnknownFieldError) Error() string {
	return "unknown field(s): " + strings.Join(e.Fields, ", ")
}

// Is makes errors.Is(err, ErrUnknownField) work.
func (e *UnknownFieldError) Is(target error) bool { return target == ErrUnknownField }

// matcher is a compiled condition.
type matcher func(Event) bool

// compileEnv resolves macros and lists while compiling one rule. Macro
// ASTs are parsed once and cached across rules.
type compileEnv struct {
	lists  map[string][]string
	macros map[string]string

	macroAST map[string]Node
	macroErr map[string]error

	// per rule
	expanding map[string]bool
	unknown   map[string]bool
	seen      map[string]bool // every field referenced, for coverage tests
}

func newCompileEnv(lists map[string][]string, macros map[string]string) *compileEnv {
	return &compileEnv{
		lists: lists, macros: macros,
		macroAST: map[string]Node{}, macroErr: map[string]error{},
		expanding: map[string]bool{}, unknown: map[string]bool{}, seen: map[string]bool{},
	}
}

func (env *compileEnv) reset() {
	clear(env.expanding)
	clear(env.unknown)
}

func (env *compileEnv) macro(name string) (Node, error) {
	if n, ok := env.macroAST[name]; ok {
		return n, nil
	}
	if err, ok := env.macroErr[name]; ok {
		return nil, err
	}
	text, ok := env.macros[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUndefinedMacro, name)
	}
	n, err := ParseCondition(text)
	if err != nil {
		err = fmt.Errorf("macro %q: %w", name, err)
		env.macroErr[name] = err
		return nil, err
	}
	env.macroAST[name] = n
	return n, nil
}

// compile turns an AST into a matcher. Unknown fields do not stop
// compilation: they are collected so the skip reason can name all of them.
func (env *compileEnv) compile(n Node) (matcher, error) {
	switch n := n.(type) {
	case *AndNode:
		kids, err := env.compileAll(n.Kids)
		if err != nil {
			return nil, err
		}
		if len(kids) == 2 {
			a, b := kids[0], kids[1]
			return func(e Event) bool { return a(e) && b(e) }, nil
		}
		return func(e Event) bool {
			for _, k := range kids {
				if !k(e) {
					return false
				}
			}
			return true
		}, nil
	case *OrNode:
		kids, err := env.compileAll(n.Kids)
		if err != nil {
			return nil, err
		}
		if len(kids) == 2 {
			a, b := kids[0], kids[1]
			return func(e Event) bool { return a(e) || b(e) }, nil
		}
		return func(e Event) bool {
			for _, k := range kids {
				if k(e) {
					return true
				}
			}
			return false
		}, nil
	case *NotNode:
		k, err := env.compile(n.Kid)
		if err != nil {
			return nil, err
		}
		return func(e Event) bool { return !k(e) }, nil
	case *MacroRef:
		if env.expanding[n.Name] {
			return nil, fmt.Errorf("%w: macro %q refers to itself", ErrCycle, n.Name)
		}
		body, err := env.macro(n.Name)
		if err != nil {
			return nil, err
		}
		env.expanding[n.Name] = true
		m, err := env.compile(body)
		delete(env.expanding, n.Name)
		if err != nil && !strings.HasPrefix(err.Error(), "macro ") {
			err = fmt.Errorf("macro %q: %w", n.Name, err)
		}
		return m, err
	case *CheckNode:
		return env.compileCheck(n)
	}
	return nil, fmt.Errorf("unexpected node %T", n)
}

func (env *compileEnv) compileAll(ns []Node) ([]matcher, error) {
	out := make([]matcher, len(ns))
	for i, k := range ns {
		m, err := env.compile(k)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// expandOperands resolves list names inside a parenthesised list.
func (env *compileEnv) expandOperands(ops []Operand) ([]string, error) {
	var out []string
	for _, o := range ops {
		if o.Quoted {
			out = append(out, o.Text)
			continue
		}
		if _, ok := env.lists[o.Text]; ok {
			items, err := env.expandList(o.Text, map[string]bool{})
			if err != nil {
				return nil, err
			}
			out = append(out, items...)
			continue
		}
		out = append(out, o.Text)
	}
	return out, nil
}

// expandList flattens a named list; items naming other lists are expanded
// and quoted items ('"a b"' in YAML) are unquoted.
func (env *compileEnv) expandList(name string, stack map[string]bool) ([]string, error) {
	if stack[name] {
		return nil, fmt.Errorf("%w: list %q refers to itself", ErrCycle, name)
	}
	stack[name] = true
	defer delete(stack, name)
	var out []string
	for _, it := range env.lists[name] {
		if _, ok := env.lists[it]; ok {
			sub, err := env.expandList(it, stack)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		out = append(out, unquoteItem(it))
	}
	return out, nil
}

func unquoteItem(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// canonicalField maps evt.arg[x] to evt.arg.x so events carry one key.
func canonicalField(name, arg string, hasArg bool) (string, string, bool) {
	if name == "evt.arg" && hasArg {
		return "evt.arg." + arg, "", false
	}
	return name, arg, hasArg
}

func (env *compileEnv) checkField(name, arg string, hasArg bool) (*FieldInfo, string, string, error) {
	name, arg, hasArg = canonicalField(name, arg, hasArg)
	key := name
	if hasArg {
		key = name + "[]"
	}
	env.seen[key] = true
	info, ok := lookupField(name)
	if !ok {
		env.unknown[name] = true
		return nil, name, arg, nil
	}
	switch {
	case hasArg && info.Arg == ArgNone:
		return nil, name, arg, fmt.Errorf("%w: field %s does not take an argument", ErrBadOperand, name)
	case !hasArg && info.Arg == ArgRequired && name == info.Name:
		return nil, name, arg, fmt.Errorf("%w: field %s needs an argument, e.g. %s[x]", ErrBadOperand, name, name)
	}
	return info, name, arg, nil
}

func never(Event) bool { return false }

func (env *compileEnv) compileCheck(c *CheckNode) (matcher, error) {
	info, name, arg, err := env.checkField(c.Field, c.Arg, c.HasArg)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return never, nil
	}
	op := c.Op
	if op == "==" {
		op = "="
	}
	if op == "exists" {
		return func(e Event) bool { _, ok := e.Field(name, arg); return ok }, nil
	}
	var lits []string
	if c.IsList {
		if lits, err = env.expandOperands(c.Values); err != nil {
			return nil, err
		}
	} else {
		lits = []string{c.Values[0].Text}
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s: %s", ErrBadOperand, fieldLabel(c), op, fmt.Sprintf(format, args...))
	}
	switch info.Type {
	case TypeInt:
		return compileInt(name, arg, op, lits, fail)
	case TypeBool:
		return compileBool(name, arg, op, lits, fail)
	}
	pred, err := stringPred(info.Type, op, lits, fail)
	if err != nil {
		return nil, err
	}
	allOf := op == "in" && info.Type == TypeList
	negate := op == "!="
	return func(e Event) bool {
		v, ok := e.Field(name, arg)
		if !ok {
			return false
		}
		var r bool
		switch v.kind {
		case KindString:
			r = pred(v.s)
		case KindList:
			if allOf {
				r = true
				for _, s := range v.l {
					if !pred(s) {
						r = false
						break
					}
				}
			} else {
				for _, s := range v.l {
					if pred(s) {
						r = true
						break
					}
				}
			}
		default:
			r = pred(v.String())
		}
		return r != negate
	}, nil
}

func fieldLabel(c *CheckNode) string {
	if c.HasArg {
		return c.Field + "[" + c.Arg + "]"
	}
	return c.Field
}

// stringPred builds the per-string test; "!=" is built as "=" and negated
// by the caller so that list fields mean "no element equals".
func stringPred(t FieldType, op string, lits []string, fail func(string, ...any) error) (func(string) bool, error) {
	if (t == TypeIP || t == TypeIPNet) && (op == "=" || op == "!=" || op == "in" || op == "intersects") {
		if p, ok := ipPred(t, lits); ok {
			return p, nil
		}
	}
	lit := ""
	if len(lits) > 0 {
		lit = lits[0]
	}
	switch op {
	case "=", "!=":
		return func(s string) bool { return s == lit }, nil
	case "<", "<=", ">", ">=":
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			cmp := intCmp(op, n)
			return func(s string) bool {
				v, err := strconv.ParseInt(s, 10, 64)
				return err == nil && cmp(v)
			}, nil
		}
		switch op {
		case "<":
			return func(s string) bool { return s < lit }, nil
		case "<=":
			return func(s string) bool { return s <= lit }, nil
		case ">":
			return func(s string) bool { return s > lit }, nil
		}
		return func(s string) bool { return s >= lit }, nil
	case "contains":
		return func(s string) bool { return strings.Contains(s, lit) }, nil
	case "icontains":
		low := strings.ToLower(lit)
		return func(s string) bool { return containsFold(s, low) }, nil
	case "startswith":
		return func(s string) bool { return strings.HasPrefix(s, lit) }, nil
	case "endswith":
		return func(s string) bool { return strings.HasSuffix(s, lit) }, nil
	case "bcontains", "bstartswith":
		b, err := hex.DecodeString(strings.ReplaceAll(lit, " ", ""))
		if err != nil {
			return nil, fail("%q is not a hex byte string", lit)
		}
		needle := string(b)
		if op == "bcontains" {
			return func(s string) bool { return strings.Contains(s, needle) }, nil
		}
		return func(s string) bool { return strings.HasPrefix(s, needle) }, nil
	case "glob":
		if err := checkGlob(lit); err != nil {
			return nil, fail("%v", err)
		}
		return func(s string) bool { return globMatch(lit, s, false) }, nil
	case "iglob":
		if err := checkGlob(lit); err != nil {
			return nil, fail("%v", err)
		}
		return func(s string) bool { return globMatch(lit, s, true) }, nil
	case "regex":
		re, err := regexp.Compile(lit)
		if err != nil {
			return nil, fail("%v", err)
		}
		return re.MatchString, nil
	case "in", "intersects":
		return setPred(lits), nil
	case "pmatch":
		return pmatchPred(lits), nil
	}
	return nil, fail("operator not supported for this field")
}

// setPred answers membership; short lists are scanned, long ones hashed.
func setPred(lits []string) func(string) bool {
	if len(lits) <= 8 {
		return func(s string) bool {
			for _, l := range lits {
				if l == s {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]struct{}, len(lits))
	for _, l := range lits {
		set[l] = struct{}{}
	}
	return func(s string) bool { _, ok := set[s]; return ok }
}

// pmatchPred matches a path equal to or below any of the given paths;
// entries with glob characters are matched against each leading part of
// the path that ends at a component boundary.
func pmatchPred(lits []string) func(string) bool {
	var plain, globs []string
	for _, l := range lits {
		if len(l) > 1 {
			l = strings.TrimSuffix(l, "/")
		}
		if strings.ContainsAny(l, "*?[") {
			globs = append(globs, l)
		} else {
			plain = append(plain, l)
		}
	}
	return func(s string) bool {
		for _, p := range plain {
			if strings.HasPrefix(s, p) && (len(s) == len(p) || s[len(p)] == '/' || p == "/") {
				return true
			}
		}
		for _, g := range globs {
			for i := 1; i <= len(s); i++ {
				if (i == len(s) || s[i] == '/') && globMatch(g, s[:i], false) {
					return true
				}
			}
		}
		return false
	}
}

func ipPred(t FieldType, lits []string) (func(string) bool, bool) {
	var prefixes []netip.Prefix
	for _, l := range lits {
		if t == TypeIPNet || strings.Contains(l, "/") {
			if p, err := netip.ParsePrefix(l); err == nil {
				prefixes = append(prefixes, p.Masked())
				continue
			}
		}
		a, err := netip.ParseAddr(l)
		if err != nil {
			return nil, false
		}
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return func(s string) bool {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}, true
}

func intCmp(op string, n int64) func(int64) bool {
	switch op {
	case "=":
		return func(v int64) bool { return v == n }
	case "!=":
		return func(v int64) bool { return v != n }
	case "<":
		return func(v int64) bool { return v < n }
	case "<=":
		return func(v int64) bool { return v <= n }
	case ">":
		return func(v int64) bool { return v > n }
	}
	return func(v int64) bool { return v >= n }
}

func compileInt(name, arg, op string, lits []string, fail func(string, ...any) error) (matcher, error) {
	nums := make([]int64, len(lits))
	for i, l := range lits {
		n, err := strconv.ParseInt(l, 0, 64)
		if err != nil {
			return nil, fail("%q is not an integer", l)
		}
		nums[i] = n
	}
	var cmp func(int64) bool
	switch op {
	case "=", "!=", "<", "<=", ">", ">=":
		cmp = intCmp(op, nums[0])
	case "in", "intersects":
		cmp = func(v int64) bool {
			for _, n := range nums {
				if n == v {
					return true
				}
			}
			return false
		}
	default:
		return nil, fail("operator not supported for integer fields")
	}
	return func(e Event) bool {
		v, ok := e.Field(name, arg)
		if !ok {
			return false
		}
		switch v.kind {
		case KindInt:
			return cmp(v.i)
		case KindString:
			n, err := strconv.ParseInt(v.s, 10, 64)
			return err == nil && cmp(n)
		case KindBool:
			return cmp(v.i)
		}
		return false
	}, nil
}

func compileBool(name, arg, op string, lits []string, fail func(string, ...any) error) (matcher, error) {
	if op != "=" && op != "!=" {
		return nil, fail("operator not supported for boolean fields")
	}
	want, err := strconv.ParseBool(lits[0])
	if err != nil {
		return nil, fail("%q is not true or false", lits[0])
	}
	if op == "!=" {
		want = !want
	}
	return func(e Event) bool {
		v, ok := e.Field(name, arg)
		if !ok {
			return false
		}
		switch v.kind {
		case KindBool, KindInt:
			return (v.i != 0) == want
		case KindString:
			b, err := strconv.ParseBool(v.s)
			return err == nil && b == want
		}
		return false
	}, nil
}

// containsFold reports whether s contains lowNeedle ignoring ASCII case,
// without allocating.
func containsFold(s, lowNeedle string) bool {
	n := len(lowNeedle)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowNeedle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// evtTypes returns the event types a condition can match, or all=true when
// it cannot be narrowed statically. It is conservative: any "not" over an
// evt.type test widens to all.
func (env *compileEnv) evtTypes(n Node, depth int) (set map[string]struct{}, all bool) {
	if depth > 200 {
		return nil, true
	}
	switch n := n.(type) {
	case *CheckNode:
		if n.Field != "evt.type" || n.HasArg {
			return nil, true
		}
		switch n.Op {
		case "=", "==":
			return map[string]struct{}{n.Values[0].Text: {}}, false
		case "in":
			items, err := env.expandOperands(n.Values)
			if err != nil {
				return nil, true
			}
			set = map[string]struct{}{}
			for _, it := range items {
				set[it] = struct{}{}
			}
			return set, false
		}
		return nil, true
	case *MacroRef:
		body, err := env.macro(n.Name)
		if err != nil {
			return nil, true
		}
		return env.evtTypes(body, depth+1)
	case *AndNode:
		all = true
		for _, k := range n.Kids {
			s, a := env.evtTypes(k, depth+1)
			if a {
				continue
			}
			if all {
				set, all = s, false
				continue
			}
			for t := range set {
				if _, ok := s[t]; !ok {
					delete(set, t)
				}
			}
		}
		return set, all
	case *OrNode:
		set = map[string]struct{}{}
		for _, k := range n.Kids {
			s, a := env.evtTypes(k, depth+1)
			if a {
				return nil, true
			}
			for t := range s {
				set[t] = struct{}{}
			}
		}
		return set, false
	}
	return nil, true
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
