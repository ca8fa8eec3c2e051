package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/compliance/secrets"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

// Limits bound what one image may cost.
type Limits struct {
	// MaxFiles per layer.
	MaxFiles int
	// MaxScanBytes is how much of one file the secrets scanner reads.
	MaxScanBytes int
	// MaxListed caps each list of files reported (setuid, world-writable).
	MaxListed int
}

// DefaultLimits are the limits Check uses.
func DefaultLimits() Limits {
	return Limits{MaxFiles: 2_000_000, MaxScanBytes: secrets.MaxBytes, MaxListed: 200}
}

type entry struct {
	layer int
	mode  fs.FileMode
	size  int64
}

type secretHit struct {
	path  string
	layer int
	f     secrets.Finding
}

// layerScan is what one pass over a layer's tar found.
type layerScan struct {
	diffID    string
	files     map[string]entry
	whiteouts []string
	opaque    []string
	secrets   []secretHit
}

// FS is the merged view of an image's layers.
type FS struct {
	Layers []string // DiffIDs, bottom first
	// Files maps each path present in the final file system to the layer
	// that put it there.
	Files   map[string]entry
	Secrets []SecretFinding
}

// SecretFinding is a secret in a file of some layer.
type SecretFinding struct {
	secrets.Finding
	Path  string
	Layer string
	// Deleted: a later layer removed or replaced the file; the secret is
	// still in the image (its layer ships with it).
	Deleted bool
}

// cleanName makes a tar member name absolute; ".." cannot climb above
// the root of the layer.
func cleanName(n string) (string, bool) {
	if n == "" {
		return "", false
	}
	return path.Clean("/" + n), true
}

// scanLayer reads one layer tar once: entries and modes, whiteouts, and
// secrets in the first MaxScanBytes of each regular file. It hashes the
// stream to name the layer (its DiffID).
func scanLayer(ctx context.Context, r io.Reader, idx int, lim Limits) (*layerScan, error) {
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(r, h))
	ls := &layerScan{files: map[string]entry{}}
	buf := make([]byte, lim.MaxScanBytes)
	n := 0
	for {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", idx+1, err)
		}
		n++
		if n > lim.MaxFiles {
			return nil, fmt.Errorf("layer %d: more than %d entries", idx+1, lim.MaxFiles)
		}
		p, ok := cleanName(hdr.Name)
		if !ok || p == "/" {
			continue
		}
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		if base == ".wh..wh..opq" {
			ls.opaque = append(ls.opaque, dir)
			continue
		}
		if w, ok := strings.CutPrefix(base, ".wh."); ok {
			ls.whiteouts = append(ls.whiteouts, path.Join(dir, w))
			continue
		}
		ls.files[p] = entry{layer: idx, mode: hdr.FileInfo().Mode(), size: hdr.Size}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			continue
		}
		m, err := io.ReadFull(tr, buf[:min(int64(len(buf)), hdr.Size)])
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("layer %d: %s: %w", idx+1, p, err)
		}
		for _, f := range secrets.Scan(buf[:m]) {
			ls.secrets = append(ls.secrets, secretHit{path: p, layer: idx, f: f})
		}
	}
	// Hash whatever follows the tar's end marker too.
	if _, err := io.Copy(io.Discard, io.TeeReader(r, h)); err != nil {
		return nil, fmt.Errorf("layer %d: %w", idx+1, err)
	}
	ls.diffID = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return ls, nil
}

