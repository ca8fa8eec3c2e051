// Package inspect turns a source (image layers or a file tree) into an SBOM:
// one streaming walk per layer offers every file to the catalogers, per-layer
// results are cached by layer DiffID, and the layers are merged with OCI
// whiteout semantics before catalogers assemble their final packages.
//
// It imports internal/sbom, internal/catalog and the standard library; it
// knows nothing of where layers come from (internal/source) or how SBOMs are
// written (internal/format).
package inspect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// engineVersion is part of every cache key: bump it when LayerResult or the
// walk changes.
const engineVersion = 1

// Progress receives progress events; it must be safe for concurrent use.
type Progress interface {
	Layer(diffID string, cached bool)
	Files(n int)
}

// Engine runs catalogers over sources.
type Engine struct {
	cats     []catalog.Cataloger
	limits   Limits
	cache    Cache
	log      *slog.Logger
	progress Progress
	tool     sbom.Descriptor
	now      func() time.Time
	listing  sbom.FileScope // "" when off
}

// Option configures an Engine.
type Option func(*Engine)

// WithLimits sets the input bounds.
func WithLimits(l Limits) Option { return func(e *Engine) { e.limits = l } }

// WithCache sets the layer cache; nil disables caching.
func WithCache(c Cache) Option { return func(e *Engine) { e.cache = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithProgress sets the progress sink.
func WithProgress(p Progress) Option { return func(e *Engine) { e.progress = p } }

// WithTool names the tool in produced documents.
func WithTool(d sbom.Descriptor) Option { return func(e *Engine) { e.tool = d } }

// WithClock sets the clock used for the document's creation time.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithFileListing makes image scans record every layer's entries and put
// the image's final file list, in scope, in the document (SBOM.FileListing).
// Tree scans ignore it. The listing is part of the cached layer results.
func WithFileListing(scope sbom.FileScope) Option {
	return func(e *Engine) { e.listing = scope }
}

// New returns an Engine running cats.
func New(cats []catalog.Cataloger, opts ...Option) *Engine {
	e := &Engine{
		cats:   cats,
		limits: DefaultLimits(),
		log:    slog.New(slog.DiscardHandler),
		tool:   sbom.Descriptor{Name: "bulkhead", Version: "dev"},
		now:    time.Now,
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// cacheKey identifies a layer's analysis: the layer, the engine, every
// cataloger's name and version, and the limits (a raised limit can find
// more).
func (e *Engine) cacheKey(diffID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "engine=%d\nlayer=%s\nlimits=%d/%d/%d/%d\n", engineVersion, diffID,
		e.limits.MaxFileSize, e.limits.MaxLayerBytes, e.limits.MaxFiles, e.limits.MaxPathLen)
	if e.listing != "" {
		// Only when on, so that keys (and warm caches) without it stay as
		// they were. The scope is applied at assembly: not part of the key.
		fmt.Fprintf(h, "listing=%d\n", e.limits.MaxListedFiles)
	}
	names := make([]string, len(e.cats))
	for i, c := range e.cats {
		names[i] = c.Name() + "@" + strconv.Itoa(c.Version())
	}
	sort.Strings(names)
	fmt.Fprintln(h, strings.Join(names, ","))
	return hex.EncodeToString(h.Sum(nil))
}

// Image is a source of image layers.
type Image struct {
	Info sbom.Source
	// Open returns layer i's uncompressed tar stream. Nil for sources
	// that can only stream all layers in one pass.
	Open func(ctx context.Context, i int) (io.ReadCloser, error)
	// Stream, for sources that yield every layer in one pass (the Docker
	// Engine's image export), calls fn with each layer's uncompressed tar
	// in the order the source has them.
	Stream func(ctx context.Context, fn func(r io.Reader) error) error
}

// ScanImage catalogs an image.
func (e *Engine) ScanImage(ctx context.Context, img Image) (*sbom.SBOM, error) {
	info := img.Info
	n := len(info.Layers)
	results := make([]*LayerResult, n)
	var missing []int
	for i, l := range info.Layers {
		if e.cache != nil {
			if lr, ok := e.cache.Get(e.cacheKey(l.DiffID)); ok && lr.DiffID == l.DiffID && (e.listing == "" || lr.Listed) {
				results[i] = lr
				info.Layers[i].Cached = true
				if e.progress != nil {
					e.progress.Layer(l.DiffID, true)
				}
				continue
			}
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		var err error
		if img.Open != nil {
			err = e.readLayers(ctx, img, missing, results)
		} else if img.Stream != nil {
			err = e.streamLayers(ctx, img, results)
		} else {
			err = fmt.Errorf("image source can neither open nor stream layers")
		}
		if err != nil {
			return nil, err
		}
	}
	for i, lr := range results {
		info.Layers[i].Files = lr.Files
	}
	doc := e.assemble(info, results)
	if e.listing != "" {
		doc.FileListing = mergeListing(results, e.listing, e.limits.MaxListedFiles)
	}
	return doc, nil
}

func (e *Engine) readLayers(ctx context.Context, img Image, idx []int, results []*LayerResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, 2)
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			want := img.Info.Layers[i].DiffID
			lr, err := func() (*LayerResult, error) {
				rc, err := img.Open(ctx, i)
				if err != nil {
					return nil, fmt.Errorf("open layer %d (%s): %w", i+1, short(want), err)
				}
				defer rc.Close()
				return e.analyzeVerified(ctx, rc, want)
			}()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			results[i] = lr
		}()
	}
	wg.Wait()
	return firstErr
}

// analyzeVerified analyzes a layer while hashing it, and fails when the
// content does not match the DiffID the image claims: a cached result is
// keyed by DiffID, so an unverified one could poison the cache.
func (e *Engine) analyzeVerified(ctx context.Context, r io.Reader, want string) (*LayerResult, error) {
	hp := newHashPipe(r)
	defer hp.Close()
	lr, err := e.analyzeTar(ctx, hp, want)
	if err != nil {
		return nil, err
	}
	// Hash whatever follows the tar's end marker too.
	got, err := hp.Sum()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", short(want), err)
	}
	if want != "" && got != want {
		return nil, fmt.Errorf("layer content hashes to %s but the image config says %s: refusing a tampered layer", got, want)
	}
	if want == "" {
		relabel(lr, got)
	}
	if e.cache != nil {
		if err := e.cache.Put(e.cacheKey(lr.DiffID), lr); err != nil {
			e.log.Warn("layer cache write failed", "layer", lr.DiffID, "err", err)
		}
	}
	if e.progress != nil {
		e.progress.Layer(lr.DiffID, false)
	}
	return lr, nil
}

