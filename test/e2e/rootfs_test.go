package e2e

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func TestRootfsDir(t *testing.T) {
	root := rootfs(t)
	want := dpkgOracle(t, root)
	doc := scanJSON(t, "dir:"+root)
	samePackages(t, "dir scan vs dpkg-query", want, namesOf(doc, sbom.TypeDeb))
	if doc.Distro == nil || doc.Distro.ID != "debian" || doc.Distro.VersionID != "12" {
		t.Fatalf("distro %+v, want debian 12", doc.Distro)
	}
	for _, p := range doc.Packages {
		u, err := packageurl.FromString(p.PURL)
		if err != nil || u.Type != "deb" || u.Namespace != "debian" || u.Name != p.Name || u.Version != p.Version || u.Qualifiers.Map()["distro"] != "debian-12" {
			t.Errorf("%s: purl %q (%v)", p.Name, p.PURL, err)
		}
		if p.Type == sbom.TypeDeb && len(p.Files) == 0 && p.Name != "libgcc-s1" {
			// Every minbase package installs files; dpkg lists them.
			t.Errorf("%s: no owned files recorded", p.Name)
		}
	}
	if len(doc.Unknowns) != 0 {
		t.Errorf("unknowns on a clean rootfs: %+v", doc.Unknowns)
	}
}

func TestSBOMFormatsValidate(t *testing.T) {
	root := rootfs(t)
	cdx := formattest.Schema(t, "../../internal/format/cyclonedx/testdata/schema", "http://cyclonedx.org/schema/bom-1.6.schema.json")
	spdx := formattest.Schema(t, "../../internal/format/spdx/testdata/schema", "http://spdx.org/rdf/terms/2.3")
	for _, tc := range []struct {
		format string
		check  func([]byte)
	}{
		{"cyclonedx-json", func(b []byte) { formattest.Validate(t, cdx, b) }},
		{"spdx-json", func(b []byte) { formattest.Validate(t, spdx, b) }},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sbom.json")
			_, errs, code := bulkhead(t, "sbom", "dir:"+root, "-q", "-o", tc.format, "--output-file", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(b)
			// The document reads back as an SBOM with the same packages.
			back := scanJSON(t, "sbom:"+out)
			samePackages(t, tc.format+" round trip", dpkgOracle(t, root), namesOf(back, sbom.TypeDeb))
		})
	}
}

var (
	debOnce    sync.Once
	debArchive string
	debErr     string
)

// debImage imports the rootfs into the Docker Engine and saves it; it
// returns the image name and the docker-save archive.
func debImage(t *testing.T) (string, string) {
	t.Helper()
	root := rootfs(t)
	needDocker(t)
	const name = "bulkhead-test/bookworm:latest"
	debOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bulkhead-e2e-*")
		if err != nil {
			debErr = err.Error()
			return
		}
		rootTar := filepath.Join(dir, "rootfs.tar")
		run(t, "tar", "-C", root, "--exclude=./.complete", "-cf", rootTar, ".")
		run(t, "docker", "import", "--change", "LABEL org.example.team=payments", rootTar, name)
		os.Remove(rootTar)
		debArchive = filepath.Join(dir, "bookworm.tar")
		run(t, "docker", "save", "-o", debArchive, name)
	})
	if debErr != "" {
		t.Fatal(debErr)
	}
	return name, debArchive
}

func TestDockerImportedImage(t *testing.T) {
	name, archive := debImage(t)
	want := dpkgOracle(t, rootfs(t))
	// Bare arguments resolve like Syft: an existing file is an archive, a
	// name not on disk is an image in the Docker Engine.
	for _, target := range []string{"docker:" + name, "docker-archive:" + archive, archive, name} {
		t.Run(target, func(t *testing.T) {
			doc := scanJSON(t, target, "--no-cache")
			samePackages(t, target, want, namesOf(doc, sbom.TypeDeb))
			if target == name && doc.Source.Kind != "docker" {
				t.Errorf("bare %s resolved to %q, want docker", name, doc.Source.Kind)
			}
			if len(doc.Source.Layers) != 1 {
				t.Fatalf("%d layers, want 1", len(doc.Source.Layers))
			}
			layer := doc.Source.Layers[0].DiffID
			for _, p := range doc.Packages {
				if p.Layer != layer || p.Locations[0].Layer != layer {
					t.Fatalf("%s attributed to %q, want %q", p.Name, p.Layer, layer)
				}
			}
			if doc.Source.Labels["org.example.team"] != "payments" {
				t.Errorf("labels %v", doc.Source.Labels)
			}
		})
	}
	t.Run("warm cache", func(t *testing.T) {
		first := scanJSON(t, "docker-archive:"+archive)
		second := scanJSON(t, "docker-archive:"+archive)
		if !second.Source.Layers[0].Cached {
			t.Error("second scan did not use the layer cache")
		}
		samePackages(t, "cached", namesOf(first, ""), namesOf(second, ""))
		dock := scanJSON(t, "docker:"+name)
		if !dock.Source.Layers[0].Cached {
			t.Error("docker: scan of the same layer did not use the cache")
		}
	})
}
