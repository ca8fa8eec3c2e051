package compliance

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
)

// Resource is one thing checks are evaluated against: a Kubernetes object
// or a Dockerfile, already shaped into CEL variables.
type Resource struct {
	File      string
	Line      int
	Kind      string
	Name      string
	Namespace string
	Source    string
	// ID identifies the resource beyond its name: a container or image id.
	ID string
	// Target is what the scan was run on ("docker:unix:///var/run/docker.sock",
	// "image:alpine:3.20", "host:node1"); empty for files.
	Target string
	// Domain separates the resource families: "" for Kubernetes objects
	// and Dockerfiles, "docker" for the live host, "image" for images.
	// AppliesTo "*" matches Kubernetes objects only.
	Domain string
	// Types are the names AppliesTo matches: the kind, plus "Workload" for
	// pod-bearing kinds.
	Types []string
	// Vars are the CEL variables (see celVars); missing ones are bound to
	// their zero value.
	Vars map[string]any
	// Lines maps a field path to its 1-based line.
	Lines map[string]int
}

// celVars are the variables every expression may use. They are all
// declared for every check so that one environment serves both formats;
// the ones that do not fit a resource are null, "" or [].
var celVars = []struct {
	name string
	typ  *cel.Type
	zero any
}{
	{"object", cel.DynType, nil},
	{"kind", cel.StringType, ""},
	{"name", cel.StringType, ""},
	{"namespace", cel.StringType, ""},
	// Kubernetes workloads.
	{"podSpec", cel.DynType, nil},
	{"podSpecPath", cel.StringType, ""},
	{"podMeta", cel.DynType, nil},
	{"podMetaPath", cel.StringType, ""},
	{"containers", cel.ListType(cel.DynType), []any{}},
	{"contexts", cel.ListType(cel.DynType), []any{}},
	{"volumes", cel.ListType(cel.DynType), []any{}},
	{"isWindows", cel.BoolType, false},
	// Dockerfiles.
	{"stages", cel.ListType(cel.DynType), []any{}},
	{"final", cel.DynType, nil},
	{"instructions", cel.ListType(cel.DynType), []any{}},
}

// costLimit bounds one evaluation so that a careless user check cannot
// stall a scan; the built-in checks stay far below it.
const costLimit = 10_000_000

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(),
		ext.Sets(),
		ext.Bindings(),
		ext.TwoVarComprehensions(),
		ext.Math(), // math.bitAnd for file modes
	}
	for _, v := range celVars {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	return cel.NewEnv(opts...)
}

type compiled struct {
	Check
	prg cel.Program // nil for manual checks
}

// Engine holds compiled checks. It is safe for concurrent use.
type Engine struct {
	checks []compiled
}

// Compile compiles every check's expression once. An error names the
// check id and carries CEL's message with the position in the expression.
func Compile(checks []Check) (*Engine, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("compliance: CEL environment: %w", err)
	}
	e := &Engine{}
	seen := map[string]bool{}
	for _, c := range checks {
		if err := c.validate(); err != nil {
			return nil, err
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("check %s: defined twice", c.ID)
		}
		seen[c.ID] = true
		cc := compiled{Check: c}
		if strings.TrimSpace(c.Expr) != "" {
			ast, iss := env.Compile(c.Expr)
			if iss.Err() != nil {
				return nil, fmt.Errorf("check %s: CEL: %w", c.ID, iss.Err())
			}
			switch ast.OutputType().Kind() {
			case types.BoolKind, types.ListKind, types.DynKind, types.NullTypeKind, types.AnyKind:
			default:
				return nil, fmt.Errorf("check %s: expression returns %s; want bool, list or null", c.ID, ast.OutputType())
			}
			cc.prg, err = env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
			if err != nil {
				return nil, fmt.Errorf("check %s: CEL program: %w", c.ID, err)
			}
		}
		e.checks = append(e.checks, cc)
	}
	return e, nil
}

// Checks returns the engine's checks, in order.
func (e *Engine) Checks() []Check {
	out := make([]Check, len(e.checks))
	for i, c := range e.checks {
		out[i] = c.Check
	}
	return out
}

// merge returns an engine with e's checks then o's; programs are shared.
func (e *Engine) merge(o *Engine) (*Engine, error) {
	out := &Engine{checks: slices.Clone(e.checks)}
	for _, c := range o.checks {
		if slices.ContainsFunc(out.checks, func(x compiled) bool { return x.ID == c.ID }) {
			return nil, fmt.Errorf("check %s: defined twice", c.ID)
		}
		out.checks = append(out.checks, c)
	}
	return out, nil
}

// configure applies a Config without recompiling.
func (e *Engine) configure(cfg Config, known []string) (*Engine, error) {
	checks, err := cfg.apply(e.Checks(), known)
	if err != nil {
		return nil, err
	}
	byID := map[string]cel.Program{}
	for _, c := range e.checks {
		byID[c.ID] = c.prg
	}
	out := &Engine{}
	for _, c := range checks {
		out.checks = append(out.checks, compiled{Check: c, prg: byID[c.ID]})
	}
	return out, nil
}

func (c *compiled) applies(r *Resource) bool {
	for _, a := range c.AppliesTo {
		if a == "*" && r.Kind != "Dockerfile" && r.Domain == "" {
			return true
		}
		if slices.Contains(r.Types, a) {
			return true
		}
	}
	return false
}

