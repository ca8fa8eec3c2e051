package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// EngineVersion is the Falco engine version whose rule language this
// package implements; files requiring a newer one load with a warning.
const EngineVersion = "0.57.0"

// Source is one rules file's content.
type Source struct {
	Name string
	Data []byte
}

// Rule is a loaded, compiled rule.
type Rule struct {
	Name       string
	Desc       string
	Condition  string // final text after append/override, before exceptions
	Output     string
	Priority   Priority
	Tags       []string
	Enabled    bool
	Source     string
	Exceptions []Exception
	File       string
	Line       int
	// EventTypes are the evt.type values the condition can match; nil
	// means the rule must see every event.
	EventTypes []string

	match  matcher
	output *template
	index  int
}

// Match reports whether the event satisfies the rule's condition and
// exceptions (it ignores Enabled).
func (r *Rule) Match(e Event) bool { return r.match(e) }

// Exception is one entry of a rule's exceptions list.
type Exception struct {
	Name   string
	Fields []string
	Comps  []string
	Values [][]any // one tuple per element; an element is a string or []string
	single bool    // fields was a scalar: values is a flat list
}

// SkipReason says why a rule was not loaded.
type SkipReason struct {
	Rule   string
	Reason string
	Fields []string // unknown fields, when that is the reason
	Err    error
}

// Ruleset is the result of loading rules files.
type Ruleset struct {
	Rules    []*Rule
	Skipped  []SkipReason
	Warnings []string
	// RequiredEngineVersion is the highest required_engine_version seen.
	RequiredEngineVersion string
	// FieldsUsed lists every field referenced by compiled conditions
	// (indexed fields as "name[]"), including those of skipped rules.
	FieldsUsed []string
}

type loadOptions struct {
	strictFields bool
}

// LoadOption configures Load.
type LoadOption func(*loadOptions)

// WithStrictFields makes a rule using an unknown field a load error
// instead of a skipped rule.
func WithStrictFields() LoadOption { return func(o *loadOptions) { o.strictFields = true } }

// LoadFiles reads and loads rules files in order.
func LoadFiles(paths []string, opts ...LoadOption) (*Ruleset, error) {
	srcs := make([]Source, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, Source{Name: filepath.Base(p), Data: b})
	}
	return Load(srcs, opts...)
}

type rawException struct {
	Name   string    `yaml:"name"`
	Fields yaml.Node `yaml:"fields"`
	Comps  yaml.Node `yaml:"comps"`
	Values yaml.Node `yaml:"values"`
}

type rawItem struct {
	Rule     *string `yaml:"rule"`
	Macro    *string `yaml:"macro"`
	List     *string `yaml:"list"`
	Version  any     `yaml:"required_engine_version"`
	Plugins  any     `yaml:"required_plugin_versions"`
	Cond     *string `yaml:"condition"`
	Output   *string `yaml:"output"`
	Desc     *string `yaml:"desc"`
	Priority *string `yaml:"priority"`
	Tags     *[]string
	Enabled  *bool             `yaml:"enabled"`
	Items    *[]any            `yaml:"items"`
	Append   *bool             `yaml:"append"`
	Override map[string]string `yaml:"override"`
	Exc      *[]rawException   `yaml:"exceptions"`
	Source   *string           `yaml:"source"`
	Skip     *bool             `yaml:"skip-if-unknown-filter"`
	Warn     *bool             `yaml:"warn_evttypes"`
	Capture  any               `yaml:"capture"`
	CapDur   any               `yaml:"capture_duration"`
}

// ruleDef accumulates a rule across its definition and later
// append/override items.
type ruleDef struct {
	name, desc, cond, output, prio, source string
	tags                                   []string
	enabled                                bool
	exc                                    []Exception
	file                                   string
	line                                   int
	bad                                    error // a definition problem found while loading
}

type loader struct {
	opts     loadOptions
	lists    map[string][]string
	macros   map[string]string
	rules    map[string]*ruleDef
	order    []string
	warnings []string
	version  string
}

