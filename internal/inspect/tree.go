package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// analyzeTree walks a directory tree (a root filesystem, a project, or the
// host) in parallel. It never follows symlinks: entries are read with lstat
// semantics and files are opened with O_NOFOLLOW, so a link can never lead a
// read outside root.
func (e *Engine) analyzeTree(ctx context.Context, root string, skip map[string]bool) (*LayerResult, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	res := &LayerResult{}
	var (
		mu    sync.Mutex
		files atomic.Int64
		wg    sync.WaitGroup
	)
	workers := runtime.GOMAXPROCS(0) * 2
	var pending sync.WaitGroup
	addUnknown := func(u sbom.Unknown) {
		mu.Lock()
		res.Unknowns = append(res.Unknowns, u)
		mu.Unlock()
	}
	var limitErr atomic.Pointer[error]

	// queue grows without blocking the workers that feed it.
	var qmu sync.Mutex
	var queue []string
	cond := sync.NewCond(&qmu)
	done := false
	push := func(d string) {
		pending.Add(1)
		qmu.Lock()
		queue = append(queue, d)
		qmu.Unlock()
		cond.Signal()
	}
	pop := func() (string, bool) {
		qmu.Lock()
		defer qmu.Unlock()
		for len(queue) == 0 && !done {
			cond.Wait()
		}
		if len(queue) == 0 {
			return "", false
		}
		d := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		return d, true
	}

	work := func() {
		defer wg.Done()
		wanting := make([]catalog.Cataloger, 0, len(e.cats))
		var parts []layerPart
		for {
			rel, ok := pop()
			if !ok {
				break
			}
			func() {
				defer pending.Done()
				if ctx.Err() != nil || limitErr.Load() != nil {
					return
				}
				ents, err := os.ReadDir(filepath.Join(root, rel))
				if err != nil {
					addUnknown(sbom.Unknown{Location: sbom.Location{Path: "/" + rel}, Error: err.Error()})
					return
				}
				n := files.Add(int64(len(ents)))
				if n > int64(e.limits.MaxFiles) {
					err := fmt.Errorf("more than %d files: %w", e.limits.MaxFiles, ErrLimit)
					limitErr.CompareAndSwap(nil, &err)
					return
				}
				if e.progress != nil {
					e.progress.Files(len(ents))
				}
				for _, de := range ents {
					childRel := path.Join(rel, de.Name())
					abs := "/" + childRel
					if len(abs) > e.limits.MaxPathLen {
						addUnknown(sbom.Unknown{Location: sbom.Location{Path: abs[:64] + "…"}, Error: "path exceeds the path-length limit; skipped"})
						continue
					}
					t := de.Type()
					switch {
					case t.IsDir():
						if !skip[abs] {
							push(childRel)
						}
						continue
					case !t.IsRegular():
						continue
					}
					info, err := de.Info()
					if err != nil {
						continue
					}
					ws := e.wantedBy(abs, info.Mode(), wanting[:0])
					if len(ws) == 0 {
						continue
					}
					parts = e.parseDiskFile(ctx, filepath.Join(root, filepath.FromSlash(childRel)), abs, info, ws, parts[:0], addUnknown)
					if len(parts) > 0 {
						mu.Lock()
						res.Parts = append(res.Parts, parts...)
						mu.Unlock()
					}
				}
			}()
		}
	}
	push("")
	for range workers {
		wg.Add(1)
		go work()
	}
	pending.Wait()
	qmu.Lock()
	done = true
	qmu.Unlock()
	cond.Broadcast()
	wg.Wait()
	if p := limitErr.Load(); p != nil {
		return nil, *p
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Files = int(files.Load())
	return res, nil
}

func (e *Engine) parseDiskFile(ctx context.Context, full, abs string, info fs.FileInfo, ws []catalog.Cataloger, parts []layerPart, unknown func(sbom.Unknown)) []layerPart {
	f, err := openNoFollow(full)
	if err != nil {
		unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Error: err.Error()})
		return parts
	}
	defer f.Close()
	for _, c := range ws {
		in := &diskFile{path: abs, f: f, size: info.Size(), mode: info.Mode(), max: e.limits.MaxFileSize}
		out, err := parseSafely(ctx, c, in)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return parts
			}
			unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Cataloger: c.Name(), Error: err.Error()})
			continue
		}
		if isEmpty(out) {
			continue
		}
		parts = append(parts, layerPart{Cataloger: c.Name(), Part: catalog.Part{Path: abs, Result: out}})
	}
	return parts
}
