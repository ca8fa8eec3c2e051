// Package table writes an SBOM as a plain-text table for people: one row
// per package with name, version, type and, for images, the layer that
// introduced it, followed by the files that could not be read.
//
// This package imports only the standard library and internal/sbom.
package table

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// imageKinds are the source kinds whose packages live in layers.
var imageKinds = []string{"docker", "docker-archive", "oci-dir", "oci-archive", "registry"}

// Encoder writes the table.
type Encoder struct{}

// Encode writes doc to w as a table. It does not modify doc.
func (Encoder) Encode(w io.Writer, doc *sbom.SBOM) error {
	if doc == nil {
		return fmt.Errorf("table: nil document")
	}
	ew := &errWriter{w: w}
	image := len(doc.Source.Layers) > 0 || slices.Contains(imageKinds, doc.Source.Kind)

	fmt.Fprintf(ew, "%s\n", header(doc))

	pkgs := slices.Clone(doc.Packages)
	slices.SortFunc(pkgs, func(a, b sbom.Package) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Layer, b.Layer),
		)
	})
	if len(pkgs) == 0 {
		fmt.Fprintf(ew, "\nNo packages found.\n")
	} else {
		fmt.Fprintln(ew)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		if image {
			fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tLAYER")
		} else {
			fmt.Fprintln(tw, "NAME\tVERSION\tTYPE")
		}
		for _, p := range pkgs {
			row := []string{clean(p.Name), clean(p.Version), clean(string(p.Type))}
			if image {
				row = append(row, short(p.Layer))
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}

	if len(doc.Unknowns) > 0 {
		unk := slices.Clone(doc.Unknowns)
		slices.SortFunc(unk, func(a, b sbom.Unknown) int {
			return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Layer, b.Layer))
		})
		noun := "files"
		if len(unk) == 1 {
			noun = "file"
		}
		fmt.Fprintf(ew, "\n%d %s could not be read:\n", len(unk), noun)
		for _, u := range unk {
			where := clean(u.Path)
			if u.Layer != "" {
				where += " (layer " + short(u.Layer) + ")"
			}
			fmt.Fprintf(ew, "  %s: %s\n", where, clean(u.Error))
		}
	}
	if ew.err != nil {
		return fmt.Errorf("table: %w", ew.err)
	}
	return nil
}

func header(doc *sbom.SBOM) string {
	target := doc.Source.Input
	if target == "" {
		target = "(unnamed)"
	}
	if doc.Source.Kind != "" {
		target = doc.Source.Kind + ":" + target
	}
	distro := "unknown"
	if d := doc.Distro; d != nil {
		distro = cmp.Or(d.PrettyName, strings.TrimSpace(cmp.Or(d.Name, d.ID)+" "+d.VersionID))
	}
	n := len(doc.Packages)
	noun := "packages"
	if n == 1 {
		noun = "package"
	}
	return fmt.Sprintf("Target: %s   Distro: %s   %d %s", clean(target), clean(distro), n, noun)
}

// short returns the first 12 hex digits of a digest, as docker does.
func short(digest string) string {
	if _, hex, ok := strings.Cut(digest, ":"); ok {
		digest = hex
	}
	if len(digest) > 12 {
		digest = digest[:12]
	}
	return clean(digest)
}

// clean keeps a hostile package name from breaking the layout or the
// terminal: control characters (tabs, newlines, escapes) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// errWriter remembers the first write error so the rendering code can stay
// linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
