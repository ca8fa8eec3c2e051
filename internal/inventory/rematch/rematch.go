// Package rematch keeps the inventory's vulnerability findings in step with
// the advisory database: it matches package records new to the store at
// ingest, and re-matches every stored package record when the database
// changes (an import through the API, or the file replaced by `bulkhead db
// update`), recording new and resolved findings and emitting events.
//
// Package records are deduplicated across images and hosts (an image's
// findings are its packages' findings), so a re-match costs one match per
// distinct package, not per image.
//
// The server never holds the --db file open: it matches against a private
// copy ("<db>.server-copy") so that `bulkhead db update` can replace the
// file at any time; the copy is refreshed when the file's size or mtime
// changes.
//
// It imports internal/inventory/{api,store}, internal/vuln/{store,match,
// advisory} and internal/sbom.
package rematch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/match"
	vstore "github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

// Options configure an Engine.
type Options struct {
	// DBPath is the advisory database (`bulkhead server --db`).
	DBPath string
	// PublicKey verifies signed bundles posted to the import route.
	PublicKey ed25519.PublicKey
	Logger    *slog.Logger
	// Notify receives the events of each re-match (may be nil).
	Notify func(evs []api.Event)
	// MaxEventUsers bounds the images/hosts listed per event.
	MaxEventUsers int
	// MatchOwned is match.Options.MatchOwned.
	MatchOwned bool
}

// Engine matches package records against the advisory database.
type Engine struct {
	o  Options
	st store.Store

	mu       sync.RWMutex // guards db while matching; Lock to swap it
	db       *vstore.DB
	snap     string
	fileSize int64
	fileMod  time.Time

	rematchMu sync.Mutex // one re-match at a time
	lastMu    sync.Mutex
	last      *api.Rematch
	checked   time.Time
}

// New returns an engine. A missing database file is not an error: the
// engine is idle until one is imported or appears.
func New(st store.Store, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxEventUsers <= 0 {
		o.MaxEventUsers = 100
	}
	e := &Engine{o: o, st: st, snap: o.DBPath + ".server-copy"}
	if _, err := e.refresh(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return e, nil
}

// Loaded reports whether an advisory database is in use.
func (e *Engine) Loaded() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.db != nil
}

// Close releases the database copy.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db != nil {
		err := e.db.Close()
		e.db = nil
		os.Remove(e.snap)
		return err
	}
	return nil
}

