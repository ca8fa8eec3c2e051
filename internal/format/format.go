// Package format is the one list of output formats Bulkhead can write an
// SBOM in. Each format lives in its own sub-package behind the Encoder
// interface; this package only names them.
//
// This package imports the standard library, internal/sbom and its own
// sub-packages. The sub-packages must not import it.
package format

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/format/cyclonedx"
	"github.com/bulkhead-sec/bulkhead/internal/format/jsonfmt"
	"github.com/bulkhead-sec/bulkhead/internal/format/spdx"
	"github.com/bulkhead-sec/bulkhead/internal/format/table"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Encoder writes an SBOM in one format. Encoders do not modify doc, and
// their output depends only on doc (given a non-zero doc.Created).
type Encoder interface {
	Encode(w io.Writer, doc *sbom.SBOM) error
}

// ErrUnknown is returned by ByName for a name that is not a format.
var ErrUnknown = errors.New("unknown output format")

// Names lists the format names in the order help text should show them.
func Names() []string {
	return []string{"table", "json", "cyclonedx-json", "spdx-json"}
}

// Encoders returns every format by name.
func Encoders() map[string]Encoder {
	return map[string]Encoder{
		"table":          table.Encoder{},
		"json":           jsonfmt.Encoder{},
		"cyclonedx-json": cyclonedx.Encoder{OmitFiles: true},
		"spdx-json":      spdx.Encoder{},
	}
}

// ByName returns the encoder for name, or an error wrapping ErrUnknown that
// lists the valid names.
func ByName(name string) (Encoder, error) {
	if e, ok := Encoders()[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}
