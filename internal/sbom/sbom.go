// Package sbom holds Bulkhead's core inventory types: packages, where they
// were found, the distribution they belong to and the document that ties them
// to a scanned target.
//
// It is imported by every other package and must import only the standard
// library.
package sbom

import (
	"cmp"
	"slices"
	"time"
)

// Type is a package ecosystem as Bulkhead names it.
type Type string

// The package types Bulkhead's catalogers produce.
const (
	TypeDeb      Type = "deb"
	TypeAPK      Type = "apk"
	TypeRPM      Type = "rpm"
	TypeGo       Type = "go-module"
	TypeNPM      Type = "npm"
	TypePython   Type = "python"
	TypeJava     Type = "java-archive"
	TypeRust     Type = "rust-crate"
	TypeGem      Type = "gem"
	TypeComposer Type = "php-composer"
	TypeDotnet   Type = "dotnet"
)

// Location says where a package was found: a path inside the target (always
// absolute, "/"-separated) and, for images, the layer that holds that file.
type Location struct {
	Path string `json:"path"`
	// Layer is the layer's DiffID (digest of the uncompressed tar); empty
	// for directory and host sources.
	Layer string `json:"layer,omitempty"`
}

// Package is one software package found in a target.
type Package struct {
	// ID is stable for the same package found at the same place, so that
	// documents can be diffed and re-matched.
	ID       string `json:"id"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Type     Type   `json:"type"`
	PURL     string `json:"purl"`
	Language string `json:"language,omitempty"`
	// FoundBy names the cataloger that reported the package.
	FoundBy  string   `json:"foundBy"`
	Licenses []string `json:"licenses,omitempty"`
	// Locations lists the files the package was read from (a package
	// database, lockfile, manifest or binary). The first one is primary.
	Locations []Location `json:"locations"`
	// Layer is the layer that introduced the package (images only).
	Layer string `json:"layer,omitempty"`

	Arch string `json:"arch,omitempty"`
	// SourceName and SourceVersion name the source package an OS package
	// was built from (dpkg Source:, rpm SOURCERPM, apk origin). Advisories
	// for distributions are keyed by these.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Scope is "dev" for development-only dependencies from lockfiles.
	Scope string `json:"scope,omitempty"`
	// Files are the paths an OS package installed, when its database lists
	// them. Needed for drift detection and file ownership.
	Files []string `json:"files,omitempty"`
	// OwnedBy is the ID of an OS package that installed this package's
	// files (a dist-info shipped by a .deb, a Go binary in an .rpm).
	OwnedBy string `json:"ownedBy,omitempty"`
	// Metadata holds ecosystem-specific extras (checksums, toolchain
	// versions, main module) as plain strings.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Distro identifies the operating system of a target, from os-release.
type Distro struct {
	ID              string   `json:"id"`
	VersionID       string   `json:"versionID,omitempty"`
	VersionCodename string   `json:"versionCodename,omitempty"`
	Name            string   `json:"name,omitempty"`
	PrettyName      string   `json:"prettyName,omitempty"`
	IDLike          []string `json:"idLike,omitempty"`
}

// Unknown records a file that could not be read or parsed. The scan goes on
// and the report says what was skipped and why.
type Unknown struct {
	Location
	Cataloger string `json:"cataloger,omitempty"`
	Error     string `json:"error"`
}

// Layer describes one layer of an image, bottom first.
type Layer struct {
	Digest  string `json:"digest,omitempty"` // compressed blob digest, if known
	DiffID  string `json:"diffID"`
	Size    int64  `json:"size,omitempty"`
	Files   int    `json:"files"`
	Command string `json:"createdBy,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
}

// Source describes the scanned target.
type Source struct {
	// Kind is the source scheme: docker, docker-archive, oci-dir,
	// oci-archive, registry, dir, host or sbom.
	Kind string `json:"kind"`
	// Input is the user's argument, without the scheme.
	Input        string            `json:"input"`
	ImageID      string            `json:"imageID,omitempty"` // config digest
	ManifestID   string            `json:"manifestDigest,omitempty"`
	RepoTags     []string          `json:"repoTags,omitempty"`
	RepoDigests  []string          `json:"repoDigests,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	OS           string            `json:"os,omitempty"`
	Layers       []Layer           `json:"layers,omitempty"`
}

// Descriptor names the tool that wrote a document.
type Descriptor struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// SBOM is the inventory of one target.
type SBOM struct {
	Schema     string     `json:"schema"`
	Descriptor Descriptor `json:"descriptor"`
	Created    time.Time  `json:"created"`
	Source     Source     `json:"source"`
	Distro     *Distro    `json:"distro,omitempty"`
	Packages   []Package  `json:"packages"`
	Unknowns   []Unknown  `json:"unknowns,omitempty"`
	// FileListing is the image's file list, when asked for
	// (bulkhead sbom --files); nil otherwise.
	FileListing *FileListing `json:"fileListing,omitempty"`
}

// SchemaVersion is the version of Bulkhead's own JSON document format
// (docs/sbom-json.md). Bump it when a field changes meaning.
const SchemaVersion = "bulkhead.sbom/v1"

// Sort orders packages by type, name, version and first location so that
// documents are deterministic.
func Sort(pkgs []Package) {
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmp.Or(
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(firstPath(a), firstPath(b)),
			cmp.Compare(a.ID, b.ID),
		)
	})
}

func firstPath(p Package) string {
	if len(p.Locations) == 0 {
		return ""
	}
	return p.Locations[0].Path
}
