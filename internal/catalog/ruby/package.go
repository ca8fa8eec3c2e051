package ruby

import (
	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// gemPURL returns pkg:gem/name@version, with the purl spec's platform
// qualifier for platform-specific gems ("ruby" is the default and omitted).
func gemPURL(name, version, platform string) string {
	var q packageurl.Qualifiers
	if platform != "" && platform != "ruby" {
		q = packageurl.QualifiersFromMap(map[string]string{"platform": platform})
	}
	return packageurl.NewPackageURL(packageurl.TypeGem, "", name, version, q, "").ToString()
}

func newGem(name, version, foundBy string) sbom.Package {
	return sbom.Package{
		Name:     name,
		Version:  version,
		Type:     sbom.TypeGem,
		PURL:     gemPURL(name, version, ""),
		Language: "ruby",
		FoundBy:  foundBy,
	}
}
