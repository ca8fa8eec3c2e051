package rust

import (
	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// cargoPURL returns pkg:cargo/name@version. A cargo PURL without a
// repository_url qualifier means crates.io, so callers leave it empty for
// workspace and path crates (as Syft does): a private crate that happens to
// share a name with a crates.io crate must not match that crate's
// advisories.
func cargoPURL(name, version string) string {
	return packageurl.NewPackageURL(packageurl.TypeCargo, "", name, version, nil, "").ToString()
}

func newPackage(name, version, foundBy string, withPURL bool, meta map[string]string) sbom.Package {
	p := sbom.Package{
		Name:     name,
		Version:  version,
		Type:     sbom.TypeRust,
		Language: "rust",
		FoundBy:  foundBy,
		Metadata: meta,
	}
	if withPURL {
		p.PURL = cargoPURL(name, version)
	}
	return p
}
