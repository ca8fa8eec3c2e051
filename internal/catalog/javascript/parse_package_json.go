package javascript

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type packageJSON struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses json.RawMessage `json:"licenses"` // legacy array form
}

// parsePackageJSON reads an installed package's manifest. ok is false for
// manifests without a name or version (not a published package).
func parsePackageJSON(r io.Reader) (sbom.Package, bool, error) {
	var m packageJSON
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return sbom.Package{}, false, fmt.Errorf("package.json: %w", err)
	}
	name, version := strings.TrimSpace(m.Name), strings.TrimSpace(m.Version)
	if !validName(name) || version == "" || strings.ContainsAny(version, " \t\r\n") {
		return sbom.Package{}, false, nil
	}
	p := newPackage(name, version)
	p.Licenses = licenses(m.License)
	if len(p.Licenses) == 0 {
		p.Licenses = licenses(m.Licenses)
	}
	return p, true, nil
}
