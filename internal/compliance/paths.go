package compliance

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bulkhead-sec/bulkhead/internal/compliance/dockerfile"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/k8s"
)

type options struct {
	cfg      Config
	dirs     []string
	extra    []Check
	builtins bool
	maxSize  int64
	known    []string
	base     *Engine
}

// Option configures CheckPaths.
type Option func(*options)

// WithConfig disables and re-rates checks by id.
func WithConfig(c Config) Option { return func(o *options) { o.cfg = c } }

// WithCheckDir adds the user checks in dir (see LoadDir).
func WithCheckDir(dir string) Option { return func(o *options) { o.dirs = append(o.dirs, dir) } }

// WithChecks adds checks.
func WithChecks(c ...Check) Option { return func(o *options) { o.extra = append(o.extra, c...) } }

// WithoutBuiltins leaves out the embedded checks.
func WithoutBuiltins() Option { return func(o *options) { o.builtins = false } }

// WithKnownChecks names check ids that exist in other check sets (the
// docker and image checks when checking config, and so on), so that one
// config file can disable or re-rate checks of every command without its
// other ids being reported as typos.
func WithKnownChecks(ids ...string) Option {
	return func(o *options) { o.known = append(o.known, ids...) }
}

// WithBaseEngine replaces the embedded config checks with an already
// compiled engine (the docker or image check set), so that each command
// compiles its built-in checks once per process and user checks and the
// config are applied on top.
func WithBaseEngine(e *Engine) Option { return func(o *options) { o.base = e } }

// WithMaxFileSize skips larger files (default 32 MiB).
func WithMaxFileSize(n int64) Option { return func(o *options) { o.maxSize = n } }

// BuiltinChecks returns the embedded Kubernetes and Dockerfile checks.
func BuiltinChecks() ([]Check, error) {
	kc, err := LoadFS(k8s.Checks, "checks")
	if err != nil {
		return nil, err
	}
	dc, err := LoadFS(dockerfile.Checks, "checks")
	if err != nil {
		return nil, err
	}
	return append(kc, dc...), nil
}

// builtin compiles the embedded checks once per process.
var builtin = sync.OnceValues(func() (*Engine, error) {
	cs, err := BuiltinChecks()
	if err != nil {
		return nil, err
	}
	return Compile(cs)
})

// NewEngine builds the engine CheckPaths uses for opts.
func NewEngine(opts ...Option) (*Engine, error) {
	o := options{builtins: true}
	for _, f := range opts {
		f(&o)
	}
	return o.engine()
}

func (o *options) engine() (*Engine, error) {
	e := &Engine{}
	if o.base != nil {
		e = o.base
	} else if o.builtins {
		b, err := builtin()
		if err != nil {
			return nil, err
		}
		e = b
	}
	extra := slices.Clone(o.extra)
	for _, d := range o.dirs {
		cs, err := LoadDir(d)
		if err != nil {
			return nil, fmt.Errorf("checks in %s: %w", d, err)
		}
		extra = append(extra, cs...)
	}
	if len(extra) > 0 {
		u, err := Compile(extra)
		if err != nil {
			return nil, err
		}
		if e, err = e.merge(u); err != nil {
			return nil, err
		}
	}
	return e.configure(o.cfg, o.known)
}

// CheckPaths walks files and directories, evaluates every check on every
// Kubernetes object and Dockerfile found and returns the results sorted by
// file, line and check id. Files that fail to parse become StatusError
// results and the walk goes on; a check that applies to nothing found is
// reported once as not-applicable. The error is for problems with the
// checks or config, or a path that cannot be read at all.
func CheckPaths(paths []string, opts ...Option) ([]Result, error) {
	o := options{builtins: true, maxSize: 32 << 20}
	for _, f := range opts {
		f(&o)
	}
	e, err := o.engine()
	if err != nil {
		return nil, err
	}
	var out []Result
	applied := map[string]bool{}
	visit := func(p string, explicit bool) {
		for _, r := range scanFile(e, p, explicit, o.maxSize) {
			if r.CheckID != "" {
				applied[r.CheckID] = true
			}
			out = append(out, r)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			visit(root, true)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				out = append(out, Result{Status: StatusError, File: p, Message: err.Error()})
				return nil
			}
			if d.IsDir() {
				if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "vendor") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				visit(p, false)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, c := range e.checks {
		if !applied[c.ID] {
			out = append(out, Result{CheckID: c.ID, Title: c.Title, Severity: c.Severity, Benchmark: c.Benchmark, Status: StatusNotApplicable})
		}
	}
	slices.SortStableFunc(out, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.CheckID, b.CheckID), cmp.Compare(a.Path, b.Path))
	})
	return out, nil
}

type fileType int

const (
	typeNone fileType = iota
	typeManifest
	typeDockerfile
)

// classify decides by name, then (for names that say nothing) by content.
func classify(p string, head []byte) fileType {
	base := filepath.Base(p)
	if dockerfile.IsDockerfileName(base) {
		return typeDockerfile
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return typeManifest
	case "":
	default:
		return typeNone
	}
	// No extension: sniff.
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		up := bytes.ToUpper(l)
		if bytes.HasPrefix(up, []byte("FROM ")) || bytes.HasPrefix(up, []byte("ARG ")) {
			return typeDockerfile
		}
		break
	}
	if bytes.Contains(head, []byte("apiVersion")) && bytes.Contains(head, []byte("kind")) {
		return typeManifest
	}
	return typeNone
}

func scanFile(e *Engine, p string, explicit bool, maxSize int64) []Result {
	info, err := os.Stat(p)
	if err != nil {
		return []Result{{Status: StatusError, File: p, Message: err.Error()}}
	}
	if info.Size() > maxSize {
		if explicit {
			return []Result{{Status: StatusError, File: p, Message: fmt.Sprintf("skipped: %d bytes is over the %d limit", info.Size(), maxSize)}}
		}
		return nil
	}
	t := classify(p, nil)
	if t == typeNone && filepath.Ext(p) != "" && !explicit {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return []Result{{Status: StatusError, File: p, Message: err.Error()}}
	}
	if t == typeNone {
		t = classify(p, data[:min(len(data), 4096)])
	}
	var out []Result
	switch t {
	case typeDockerfile:
		r, err := DockerfileResource(p, data)
		if err != nil {
			return []Result{{Status: StatusError, File: p, Kind: "Dockerfile", Message: "parse: " + err.Error()}}
		}
		out = e.Evaluate(&r)
	case typeManifest:
		rs, err := ManifestResources(p, data)
		for i := range rs {
			out = append(out, e.Evaluate(&rs[i])...)
		}
		if err != nil {
			out = append(out, Result{Status: StatusError, File: p, Line: errLine(err.Error()), Message: "parse: " + err.Error()})
		}
	}
	return out
}

// errLine pulls "line N" out of a YAML error message.
func errLine(msg string) int {
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range msg[i+5:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
