// Package advisory is Bulkhead's normalised vulnerability-advisory model and
// the importers that turn every advisory format we ingest into it: OSV (JSON
// or YAML, single file, directory or osv.dev zip), the Debian security tracker
// (tracker JSON and vuln-list's parsed CVE/DSA files), Alpine secdb (JSON and
// the legacy YAML), CISA KEV and FIRST EPSS.
//
// The model is deliberately small, stable and JSON-serialisable: the advisory
// store and the matcher are built on top of it and must not need to know
// where a record came from. Importers never stop at the first bad record:
// each returns the records it could read and a RecordError per record it
// skipped (or imported with a defect, see RecordError.Kept).
//
// Normalize reduces a record's severities to one Level; the rule is written
// down in docs/severity.md.
//
// This package may import only the standard library, gopkg.in/yaml.v3 and
// github.com/pandatix/go-cvss. It must not import other Bulkhead packages:
// it sits at the bottom of the vuln tree.
package advisory