// Load parses rules sources in order and compiles every rule. A YAML
// error is returned as an error; problems with single items become
// warnings or skip reasons, and loading goes on.
func Load(srcs []Source, opts ...LoadOption) (*Ruleset, error) {
	l := &loader{lists: map[string][]string{}, macros: map[string]string{}, rules: map[string]*ruleDef{}}
	for _, o := range opts {
		o(&l.opts)
	}
	for _, s := range srcs {
		if err := l.loadSource(s); err != nil {
			return nil, err
		}
	}
	return l.compile()
}

func (l *loader) warnf(file string, line int, format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

func (l *loader) loadSource(s Source) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(s.Data, &doc); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d: rules file must be a YAML list", s.Name, top.Line)
	}
	for _, n := range top.Content {
		var it rawItem
		if err := n.Decode(&it); err != nil {
			l.warnf(s.Name, n.Line, "skipping item: %v", err)
			continue
		}
		switch {
		case it.Version != nil:
			v := fmt.Sprint(it.Version)
			if compareVersions(v, l.version) > 0 {
				l.version = v
			}
			if compareVersions(v, EngineVersion) > 0 {
				l.warnf(s.Name, n.Line, "requires engine version %s, this engine implements %s", v, EngineVersion)
			}
		case it.Plugins != nil:
			// Plugins are not loaded; the fields Bulkhead needs from the
			// container plugin are native.
		case it.List != nil:
			l.loadList(s.Name, n.Line, &it)
		case it.Macro != nil:
			l.loadMacro(s.Name, n.Line, &it)
		case it.Rule != nil:
			l.loadRule(s.Name, n.Line, &it)
		default:
			l.warnf(s.Name, n.Line, "unknown top-level item")
		}
	}
	return nil
}

// mode returns "append", "replace" or "" (define) for key, honouring both
// the legacy append: true and the override map.
func mode(it *rawItem, key string) string {
	if it.Append != nil && *it.Append {
		return "append"
	}
	return it.Override[key]
}

func (l *loader) loadList(file string, line int, it *rawItem) {
	name := *it.List
	var items []string
	if it.Items != nil {
		for _, v := range *it.Items {
			items = append(items, fmt.Sprint(v))
		}
	}
	prev, exists := l.lists[name]
	switch mode(it, "items") {
	case "append":
		if !exists {
			l.warnf(file, line, "list %q: append to a list that is not defined", name)
		}
		l.lists[name] = append(append([]string(nil), prev...), items...)
	default:
		l.lists[name] = items
	}
}

func (l *loader) loadMacro(file string, line int, it *rawItem) {
	name := *it.Macro
	if it.Cond == nil {
		l.warnf(file, line, "macro %q has no condition", name)
		return
	}
	prev, exists := l.macros[name]
	if mode(it, "condition") == "append" {
		if !exists {
			l.warnf(file, line, "macro %q: append to a macro that is not defined", name)
		}
		l.macros[name] = prev + " " + *it.Cond
		return
	}
	l.macros[name] = *it.Cond
}

var (
	appendable  = map[string]bool{"condition": true, "output": true, "desc": true, "tags": true, "exceptions": true}
	replaceable = map[string]bool{"condition": true, "output": true, "desc": true, "priority": true, "tags": true, "exceptions": true, "enabled": true, "source": true}
)

