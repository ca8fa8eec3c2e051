// Package catalog defines what a cataloger is: the small interface every
// ecosystem implements, and the values it hands back.
//
// The engine (internal/inspect) makes one walk over each layer or file tree
// and offers every file to every cataloger through Wants; the ones that want
// it get Parse with the file's content. Per-file results are cached per
// layer, merged across layers with whiteouts applied, and finally given to
// Assemble (when a cataloger needs facts from several files).
//
// This package imports only the standard library and internal/sbom.
package catalog

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Input is one file offered to a cataloger's Parse.
type Input interface {
	// Path is the file's absolute, cleaned, "/"-separated path inside the
	// target.
	Path() string
	Size() int64
	Mode() fs.FileMode
	// Read reads the content sequentially. Reading stops with ErrTooLarge
	// past the configured per-file limit.
	io.Reader
	// Peek returns the first n bytes (fewer if the file is shorter)
	// without consuming them.
	Peek(n int) ([]byte, error)
	// ReaderAt gives random access to the content. On streamed sources it
	// buffers the whole file in memory (bounded by the per-file limit), so
	// call it only when the format needs it (zip, ELF). It must be called
	// before any Read. The bytes behind it are reused for the next file:
	// nothing returned from Parse may refer to them (copy, e.g. string(b)).
	ReaderAt() (io.ReaderAt, error)
}

// ErrTooLarge is returned when a file exceeds the per-file read limit.
var ErrTooLarge = errors.New("file exceeds the per-file read limit")

// Cataloger finds packages of one ecosystem.
type Cataloger interface {
	// Name is stable: it appears in reports (foundBy) and cache keys.
	Name() string
	// Version is part of the layer-cache key: bump it whenever Parse or
	// Wants changes what they return.
	Version() int
	// Wants decides cheaply, from the path and mode alone, whether Parse
	// should see the file. Called for every file in the target, so it must
	// not allocate in the common "no" case.
	Wants(path string, mode fs.FileMode) bool
	// Parse reads one file. A returned error becomes an Unknown in the
	// report (with the file's location); the scan goes on.
	Parse(ctx context.Context, in Input) (Result, error)
}

// Result is what one file told a cataloger. It must be serialisable with
// encoding/json: results are cached per layer.
type Result struct {
	// Packages found in this file. Locations are filled in by the engine
	// when left empty; Layer and ID always are.
	Packages []sbom.Package `json:"packages,omitempty"`
	// Distro, from os-release.
	Distro *sbom.Distro `json:"distro,omitempty"`
	// Facts about a package that lives in another file (file lists,
	// licenses), joined in Assemble.
	Facts []Fact `json:"facts,omitempty"`
}

// Fact attaches information found in one file to a package recorded in
// another, named by Key (for dpkg: the package name, "name:arch" for
// multi-arch; for Python: the dist-info directory).
type Fact struct {
	Key      string   `json:"key"`
	Files    []string `json:"files,omitempty"`
	Licenses []string `json:"licenses,omitempty"`
}

// Part is one file's result as it stands in the final filesystem.
type Part struct {
	Path  string `json:"path"`
	Layer string `json:"layer,omitempty"`
	Result
}

// Assembler is implemented by catalogers whose packages need facts from
// several files of the final filesystem. Without it, the packages of all
// parts are reported as they are.
type Assembler interface {
	Assemble(parts []Part) []sbom.Package
}

// PackagesOf is the default assembly: every package of every part.
func PackagesOf(parts []Part) []sbom.Package {
	var out []sbom.Package
	for _, p := range parts {
		out = append(out, p.Packages...)
	}
	return out
}
