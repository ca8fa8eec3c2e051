// Package drift tells whether a container executes a file that was not in
// its image, from the image's file listing (sbom.FileListing, written by
// "bulkhead sbom --files"). It is the storage-driver-independent half of
// Falco's proc.is_exe_upper_layer: the sensor's writable-layer lookup is
// exact for overlay2 only, an image's listing works whatever the driver.
//
// An Index answers for one image; a Provider finds or builds the Index for
// an image id (docs/drift.md). Only a complete listing can say that a file
// was not in the image: anything less answers "unknown", never "drift".
package drift

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxLinks is how many symbolic links one lookup follows, as Linux's
// MAXSYMLINKS; more is a loop and the answer is unknown.
const maxLinks = 40

// maxLookup bounds the length of a path, of what remains to resolve after
// a link is substituted and of the resolved prefix: the kernel's PATH_MAX.
// It keeps a lookup's cost (one hash of the prefix per component) small
// whatever the path or a hostile document's link targets.
const maxLookup = 4096

type entry struct {
	symlink bool
	mode    sbom.FileMode
	target  string
}

// Index is the set of an image's files, with symbolic links, for lookups.
// It is immutable once built and safe for concurrent use.
type Index struct {
	imageID string
	scope   sbom.FileScope
	files   map[string]entry
	// reason is why the index cannot answer; "" when it can.
	reason string
}

// NewIndex builds the index of doc's file listing. A document without a
// listing, or with an incomplete or truncated one, gives an index whose
// every answer is unknown (Reason says why). Package file lists
// (sbom.Package.Files) are never used: they cannot say a file was not in
// the image.
func NewIndex(doc *sbom.SBOM) *Index {
	ix := &Index{}
	if doc == nil {
		ix.reason = "no SBOM"
		return ix
	}
	ix.imageID = doc.Source.ImageID
	fl := doc.FileListing
	switch {
	case fl == nil:
		ix.reason = "the SBOM has no file listing (bulkhead sbom --files)"
		return ix
	case fl.Truncated:
		ix.reason = "the SBOM's file listing is truncated"
		return ix
	case !fl.Complete:
		ix.reason = "the SBOM's file listing is incomplete: " + strings.Join(fl.Gaps, "; ")
		return ix
	case fl.Scope != sbom.FilesExecutable && fl.Scope != sbom.FilesAll:
		ix.reason = fmt.Sprintf("the SBOM's file listing has an unknown scope %q", fl.Scope)
		return ix
	}
	ix.scope = fl.Scope
	ix.files = make(map[string]entry, len(fl.Files))
	for _, f := range fl.Files {
		p, ok := normalize(f.Path)
		if !ok || p == "/" {
			continue
		}
		switch f.Type {
		case sbom.FileSymlink:
			ix.files[p] = entry{symlink: true, target: f.LinkTarget}
		case sbom.FileRegular:
			ix.files[p] = entry{mode: f.Mode}
		}
	}
	return ix
}

// Unknown returns an index that answers unknown for every path.
func Unknown(imageID, reason string) *Index { return &Index{imageID: imageID, reason: reason} }

// ImageID is the image the index was built for (the SBOM's source.imageID).
func (ix *Index) ImageID() string { return ix.imageID }

// Known reports whether the index can answer; Reason says why not.
func (ix *Index) Known() bool { return ix.files != nil }

// Reason is why the index cannot answer, "" when it can.
func (ix *Index) Reason() string { return ix.reason }

// Len is the number of files and links indexed.
func (ix *Index) Len() int { return len(ix.files) }

// InImage reports whether p names a regular file of the listing, after
// following the image's symbolic links the way the kernel would (so
// /bin/sh → busybox, or /bin/ls through a /bin → usr/bin link). p is
// normalised: made absolute, "." and ".." resolved. With a listing of
// executables only (the default scope), a file the image holds without
// any execute bit is not present. known is false when the index cannot
// answer: incomplete listing, symlink loop, absurd path.
//
// Cost: one map lookup per path component and per link followed.
func (ix *Index) InImage(p string) (present, known bool) {
	_, present, known = ix.lookup(p)
	return present, known
}

func (ix *Index) lookup(p string) (e entry, present, known bool) {
	if ix == nil || ix.files == nil || p == "" {
		return entry{}, false, false
	}
	r, ok := ix.resolve(p)
	if !ok {
		return entry{}, false, false
	}
	e, ok = ix.files[r]
	return e, ok && !e.symlink, true
}

// Drift reports whether executing exePath means running a file that was
// not in the image as an executable: absent from the listing, or present
// without any execute bit (its mode was changed in the container). known
// is false when the index cannot answer.
func (ix *Index) Drift(exePath string) (drift, known bool) {
	e, present, known := ix.lookup(exePath)
	if !known {
		return false, false
	}
	return !present || !e.mode.Executable(), true
}

// normalize makes p absolute and clean; ok is false for paths that no
// lookup should take (NUL bytes, absurd length).
func normalize(p string) (string, bool) {
	if len(p) > maxLookup || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	return path.Clean("/" + p), true
}

// resolve follows symbolic links component by component from the root,
// the way path lookup does: ".." applies to the resolved prefix, so
// "/link/../x" is the link's target's parent's x, not "/x". Components
// that are not in the index (directories, absent files) are taken as
// they are.
func (ix *Index) resolve(p string) (string, bool) {
	if len(p) > maxLookup || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	var buf [maxLookup + 1]byte
	cur := buf[:0] // resolved prefix; empty is the root
	rest := p
	links := 0
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			break
		}
		c := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			c, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		switch c {
		case ".":
			continue
		case "..":
			if i := bytes.LastIndexByte(cur, '/'); i >= 0 {
				cur = cur[:i]
			}
			continue
		}
		n := len(cur)
		if n+1+len(c) > maxLookup {
			return "", false
		}
		cur = append(append(cur, '/'), c...)
		e, ok := ix.files[string(cur)] // no allocation: the compiler borrows the bytes
		if !ok || !e.symlink {
			continue
		}
		cur = cur[:n]
		links++
		if links > maxLinks || e.target == "" {
			return "", false
		}
		if strings.HasPrefix(e.target, "/") {
			cur = cur[:0] // absolute target: from the container's root
		}
		rest = e.target + "/" + rest
		if len(rest) > maxLookup {
			return "", false
		}
	}
	if len(cur) == 0 {
		return "/", true
	}
	return string(cur), true
}
