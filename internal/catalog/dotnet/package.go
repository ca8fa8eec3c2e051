package dotnet

import (
	"github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// newPackage builds a NuGet package. NuGet ids are case-insensitive; the
// purl keeps them as written, as Syft does (pkg:nuget/Newtonsoft.Json@13.0.1).
func newPackage(name, version, foundBy string, meta map[string]string) sbom.Package {
	if len(meta) == 0 {
		meta = nil
	}
	return sbom.Package{
		Name:     name,
		Version:  version,
		Type:     sbom.TypeDotnet,
		PURL:     packageurl.NewPackageURL(packageurl.TypeNuget, "", name, version, nil, "").ToString(),
		Language: "dotnet",
		FoundBy:  foundBy,
		Metadata: meta,
	}
}
