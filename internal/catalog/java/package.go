package java

import (
	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// mavenPURL returns pkg:maven/group/artifact@version. Like Syft, an
// artifact whose groupId could not be found gets its own name as group.
func mavenPURL(group, artifact, version string) string {
	if group == "" {
		group = artifact
	}
	return packageurl.NewPackageURL(packageurl.TypeMaven, group, artifact, version, nil, "").ToString()
}

// newPackage builds a Java package. nestedPath is the "outer:inner"
// virtual path of a nested archive, empty for the top-level file (whose
// path the engine records as the location). The location of a nested
// package stays the outer file, the one that exists in the target.
func newPackage(group, artifact, version, foundBy, nestedPath string) sbom.Package {
	p := sbom.Package{
		Name:     artifact,
		Version:  version,
		Type:     sbom.TypeJava,
		PURL:     mavenPURL(group, artifact, version),
		Language: "java",
		FoundBy:  foundBy,
		Metadata: map[string]string{},
	}
	if group != "" {
		p.Metadata["groupId"] = group
	}
	if nestedPath != "" {
		p.Metadata["virtualPath"] = nestedPath
	}
	return p
}
