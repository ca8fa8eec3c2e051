package drift

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/format/jsonfmt"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Scanner produces an image's SBOM with a file listing; DockerScanner is
// the implementation on the Docker Engine.
type Scanner interface {
	Scan(ctx context.Context, imageID string) (*sbom.SBOM, error)
}

// ErrBadImageID is returned for image ids that are not sha256 digests.
var ErrBadImageID = errors.New("image id is not sha256:<64 hex digits>")

// Provider returns the Index of an image by id: from an SBOM given to it
// (a file, or a directory of <image id>.json documents), else by scanning
// the image. Indexes, and failures for a while, are kept in a bounded LRU;
// concurrent requests for the same image share one load. Safe for
// concurrent use.
type Provider struct {
	dir         string
	scanner     Scanner
	log         *slog.Logger
	capacity    int
	retry       time.Duration
	loadTimeout time.Duration
	now         func() time.Time

	pinned map[string]*Index // from WithSBOMFile: never evicted

	mu       sync.Mutex
	lru      *list.List // of *cached, most recent first
	byID     map[string]*list.Element
	inflight map[string]*load
}

type cached struct {
	id  string
	ix  *Index
	err error
	at  time.Time
}

type load struct {
	done chan struct{}
	ix   *Index
	err  error
}

// Option configures a Provider.
type Option func(*Provider) error

// WithSBOMDir looks images up in dir as <hex>.json or sha256:<hex>.json
// (Bulkhead JSON written by "bulkhead sbom --files -o json").
func WithSBOMDir(dir string) Option {
	return func(p *Provider) error {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("drift: SBOM directory: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("drift: %s is not a directory", dir)
		}
		p.dir = dir
		return nil
	}
}

// WithSBOMFile reads one Bulkhead JSON SBOM now and serves it for the
// image its source.imageID names.
func WithSBOMFile(file string) Option {
	return func(p *Provider) error {
		doc, err := readSBOM(file)
		if err != nil {
			return err
		}
		id, err := canonicalID(doc.Source.ImageID)
		if err != nil {
			return fmt.Errorf("drift: %s: source.imageID: %w", file, err)
		}
		p.pinned[id] = NewIndex(doc)
		return nil
	}
}

// WithScanner scans images that no given SBOM covers (or whose SBOM has
// no complete listing).
func WithScanner(s Scanner) Option { return func(p *Provider) error { p.scanner = s; return nil } }

// WithCapacity bounds how many images' indexes are kept (default 64).
func WithCapacity(n int) Option {
	return func(p *Provider) error {
		if n < 1 {
			return fmt.Errorf("drift: capacity %d", n)
		}
		p.capacity = n
		return nil
	}
}

// WithRetry sets how long a failed load is remembered before it is tried
// again (default one minute): a removed image must not be rescanned on
// every exec.
func WithRetry(d time.Duration) Option { return func(p *Provider) error { p.retry = d; return nil } }

// WithLoadTimeout bounds one load (read or scan; default ten minutes).
func WithLoadTimeout(d time.Duration) Option {
	return func(p *Provider) error { p.loadTimeout = d; return nil }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(p *Provider) error { p.log = l; return nil } }

func withClock(now func() time.Time) Option {
	return func(p *Provider) error { p.now = now; return nil }
}

