package php

import (
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// composerPackage is the part of a Composer package entry Bulkhead keeps.
// composer.lock and installed.json share this shape.
type composerPackage struct {
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Source  composerRef `json:"source"`
	Dist    composerRef `json:"dist"`
	// License is usually an array, but old packages carry a bare string.
	License     licenseList `json:"license"`
	Type        string      `json:"type"`
	Homepage    string      `json:"homepage"`
	InstallPath string      `json:"install-path"`
}

type composerRef struct {
	Type      string `json:"type"`
	URL       string `json:"url"`
	Reference string `json:"reference"`
	Shasum    string `json:"shasum"`
}

// licenseList accepts ["MIT"] and "MIT".
type licenseList []string

func (l *licenseList) UnmarshalJSON(b []byte) error {
	return unmarshalStrings(b, (*[]string)(l))
}

// toPackage converts an entry; ok is false for entries without a name.
func (p composerPackage) toPackage(foundBy, scope string) (sbom.Package, bool) {
	name := strings.TrimSpace(p.Name)
	if name == "" {
		return sbom.Package{}, false
	}
	meta := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	put("sourceType", p.Source.Type)
	put("sourceURL", p.Source.URL)
	put("sourceReference", p.Source.Reference)
	put("distType", p.Dist.Type)
	put("distURL", p.Dist.URL)
	put("distReference", p.Dist.Reference)
	put("distShasum", p.Dist.Shasum)
	put("type", p.Type)
	put("installPath", p.InstallPath)
	if len(meta) == 0 {
		meta = nil
	}
	var lic []string
	for _, l := range p.License {
		if l = strings.TrimSpace(l); l != "" {
			lic = append(lic, l)
		}
	}
	return sbom.Package{
		Name:     name,
		Version:  p.Version,
		Type:     sbom.TypeComposer,
		PURL:     purl(name, p.Version),
		Language: "php",
		FoundBy:  foundBy,
		Licenses: lic,
		Scope:    scope,
		Metadata: meta,
	}, true
}

// purl builds pkg:composer/vendor/name@version. Composer names are
// case-insensitive and lower case by convention; the purl spec keeps them as
// written.
func purl(name, version string) string {
	ns, n := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		ns, n = name[:i], name[i+1:]
	}
	return packageurl.NewPackageURL(packageurl.TypeComposer, ns, n, version, nil, "").ToString()
}
