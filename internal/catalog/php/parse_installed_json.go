package php

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// installedV2 is Composer 2's installed.json: an object with the package
// list and the names of the packages installed only for development.
type installedV2 struct {
	Packages        []composerPackage `json:"packages"`
	DevPackageNames []string          `json:"dev-package-names"`
}

// parseInstalledJSON reads vendor/composer/installed.json in both its
// forms: Composer 1's top-level array of packages and Composer 2's object.
func parseInstalledJSON(r io.Reader, foundBy string) ([]sbom.Package, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read installed.json: %w", err)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, errors.New("installed.json: empty file")
	}
	var doc installedV2
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &doc.Packages); err != nil {
			return nil, fmt.Errorf("decode installed.json (composer 1 array): %w", err)
		}
	case '{':
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("decode installed.json: %w", err)
		}
	default:
		return nil, fmt.Errorf("installed.json: expected a JSON array or object, found %q", trimmed[0])
	}
	dev := make(map[string]bool, len(doc.DevPackageNames))
	for _, n := range doc.DevPackageNames {
		dev[n] = true
	}
	pkgs := make([]sbom.Package, 0, len(doc.Packages))
	for _, p := range doc.Packages {
		scope := ""
		if dev[p.Name] {
			scope = "dev"
		}
		if pkg, ok := p.toPackage(foundBy, scope); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	return pkgs, nil
}

// unmarshalStrings decodes a JSON string or array of strings; other
// values (null, numbers, objects) give an empty list rather than failing
// the whole file over one odd license field.
func unmarshalStrings(b []byte, out *[]string) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*out = []string{s}
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for _, r := range raw {
			var s string
			if json.Unmarshal(r, &s) == nil {
				*out = append(*out, s)
			}
		}
	}
	return nil
}