// refresh copies the database file when it changed and swaps the copy in.
// It reports whether it did.
func (e *Engine) refresh() (bool, error) {
	fi, err := os.Stat(e.o.DBPath)
	if err != nil {
		return false, err
	}
	e.mu.RLock()
	same := e.db != nil && fi.Size() == e.fileSize && fi.ModTime().Equal(e.fileMod)
	e.mu.RUnlock()
	if same {
		return false, nil
	}
	tmp := e.snap + ".tmp"
	if err := copyFile(e.o.DBPath, tmp); err != nil {
		return false, fmt.Errorf("copy advisory database: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db != nil {
		e.db.Close()
		e.db = nil
	}
	if err := os.Rename(tmp, e.snap); err != nil {
		return false, err
	}
	db, err := vstore.Open(e.snap, false)
	if err != nil {
		return false, err
	}
	e.db, e.fileSize, e.fileMod = db, fi.Size(), fi.ModTime()
	return true, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Reload refreshes the database copy if the file changed (as Watch does)
// and reports whether it did.
func (e *Engine) Reload() (bool, error) { return e.refresh() }

// MatchFunc is the store.MatchFunc for ingest; nil when no database is loaded.
func (e *Engine) MatchFunc() store.MatchFunc {
	if !e.Loaded() {
		return nil
	}
	return e.Match
}

// Match matches package records. The result has an entry (possibly nil)
// for every record.
func (e *Engine) Match(pkgs []store.Pkg) (map[string][]sbom.Finding, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.db == nil {
		return nil, errors.New("no advisory database loaded")
	}
	out := make(map[string][]sbom.Finding, len(pkgs))
	for _, p := range pkgs {
		out[p.Key] = nil
	}
	// Split into per-distribution documents, in parallel chunks.
	groups := map[string][]sbom.Package{}
	distros := map[string]*sbom.Distro{}
	for _, p := range pkgs {
		sp, d := p.Package()
		groups[p.Distro] = append(groups[p.Distro], sp)
		distros[p.Distro] = d
	}
	type job struct {
		distro *sbom.Distro
		pkgs   []sbom.Package
	}
	var jobs []job
	const chunk = 2000
	for k, ps := range groups {
		for i := 0; i < len(ps); i += chunk {
			jobs = append(jobs, job{distros[k], ps[i:min(i+chunk, len(ps))]})
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan job)
	)
	for range max(1, min(runtime.GOMAXPROCS(0), len(jobs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.db.View(func(r *vstore.Reader) error {
				m := match.New(r, match.Options{MatchOwned: e.o.MatchOwned})
				for j := range next {
					fs, err := m.Match(&sbom.SBOM{Distro: j.distro, Packages: j.pkgs})
					if err != nil {
						return err
					}
					mu.Lock()
					for _, f := range fs {
						out[f.PackageID] = append(out[f.PackageID], f)
					}
					mu.Unlock()
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				firstErr = errors.Join(firstErr, err)
				mu.Unlock()
				for range next {
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

// Rematch matches every stored package record, records the changes and
// emits their events.
func (e *Engine) Rematch(ctx context.Context) (*api.Rematch, error) {
	e.rematchMu.Lock()
	defer e.rematchMu.Unlock()
	start := time.Now()
	var pkgs []store.Pkg
	if err := e.st.AllPackages(ctx, func(p store.Pkg) error { pkgs = append(pkgs, p); return nil }); err != nil {
		return nil, err
	}
	found, err := e.Match(pkgs)
	if err != nil {
		return nil, err
	}
	diff, err := e.st.ApplyMatch(ctx, found, start)
	if err != nil {
		return nil, err
	}
	r := &api.Rematch{Started: start.UTC(), Packages: len(pkgs), New: len(diff.New), Resolved: len(diff.Resolved), Open: diff.Open}
	r.Duration = time.Since(start).Round(time.Millisecond).String()
	e.lastMu.Lock()
	e.last = r
	e.lastMu.Unlock()
	e.o.Logger.Info("re-matched stored packages", "packages", r.Packages, "new", r.New, "resolved", r.Resolved, "open", r.Open, "took", r.Duration)
	if e.o.Notify != nil && len(diff.New)+len(diff.Resolved) > 0 {
		evs := e.events(ctx, diff, start)
		e.o.Notify(evs)
	}
	return r, nil
}

// events turns a diff into events, listing the images and hosts holding
// each package (looked up once per package).
func (e *Engine) events(ctx context.Context, d store.MatchDiff, now time.Time) []api.Event {
	type users struct{ images, hosts []string }
	cache := map[string]users{}
	var evs []api.Event
	add := func(typ string, fs []sbom.Finding) {
		for _, f := range fs {
			u, ok := cache[f.PackageID]
			if !ok {
				im, hs, err := e.st.PackageUsers(ctx, f.PackageID, e.o.MaxEventUsers)
				if err != nil {
					e.o.Logger.Warn("event: package users", "err", err)
				}
				u = users{im, hs}
				cache[f.PackageID] = u
			}
			evs = append(evs, api.Event{ID: newID(), Type: typ, Time: now.UTC(), Finding: f, Images: u.images, Hosts: u.hosts})
		}
	}
	add(api.EventFindingNew, d.New)
	add(api.EventFindingResolved, d.Resolved)
	return evs
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Watch re-matches whenever the database file changes, checking every
// interval until ctx ends.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.lastMu.Lock()
		e.checked = time.Now()
		e.lastMu.Unlock()
		changed, err := e.refresh()
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				e.o.Logger.Error("advisory database reload failed", "path", e.o.DBPath, "err", err)
			}
			continue
		}
		if changed {
			if _, err := e.Rematch(ctx); err != nil {
				e.o.Logger.Error("re-match failed", "err", err)
			}
		}
	}
}

// Status describes the database in use.
func (e *Engine) Status() api.DBStatus {
	st := api.DBStatus{Path: e.o.DBPath}
	e.mu.RLock()
	if e.db != nil {
		st.Loaded = true
		if s, err := e.db.Status(); err == nil {
			st.Built, st.Updated, st.Advisories = s.Built, s.Updated, s.Advisories
		}
	}
	e.mu.RUnlock()
	e.lastMu.Lock()
	st.LastRematch = e.last
	if !e.checked.IsZero() {
		c := e.checked.UTC()
		st.Checked = &c
	}
	e.lastMu.Unlock()
	return st
}

// Formats Import understands.
var Formats = []string{"auto", "osv", "debian-tracker", "alpine-secdb", "kev", "epss", "bundle"}

// ErrFormat is wrapped when an upload's format is unknown or wrong.
var ErrFormat = errors.New("advisory format")

// Import stores an uploaded advisory file (or signed bundle) into the
// database file, then refreshes the copy and re-matches.
func (e *Engine) Import(ctx context.Context, format string, body io.Reader) (*api.DBImportResponse, error) {
	if e.o.DBPath == "" {
		return nil, errors.New("the server has no --db path")
	}
	dir := filepath.Dir(e.o.DBPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".bulkhead-upload-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, body); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("read upload: %w", err)
	}
	tmp.Close()
	// The importers recognise zip, gzip and CSV files by their extension.
	name := tmp.Name() + extension(tmp.Name())
	if err := os.Rename(tmp.Name(), name); err != nil {
		return nil, err
	}
	defer os.Remove(name)
	if format == "" || format == "auto" {
		if format, err = sniff(name); err != nil {
			return nil, err
		}
	}
	resp := &api.DBImportResponse{Format: format}
	if format == "bundle" {
		if e.o.PublicKey == nil {
			return nil, fmt.Errorf("%w: signed bundles need the server's --db-pubkey", ErrFormat)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		_, err = vstore.ImportBundle(f, e.o.PublicKey, e.o.DBPath)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	} else if err := e.importFile(name, format, resp); err != nil {
		return nil, err
	}
	if _, err := e.refresh(); err != nil {
		return nil, err
	}
	r, err := e.Rematch(ctx)
	if err != nil {
		return nil, err
	}
	resp.Rematch = r
	return resp, nil
}

func (e *Engine) importFile(p, format string, resp *api.DBImportResponse) error {
	db, err := vstore.Open(e.o.DBPath, true)
	if err != nil {
		return err
	}
	defer db.Close()
	var (
		advs []advisory.Advisory
		errs []advisory.RecordError
	)
	switch format {
	case "osv":
		advs, errs = advisory.ImportOSV(p)
	case "debian-tracker":
		advs, errs = advisory.ImportDebianTracker(p)
	case "alpine-secdb":
		advs, errs = advisory.ImportAlpineSecDB(p)
	case "kev":
		kevs, _ := advisory.ImportKEV(p)
		if len(kevs) == 0 {
			return fmt.Errorf("%w: no KEV entries in upload", ErrFormat)
		}
		resp.Added = len(kevs)
		return db.ImportKEV("api-upload", kevs)
	case "epss":
		scores, _ := advisory.ImportEPSS(p)
		if len(scores) == 0 {
			return fmt.Errorf("%w: no EPSS scores in upload", ErrFormat)
		}
		resp.Added = len(scores)
		return db.ImportEPSS("api-upload", scores)
	default:
		return fmt.Errorf("%w: %q is not one of %v", ErrFormat, format, Formats)
	}
	if len(advs) == 0 {
		msg := "no advisories in upload"
		if len(errs) > 0 {
			msg += ": " + errs[0].Error()
		}
		return fmt.Errorf("%w: %s", ErrFormat, msg)
	}
	source := format
	if format == "osv" {
		source = "osv:api-upload"
	}
	st, err := db.Import(source, "api-upload", advs)
	if err != nil {
		return err
	}
	resp.Source, resp.Added, resp.Updated = source, st.Added, st.Updated
	return nil
}

func extension(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return ".zip"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return ".gz"
	case bytes.HasPrefix(head, []byte("#model_version")) || bytes.HasPrefix(head, []byte("cve,epss")):
		return ".csv"
	}
	return ".json"
}

// sniff recognises an upload by its first bytes (as `bulkhead db import`).
func sniff(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case len(head) > 262 && string(head[257:262]) == "ustar" && bytes.HasPrefix(head, []byte("manifest.json")):
		return "bundle", nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "osv", nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "epss", nil
	case bytes.Contains(head, []byte(`"catalogVersion"`)) || bytes.Contains(head, []byte(`"knownRansomwareCampaignUse"`)):
		return "kev", nil
	case bytes.Contains(head, []byte("distroversion")):
		return "alpine-secdb", nil
	case bytes.Contains(head, []byte(`"affected"`)) || bytes.Contains(head, []byte(`"schema_version"`)):
		return "osv", nil
	case bytes.Contains(head, []byte(`"releases"`)):
		return "debian-tracker", nil
	case bytes.HasPrefix(head, []byte("#model_version")) || bytes.HasPrefix(head, []byte("cve,epss")):
		return "epss", nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of the upload; pass ?format= (one of %v)", ErrFormat, Formats[1:])
}
