package api

import (
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Filter narrows container, image, host and impact queries. It maps to URL
// query parameters of the same (lower-case) names; every field is optional.
type Filter struct {
	// Selector is a Kubernetes-style label selector over container labels
	// (image labels for image searches): "a=b,c!=d,e,!f,g in (x,y),h notin (z)".
	Selector string
	// Image matches an image id ("sha256:…", or a unique prefix of at least
	// 12 hex digits) or a repo tag ("nginx:1.25", or "nginx" for any tag).
	Image string
	// Tag matches a repo tag exactly ("nginx:1.25") or by repository ("nginx").
	Tag string
	// Host is a host name.
	Host string
	// State is a container state (ContainerStates) or "active" (not exited,
	// dead or destroyed).
	State string
	// Package is a package name; Version narrows it to a range in the
	// package's own ecosystem ordering: ">=1.2.0,<1.3" or "=1.2.3".
	Package string
	Version string
	// Severity keeps only subjects with an open vulnerability finding of
	// at least this severity (critical, high, medium, low).
	Severity string
	// Since and Until select containers that existed at some time in
	// [Since, Until] (created before Until, not destroyed before Since).
	Since, Until time.Time
	// Limit bounds the items returned (default 100, max 5000); Offset
	// skips that many.
	Limit, Offset int
}

// ContainerList answers GET /api/v1/containers and /hosts/{name}/containers.
type ContainerList struct {
	Items []Container `json:"items"`
	// Total is the number of matches before Limit/Offset.
	Total int `json:"total"`
}

// ImageList answers GET /api/v1/images.
type ImageList struct {
	Items []Image `json:"items"`
	Total int     `json:"total"`
}

// HostList answers GET /api/v1/hosts.
type HostList struct {
	Items []Host `json:"items"`
	Total int    `json:"total"`
}

// Package is a package as stored: deduplicated across images and hosts
// (the same package at the same version in two images is one record).
type Package struct {
	// Key is the server's stable key of the record.
	Key     string    `json:"key"`
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Type    sbom.Type `json:"type"`
	PURL    string    `json:"purl,omitempty"`
	// Distro is "id:version" for OS packages ("debian:12").
	Distro string `json:"distro,omitempty"`
	// Images lists the images holding the package (package search only).
	Images []string `json:"images,omitempty"`
	// Hosts lists the hosts whose own filesystem holds it (package search only).
	Hosts []string `json:"hosts,omitempty"`
	// Layer is the layer that introduced it (per-image listings only).
	Layer string `json:"layer,omitempty"`
}

// PackageList answers GET /api/v1/packages and /images/{id}/packages.
type PackageList struct {
	Items []Package `json:"items"`
	Total int       `json:"total"`
}

// LayerInfo answers GET /api/v1/layers/{diffID}.
type LayerInfo struct {
	DiffID string   `json:"diffID"`
	Size   int64    `json:"size,omitempty"`
	Images []string `json:"images"`
}

// StoredFinding is a finding with its lifecycle on the server.
type StoredFinding struct {
	sbom.Finding
	SubjectKind string     `json:"subjectKind,omitempty"`
	SubjectID   string     `json:"subjectID,omitempty"`
	FirstSeen   time.Time  `json:"firstSeen"`
	LastSeen    time.Time  `json:"lastSeen,omitzero"`
	Resolved    *time.Time `json:"resolved,omitempty"`
	// Count is how many times a runtime alert fired.
	Count int `json:"count,omitempty"`
}

// FindingList answers GET /api/v1/images/{id}/findings and
// /hosts/{name}/findings and /containers/{id}/findings.
type FindingList struct {
	Items []StoredFinding `json:"items"`
	Total int             `json:"total"`
}

// AffectedPackage is a package hit by a vulnerability.
type AffectedPackage struct {
	Name             string    `json:"name"`
	Type             sbom.Type `json:"type"`
	PURL             string    `json:"purl,omitempty"`
	InstalledVersion string    `json:"installedVersion"`
	FixedVersions    []string  `json:"fixedVersions,omitempty"`
	Severity         string    `json:"severity"`
}

// ImpactImage is an affected image.
type ImpactImage struct {
	ID       string            `json:"id"`
	RepoTags []string          `json:"repoTags,omitempty"`
	Packages []AffectedPackage `json:"packages"`
	// Containers counts the image's containers matching the filter.
	Containers int `json:"containers"`
}

// ImpactContainer is a container running an affected image.
type ImpactContainer struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Host     string            `json:"host"`
	ImageID  string            `json:"imageID"`
	ImageRef string            `json:"imageRef,omitempty"`
	State    string            `json:"state"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// ImpactHost is a host with affected containers or an affected package in
// its own filesystem.
type ImpactHost struct {
	Name       string `json:"name"`
	Containers int    `json:"containers"`
	// Packages are the host's own affected packages (from its host scan).
	Packages []AffectedPackage `json:"packages,omitempty"`
}

// Impact answers GET /api/v1/vulnerabilities/{id}/impact. The id may be a
// CVE or any alias (GHSA, distribution record); all aliases are followed.
type Impact struct {
	ID         string            `json:"id"`
	Aliases    []string          `json:"aliases,omitempty"`
	Severity   string            `json:"severity,omitempty"`
	KEV        bool              `json:"kev,omitempty"`
	Summary    string            `json:"summary,omitempty"`
	Images     []ImpactImage     `json:"images"`
	Containers []ImpactContainer `json:"containers"`
	Hosts      []ImpactHost      `json:"hosts"`
	// Images, Containers and Hosts are each cut at the filter's Limit
	// (default 100); the totals are exact and Truncated says a list was cut.
	TotalImages     int  `json:"totalImages"`
	TotalContainers int  `json:"totalContainers"`
	TotalHosts      int  `json:"totalHosts"`
	Truncated       bool `json:"truncated,omitempty"`
}

// Posture summarises an image's or host's open vulnerability findings.
type Posture struct {
	SubjectKind string `json:"subjectKind"`
	SubjectID   string `json:"subjectID"`
	// BySeverity counts open findings per severity (sbom.SeverityLevels).
	BySeverity map[string]int `json:"bySeverity"`
	Total      int            `json:"total"`
	Fixable    int            `json:"fixable"`
	KEV        int            `json:"kev"`
	// For hosts: the images of its non-destroyed containers are included,
	// plus its own filesystem's packages.
	Images     int `json:"images,omitempty"`
	Containers int `json:"containers,omitempty"`
	Packages   int `json:"packages"`
}

// DBStatus answers GET /api/v1/db/status.
type DBStatus struct {
	Loaded      bool       `json:"loaded"`
	Path        string     `json:"path,omitempty"`
	Built       time.Time  `json:"built,omitzero"`
	Updated     time.Time  `json:"updated,omitzero"`
	Advisories  int        `json:"advisories"`
	LastRematch *Rematch   `json:"lastRematch,omitempty"`
	Checked     *time.Time `json:"checked,omitempty"`
}

// Rematch reports one re-match of every stored package.
type Rematch struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Packages int       `json:"packages"`
	New      int       `json:"new"`
	Resolved int       `json:"resolved"`
	Open     int       `json:"open"`
}

// DBImportResponse answers POST /api/v1/db/import.
type DBImportResponse struct {
	Format  string   `json:"format"`
	Source  string   `json:"source,omitempty"`
	Added   int      `json:"added"`
	Updated int      `json:"updated"`
	Rematch *Rematch `json:"rematch,omitempty"`
}

// Event types sent to webhooks.
const (
	EventFindingNew      = "finding.new"
	EventFindingResolved = "finding.resolved"
)

// Event is one webhook notification. The body is signed: header
// X-Bulkhead-Signature: sha256=HEX(HMAC-SHA256(secret, body)).
type Event struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Finding is the vulnerability on one package record.
	Finding sbom.Finding `json:"finding"`
	// Images are the stored images holding the package; Hosts the hosts
	// whose own filesystem holds it.
	Images []string `json:"images,omitempty"`
	Hosts  []string `json:"hosts,omitempty"`
}

// SignatureHeader is the webhook signature header.
const SignatureHeader = "X-Bulkhead-Signature"
