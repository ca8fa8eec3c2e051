package inspect

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Limits bound what one scan may read. Images are attacker-controlled; every
// limit has a default that a real image never reaches.
type Limits struct {
	// MaxFileSize is the most bytes read from one file for a cataloger.
	MaxFileSize int64
	// MaxLayerBytes is the most decompressed bytes read from one layer.
	MaxLayerBytes int64
	// MaxFiles is the most entries read from one layer or tree.
	MaxFiles int
	// MaxPathLen is the longest path accepted; longer entries are skipped
	// and reported.
	MaxPathLen int
	// MaxListedFiles bounds the image file listing (WithFileListing):
	// entries recorded per layer and files in the final listing. A listing
	// that hits it is marked truncated, never complete.
	MaxListedFiles int
}

// DefaultLimits are the limits used unless the user sets others.
func DefaultLimits() Limits {
	return Limits{
		MaxFileSize:   512 << 20,
		MaxLayerBytes: 64 << 30,
		MaxFiles:      10_000_000,
		MaxPathLen:    4096,
		// About 250 bytes of memory per recorded entry while merging.
		MaxListedFiles: 1_000_000,
	}
}

// ErrLimit is wrapped by every error caused by a Limits bound.
var ErrLimit = errors.New("limit exceeded")

// LayerResult is everything learnt from one layer; it is what the layer cache
// stores.
type LayerResult struct {
	DiffID string `json:"diffID"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	// Whiteouts are paths this layer deletes from the layers below.
	Whiteouts []string `json:"whiteouts,omitempty"`
	// Opaque are directories whose lower content this layer hides.
	Opaque []string `json:"opaque,omitempty"`
	// Shadows are wanted paths present in this layer as something a
	// cataloger could not read (symlink, too large); they hide the lower
	// layers' files at the same path.
	Shadows []string    `json:"shadows,omitempty"`
	Parts   []layerPart `json:"parts,omitempty"`
	// Unknowns are files or entries that could not be read.
	Unknowns []sbom.Unknown `json:"unknowns,omitempty"`

	// Listed is true when the walk recorded Entries for the file listing
	// (WithFileListing); the cache key differs then.
	Listed bool `json:"listed,omitempty"`
	// Entries are the layer's non-whiteout entries, in tar order.
	Entries []listEntry `json:"entries,omitempty"`
	// ListTruncated is true when Entries hit Limits.MaxListedFiles.
	ListTruncated bool `json:"listTruncated,omitempty"`
	// ListGaps say why Entries may miss files (corrupt layer, skipped
	// entries).
	ListGaps []string `json:"listGaps,omitempty"`
}

type layerPart struct {
	Cataloger string `json:"cataloger"`
	catalog.Part
}

type counter struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

// Seek lets archive/tar skip file bodies without copying them when the
// underlying reader can (forward relative seeks only); skipped bytes count
// toward the limit.
func (c *counter) Seek(offset int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return 0, errors.New("not seekable")
	}
	if whence == io.SeekCurrent && offset > 0 && c.n+offset > c.max {
		return 0, fmt.Errorf("%s: more than %d decompressed bytes: %w", c.what, c.max, ErrLimit)
	}
	before, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	after, err := s.Seek(offset, whence)
	c.n += after - before
	return after, err
}

func (c *counter) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, fmt.Errorf("%s: more than %d decompressed bytes: %w", c.what, c.max, ErrLimit)
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// cleanEntry turns a tar entry name into an absolute path confined to the
// image root: ".." can never climb above "/". escaped reports whether the
// name tried to.
func cleanEntry(name string) (p string, escaped bool) {
	p = path.Clean("/" + name)
	if strings.HasPrefix(name, "/") {
		escaped = true
	} else {
		// Resolve lexically without the root to see whether it climbs.
		rel := path.Clean(name)
		escaped = rel == ".." || strings.HasPrefix(rel, "../")
	}
	return p, escaped
}

// analyzeTar walks one layer's uncompressed tar stream once, offering each
// regular file to the catalogers.
func (e *Engine) analyzeTar(ctx context.Context, r io.Reader, diffID string) (*LayerResult, error) {
	res := &LayerResult{DiffID: diffID}
	cr := &counter{r: r, max: e.limits.MaxLayerBytes, what: "layer " + short(diffID)}
	tr := tar.NewReader(cr)
	br := bufio.NewReaderSize(nil, 64<<10)
	var scratch []byte
	seen := map[string]int{} // wanted regular file path → index in res.Parts (first part), for hard links
	wanting := make([]catalog.Cataloger, 0, len(e.cats))
	unknown := func(p, msg string) {
		res.Unknowns = append(res.Unknowns, sbom.Unknown{Location: sbom.Location{Path: p, Layer: diffID}, Error: msg})
	}
	var lst *lister
	if e.listing != "" {
		lst = newLister(res, e.limits)
	}
	for {
		if res.Files&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrLimit) {
				return nil, err
			}
			// A truncated or corrupt layer keeps what was read so far.
			unknown("/", fmt.Sprintf("layer %s is corrupt after %d entries: %v", short(diffID), res.Files, err))
			if lst != nil {
				lst.gap(fmt.Sprintf("a layer is corrupt after %d entries", res.Files))
			}
			break
		}
		res.Files++
		if res.Files > e.limits.MaxFiles {
			return nil, fmt.Errorf("layer %s: more than %d entries: %w", short(diffID), e.limits.MaxFiles, ErrLimit)
		}
		if e.progress != nil && res.Files%4096 == 0 {
			e.progress.Files(4096)
		}
		if len(hdr.Name) > e.limits.MaxPathLen {
			unknown(hdr.Name[:64]+"…", fmt.Sprintf("entry name of %d bytes exceeds the %d-byte path limit; skipped", len(hdr.Name), e.limits.MaxPathLen))
			if lst != nil {
				lst.gap("an entry name exceeds the path limit; not listed")
			}
			continue
		}
		p, escaped := cleanEntry(hdr.Name)
		if escaped {
			// Docker refuses to apply such a layer; we skip the entry and
			// say so.
			unknown(p, fmt.Sprintf("entry name %q points outside the image root; skipped", hdr.Name))
			continue
		}
		dir, base := path.Split(p)
		if strings.HasPrefix(base, ".wh.") {
			if base == ".wh..wh..opq" {
				res.Opaque = append(res.Opaque, path.Clean(dir))
			} else {
				res.Whiteouts = append(res.Whiteouts, path.Join(dir, base[len(".wh."):]))
			}
			continue
		}
		if lst != nil {
			lst.add(hdr, p)
		}
		mode := hdr.FileInfo().Mode()
		switch hdr.Typeflag {
		//lint:ignore SA1019 old archives still use TypeRegA
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeLink:
			target, out := cleanEntry(hdr.Linkname)
			if out {
				unknown(p, fmt.Sprintf("hard link to %q points outside the image root; skipped", hdr.Linkname))
				if len(e.wantedBy(p, mode, wanting[:0])) > 0 {
					res.Shadows = append(res.Shadows, p)
				}
				continue
			}
			if i, ok := seen[target]; ok {
				// Same content at a second path: reuse the parts found for the
				// target, relocated.
				start := len(res.Parts)
				for j := i; j < start && res.Parts[j].Path == target; j++ {
					lp := res.Parts[j]
					lp.Path = p
					lp.Result = relocate(lp.Result, target, p)
					res.Parts = append(res.Parts, lp)
				}
				seen[p] = start
			} else if len(e.wantedBy(p, mode, wanting[:0])) > 0 {
				res.Shadows = append(res.Shadows, p)
			}
			continue
		default:
			// Symlinks, directories, devices: nothing to read, but a symlink
			// or directory at a wanted path hides the lower file.
			if hdr.Typeflag == tar.TypeSymlink && len(e.wantedBy(p, 0o777, wanting[:0])) > 0 {
				res.Shadows = append(res.Shadows, p)
			}
			continue
		}
		res.Bytes += hdr.Size
		ws := e.wantedBy(p, mode, wanting[:0])
		if len(ws) == 0 {
			continue
		}
		br.Reset(tr)
		sf := &streamFile{path: p, size: hdr.Size, mode: mode, max: e.limits.MaxFileSize, br: br, shared: len(ws) > 1, scratch: &scratch}
		first := len(res.Parts)
		for _, c := range ws {
			out, err := parseSafely(ctx, c, &view{f: sf})
			if err != nil {
				res.Unknowns = append(res.Unknowns, sbom.Unknown{
					Location:  sbom.Location{Path: p, Layer: diffID},
					Cataloger: c.Name(),
					Error:     err.Error(),
				})
				if errors.Is(err, catalog.ErrTooLarge) {
					res.Shadows = append(res.Shadows, p)
				}
				continue
			}
			if isEmpty(out) {
				continue
			}
			res.Parts = append(res.Parts, layerPart{Cataloger: c.Name(), Part: catalog.Part{Path: p, Layer: diffID, Result: out}})
		}
		if len(res.Parts) > first {
			seen[p] = first
		} else {
			// Nothing here, but the file still hides whatever a lower layer
			// had at this path.
			res.Shadows = append(res.Shadows, p)
		}
	}
	return res, nil
}

func (e *Engine) wantedBy(p string, mode fs.FileMode, into []catalog.Cataloger) []catalog.Cataloger {
	for _, c := range e.cats {
		if c.Wants(p, mode) {
			into = append(into, c)
		}
	}
	return into
}

// parseSafely runs a cataloger's Parse, turning a panic in a parser (ours or a
// library's) on hostile input into an error for that file.
func parseSafely(ctx context.Context, c catalog.Cataloger, in catalog.Input) (res catalog.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: parser panicked: %v", c.Name(), r)
		}
	}()
	return c.Parse(ctx, in)
}

func relocate(r catalog.Result, from, to string) catalog.Result {
	out := r
	out.Packages = make([]sbom.Package, len(r.Packages))
	for i, p := range r.Packages {
		locs := make([]sbom.Location, len(p.Locations))
		for j, l := range p.Locations {
			if l.Path == from {
				l.Path = to
			}
			locs[j] = l
		}
		p.Locations = locs
		out.Packages[i] = p
	}
	return out
}

func short(digest string) string {
	if i := strings.IndexByte(digest, ':'); i >= 0 {
		digest = digest[i+1:]
	}
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func isEmpty(r catalog.Result) bool {
	return len(r.Packages) == 0 && r.Distro == nil && len(r.Facts) == 0
}