func (l *loader) loadRule(file string, line int, it *rawItem) {
	name := *it.Rule
	prev := l.rules[name]
	isAppend := it.Append != nil && *it.Append
	if isAppend || len(it.Override) > 0 {
		if prev == nil {
			l.warnf(file, line, "rule %q: append/override of a rule that is not defined", name)
			return
		}
		for k, m := range it.Override {
			if (m == "append" && !appendable[k]) || (m == "replace" && !replaceable[k]) || (m != "append" && m != "replace") {
				l.warnf(file, line, "rule %q: override %s: %s is not allowed", name, k, m)
				return
			}
		}
		l.patchRule(prev, it, isAppend)
		return
	}
	if it.Cond == nil && it.Enabled != nil {
		// Legacy form: "- rule: X / enabled: false" toggles an existing rule.
		if prev == nil {
			l.warnf(file, line, "rule %q: enabled given for a rule that is not defined", name)
			return
		}
		prev.enabled = *it.Enabled
		return
	}
	d := &ruleDef{name: name, enabled: true, file: file, line: line, source: "syscall"}
	var missing []string
	if it.Cond == nil {
		missing = append(missing, "condition")
	}
	if it.Output == nil {
		missing = append(missing, "output")
	}
	if it.Priority == nil {
		missing = append(missing, "priority")
	}
	if len(missing) > 0 {
		d.bad = fmt.Errorf("rule definition is missing %s", strings.Join(missing, ", "))
	}
	if it.Cond != nil {
		d.cond = *it.Cond
	}
	if it.Output != nil {
		d.output = *it.Output
	}
	if it.Desc != nil {
		d.desc = *it.Desc
	}
	if it.Priority != nil {
		d.prio = *it.Priority
	}
	if it.Tags != nil {
		d.tags = *it.Tags
	}
	if it.Enabled != nil {
		d.enabled = *it.Enabled
	}
	if it.Source != nil {
		d.source = *it.Source
	}
	if it.Exc != nil {
		exc, err := decodeExceptions(*it.Exc, nil)
		if err != nil && d.bad == nil {
			d.bad = err
		}
		d.exc = exc
	}
	if prev == nil {
		l.order = append(l.order, name)
	}
	// A redefinition replaces the rule but keeps its original position.
	l.rules[name] = d
}

func (l *loader) patchRule(d *ruleDef, it *rawItem, legacyAppend bool) {
	m := func(key string) string {
		if legacyAppend {
			return "append"
		}
		return it.Override[key]
	}
	joinText := func(old string, nv *string, mode string) string {
		if nv == nil || mode == "" {
			return old
		}
		if mode == "append" {
			return old + " " + *nv
		}
		return *nv
	}
	d.cond = joinText(d.cond, it.Cond, m("condition"))
	d.output = joinText(d.output, it.Output, m("output"))
	d.desc = joinText(d.desc, it.Desc, m("desc"))
	if it.Priority != nil && m("priority") == "replace" {
		d.prio = *it.Priority
	}
	if it.Source != nil && m("source") == "replace" {
		d.source = *it.Source
	}
	if it.Enabled != nil && (legacyAppend || m("enabled") == "replace") {
		d.enabled = *it.Enabled
	}
	if it.Tags != nil {
		switch m("tags") {
		case "append":
			d.tags = append(append([]string(nil), d.tags...), *it.Tags...)
		case "replace":
			d.tags = *it.Tags
		}
	}
	if it.Exc != nil {
		exc, err := decodeExceptions(*it.Exc, d.exc)
		if err != nil {
			d.bad = err
			return
		}
		switch m("exceptions") {
		case "replace":
			d.exc = exc
		case "append":
			d.exc = mergeExceptions(d.exc, exc)
		}
	}
}