func (e *Engine) streamLayers(ctx context.Context, img Image, results []*LayerResult) error {
	byID := map[string]int{}
	for i, l := range img.Info.Layers {
		byID[l.DiffID] = i
	}
	err := img.Stream(ctx, func(r io.Reader) error {
		lr, err := e.analyzeVerified(ctx, r, "")
		if err != nil {
			return err
		}
		i, ok := byID[lr.DiffID]
		if !ok {
			// A layer the config does not list (or a duplicate already seen).
			return nil
		}
		if results[i] == nil {
			results[i] = lr
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range results {
		if r == nil {
			return fmt.Errorf("layer %d (%s) was not in the exported image", i+1, short(img.Info.Layers[i].DiffID))
		}
	}
	return nil
}

// relabel sets the layer ID on a result analysed before its DiffID was known.
func relabel(lr *LayerResult, id string) {
	lr.DiffID = id
	for i := range lr.Parts {
		lr.Parts[i].Layer = id
	}
	for i := range lr.Unknowns {
		lr.Unknowns[i].Layer = id
	}
}

// ScanTree catalogs a directory tree; skip lists absolute paths (inside
// the tree) not to descend into.
func (e *Engine) ScanTree(ctx context.Context, root string, info sbom.Source, skip []string) (*sbom.SBOM, error) {
	sk := map[string]bool{}
	for _, s := range skip {
		sk[s] = true
	}
	lr, err := e.analyzeTree(ctx, root, sk)
	if err != nil {
		return nil, err
	}
	return e.assemble(info, []*LayerResult{lr}), nil
}

func (e *Engine) assemble(info sbom.Source, layers []*LayerResult) *sbom.SBOM {
	parts, unknowns := merge(layers)
	doc := &sbom.SBOM{
		Schema:     sbom.SchemaVersion,
		Descriptor: e.tool,
		Created:    e.now().UTC(),
		Source:     info,
		Unknowns:   unknowns,
	}
	doc.Distro = distroOf(parts)
	var pkgs []sbom.Package
	for _, c := range e.cats {
		ps := parts[c.Name()]
		if len(ps) == 0 {
			continue
		}
		if a, ok := c.(catalog.Assembler); ok {
			pkgs = append(pkgs, a.Assemble(ps)...)
		} else {
			pkgs = append(pkgs, catalog.PackagesOf(ps)...)
		}
	}
	for i := range pkgs {
		applyDistro(&pkgs[i], doc.Distro)
		sbom.AssignID(&pkgs[i])
	}
	linkOwners(pkgs)
	sbom.Sort(pkgs)
	if pkgs == nil {
		pkgs = []sbom.Package{}
	}
	doc.Packages = pkgs
	slices.SortFunc(doc.Unknowns, func(a, b sbom.Unknown) int { return strings.Compare(a.Path, b.Path) })
	return doc
}

// distroOf picks the OS identity: /etc/os-release wins over
// /usr/lib/os-release, as os-release(5) says.
func distroOf(parts map[string][]catalog.Part) *sbom.Distro {
	var best *sbom.Distro
	bestRank := 99
	for _, ps := range parts {
		for _, p := range ps {
			if p.Distro == nil {
				continue
			}
			rank := 2
			switch p.Path {
			case "/etc/os-release":
				rank = 0
			case "/usr/lib/os-release":
				rank = 1
			}
			if rank < bestRank {
				best, bestRank = p.Distro, rank
			}
		}
	}
	return best
}

// linkOwners marks language packages and binaries whose primary file an OS
// package installed.
func linkOwners(pkgs []sbom.Package) {
	if !slices.ContainsFunc(pkgs, func(p sbom.Package) bool { return !isOS(p.Type) }) {
		return // nothing to link: skip indexing thousands of owned files
	}
	owner := map[string]string{}
	for _, p := range pkgs {
		if !isOS(p.Type) {
			continue
		}
		for _, f := range p.Files {
			if _, ok := owner[f]; !ok {
				owner[f] = p.ID
			}
			// Merged-/usr systems: dpkg may list /bin/x while the file is
			// reached as /usr/bin/x (and the other way round).
			if alias := usrAlias(f); alias != "" {
				if _, ok := owner[alias]; !ok {
					owner[alias] = p.ID
				}
			}
		}
	}
	if len(owner) == 0 {
		return
	}
	for i := range pkgs {
		if isOS(pkgs[i].Type) || len(pkgs[i].Locations) == 0 {
			continue
		}
		if id, ok := owner[pkgs[i].Locations[0].Path]; ok {
			pkgs[i].OwnedBy = id
		}
	}
}

func isOS(t sbom.Type) bool { return t == sbom.TypeDeb || t == sbom.TypeRPM || t == sbom.TypeAPK }

func usrAlias(f string) string {
	for _, d := range []string{"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"} {
		if strings.HasPrefix(f, d) {
			return "/usr" + f
		}
		if strings.HasPrefix(f, "/usr"+d) {
			return f[len("/usr"):]
		}
	}
	return ""
}
