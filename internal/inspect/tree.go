package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// analyzeTree walks a directory tree (a root filesystem, a project, or the
// host) with a small pool of workers. It never follows a symlink: every
// directory is opened beneath the root's descriptor with openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, entries are stat'ed with fstatat
// AT_SYMLINK_NOFOLLOW relative to their directory, and files are opened with
// openat O_NOFOLLOW|O_NONBLOCK (a FIFO planted in the tree cannot block the
// walk). So nothing outside root can be read, even if the tree changes
// during the walk.
func (e *Engine) analyzeTree(ctx context.Context, root string, skip map[string]bool) (*LayerResult, error) {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rootFD)

	w := &treeWalk{e: e, ctx: ctx, rootFD: rootFD, skip: skip, res: &LayerResult{}}
	w.cond = sync.NewCond(&w.qmu)
	w.push("")
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work()
		}()
	}
	w.pending.Wait()
	w.qmu.Lock()
	w.done = true
	w.qmu.Unlock()
	w.cond.Broadcast()
	wg.Wait()
	if p := w.limitErr.Load(); p != nil {
		return nil, *p
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.res.Files = int(w.files.Load())
	return w.res, nil
}

type treeWalk struct {
	e      *Engine
	ctx    context.Context
	rootFD int
	skip   map[string]bool

	mu  sync.Mutex // guards res
	res *LayerResult

	files    atomic.Int64
	limitErr atomic.Pointer[error]

	// A LIFO queue of directories (relative to root) that grows without
	// blocking the workers that feed it.
	qmu     sync.Mutex
	cond    *sync.Cond
	queue   []string
	done    bool
	pending sync.WaitGroup
}

func (w *treeWalk) push(d string) {
	w.pending.Add(1)
	w.qmu.Lock()
	w.queue = append(w.queue, d)
	w.qmu.Unlock()
	w.cond.Signal()
}

func (w *treeWalk) pop() (string, bool) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	for len(w.queue) == 0 && !w.done {
		w.cond.Wait()
	}
	if len(w.queue) == 0 {
		return "", false
	}
	d := w.queue[len(w.queue)-1]
	w.queue = w.queue[:len(w.queue)-1]
	return d, true
}

func (w *treeWalk) unknown(u sbom.Unknown) {
	w.mu.Lock()
	w.res.Unknowns = append(w.res.Unknowns, u)
	w.mu.Unlock()
}

func (w *treeWalk) work() {
	wanting := make([]catalog.Cataloger, 0, len(w.e.cats))
	var parts []layerPart
	for {
		rel, ok := w.pop()
		if !ok {
			return
		}
		parts = w.dir(rel, wanting, parts[:0])
		if len(parts) > 0 {
			w.mu.Lock()
			w.res.Parts = append(w.res.Parts, parts...)
			w.mu.Unlock()
		}
		w.pending.Done()
	}
}

// openBeneath opens rel (a directory below the root) without following any
// symlink on the way.
func (w *treeWalk) openBeneath(rel string) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(w.rootFD, rel, &how)
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.6: components were read as directories with
		// lstat semantics, and the last one must not be a link.
		fd, err = unix.Openat(w.rootFD, rel, int(how.Flags), 0)
	}
	return fd, err
}

func (w *treeWalk) dir(rel string, wanting []catalog.Cataloger, parts []layerPart) []layerPart {
	e := w.e
	if w.ctx.Err() != nil || w.limitErr.Load() != nil {
		return parts
	}
	abs := "/" + rel
	fd, err := w.openBeneath(rel)
	if err != nil {
		w.unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Error: "open directory: " + err.Error()})
		return parts
	}
	d := os.NewFile(uintptr(fd), abs)
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		w.unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Error: "read directory: " + err.Error()})
	}
	if n := w.files.Add(int64(len(ents))); n > int64(e.limits.MaxFiles) {
		err := fmt.Errorf("more than %d files: %w", e.limits.MaxFiles, ErrLimit)
		w.limitErr.CompareAndSwap(nil, &err)
		return parts
	}
	if e.progress != nil {
		e.progress.Files(len(ents))
	}
	for _, de := range ents {
		name := de.Name()
		childRel := path.Join(rel, name)
		childAbs := "/" + childRel
		if len(childAbs) > e.limits.MaxPathLen {
			w.unknown(sbom.Unknown{Location: sbom.Location{Path: childAbs[:64] + "…"}, Error: "path exceeds the path-length limit; skipped"})
			continue
		}
		t := de.Type()
		if t.IsDir() {
			if !w.skip[childAbs] {
				w.push(childRel)
			}
			continue
		}
		if !t.IsRegular() {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		mode := fs.FileMode(st.Mode & 0o777)
		ws := e.wantedBy(childAbs, mode, wanting[:0])
		if len(ws) == 0 {
			continue
		}
		parts = w.file(fd, name, childAbs, st.Size, mode, ws, parts)
	}
	return parts
}

func (w *treeWalk) file(dirFD int, name, abs string, size int64, mode fs.FileMode, ws []catalog.Cataloger, parts []layerPart) []layerPart {
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		w.unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Error: err.Error()})
		return parts
	}
	// A raw descriptor, not an *os.File: os.NewFile would try (and fail) to
	// register a non-blocking regular file with the network poller.
	f := &headCache{r: rawFile(fd), size: size}
	defer unix.Close(fd)
	for _, c := range ws {
		in := &diskFile{path: abs, f: f, size: size, mode: mode, max: w.e.limits.MaxFileSize}
		out, err := parseSafely(w.ctx, c, in)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return parts
			}
			w.unknown(sbom.Unknown{Location: sbom.Location{Path: abs}, Cataloger: c.Name(), Error: err.Error()})
			continue
		}
		if isEmpty(out) {
			continue
		}
		parts = append(parts, layerPart{Cataloger: c.Name(), Part: catalog.Part{Path: abs, Result: out}})
	}
	return parts
}

// rawFile reads a descriptor with pread, without the runtime poller.
type rawFile int

func (r rawFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(int(r), p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// headCache serves reads within a file's first 4 KiB from memory after one
// read. Binary catalogers all start there (magic bytes, ELF header), and
// several catalogers look at the same file.
type headCache struct {
	r      io.ReaderAt
	size   int64
	head   []byte
	loaded bool
}

const headSize = 4 << 10

func (c *headCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	if off+int64(len(p)) > headSize && !(c.size <= headSize) {
		return c.r.ReadAt(p, off)
	}
	if !c.loaded {
		c.head = make([]byte, min(headSize, c.size))
		n, err := c.r.ReadAt(c.head, 0)
		if err != nil && err != io.EOF {
			return 0, err
		}
		c.head = c.head[:n]
		c.loaded = true
	}
	if off >= int64(len(c.head)) {
		return 0, io.EOF
	}
	n := copy(p, c.head[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