// mergeExceptions appends values to same-named exceptions and adds new
// ones, as Falco does for appended exceptions.
func mergeExceptions(old, add []Exception) []Exception {
	out := append([]Exception(nil), old...)
	for _, a := range add {
		found := false
		for i := range out {
			if out[i].Name == a.Name {
				out[i].Values = append(append([][]any(nil), out[i].Values...), a.Values...)
				found = true
				break
			}
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// decodeExceptions decodes a rule's exceptions. An item with a name but no
// fields adds values to the same-named exception in prev (the form used
// when appending to a rule).
func decodeExceptions(raw []rawException, prev []Exception) ([]Exception, error) {
	var out []Exception
	for _, r := range raw {
		e := Exception{Name: r.Name}
		if r.Fields.Kind == 0 {
			for _, p := range prev {
				if p.Name == r.Name {
					e.Fields, e.Comps, e.single = p.Fields, p.Comps, p.single
				}
			}
		}
		switch r.Fields.Kind {
		case yaml.ScalarNode:
			e.single = true
			e.Fields = []string{r.Fields.Value}
		case yaml.SequenceNode:
			if err := r.Fields.Decode(&e.Fields); err != nil {
				return nil, fmt.Errorf("exception %q: fields: %w", r.Name, err)
			}
		case 0:
			if e.Fields == nil {
				return nil, fmt.Errorf("exception %q: no fields", r.Name)
			}
		}
		switch r.Comps.Kind {
		case yaml.ScalarNode:
			e.Comps = []string{r.Comps.Value}
		case yaml.SequenceNode:
			if err := r.Comps.Decode(&e.Comps); err != nil {
				return nil, fmt.Errorf("exception %q: comps: %w", r.Name, err)
			}
		case 0:
			if e.Comps != nil {
				break
			}
			def := "="
			if e.single {
				def = "in"
			}
			for range e.Fields {
				e.Comps = append(e.Comps, def)
			}
		}
		if len(e.Comps) != len(e.Fields) {
			return nil, fmt.Errorf("exception %q: %d fields but %d comps", r.Name, len(e.Fields), len(e.Comps))
		}
		if r.Values.Kind == yaml.SequenceNode {
			for _, v := range r.Values.Content {
				if e.single {
					var x any
					if err := v.Decode(&x); err != nil {
						return nil, fmt.Errorf("exception %q: values: %w", r.Name, err)
					}
					e.Values = append(e.Values, []any{normalizeExcValue(x)})
					continue
				}
				var tuple []any
				if err := v.Decode(&tuple); err != nil {
					return nil, fmt.Errorf("exception %q: values: %w", r.Name, err)
				}
				if len(tuple) != len(e.Fields) {
					return nil, fmt.Errorf("exception %q: value %v has %d elements for %d fields", r.Name, tuple, len(tuple), len(e.Fields))
				}
				for i := range tuple {
					tuple[i] = normalizeExcValue(tuple[i])
				}
				e.Values = append(e.Values, tuple)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func normalizeExcValue(x any) any {
	if l, ok := x.([]any); ok {
		s := make([]string, len(l))
		for i, v := range l {
			s[i] = fmt.Sprint(v)
		}
		return s
	}
	return fmt.Sprint(x)
}

// exceptionNode builds "not ((f1 c1 v1 and f2 c2 v2) or ...)". For a
// single-field exception all values form one list: "not f in (v...)".
func exceptionNode(e Exception) (Node, error) {
	mk := func(field, comp string, val any) (Node, error) {
		name, arg := splitFieldKey(field)
		c := &CheckNode{Field: name, Arg: arg, HasArg: arg != "", Op: comp}
		k, ok := operators[comp]
		if !ok || k == opUnary {
			return nil, fmt.Errorf("exception %q: unsupported comparison %q", e.Name, comp)
		}
		var items []string
		switch v := val.(type) {
		case []string:
			items = v
		case string:
			items = []string{v}
		}
		if k == opList {
			c.IsList = true
			for _, it := range items {
				// A bare item may name a list, as in Falco.
				c.Values = append(c.Values, Operand{Text: it, Quoted: false})
			}
			return c, nil
		}
		if len(items) != 1 {
			return nil, fmt.Errorf("exception %q: comparison %q takes one value", e.Name, comp)
		}
		c.Values = []Operand{{Text: items[0], Quoted: true}}
		return c, nil
	}
	if len(e.Values) == 0 {
		return nil, nil
	}
	if e.single {
		var all []string
		for _, t := range e.Values {
			switch v := t[0].(type) {
			case []string:
				all = append(all, v...)
			case string:
				all = append(all, v)
			}
		}
		n, err := mk(e.Fields[0], e.Comps[0], all)
		if err != nil {
			return nil, err
		}
		return &NotNode{Kid: n}, nil
	}
	or := &OrNode{}
	for _, t := range e.Values {
		and := &AndNode{}
		for i, f := range e.Fields {
			n, err := mk(f, e.Comps[i], t[i])
			if err != nil {
				return nil, err
			}
			and.Kids = append(and.Kids, n)
		}
		or.Kids = append(or.Kids, and)
	}
	return &NotNode{Kid: or}, nil
}

func (l *loader) compile() (*Ruleset, error) {
	rs := &Ruleset{Warnings: l.warnings, RequiredEngineVersion: l.version}
	env := newCompileEnv(l.lists, l.macros)
	for _, name := range l.order {
		d := l.rules[name]
		env.reset()
		r, err := l.compileRule(env, d)
		if err != nil {
			sr := SkipReason{Rule: name, Reason: err.Error(), Err: err}
			var uf *UnknownFieldError
			if errors.As(err, &uf) {
				sr.Fields = uf.Fields
				if l.opts.strictFields {
					return nil, fmt.Errorf("%s:%d: rule %q: %w", d.file, d.line, name, err)
				}
			}
			rs.Skipped = append(rs.Skipped, sr)
			continue
		}
		r.index = len(rs.Rules)
		rs.Rules = append(rs.Rules, r)
	}
	for f := range env.seen {
		rs.FieldsUsed = append(rs.FieldsUsed, f)
	}
	rs.FieldsUsed = sortedKeys(toSet(rs.FieldsUsed))
	return rs, nil
}

func toSet(l []string) map[string]struct{} {
	m := make(map[string]struct{}, len(l))
	for _, s := range l {
		m[s] = struct{}{}
	}
	return m
}

func (l *loader) compileRule(env *compileEnv, d *ruleDef) (*Rule, error) {
	if d.bad != nil {
		return nil, d.bad
	}
	if d.source != "syscall" {
		return nil, fmt.Errorf("event source %q is not supported", d.source)
	}
	prio, err := ParsePriority(d.prio)
	if err != nil {
		return nil, err
	}
	root, err := ParseCondition(d.cond)
	if err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	full := root
	if len(d.exc) > 0 {
		and := &AndNode{Kids: []Node{root}}
		for _, e := range d.exc {
			n, err := exceptionNode(e)
			if err != nil {
				return nil, err
			}
			if n != nil {
				and.Kids = append(and.Kids, n)
			}
		}
		full = and
	}
	m, err := env.compile(full)
	if err != nil {
		return nil, err
	}
	tmpl := parseTemplate(d.output)
	for _, f := range tmpl.fields {
		if _, _, _, err := env.checkField(f.name, f.arg, f.arg != ""); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
	}
	if len(env.unknown) > 0 {
		return nil, &UnknownFieldError{Fields: sortedKeys(toSetBool(env.unknown))}
	}
	r := &Rule{
		Name: d.name, Desc: strings.TrimSpace(d.desc), Condition: d.cond, Output: strings.TrimSpace(d.output),
		Priority: prio, Tags: d.tags, Enabled: d.enabled, Source: d.source, Exceptions: d.exc,
		File: d.file, Line: d.line, match: m, output: parseTemplate(strings.TrimSpace(d.output)),
	}
	if set, all := env.evtTypes(root, 0); !all {
		r.EventTypes = sortedKeys(set)
		if r.EventTypes == nil {
			r.EventTypes = []string{}
		}
	}
	return r, nil
}

func toSetBool(m map[string]bool) map[string]struct{} {
	out := make(map[string]struct{}, len(m))
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}

// compareVersions compares dotted numeric versions; "" is lowest.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	if a == "" {
		as = nil
	}
	if b == "" {
		bs = nil
	}
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			fmt.Sscan(as[i], &x)
		}
		if i < len(bs) {
			fmt.Sscan(bs[i], &y)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