// ScanImage reads every layer of img once and merges them.
func ScanImage(ctx context.Context, img *source.Image, lim Limits) (*FS, error) {
	n := len(img.Info.Layers)
	scans := make([]*layerScan, n)
	switch {
	case img.Open != nil:
		for i := range n {
			rc, err := img.Open(ctx, i)
			if err != nil {
				return nil, fmt.Errorf("open layer %d: %w", i+1, err)
			}
			ls, err := scanLayer(ctx, rc, i, lim)
			rc.Close()
			if err != nil {
				return nil, err
			}
			if want := img.Info.Layers[i].DiffID; want != "" && want != ls.diffID {
				return nil, fmt.Errorf("layer %d hashes to %s but the image config says %s", i+1, ls.diffID, want)
			}
			scans[i] = ls
		}
	case img.Stream != nil:
		byID := map[string]int{}
		for i, l := range img.Info.Layers {
			byID[l.DiffID] = i
		}
		err := img.Stream(ctx, func(r io.Reader) error {
			ls, err := scanLayer(ctx, r, -1, lim)
			if err != nil {
				return err
			}
			i, ok := byID[ls.diffID]
			if !ok || scans[i] != nil {
				return nil
			}
			ls.relabel(i)
			scans[i] = ls
			return nil
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("image source can neither open nor stream layers")
	}
	for i, s := range scans {
		if s == nil {
			return nil, fmt.Errorf("layer %d (%s) was not in the image export", i+1, img.Info.Layers[i].DiffID)
		}
	}
	return merge(scans), nil
}

func (ls *layerScan) relabel(i int) {
	for p, e := range ls.files {
		e.layer = i
		ls.files[p] = e
	}
	for j := range ls.secrets {
		ls.secrets[j].layer = i
	}
}

// merge applies the layers bottom up with OCI whiteout semantics: a
// whiteout removes the path and everything under it from lower layers;
// an opaque directory hides everything lower layers put under it.
func merge(scans []*layerScan) *FS {
	out := &FS{Files: map[string]entry{}}
	for _, ls := range scans {
		out.Layers = append(out.Layers, ls.diffID)
		removeUnder := func(p string, self bool) {
			prefix := strings.TrimSuffix(p, "/") + "/"
			for q := range out.Files {
				if (self && q == p) || strings.HasPrefix(q, prefix) {
					delete(out.Files, q)
				}
			}
		}
		for _, w := range ls.whiteouts {
			removeUnder(w, true)
		}
		for _, o := range ls.opaque {
			removeUnder(o, false)
		}
		for p, e := range ls.files {
			out.Files[p] = e
		}
	}
	for _, ls := range scans {
		for _, s := range ls.secrets {
			e, ok := out.Files[s.path]
			out.Secrets = append(out.Secrets, SecretFinding{
				Finding: s.f, Path: s.path, Layer: ls.diffID, Deleted: !ok || e.layer != s.layer,
			})
		}
	}
	return out
}

// fileInfo is one listed file for the checks.
type fileInfo struct {
	Path  string
	Mode  fs.FileMode
	Layer string
}

// Summary is what the checks read about the final file system.
type Summary struct {
	Setuid, Setgid, WorldWritable []fileInfo
	SSHServers                    []fileInfo
	PkgCaches                     []PkgCache
	// Truncated counts files left out of the lists above (MaxListed).
	Truncated int
}

// PkgCache is one package manager's cache left in the image.
type PkgCache struct {
	Manager, Dir string
	Files        int
	Bytes        int64
	Layer        string
}

var cacheDirs = []struct{ manager, dir, suffix string }{
	{"apt", "/var/cache/apt/archives", ".deb"},
	{"apt", "/var/lib/apt/lists", ""},
	{"apk", "/var/cache/apk", ""},
	{"yum", "/var/cache/yum", ""},
	{"dnf", "/var/cache/dnf", ""},
	{"pip", "/root/.cache/pip", ""},
	{"npm", "/root/.npm/_cacache", ""},
}

var sshServers = []string{"/usr/sbin/sshd", "/sbin/sshd", "/usr/sbin/dropbear", "/usr/bin/dropbear"}

// Summarize lists what the file system checks look at.
func (f *FS) Summarize(lim Limits) Summary {
	var s Summary
	paths := make([]string, 0, len(f.Files))
	for p := range f.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	add := func(l *[]fileInfo, p string, e entry) {
		if len(*l) >= lim.MaxListed {
			s.Truncated++
			return
		}
		*l = append(*l, fileInfo{Path: p, Mode: e.mode, Layer: f.Layers[e.layer]})
	}
	caches := map[string]*PkgCache{}
	for _, p := range paths {
		e := f.Files[p]
		switch {
		case e.mode.IsRegular():
			if e.mode&fs.ModeSetuid != 0 {
				add(&s.Setuid, p, e)
			}
			if e.mode&fs.ModeSetgid != 0 {
				add(&s.Setgid, p, e)
			}
			if e.mode.Perm()&0o002 != 0 {
				add(&s.WorldWritable, p, e)
			}
			if slices.Contains(sshServers, p) {
				add(&s.SSHServers, p, e)
			}
			for _, c := range cacheDirs {
				if !strings.HasPrefix(p, c.dir+"/") || !strings.HasSuffix(p, c.suffix) || strings.HasSuffix(p, "/lock") {
					continue
				}
				pc := caches[c.dir]
				if pc == nil {
					pc = &PkgCache{Manager: c.manager, Dir: c.dir, Layer: f.Layers[e.layer]}
					caches[c.dir] = pc
				}
				pc.Files++
				pc.Bytes += e.size
			}
		case e.mode.IsDir():
			if e.mode.Perm()&0o002 != 0 && e.mode&fs.ModeSticky == 0 {
				add(&s.WorldWritable, p, e)
			}
		}
	}
	for _, c := range cacheDirs {
		if pc := caches[c.dir]; pc != nil {
			s.PkgCaches = append(s.PkgCaches, *pc)
		}
	}
	return s
}

// ScanTree walks a directory tree (a dir: or host target) as one layer
// without a digest: modes and secrets as in an image layer. Symbolic links
// are not followed; skip lists absolute paths not to descend into.
func ScanTree(ctx context.Context, root string, skip []string, lim Limits) (*FS, error) {
	ls := &layerScan{files: map[string]entry{}}
	buf := make([]byte, lim.MaxScanBytes)
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skip, as the SBOM walk does
		}
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if n > lim.MaxFiles {
			return fmt.Errorf("more than %d files", lim.MaxFiles)
		}
		rel, _ := filepath.Rel(root, p)
		ip := path.Clean("/" + filepath.ToSlash(rel))
		if d.IsDir() && p != root && slices.Contains(skip, ip) {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		ls.files[ip] = entry{layer: 0, mode: info.Mode(), size: info.Size()}
		if !info.Mode().IsRegular() || info.Size() == 0 {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		m, _ := io.ReadFull(f, buf[:min(int64(len(buf)), info.Size())])
		f.Close()
		for _, s := range secrets.Scan(buf[:m]) {
			ls.secrets = append(ls.secrets, secretHit{path: ip, layer: 0, f: s})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return merge([]*layerScan{ls}), nil
}
