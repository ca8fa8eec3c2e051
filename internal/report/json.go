package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// ScanSchema is the version of the scan JSON document (docs/scan-json.md).
// Bump it when a field changes meaning.
const ScanSchema = "bulkhead.scan/v1"

// JSON writes Bulkhead's scan document, indented by two spaces.
type JSON struct{}

// scanDoc is the document JSON writes. Field order is the order in the
// output.
type scanDoc struct {
	Schema     string          `json:"schema"`
	Descriptor sbom.Descriptor `json:"descriptor"`
	Created    *time.Time      `json:"created,omitempty"`
	Source     sbom.Source     `json:"source"`
	Distro     *sbom.Distro    `json:"distro"`
	Database   string          `json:"database,omitempty"`
	Packages   int             `json:"packages"`
	Unknowns   int             `json:"unknowns"`
	Findings   []sbom.Finding  `json:"findings"`
	Summary    Summary         `json:"summary"`
}

// Encode writes r to w.
func (JSON) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("json: nil report")
	}
	doc := r.doc()
	d := scanDoc{
		Schema:     ScanSchema,
		Descriptor: doc.Descriptor,
		Source:     doc.Source,
		Distro:     doc.Distro,
		Database:   r.DBStatus,
		Packages:   len(doc.Packages),
		Unknowns:   len(doc.Unknowns),
		Findings:   sorted(r.Findings),
		Summary:    summarize(r.Findings),
	}
	if !doc.Created.IsZero() {
		t := doc.Created.UTC()
		d.Created = &t
	}
	if d.Findings == nil {
		d.Findings = []sbom.Finding{} // "findings": [] rather than null
	}
	for i := range d.Findings {
		if d.Findings[i].Sources == nil {
			d.Findings[i].Sources = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Package names and summaries contain <, > and &: keep them readable.
	// Control characters are still escaped.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&d); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
