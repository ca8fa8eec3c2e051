package image

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/secrets"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

// Checks holds the built-in image checks, checks/*.yaml.
//
//go:embed checks/*.yaml
var Checks embed.FS

// TypeImage is the resource type the checks' appliesTo name.
const TypeImage = "Image"

// BuiltinChecks returns the embedded image checks.
func BuiltinChecks() ([]compliance.Check, error) {
	return compliance.LoadFS(Checks, "checks")
}

var builtin = sync.OnceValues(func() (*compliance.Engine, error) {
	cs, err := BuiltinChecks()
	if err != nil {
		return nil, err
	}
	return compliance.Compile(cs)
})

// NewEngine returns the engine for the built-in checks plus opts.
func NewEngine(opts ...compliance.Option) (*compliance.Engine, error) {
	b, err := builtin()
	if err != nil {
		return nil, err
	}
	return compliance.NewEngine(append([]compliance.Option{compliance.WithBaseEngine(b)}, opts...)...)
}

// Facts are what the checks look at in one image (or file tree).
type Facts struct {
	Target string
	Name   string
	ID     string
	// Config is nil for a directory or host: the configuration checks are
	// then not applicable.
	Config  *Config
	FS      *FS
	Summary Summary
}

// Collect opens the image target (any argument `bulkhead sbom` accepts
// that is an image) and reads its configuration and layers.
func Collect(ctx context.Context, target string, opts source.Options, lim Limits) (*Facts, error) {
	t, err := source.Open(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if t.Tree != nil {
		fsys, err := ScanTree(ctx, t.Tree.Root, t.Tree.Skip, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		kind := t.Tree.Info.Kind
		return &Facts{Target: kind + ":" + t.Tree.Info.Input, Name: target, FS: fsys, Summary: fsys.Summarize(lim)}, nil
	}
	if t.Image == nil {
		return nil, fmt.Errorf("%s: not an image or a file tree", target)
	}
	info := t.Image.Info
	cfg, err := readConfig(ctx, info.Kind, info.Input, info.ImageID, opts.InsecureRegistries)
	if err != nil {
		return nil, fmt.Errorf("%s: image configuration: %w", target, err)
	}
	fsys, err := ScanImage(ctx, t.Image, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return &Facts{
		Target: "image:" + target, Name: target, ID: info.ImageID,
		Config: cfg, FS: fsys, Summary: fsys.Summarize(lim),
	}, nil
}

// Resource shapes the facts for the checks (docs/compliance.md lists the
// fields).
func Resource(f *Facts) compliance.Resource {
	c := f.Config
	if c == nil {
		c = &Config{}
	}
	env := []any{}
	configSecrets := []any{}
	for i, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		env = append(env, map[string]any{"name": k, "value": v, "index": int64(i)})
		for _, s := range secrets.Scan([]byte(e)) {
			configSecrets = append(configSecrets, map[string]any{"where": fmt.Sprintf("Env[%d] %s", i, k), "rule": s.Rule, "match": s.Match})
		}
	}
	labels := map[string]any{}
	for k, v := range c.Labels {
		labels[k] = v
		for _, s := range secrets.Scan([]byte(k + "=" + v)) {
			configSecrets = append(configSecrets, map[string]any{"where": "Labels[" + k + "]", "rule": s.Rule, "match": s.Match})
		}
	}
	var hc any
	if c.Healthcheck != nil {
		hc = strs(c.Healthcheck)
	}
	hist := []any{}
	for i, h := range c.History {
		hist = append(hist, map[string]any{"index": int64(i), "createdBy": h.CreatedBy, "emptyLayer": h.EmptyLayer})
	}
	files := func(l []fileInfo) []any {
		out := []any{}
		for _, fi := range l {
			out = append(out, map[string]any{"path": fi.Path, "mode": octal(fi.Mode), "layer": fi.Layer})
		}
		return out
	}
	caches := []any{}
	for _, pc := range f.Summary.PkgCaches {
		caches = append(caches, map[string]any{"manager": pc.Manager, "dir": pc.Dir, "files": int64(pc.Files), "bytes": pc.Bytes, "layer": pc.Layer})
	}
	secs := []any{}
	for _, s := range f.FS.Secrets {
		secs = append(secs, map[string]any{
			"rule": s.Rule, "description": s.Description, "file": s.Path, "line": int64(s.Line),
			"layer": s.Layer, "deleted": s.Deleted, "match": s.Match, "entropy": s.Entropy,
		})
	}
	obj := map[string]any{
		"name": f.Name, "id": f.ID, "hasConfig": f.Config != nil, "user": c.User, "healthcheck": hc, "env": env, "labels": labels,
		"exposedPorts": strs(c.ExposedPorts), "history": hist, "configSecrets": configSecrets,
		"setuid": files(f.Summary.Setuid), "setgid": files(f.Summary.Setgid),
		"worldWritable": files(f.Summary.WorldWritable), "sshServers": files(f.Summary.SSHServers),
		"pkgCaches": caches, "secrets": secs, "layers": strs(f.FS.Layers), "truncated": int64(f.Summary.Truncated),
	}
	return compliance.Resource{
		Kind: "Image", Name: f.Name, ID: f.ID, Target: f.Target, Domain: "image", Types: []string{TypeImage},
		Vars: map[string]any{"object": obj, "kind": "Image", "name": f.Name},
	}
}

// octal renders a mode as chmod does: 4755 for a setuid binary.
func octal(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// Evaluate runs the engine's checks on the facts.
func Evaluate(f *Facts, e *compliance.Engine) []compliance.Result {
	r := Resource(f)
	return e.EvaluateAll([]compliance.Resource{r})
}
