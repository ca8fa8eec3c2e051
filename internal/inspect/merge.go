package inspect

import (
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// pathState is what stands at one path of the merged filesystem.
type pathState struct {
	parts []layerPart
	// history holds, bottom first, the package keys this path held in each
	// layer since it was last deleted: it tells which layer introduced a
	// package whose database file later layers rewrote.
	history []layerKeys
}

type layerKeys struct {
	layer string
	keys  map[string]bool
}

func pkgKey(p sbom.Package) string {
	return string(p.Type) + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Arch
}

// merge applies layers bottom to top with OCI whiteout semantics and returns
// the parts of the final filesystem, grouped by cataloger, with each
// package's Locations and introducing Layer filled in.
func merge(layers []*LayerResult) (map[string][]catalog.Part, []sbom.Unknown) {
	state := map[string]*pathState{}
	var unknowns []sbom.Unknown
	deleteTree := func(p string) {
		delete(state, p)
		prefix := p + "/"
		if p == "/" {
			prefix = "/"
		}
		for k := range state {
			if strings.HasPrefix(k, prefix) {
				delete(state, k)
			}
		}
	}
	for _, lr := range layers {
		// Deletions apply to lower layers only, so they come first.
		for _, d := range lr.Opaque {
			prefix := d + "/"
			if d == "/" {
				prefix = "/"
			}
			for k := range state {
				if strings.HasPrefix(k, prefix) {
					delete(state, k)
				}
			}
		}
		for _, w := range lr.Whiteouts {
			deleteTree(w)
		}
		for _, s := range lr.Shadows {
			delete(state, s)
		}
		// A path's parts in this layer replace the lower ones.
		replaced := map[string]bool{}
		for _, lp := range lr.Parts {
			st := state[lp.Path]
			if st == nil {
				st = &pathState{}
				state[lp.Path] = st
			}
			if !replaced[lp.Path] {
				replaced[lp.Path] = true
				st.parts = st.parts[:0:0]
				st.history = append(st.history, layerKeys{layer: lr.DiffID, keys: map[string]bool{}})
			}
			st.parts = append(st.parts, lp)
			h := st.history[len(st.history)-1]
			for _, p := range lp.Packages {
				h.keys[pkgKey(p)] = true
			}
		}
		// Unknowns of files that were later deleted no longer matter, but
		// the report is about what was read: keep them all.
		unknowns = append(unknowns, lr.Unknowns...)
	}

	out := map[string][]catalog.Part{}
	paths := make([]string, 0, len(state))
	for p := range state {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		st := state[p]
		for _, lp := range st.parts {
			part := lp.Part
			pkgs := make([]sbom.Package, len(part.Packages))
			for i, pkg := range part.Packages {
				if len(pkg.Locations) == 0 {
					pkg.Locations = []sbom.Location{{Path: part.Path, Layer: part.Layer}}
				} else {
					locs := slices.Clone(pkg.Locations)
					for j := range locs {
						if locs[j].Layer == "" {
							locs[j].Layer = part.Layer
						}
					}
					pkg.Locations = locs
				}
				if pkg.FoundBy == "" {
					pkg.FoundBy = lp.Cataloger
				}
				pkg.Layer = introducedIn(st.history, pkgKey(pkg))
				pkgs[i] = pkg
			}
			part.Packages = pkgs
			out[lp.Cataloger] = append(out[lp.Cataloger], part)
		}
	}
	return out, unknowns
}

// introducedIn walks the path's history down from the top and returns the
// lowest layer of the unbroken run of layers that all held the package.
func introducedIn(h []layerKeys, key string) string {
	layer := ""
	for i := len(h) - 1; i >= 0; i-- {
		if !h[i].keys[key] {
			break
		}
		layer = h[i].layer
	}
	return layer
}
