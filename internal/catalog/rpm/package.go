package rpm

import (
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// toPackage converts a header. The "gpg-pubkey" entries rpm --import adds
// are keys, not software, and are skipped as Syft does.
func (h *header) toPackage(foundBy string) (sbom.Package, bool) {
	if h.name == "" || h.name == "gpg-pubkey" {
		return sbom.Package{}, false
	}
	vr := h.version
	if h.release != "" {
		vr += "-" + h.release
	}
	version := vr
	epoch := ""
	if h.hasEpoch {
		epoch = strconv.FormatInt(h.epoch, 10)
		version = epoch + ":" + vr
	}
	meta := map[string]string{"purlNeedsDistro": "1"}
	put := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	put("epoch", epoch)
	put("release", h.release)
	put("sourceRpm", h.sourceRPM)
	put("vendor", h.vendor)
	put("modularityLabel", h.modularityLabel)
	if h.size > 0 {
		meta["size"] = strconv.FormatInt(h.size, 10)
	}
	p := sbom.Package{
		Name:     h.name,
		Version:  version,
		Type:     sbom.TypeRPM,
		PURL:     purl(h.name, vr, h.arch, epoch, h.sourceRPM),
		FoundBy:  foundBy,
		Arch:     h.arch,
		Metadata: meta,
	}
	if l := strings.TrimSpace(h.license); l != "" {
		p.Licenses = []string{l}
	}
	if name, ver, ok := splitSourceRPM(h.sourceRPM); ok {
		p.SourceName = name
		p.SourceVersion = ver
		if epoch != "" {
			// The epoch is set once per spec file, so the source
			// package shares the binary package's epoch.
			p.SourceVersion = epoch + ":" + ver
		}
	}
	// A file list that does not add up (dir indexes out of range) only
	// loses the files; the package itself is still reported.
	if files, err := h.files(); err == nil {
		p.Files = files
	}
	return p, true
}

// splitSourceRPM parses "name-version-release.src.rpm" from the right:
// names may contain dashes, versions and releases may not.
func splitSourceRPM(s string) (name, versionRelease string, ok bool) {
	s = strings.TrimSuffix(s, ".rpm")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[:i] // .src or .nosrc
	}
	r := strings.LastIndexByte(s, '-')
	if r <= 0 {
		return "", "", false
	}
	v := strings.LastIndexByte(s[:r], '-')
	if v <= 0 || v+1 == r || r+1 == len(s) {
		return "", "", false
	}
	return s[:v], s[v+1:], true
}

// purl builds pkg:rpm/name@version-release?arch=..&epoch=..&upstream=..
// with an empty namespace: the distribution's ID comes from
// /etc/os-release, which the engine joins (Metadata["purlNeedsDistro"]).
// The epoch is a qualifier, not part of the purl version.
func purl(name, versionRelease, arch, epoch, sourceRPM string) string {
	var q packageurl.Qualifiers
	if arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	if epoch != "" {
		q = append(q, packageurl.Qualifier{Key: "epoch", Value: epoch})
	}
	if sourceRPM != "" {
		q = append(q, packageurl.Qualifier{Key: "upstream", Value: sourceRPM})
	}
	return packageurl.NewPackageURL(packageurl.TypeRPM, "", name, versionRelease, q, "").ToString()
}
