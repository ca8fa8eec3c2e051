package dotnet

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type depsJSON struct {
	Libraries map[string]depsLibrary `json:"libraries"`
}

type depsLibrary struct {
	Type     string `json:"type"`
	SHA512   string `json:"sha512"`
	Path     string `json:"path"`
	HashPath string `json:"hashPath"`
}

// parseDepsJSON reads the "libraries" of a deps.json: the application's own
// project and every NuGet package it was built against, keyed "Name/Version".
// Reference assemblies and other library types are not packages anyone can
// fetch, so they are left out (as Syft does).
func parseDepsJSON(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var doc depsJSON
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode deps.json: %w", err)
	}
	keys := make([]string, 0, len(doc.Libraries))
	for k := range doc.Libraries {
		keys = append(keys, k)
	}
	slices.Sort(keys) // map order is random; keep results deterministic
	pkgs := make([]sbom.Package, 0, len(keys))
	for _, key := range keys {
		lib := doc.Libraries[key]
		if lib.Type != "package" && lib.Type != "project" {
			continue
		}
		name, version, ok := strings.Cut(key, "/")
		if !ok || name == "" || version == "" {
			continue
		}
		meta := map[string]string{"type": lib.Type}
		if lib.SHA512 != "" {
			meta["sha512"] = lib.SHA512
		}
		if lib.Path != "" {
			meta["path"] = lib.Path
		}
		if lib.HashPath != "" {
			meta["hashPath"] = lib.HashPath
		}
		pkgs = append(pkgs, newPackage(name, version, foundBy, meta))
	}
	return pkgs, nil
}
