// Package report writes the results of `bulkhead scan` (an SBOM and the
// vulnerabilities found in it) in the formats people and CI systems read:
// a table, Bulkhead's own JSON (docs/scan-json.md), SARIF 2.1.0 for code
// scanning, a CycloneDX 1.6 BOM with vulnerabilities (VEX) and JUnit XML.
//
// Each format is one type behind the Encoder interface, in its own file;
// Names and Encoders are the one explicit list. The formats live in one
// package rather than in sub-packages like internal/format because they all
// take the Report type defined here.
//
// Every encoder is deterministic (same report, same bytes), does not modify
// the report, and writes suppressed findings in a way the format can
// express (the table and the counts leave them out).
//
// This package imports the standard library, internal/sbom,
// internal/format/cyclonedx, github.com/CycloneDX/cyclonedx-go and
// github.com/owenrumney/go-sarif/v3. It must not import the matcher, the
// store or the CLI.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Report is the result of one scan.
type Report struct {
	SBOM     *sbom.SBOM
	Findings []sbom.Finding
	// DBStatus describes the advisory database in free text, e.g.
	// "built 2026-11-27, 3 sources".
	DBStatus string
}

// Encoder writes a report in one format.
type Encoder interface {
	Encode(w io.Writer, r *Report) error
}

// ErrUnknown is returned by ByName for a name that is not a format.
var ErrUnknown = errors.New("unknown output format")

// Names lists the format names in the order help text should show them.
func Names() []string {
	return []string{"table", "json", "sarif", "cyclonedx-json", "junit"}
}

// Encoders returns every format by name.
func Encoders() map[string]Encoder {
	return map[string]Encoder{
		"table":          Table{},
		"json":           JSON{},
		"sarif":          SARIF{},
		"cyclonedx-json": CycloneDX{},
		"junit":          JUnit{},
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

// doc returns the report's SBOM, or an empty one, so that encoders can
// write findings that come without an inventory.
func (r *Report) doc() *sbom.SBOM {
	if r.SBOM == nil {
		return &sbom.SBOM{}
	}
	return r.SBOM
}

// sorted returns the findings in the order every format writes them: most
// severe first, then package, version, id. Ties are broken on every field
// that tells findings apart so that the order never depends on the input.
func sorted(fs []sbom.Finding) []sbom.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b sbom.Finding) int {
		return cmp.Or(
			-cmp.Compare(sbom.SeverityRank(a.Severity), sbom.SeverityRank(b.Severity)),
			-cmp.Compare(a.Score, b.Score),
			cmp.Compare(a.PackageName, b.PackageName),
			cmp.Compare(a.InstalledVersion, b.InstalledVersion),
			cmp.Compare(a.PackageType, b.PackageType),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.PackageID, b.PackageID),
			cmp.Compare(firstPath(a), firstPath(b)),
			cmp.Compare(a.Suppressed, b.Suppressed),
		)
	})
	return out
}

func firstPath(f sbom.Finding) string {
	if len(f.Locations) == 0 {
		return ""
	}
	return f.Locations[0].Path
}

// severity returns f's severity as one of sbom.SeverityLevels; anything
// unrecognised counts as unknown.
func severity(f sbom.Finding) string {
	if sbom.SeverityRank(f.Severity) < 0 {
		return "unknown"
	}
	return f.Severity
}

// Summary counts the findings that are not suppressed.
type Summary struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Unknown  int `json:"unknown"`
	// Fixable counts findings with at least one fixed version.
	Fixable int `json:"fixable"`
	// KEV counts findings on CISA's Known Exploited Vulnerabilities list.
	KEV int `json:"kev"`
	// Suppressed counts the findings left out of every other count.
	Suppressed int `json:"suppressed"`
}

// Total is the number of findings that count.
func (s Summary) Total() int { return s.Critical + s.High + s.Medium + s.Low + s.Unknown }

// bySeverity returns the count for a level of sbom.SeverityLevels.
func (s Summary) bySeverity(level string) int {
	switch level {
	case "critical":
		return s.Critical
	case "high":
		return s.High
	case "medium":
		return s.Medium
	case "low":
		return s.Low
	}
	return s.Unknown
}

func summarize(fs []sbom.Finding) Summary {
	var s Summary
	for _, f := range fs {
		if f.Suppressed != "" {
			s.Suppressed++
			continue
		}
		switch severity(f) {
		case "critical":
			s.Critical++
		case "high":
			s.High++
		case "medium":
			s.Medium++
		case "low":
			s.Low++
		default:
			s.Unknown++
		}
		if len(f.FixedVersions) > 0 {
			s.Fixable++
		}
		if f.KEV {
			s.KEV++
		}
	}
	return s
}

// Kinds of suppression, read from the start of Finding.Suppressed. The
// matcher and the CLI write reasons such as
// "VEX not_affected: vulnerable_code_not_in_execute_path (vex.json)" or
// "ignore file .bulkhead-ignore: accepted until 2027-01-01".
const (
	byVEX    = "VEX"
	byIgnore = "ignore file"
	byOther  = "other"
)

// suppressedBy classifies a suppression reason.
func suppressedBy(reason string) string {
	l := strings.ToLower(strings.TrimSpace(reason))
	switch {
	case strings.HasPrefix(l, "vex") || strings.Contains(l, "openvex") || strings.Contains(l, "csaf"):
		return byVEX
	case strings.Contains(l, "ignore"):
		return byIgnore
	}
	return byOther
}

// vulnURL is where a person reads about a vulnerability: the NVD for CVE
// ids, OSV (which also serves GHSA and distribution records) for the rest.
func vulnURL(id string) string {
	if strings.HasPrefix(id, "CVE-") {
		return "https://nvd.nist.gov/vuln/detail/" + pathEscape(id)
	}
	return "https://osv.dev/vulnerability/" + pathEscape(id)
}

// vulnSource names the database vulnURL points to.
func vulnSource(id string) string {
	if strings.HasPrefix(id, "CVE-") {
		return "NVD"
	}
	return "OSV"
}

// pathEscape percent-encodes everything but unreserved characters, so that
// a hostile id cannot change the shape of a URL.
func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// clean makes a string safe to print on one line of a terminal or to put
// in an XML attribute: control characters (C0, DEL, C1) and the Unicode
// bidirectional overrides that can make text read differently from what it
// is become spaces; invalid UTF-8 becomes U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return ' '
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f:
			return ' '
		case r == 0xfffe || r == 0xffff:
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
}

// fixedIn is the human text for a finding's fixed versions.
func fixedIn(f sbom.Finding) string {
	if len(f.FixedVersions) == 0 {
		return "no fix"
	}
	return strings.Join(f.FixedVersions, ", ")
}

// errWriter remembers the first write error so that rendering code can
// stay linear.
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
