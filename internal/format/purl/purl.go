// Package purl maps between package URLs and Bulkhead's package types, and
// builds the purl that names a scanned container image. Decoders use it to
// recover sbom.Type from foreign documents; encoders use it to describe the
// source.
//
// This package imports only the standard library, internal/sbom and
// github.com/package-url/packageurl-go.
package purl

import (
	"fmt"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// types maps a purl type to the Bulkhead package type. It is the inverse
// of what the catalogers write.
var types = map[string]sbom.Type{
	packageurl.TypeDebian:   sbom.TypeDeb,
	packageurl.TypeApk:      sbom.TypeAPK,
	packageurl.TypeRPM:      sbom.TypeRPM,
	packageurl.TypeGolang:   sbom.TypeGo,
	packageurl.TypeNPM:      sbom.TypeNPM,
	packageurl.TypePyPi:     sbom.TypePython,
	packageurl.TypeMaven:    sbom.TypeJava,
	packageurl.TypeCargo:    sbom.TypeRust,
	packageurl.TypeGem:      sbom.TypeGem,
	packageurl.TypeComposer: sbom.TypeComposer,
	packageurl.TypeNuget:    sbom.TypeDotnet,
}

// Type parses p and returns the Bulkhead type for its purl type, or "" if
// Bulkhead has no cataloger for that ecosystem. It fails only if p is not a
// valid purl.
func Type(p string) (sbom.Type, error) {
	u, err := packageurl.FromString(p)
	if err != nil {
		return "", fmt.Errorf("invalid purl %q: %w", p, err)
	}
	return types[strings.ToLower(u.Type)], nil
}

// ForImage returns a pkg:oci purl for an image source: the last path
// element of the repository as name, the manifest digest (or the config
// digest when there is no manifest) as version, and repository_url and tag
// qualifiers from the first repo tag. It returns "" when the source has no
// digest to pin.
func ForImage(src sbom.Source) string {
	digest := src.ManifestID
	if digest == "" {
		digest = src.ImageID
	}
	if digest == "" {
		return ""
	}
	ref := src.Input
	if len(src.RepoTags) > 0 {
		ref = src.RepoTags[0]
	}
	repo, tag := splitTag(ref)
	name := repo
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return ""
	}
	var q packageurl.Qualifiers
	if src.Architecture != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: src.Architecture})
	}
	if repo != "" {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo})
	}
	if tag != "" {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: tag})
	}
	return packageurl.NewPackageURL("oci", "", strings.ToLower(name), digest, q, "").ToString()
}

// splitTag splits "host:5000/repo:tag" into repository and tag, ignoring a
// digest suffix and a colon that belongs to a registry port.
func splitTag(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}
