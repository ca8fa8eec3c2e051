package format

import (
	"bytes"
	"errors"
	"go/build"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
)

func TestNames(t *testing.T) {
	got := slices.Sorted(maps.Keys(Encoders()))
	want := slices.Sorted(slices.Values(Names()))
	if !slices.Equal(got, want) {
		t.Fatalf("Encoders() has %q, Names() %q", got, want)
	}
}

func TestByName(t *testing.T) {
	for _, n := range Names() {
		t.Run(n, func(t *testing.T) {
			e, err := ByName(n)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := e.Encode(&buf, formattest.Image()); err != nil {
				t.Fatal(err)
			}
			if buf.Len() == 0 {
				t.Fatal("empty output")
			}
		})
	}
	_, err := ByName("xml")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("got %v, want ErrUnknown", err)
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

// TestImports pins what the format packages may import, as their package
// docs say.
func TestImports(t *testing.T) {
	const mod = "github.com/bulkhead-sec/bulkhead/"
	allowed := map[string][]string{
		".":          {mod + "internal/sbom", mod + "internal/format/"},
		"table":      {mod + "internal/sbom"},
		"jsonfmt":    {mod + "internal/sbom"},
		"license":    {},
		"purl":       {mod + "internal/sbom", "github.com/package-url/packageurl-go"},
		"cyclonedx":  {mod + "internal/sbom", mod + "internal/format/license", mod + "internal/format/purl", "github.com/CycloneDX/cyclonedx-go"},
		"spdx":       {mod + "internal/sbom", mod + "internal/format/license", mod + "internal/format/purl", "github.com/spdx/tools-golang/"},
		"formattest": {mod + "internal/sbom", "github.com/santhosh-tekuri/jsonschema/v6"},
	}
	for dir, prefixes := range allowed {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
	imports:
		for _, imp := range pkg.Imports {
			if !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // standard library
			}
			for _, p := range prefixes {
				if imp == p || strings.HasPrefix(imp, p) && strings.HasSuffix(p, "/") {
					continue imports
				}
			}
			t.Errorf("%s imports %s", dir, imp)
		}
	}
}
