package sbom

// Finding is one vulnerability affecting one package. Advisories that name
// the same vulnerability (a CVE, its GHSA and a distribution's record) are
// merged into one finding that lists them all.
//
// Findings of one advisory share the backing arrays of their slices
// (Aliases, FixedVersions, Sources, Locations): treat them as read-only and
// copy before changing one in place (appending is safe: they are clipped).
type Finding struct {
	// ID is the preferred identifier: the CVE when any source names one.
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	// Kind is "vulnerability" (misconfigurations and runtime findings use
	// the same shape later).
	Kind string `json:"kind"`

	PackageID        string     `json:"packageID"`
	PackageName      string     `json:"packageName"`
	PackageType      Type       `json:"packageType"`
	PURL             string     `json:"purl,omitempty"`
	InstalledVersion string     `json:"installedVersion"`
	FixedVersions    []string   `json:"fixedVersions,omitempty"`
	Locations        []Location `json:"locations,omitempty"`
	Layer            string     `json:"layer,omitempty"`

	// Severity is critical, high, medium, low or unknown (docs/severity.md).
	Severity string  `json:"severity"`
	Score    float64 `json:"score,omitempty"`
	// Vector is the CVSS vector the score came from.
	Vector string `json:"vector,omitempty"`
	KEV    bool   `json:"kev,omitempty"`
	// EPSS is the exploit probability, when known.
	EPSS *float64 `json:"epss,omitempty"`

	Summary string `json:"summary,omitempty"`
	// Sources are the advisory records that matched, e.g.
	// "DEBIAN-CVE-2024-28085", "GHSA-xxxx".
	Sources []string `json:"sources"`
	// Ecosystem and MatchedName say what was looked up: for distribution
	// packages the source package in "Debian:12".
	Ecosystem   string `json:"ecosystem"`
	MatchedName string `json:"matchedName"`
	// Rule names the matching rule applied (docs/matching.md).
	Rule string `json:"rule"`
	// Suppressed says why a finding is not counted (VEX not_affected, an
	// ignore-file entry); empty when it counts.
	Suppressed string `json:"suppressed,omitempty"`
}

// Severity levels, most severe first.
var SeverityLevels = []string{"critical", "high", "medium", "low", "unknown"}

// SeverityRank orders severities: critical 4 … unknown 0; -1 for an
// unrecognised word.
func SeverityRank(s string) int {
	switch s {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	case "unknown":
		return 0
	}
	return -1
}
