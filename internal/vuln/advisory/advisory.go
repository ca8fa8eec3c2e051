package advisory

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Source names used in Advisory.Source.
const (
	SourceOSV           = "osv"
	SourceDebianTracker = "debian-tracker"
	SourceAlpineSecDB   = "alpine-secdb"
)

// Advisory is one vulnerability record, normalised from any source.
type Advisory struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Modified  time.Time  `json:"modified,omitzero"`
	Published time.Time  `json:"published,omitzero"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"` // set: the matcher must ignore the record
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Source    string     `json:"source"` // "osv", "debian-tracker", "alpine-secdb"
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	// References are URLs only; the OSV reference type is not kept.
	References []string `json:"references,omitempty"`
	// DatabaseSpecific holds the source's scalar database_specific values
	// and Bulkhead's own FlagsKey.
	DatabaseSpecific map[string]string `json:"database_specific,omitempty"`
}

// Affected is one package in one ecosystem that the advisory affects.
type Affected struct {
	// Ecosystem uses OSV names: "Debian:12", "Alpine:v3.19", "AlmaLinux:9",
	// "Go", "PyPI", "crates.io", ...
	Ecosystem string `json:"ecosystem,omitempty"`
	// Package is the source package for distributions.
	Package           string            `json:"package,omitempty"`
	PURL              string            `json:"purl,omitempty"`
	Ranges            []Range           `json:"ranges,omitempty"`
	Versions          []string          `json:"versions,omitempty"`
	Severity          []Severity        `json:"severity,omitempty"`
	EcosystemSpecific map[string]string `json:"ecosystem_specific,omitempty"`
}

// Range is an OSV range: Type is "ECOSYSTEM", "SEMVER" or "GIT".
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"` // GIT ranges only
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Severity types besides the OSV CVSS ones. A rating-only Severity has an
// empty Vector and Score 0.
const (
	SeverityCVSSv2 = "CVSS_V2"
	SeverityCVSSv3 = "CVSS_V3"
	SeverityCVSSv4 = "CVSS_V4"
	SeverityUbuntu = "Ubuntu" // Ubuntu priority
	SeverityDebian = "Debian" // Debian urgency
	SeverityGHSA   = "GHSA"   // GitHub database_specific.severity
)

// Severity is one severity statement by the source.
type Severity struct {
	Type   string  `json:"type"`
	Vector string  `json:"vector,omitempty"`
	Score  float64 `json:"score,omitempty"` // CVSS base score parsed from Vector; 0 if absent or unparseable
	// Rating is the source's own word, e.g. Debian urgency "unimportant".
	Rating string `json:"rating,omitempty"`
}

// KEV is one entry of CISA's Known Exploited Vulnerabilities catalog.
type KEV struct {
	CVE       string    `json:"cve"`
	Vendor    string    `json:"vendor"`
	Product   string    `json:"product"`
	Name      string    `json:"name,omitempty"`
	DateAdded time.Time `json:"date_added"`
	DueDate   time.Time `json:"due_date,omitzero"`
	// KnownRansomwareCampaignUse is CISA's word: "Known" or "Unknown".
	KnownRansomwareCampaignUse string `json:"known_ransomware_campaign_use,omitempty"`
}

// EPSS is one FIRST EPSS score.
type EPSS struct {
	CVE        string  `json:"cve"`
	Score      float64 `json:"epss"`
	Percentile float64 `json:"percentile"`
}

// FlagsKey is the DatabaseSpecific key under which importers record defects
// of a record they imported anyway, as a comma-separated sorted list.
const FlagsKey = "bulkhead_flags"

// Flags set under FlagsKey.
const (
	FlagBadVector = "bad-severity-vector" // a CVSS vector did not parse; its Score is 0
	FlagGitRef    = "git-ref-not-commit"  // a GIT range event is not a full commit hash
)

// Categories of RecordError.Err; test with errors.Is.
var (
	ErrMalformed   = errors.New("malformed record")
	ErrMissingID   = errors.New("record has no id")
	ErrTooLarge    = errors.New("record exceeds size limit")
	ErrUnsafePath  = errors.New("unsafe archive entry name")
	ErrZipBomb     = errors.New("archive exceeds decompression limits")
	ErrBadVector   = errors.New("bad CVSS vector")
	ErrGitRef      = errors.New("GIT range event is not a full commit hash")
	ErrUnsupported = errors.New("unsupported value")
)

// RecordError names a record that an importer skipped, or imported with a
// defect when Kept is true, and why.
type RecordError struct {
	File string `json:"file"`         // path; "archive.zip!entry" inside a zip
	ID   string `json:"id,omitempty"` // record ID when known
	// Kept reports that the record was imported despite Err; the defect is
	// also recorded under DatabaseSpecific[FlagsKey].
	Kept bool  `json:"kept,omitempty"`
	Err  error `json:"-"`
}

func (e RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.ID != "" {
		b.WriteString(" (" + e.ID + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Kept {
		b.WriteString(" [record kept]")
	}
	return b.String()
}

func (e RecordError) Unwrap() error { return e.Err }

// addFlag records flag under FlagsKey, keeping the list sorted and unique.
func (a *Advisory) addFlag(flag string) {
	if a.DatabaseSpecific == nil {
		a.DatabaseSpecific = map[string]string{}
	}
	var flags []string
	if cur := a.DatabaseSpecific[FlagsKey]; cur != "" {
		flags = strings.Split(cur, ",")
	}
	if slices.Contains(flags, flag) {
		return
	}
	flags = append(flags, flag)
	slices.Sort(flags)
	a.DatabaseSpecific[FlagsKey] = strings.Join(flags, ",")
}