// NewProvider returns a Provider. Without a directory, file or scanner
// every answer is unknown.
func NewProvider(opts ...Option) (*Provider, error) {
	p := &Provider{
		log:         slog.New(slog.DiscardHandler),
		capacity:    64,
		retry:       time.Minute,
		loadTimeout: 10 * time.Minute,
		now:         time.Now,
		pinned:      map[string]*Index{},
		lru:         list.New(),
		byID:        map[string]*list.Element{},
		inflight:    map[string]*load{},
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Drift reports whether exePath, executed in a container of image
// imageID, was not in the image (drift) and whether that is known. It
// waits for the image's index until ctx ends; the load goes on in the
// background after that, so a caller on a hot path can pass a short
// deadline and ask again later. Paths under the container's volumes and
// bind mounts are not the image's: the caller must not ask for those.
func (p *Provider) Drift(ctx context.Context, imageID, exePath string) (drift, known bool, err error) {
	ix, err := p.Index(ctx, imageID)
	if err != nil {
		return false, false, err
	}
	drift, known = ix.Drift(exePath)
	return drift, known, nil
}

// Peek is Drift without waiting: known is false while the image's index
// is being loaded (the load is started if needed) or failed.
func (p *Provider) Peek(imageID, exePath string) (drift, known bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, k, err := p.Drift(ctx, imageID, exePath)
	if err != nil {
		return false, false
	}
	return d, k
}

// Index returns the image's index, loading it if needed. The returned
// index may be unknown (Index.Known false); err is for loads that failed
// (image not found, unreadable SBOM, ctx ended first).
func (p *Provider) Index(ctx context.Context, imageID string) (*Index, error) {
	id, err := canonicalID(imageID)
	if err != nil {
		return nil, err
	}
	if ix, ok := p.pinned[id]; ok && (ix.Known() || p.dir == "" && p.scanner == nil) {
		return ix, nil
	}
	p.mu.Lock()
	if el, ok := p.byID[id]; ok {
		c := el.Value.(*cached)
		if c.err == nil || p.now().Sub(c.at) < p.retry {
			p.lru.MoveToFront(el)
			p.mu.Unlock()
			return c.ix, c.err
		}
	}
	l, ok := p.inflight[id]
	if !ok {
		l = &load{done: make(chan struct{})}
		p.inflight[id] = l
		// The load outlives the caller's ctx: it fills the cache for the
		// next event.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.loadTimeout)
		go func() {
			defer cancel()
			ix, err := p.load(lctx, id)
			p.mu.Lock()
			l.ix, l.err = ix, err
			delete(p.inflight, id)
			p.put(&cached{id: id, ix: ix, err: err, at: p.now()})
			p.mu.Unlock()
			close(l.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-l.done:
		return l.ix, l.err
	default:
	}
	select {
	case <-l.done:
		return l.ix, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("drift: index of %s not ready: %w", short(id), ctx.Err())
	}
}

// put stores c as most recent and evicts beyond capacity; p.mu is held.
func (p *Provider) put(c *cached) {
	if el, ok := p.byID[c.id]; ok {
		el.Value = c
		p.lru.MoveToFront(el)
	} else {
		p.byID[c.id] = p.lru.PushFront(c)
	}
	for p.lru.Len() > p.capacity {
		el := p.lru.Back()
		p.lru.Remove(el)
		delete(p.byID, el.Value.(*cached).id)
	}
}

// load finds the image's index: a given SBOM with a complete listing
// first, else a scan, else the best unknown answer.
func (p *Provider) load(ctx context.Context, id string) (*Index, error) {
	var fallback *Index
	if ix, ok := p.pinned[id]; ok {
		fallback = ix
	}
	if p.dir != "" {
		doc, file, err := p.fromDir(id)
		switch {
		case err != nil:
			p.log.Warn("drift: image SBOM unreadable", "image", short(id), "file", file, "err", err)
			fallback = Unknown(id, err.Error())
		case doc != nil:
			ix := NewIndex(doc)
			if ix.Known() {
				p.log.Debug("drift: image index from SBOM", "image", short(id), "file", file, "files", ix.Len())
				return ix, nil
			}
			fallback = ix
		}
	}
	if p.scanner != nil {
		start := p.now()
		doc, err := p.scanner.Scan(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("drift: scanning image %s: %w", short(id), err)
		}
		if doc.Source.ImageID != "" && doc.Source.ImageID != id {
			return nil, fmt.Errorf("drift: scanning image %s gave an SBOM of image %s", short(id), short(doc.Source.ImageID))
		}
		ix := NewIndex(doc)
		ix.imageID = id
		p.log.Debug("drift: image index from scan", "image", short(id), "files", ix.Len(), "known", ix.Known(), "took", p.now().Sub(start))
		return ix, nil
	}
	if fallback != nil {
		return fallback, nil
	}
	return Unknown(id, "no SBOM for the image and no scanner"), nil
}

// fromDir reads <dir>/<hex>.json or <dir>/sha256:<hex>.json; a missing
// file is (nil, "", nil).
func (p *Provider) fromDir(id string) (*sbom.SBOM, string, error) {
	hex := strings.TrimPrefix(id, "sha256:")
	for _, name := range []string{hex + ".json", "sha256:" + hex + ".json"} {
		file := filepath.Join(p.dir, name)
		doc, err := readSBOM(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, file, err
		}
		if doc.Source.ImageID != "" && doc.Source.ImageID != id {
			return nil, file, fmt.Errorf("drift: %s describes image %s, not %s", file, short(doc.Source.ImageID), short(id))
		}
		return doc, file, nil
	}
	return nil, "", nil
}

func readSBOM(file string) (*sbom.SBOM, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	defer f.Close()
	doc, err := jsonfmt.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("drift: %s: %w", file, err)
	}
	return doc, nil
}

// canonicalID turns "sha256:<hex>" or "<hex>" into "sha256:<hex>"; the
// hex is checked, so an id can name a file in the SBOM directory safely.
func canonicalID(id string) (string, error) {
	hex := strings.TrimPrefix(id, "sha256:")
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("drift: %q: %w", id, ErrBadImageID)
	}
	return "sha256:" + hex, nil
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
