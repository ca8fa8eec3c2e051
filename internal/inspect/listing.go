package inspect

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Entry kinds recorded for the file listing.
const (
	kindFile    = 'f' // regular file or hard link
	kindSymlink = 'l'
	kindDir     = 'd'
	kindOther   = 'o' // device, FIFO
)

// listEntry is one tar entry recorded for the file listing. Directories and
// other non-listed kinds are kept too: they replace a lower layer's file or
// symlink at the same path.
type listEntry struct {
	Path string
	Kind byte
	Mode uint32 // permission bits (07777)
	Size int64
	Link string // symlink target
}

// lister records a layer's entries during the walk, bounded by max.
type lister struct {
	res     *LayerResult
	max     int
	maxPath int
	files   map[string]int // regular file path → index in res.Entries, for hard links
}

func newLister(res *LayerResult, lim Limits) *lister {
	res.Listed = true
	return &lister{res: res, max: lim.MaxListedFiles, maxPath: lim.MaxPathLen, files: map[string]int{}}
}

func (l *lister) gap(msg string) {
	if len(l.res.ListGaps) < 16 { // a hostile layer could produce millions
		l.res.ListGaps = append(l.res.ListGaps, msg)
	}
}

// add records the entry at p (already cleaned and confined).
func (l *lister) add(hdr *tar.Header, p string) {
	if l.res.ListTruncated {
		return
	}
	if len(l.res.Entries) >= l.max {
		l.res.ListTruncated = true
		l.gap(fmt.Sprintf("more than %d entries in one layer: listing truncated", l.max))
		return
	}
	e := listEntry{Path: p, Mode: uint32(hdr.Mode & 0o7777)}
	switch hdr.Typeflag {
	case tar.TypeReg: // archive/tar reports old archives' TypeRegA as TypeReg
		e.Kind, e.Size = kindFile, hdr.Size
		l.files[p] = len(l.res.Entries)
	case tar.TypeLink:
		target, out := cleanEntry(hdr.Linkname)
		if out {
			return // skipped by the walk (and refused by Docker)
		}
		e.Kind = kindFile
		if i, ok := l.files[target]; ok {
			// Hard links share the inode: mode and size are the target's.
			e.Mode, e.Size = l.res.Entries[i].Mode, l.res.Entries[i].Size
		}
		l.files[p] = len(l.res.Entries)
	case tar.TypeSymlink:
		if len(hdr.Linkname) > l.maxPath {
			l.gap(fmt.Sprintf("symlink %s: target of %d bytes exceeds the path limit; not listed", p, len(hdr.Linkname)))
			return
		}
		e.Kind, e.Link = kindSymlink, hdr.Linkname
	case tar.TypeDir:
		e.Kind = kindDir
	default:
		e.Kind = kindOther
	}
	l.res.Entries = append(l.res.Entries, e)
}

// node is one path of the merged filesystem while the listing is built.
type node struct {
	kind     byte // 0: implied directory (a parent of an entry)
	mode     uint32
	size     int64
	link     string
	layer    string
	children map[string]*node
}

// mergeListing applies the layers' entries bottom to top with OCI whiteout
// semantics and returns the files of the final filesystem. It works on a
// tree of path components, so a whiteout or opaque directory costs one map
// operation however much it hides, and the whole merge is linear in the
// total length of the recorded paths.
func mergeListing(layers []*LayerResult, scope sbom.FileScope, max int) *sbom.FileListing {
	out := &sbom.FileListing{Scope: scope, Files: []sbom.File{}}
	root := &node{kind: kindDir}
	nodes := 1
	nodeMax := 2*max + 1
	truncated := false
	// walk returns the node at p's parent and p's last component, creating
	// implied directories when create is set. A file or symlink standing
	// where a directory is needed is replaced, as when a layer is applied.
	walk := func(p string, create bool) (*node, string) {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		n := root
		for _, c := range parts[:len(parts)-1] {
			ch := n.children[c]
			if ch == nil || (ch.kind != kindDir && ch.kind != 0) {
				if !create {
					return nil, ""
				}
				if nodes >= nodeMax {
					truncated = true
					return nil, ""
				}
				nodes++
				ch = &node{}
				if n.children == nil {
					n.children = map[string]*node{}
				}
				n.children[c] = ch
			}
			n = ch
		}
		return n, parts[len(parts)-1]
	}
	for _, lr := range layers {
		if !lr.Listed {
			out.Gaps = append(out.Gaps, fmt.Sprintf("layer %s was read without a file listing", short(lr.DiffID)))
			continue
		}
		out.Gaps = append(out.Gaps, lr.ListGaps...)
		truncated = truncated || lr.ListTruncated
		// Deletions apply to lower layers only, so they come first.
		for _, d := range lr.Opaque {
			if d == "/" {
				root.children = nil
				continue
			}
			if parent, name := walk(d, false); parent != nil {
				if n := parent.children[name]; n != nil {
					n.children = nil
				}
			}
		}
		for _, w := range lr.Whiteouts {
			if w == "/" {
				continue
			}
			if parent, name := walk(w, false); parent != nil {
				delete(parent.children, name)
			}
		}
		for _, e := range lr.Entries {
			if e.Path == "/" {
				continue
			}
			parent, name := walk(e.Path, true)
			if parent == nil {
				continue
			}
			n := parent.children[name]
			if n == nil {
				if nodes >= nodeMax {
					truncated = true
					continue
				}
				nodes++
				n = &node{}
				if parent.children == nil {
					parent.children = map[string]*node{}
				}
				parent.children[name] = n
			}
			if e.Kind != kindDir {
				n.children = nil // a non-directory replaces a directory and its content
			}
			n.kind, n.mode, n.size, n.link, n.layer = e.Kind, e.Mode, e.Size, e.Link, lr.DiffID
		}
	}
	var collect func(dir string, n *node)
	collect = func(dir string, n *node) {
		for name, ch := range n.children {
			p := path.Join(dir, name)
			switch {
			case ch.kind == kindSymlink:
				out.Files = append(out.Files, sbom.File{Path: p, Type: sbom.FileSymlink, Mode: sbom.FileMode(ch.mode), LinkTarget: ch.link, Layer: ch.layer})
			case ch.kind == kindFile && (scope == sbom.FilesAll || sbom.FileMode(ch.mode).Executable()):
				out.Files = append(out.Files, sbom.File{Path: p, Type: sbom.FileRegular, Mode: sbom.FileMode(ch.mode), Size: ch.size, Layer: ch.layer})
			}
			if len(ch.children) > 0 {
				collect(p, ch)
			}
		}
	}
	collect("/", root)
	if len(out.Files) > max {
		truncated = true
		sbom.SortFiles(out.Files)
		out.Files = out.Files[:max]
	} else {
		sbom.SortFiles(out.Files)
	}
	if truncated {
		out.Truncated = true
		out.Gaps = append(out.Gaps, fmt.Sprintf("more than %d files: listing truncated", max))
	}
	out.Complete = len(out.Gaps) == 0 && !out.Truncated
	return out
}
