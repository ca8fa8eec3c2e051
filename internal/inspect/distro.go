package inspect

import (
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// MetaNeedsDistro marks a package whose PURL the engine completes with the
// distribution (namespace and distro qualifier), known only once os-release
// has been read.
const MetaNeedsDistro = "purlNeedsDistro"

func applyDistro(p *sbom.Package, d *sbom.Distro) {
	if p.Metadata[MetaNeedsDistro] == "" {
		return
	}
	delete(p.Metadata, MetaNeedsDistro)
	if len(p.Metadata) == 0 {
		p.Metadata = nil
	}
	if d == nil || p.PURL == "" {
		return
	}
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		return
	}
	if u.Namespace == "" {
		u.Namespace = strings.ToLower(d.ID)
	}
	q := u.Qualifiers.Map()
	if d.VersionID != "" {
		q["distro"] = strings.ToLower(d.ID) + "-" + d.VersionID
	} else {
		q["distro"] = strings.ToLower(d.ID)
	}
	u.Qualifiers = packageurl.QualifiersFromMap(q)
	p.PURL = u.ToString()
}