// Evaluate runs every applicable check on r. Checks that do not apply
// produce nothing here; CheckPaths reports them as not-applicable once.
func (e *Engine) Evaluate(r *Resource) []Result {
	act := make(map[string]any, len(celVars))
	for _, v := range celVars {
		if x, ok := r.Vars[v.name]; ok && x != nil {
			act[v.name] = x
		} else {
			act[v.name] = v.zero
		}
	}
	var out []Result
	for i := range e.checks {
		c := &e.checks[i]
		if !c.applies(r) {
			continue
		}
		out = append(out, c.eval(r, act)...)
	}
	return out
}

func (c *compiled) result(r *Resource, st Status, msg, path string) Result {
	return c.resultV(r, st, vio{msg: msg, path: path})
}

func (c *compiled) resultV(r *Resource, st Status, v vio) Result {
	if v.status != "" {
		st = v.status
	}
	res := Result{
		CheckID: c.ID, Title: c.Title, Severity: c.Severity, Benchmark: c.Benchmark,
		Status: st, Message: v.msg,
		File: r.File, Line: r.Line, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace,
		Source: r.Source, Path: v.path, ResourceID: r.ID, Target: r.Target,
		Evidence: v.evidence, Layer: v.layer, Deleted: v.deleted,
	}
	if st == StatusFail || st == StatusWarn || st == StatusInfo || st == StatusManual {
		res.Remediation = c.Remediation
	}
	if v.path != "" {
		if l := lineOf(r.Lines, v.path); l > 0 {
			res.Line = l
		}
	}
	if v.file != "" {
		res.File, res.Line = v.file, v.line
	}
	return res
}

func (c *compiled) eval(r *Resource, act map[string]any) []Result {
	if c.prg == nil {
		return []Result{c.result(r, StatusManual, c.Rationale, "")}
	}
	val, _, err := c.prg.Eval(act)
	if err != nil {
		return []Result{c.result(r, StatusError, fmt.Sprintf("check %s: evaluation: %v", c.ID, err), "")}
	}
	switch v := val.(type) {
	case types.Bool:
		if v {
			return []Result{c.result(r, StatusPass, "", "")}
		}
		return []Result{c.result(r, c.Level, c.Title, "")}
	case types.Null:
		return []Result{c.result(r, StatusNotApplicable, "", "")}
	case traits.Lister:
		var out []Result
		it := v.Iterator()
		for it.HasNext() == types.True {
			v, err := violation(it.Next())
			if err != nil {
				return []Result{c.result(r, StatusError, fmt.Sprintf("check %s: %v", c.ID, err), "")}
			}
			if v.msg == "" {
				v.msg = c.Title
			}
			out = append(out, c.resultV(r, c.Level, v))
		}
		if len(out) == 0 {
			return []Result{c.result(r, StatusPass, "", "")}
		}
		return out
	}
	return []Result{c.result(r, StatusError, fmt.Sprintf("check %s: expression returned %s; want bool, list or null", c.ID, val.Type().TypeName()), "")}
}

var nativeMap = reflect.TypeFor[map[string]any]()

// vio is one decoded violation.
type vio struct {
	msg, path, evidence, file, layer string
	line                             int
	deleted                          bool
	status                           Status
}

// violation decodes one list element: a string message or a map with
// "message" and optionally "path" (a field path), "evidence" (the exact
// value or setting seen), "file" and "line" (a file on a host or in an
// image, overriding the resource's), "layer", "deleted" (a file removed
// by an upper image layer) and "status" (pass, warn, info, manual or
// not-applicable instead of the check's level: a check that needs a person
// for this resource returns {"status": "manual", "message": question}).
func violation(v ref.Val) (vio, error) {
	switch x := v.(type) {
	case types.String:
		return vio{msg: string(x)}, nil
	case traits.Mapper:
		n, err := x.ConvertToNative(nativeMap)
		if err != nil {
			return vio{}, fmt.Errorf("violation: %w", err)
		}
		m := n.(map[string]any)
		var out vio
		out.msg, _ = m["message"].(string)
		out.path, _ = m["path"].(string)
		out.evidence, _ = m["evidence"].(string)
		out.file, _ = m["file"].(string)
		out.layer, _ = m["layer"].(string)
		out.deleted, _ = m["deleted"].(bool)
		switch l := m["line"].(type) {
		case int64:
			out.line = int(l)
		case uint64:
			out.line = int(l)
		}
		if s, ok := m["status"].(string); ok && s != "" {
			switch st := Status(s); st {
			case StatusPass, StatusFail, StatusWarn, StatusInfo, StatusManual, StatusNotApplicable:
				out.status = st
			default:
				return vio{}, fmt.Errorf("violation status %q is not pass, fail, warn, info, manual or not-applicable", s)
			}
		}
		return out, nil
	}
	return vio{}, fmt.Errorf("violation is %s; want string or map", v.Type().TypeName())
}

// lineOf finds the line of path, or of its nearest ancestor that is in the
// file: a violation about a missing field points at its parent.
func lineOf(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// parentPath drops the last segment of a field path: ".name", "[3]" or
// `["a.b/c"]`.
func parentPath(p string) string {
	if strings.HasSuffix(p, `"]`) {
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// EvaluateAll runs every check on every resource, then reports each check
// that applied to none of them once as not-applicable (as CheckPaths
// does). Results keep the resources' order.
func (e *Engine) EvaluateAll(rs []Resource) []Result {
	var out []Result
	applied := map[string]bool{}
	for i := range rs {
		for _, r := range e.Evaluate(&rs[i]) {
			applied[r.CheckID] = true
			out = append(out, r)
		}
	}
	for _, c := range e.checks {
		if !applied[c.ID] {
			out = append(out, Result{CheckID: c.ID, Title: c.Title, Severity: c.Severity, Benchmark: c.Benchmark, Status: StatusNotApplicable})
		}
	}
	return out
}
