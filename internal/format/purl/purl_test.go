package purl

import (
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func TestType(t *testing.T) {
	for in, want := range map[string]sbom.Type{
		"pkg:deb/debian/libc6@2.36-9?arch=amd64": sbom.TypeDeb,
		"pkg:golang/golang.org/x/text@v0.14.0":   sbom.TypeGo,
		"pkg:pypi/requests@2.31.0":               sbom.TypePython,
		"pkg:maven/org.slf4j/slf4j-api@2.0.9":    sbom.TypeJava,
		"pkg:nuget/Newtonsoft.Json@13.0.3":       sbom.TypeDotnet,
		"pkg:swift/github.com/x/y@1.0.0":         "",
	} {
		got, err := Type(in)
		if err != nil || got != want {
			t.Errorf("Type(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Type("not a purl"); err == nil {
		t.Error("Type accepted an invalid purl")
	}
}

func TestForImage(t *testing.T) {
	for _, tc := range []struct {
		src  sbom.Source
		want string
	}{
		{sbom.Source{Input: "localhost:5000/acme/shop:1.0", ManifestID: "sha256:abc", RepoTags: []string{"localhost:5000/acme/shop:1.0"}},
			"pkg:oci/shop@sha256:abc?repository_url=localhost:5000%2Facme%2Fshop&tag=1.0"},
		{sbom.Source{Input: "alpine", ImageID: "sha256:def", Architecture: "arm64"},
			"pkg:oci/alpine@sha256:def?arch=arm64&repository_url=alpine"},
		{sbom.Source{Input: "/src"}, ""},
	} {
		if got := ForImage(tc.src); got != tc.want {
			t.Errorf("ForImage(%+v) = %q, want %q", tc.src, got, tc.want)
		}
	}
}
