// Package jsonfmt reads and writes Bulkhead's own JSON document: an
// sbom.SBOM marshalled with encoding/json, schema "bulkhead.sbom/v1"
// (docs/sbom-json.md). It is the lossless format: every field of the core
// types survives a round trip.
//
// This package imports only the standard library and internal/sbom.
package jsonfmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// MaxDecodeSize bounds the documents Decode reads. An image with 100 000
// packages and their file lists stays well below it.
const MaxDecodeSize = 256 << 20

// ErrTooLarge is returned by Decode for documents over MaxDecodeSize.
var ErrTooLarge = errors.New("document too large")

// Encoder writes the document indented by two spaces, packages sorted.
type Encoder struct{}

// Encode writes doc to w. It does not modify doc.
func (Encoder) Encode(w io.Writer, doc *sbom.SBOM) error {
	if doc == nil {
		return errors.New("json: nil document")
	}
	d := *doc
	if d.Schema == "" {
		d.Schema = sbom.SchemaVersion
	}
	d.Packages = slices.Clone(doc.Packages)
	if d.Packages == nil {
		d.Packages = []sbom.Package{} // "packages": [] rather than null
	}
	sbom.Sort(d.Packages)
	if doc.FileListing != nil {
		fl := *doc.FileListing
		fl.Files = slices.Clone(fl.Files)
		if fl.Files == nil {
			fl.Files = []sbom.File{}
		}
		sbom.SortFiles(fl.Files)
		d.FileListing = &fl
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Package names and licence texts may contain <, > and &: keep them
	// readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&d); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// Decode reads a bulkhead.sbom/v1 document.
func Decode(r io.Reader) (*sbom.SBOM, error) {
	return decode(r, MaxDecodeSize)
}

func decode(r io.Reader, limit int64) (*sbom.SBOM, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("json: reading document: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("json: %w: over %d bytes", ErrTooLarge, limit)
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("json: not a Bulkhead SBOM: %w", err)
	}
	switch {
	case head.Schema == nil:
		return nil, errors.New("json: not a Bulkhead SBOM: no \"schema\" field")
	case *head.Schema != sbom.SchemaVersion:
		return nil, fmt.Errorf("json: unsupported schema %q (want %q)", *head.Schema, sbom.SchemaVersion)
	}
	var doc sbom.SBOM
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("json: decoding %s document: %w", sbom.SchemaVersion, err)
	}
	for i, p := range doc.Packages {
		if p.Name == "" {
			return nil, fmt.Errorf("json: package %d: empty name", i)
		}
	}
	if err := checkListing(doc.FileListing); err != nil {
		return nil, fmt.Errorf("json: fileListing: %w", err)
	}
	return &doc, nil
}

// checkListing rejects a file listing whose entries a reader could not use
// safely: every path absolute and clean, a known type and scope, and a
// complete listing never marked truncated.
func checkListing(fl *sbom.FileListing) error {
	if fl == nil {
		return nil
	}
	switch fl.Scope {
	case sbom.FilesExecutable, sbom.FilesAll:
	default:
		return fmt.Errorf("unknown scope %q", fl.Scope)
	}
	if fl.Complete && (fl.Truncated || len(fl.Gaps) > 0) {
		return errors.New("marked complete but truncated or with gaps")
	}
	for i, f := range fl.Files {
		if f.Path == "" || f.Path[0] != '/' || path.Clean(f.Path) != f.Path {
			return fmt.Errorf("file %d: path %q is not absolute and clean", i, f.Path)
		}
		switch f.Type {
		case sbom.FileRegular, sbom.FileSymlink:
		default:
			return fmt.Errorf("file %d (%s): unknown type %q", i, f.Path, f.Type)
		}
		if f.Type == sbom.FileSymlink && f.LinkTarget == "" {
			return fmt.Errorf("file %d (%s): symlink without a target", i, f.Path)
		}
	}
	return nil
}
