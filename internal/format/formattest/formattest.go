// Package formattest holds what the encoder tests share: realistic
// documents to encode, golden-file comparison and JSON-schema validation
// against schemas vendored in a package's testdata (never the network).
//
// Only tests import it. It imports the standard library, internal/sbom and
// github.com/santhosh-tekuri/jsonschema/v6.
package formattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Created is the fixed creation time of the fixtures, so golden files are
// stable.
var Created = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

const (
	layer0 = "sha256:6c3e5b5c0f2f1c8e9d7a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e"
	layer1 = "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	layer2 = "sha256:f00dfeedcafebabe0123456789abcdef0123456789abcdef0123456789abcdef"
)

func pkg(p sbom.Package) sbom.Package {
	sbom.AssignID(&p)
	return p
}

// Image returns a scan of a Debian-based image with one package of every
// type Bulkhead knows, licenses of every kind (SPDX id, id in odd case,
// expression, expression with WITH, free text, several, none), three
// layers and two unknowns.
func Image() *sbom.SBOM {
	libc := pkg(sbom.Package{
		Name: "libc6", Version: "2.36-9+deb12u4", Type: sbom.TypeDeb,
		PURL:     "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
		FoundBy:  "dpkg",
		Licenses: []string{"GPL-2.0-or-later AND LGPL-2.1-or-later", "GFDL-1.3-only"},
		Locations: []sbom.Location{
			{Path: "/var/lib/dpkg/status", Layer: layer0},
			{Path: "/usr/share/doc/libc6/copyright", Layer: layer0},
		},
		Layer: layer0, Arch: "amd64", SourceName: "glibc", SourceVersion: "2.36-9+deb12u4",
		Files: []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/share/doc/libc6/copyright"},
	})
	pySys := pkg(sbom.Package{
		Name: "python3-six", Version: "1.16.0-4", Type: sbom.TypeDeb,
		PURL:      "pkg:deb/debian/python3-six@1.16.0-4?arch=all&distro=debian-12",
		FoundBy:   "dpkg",
		Licenses:  []string{"mit"},
		Locations: []sbom.Location{{Path: "/var/lib/dpkg/status", Layer: layer1}},
		Layer:     layer1, Arch: "all", SourceName: "six",
		Files: []string{"/usr/lib/python3/dist-packages/six.py"},
	})
	pkgs := []sbom.Package{
		libc, pySys,
		pkg(sbom.Package{
			Name: "six", Version: "1.16.0", Type: sbom.TypePython,
			PURL: "pkg:pypi/six@1.16.0", Language: "python", FoundBy: "python-dist-info",
			Licenses:  []string{"MIT"},
			Locations: []sbom.Location{{Path: "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", Layer: layer1}},
			Layer:     layer1, OwnedBy: pySys.ID,
		}),
		pkg(sbom.Package{
			Name: "busybox", Version: "1.36.1-r15", Type: sbom.TypeAPK,
			PURL: "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1", FoundBy: "apk-db",
			Licenses:  []string{"GPL-2.0-only"},
			Locations: []sbom.Location{{Path: "/lib/apk/db/installed", Layer: layer2}},
			Layer:     layer2, Arch: "x86_64", SourceName: "busybox", SourceVersion: "1.36.1-r15",
		}),
		pkg(sbom.Package{
			Name: "openssl-libs", Version: "1:3.0.7-27.el9", Type: sbom.TypeRPM,
			PURL: "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1", FoundBy: "rpm-db",
			Licenses:  []string{"ASL 2.0"},
			Locations: []sbom.Location{{Path: "/var/lib/rpm/rpmdb.sqlite", Layer: layer2}},
			Layer:     layer2, Arch: "x86_64", SourceName: "openssl", SourceVersion: "3.0.7-27.el9",
			Metadata: map[string]string{"vendor": "Red Hat, Inc.", "sourceRpm": "openssl-3.0.7-27.el9.src.rpm"},
		}),
		pkg(sbom.Package{
			Name: "golang.org/x/text", Version: "v0.14.0", Type: sbom.TypeGo,
			PURL: "pkg:golang/golang.org/x/text@v0.14.0", Language: "go", FoundBy: "go-binary",
			Licenses:  []string{"BSD-3-Clause"},
			Locations: []sbom.Location{{Path: "/usr/local/bin/shop", Layer: layer2}},
			Layer:     layer2,
			Metadata:  map[string]string{"h1Digest": "h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=", "goToolchain": "go1.22.1", "mainModule": "github.com/acme/shop"},
		}),
		pkg(sbom.Package{
			Name: "@babel/core", Version: "7.24.0", Type: sbom.TypeNPM,
			PURL: "pkg:npm/%40babel/core@7.24.0", Language: "javascript", FoundBy: "npm-lock",
			Licenses:  []string{"MIT"},
			Locations: []sbom.Location{{Path: "/app/package-lock.json", Layer: layer2}},
			Layer:     layer2, Scope: "dev",
		}),
		pkg(sbom.Package{
			Name: "left-pad", Version: "1.3.0", Type: sbom.TypeNPM,
			PURL: "pkg:npm/left-pad@1.3.0", Language: "javascript", FoundBy: "npm-lock",
			Licenses:  []string{"WTFPL OR MIT"},
			Locations: []sbom.Location{{Path: "/app/package-lock.json", Layer: layer2}},
			Layer:     layer2,
		}),
		pkg(sbom.Package{
			Name: "org.slf4j:slf4j-api", Version: "2.0.9", Type: sbom.TypeJava,
			PURL: "pkg:maven/org.slf4j/slf4j-api@2.0.9", Language: "java", FoundBy: "java-archive",
			Licenses: []string{"GPL-2.0-only WITH Classpath-exception-2.0"},
			Locations: []sbom.Location{
				{Path: "/app/lib/slf4j-api-2.0.9.jar", Layer: layer2},
				{Path: "/app/lib/slf4j-api-2.0.9.jar:META-INF/maven/org.slf4j/slf4j-api/pom.properties", Layer: layer2},
			},
			Layer:    layer2,
			Metadata: map[string]string{"sha1": "7cf2726fdcfbc8610f9a71fb3ed639871f315340"},
		}),
		pkg(sbom.Package{
			Name: "serde", Version: "1.0.197", Type: sbom.TypeRust,
			PURL: "pkg:cargo/serde@1.0.197", Language: "rust", FoundBy: "cargo-auditable",
			Licenses:  []string{"MIT OR Apache-2.0"},
			Locations: []sbom.Location{{Path: "/usr/local/bin/indexer", Layer: layer2}},
			Layer:     layer2,
		}),
		pkg(sbom.Package{
			Name: "rack", Version: "3.0.9.1", Type: sbom.TypeGem,
			PURL: "pkg:gem/rack@3.0.9.1", Language: "ruby", FoundBy: "gemspec",
			Licenses:  []string{"MIT", "Custom: see LICENSE.md <https://example.org/?a=1&b=2>"},
			Locations: []sbom.Location{{Path: "/usr/local/bundle/specifications/rack-3.0.9.1.gemspec", Layer: layer2}},
			Layer:     layer2,
		}),
		pkg(sbom.Package{
			Name: "monolog/monolog", Version: "3.5.0", Type: sbom.TypeComposer,
			PURL: "pkg:composer/monolog/monolog@3.5.0", Language: "php", FoundBy: "composer-lock",
			Locations: []sbom.Location{{Path: "/var/www/composer.lock", Layer: layer2}},
			Layer:     layer2,
		}),
		pkg(sbom.Package{
			Name: "Newtonsoft.Json", Version: "13.0.3", Type: sbom.TypeDotnet,
			PURL: "pkg:nuget/Newtonsoft.Json@13.0.3", Language: "dotnet", FoundBy: "dotnet-deps",
			Licenses:  []string{"BSD-style"},
			Locations: []sbom.Location{{Path: "/app/shop.deps.json", Layer: layer2}},
			Layer:     layer2,
		}),
	}
	sbom.Sort(pkgs)
	return &sbom.SBOM{
		Schema:     sbom.SchemaVersion,
		Descriptor: sbom.Descriptor{Name: "bulkhead", Version: "0.4.0"},
		Created:    Created,
		Source: sbom.Source{
			Kind:         "registry",
			Input:        "ghcr.io/acme/shop:1.4.2",
			ImageID:      "sha256:9d2c6e4f1a0b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d",
			ManifestID:   "sha256:1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3",
			RepoTags:     []string{"ghcr.io/acme/shop:1.4.2", "ghcr.io/acme/shop:latest"},
			RepoDigests:  []string{"ghcr.io/acme/shop@sha256:1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3"},
			Labels:       map[string]string{"org.opencontainers.image.source": "https://github.com/acme/shop", "maintainer": "ops@acme.example"},
			Architecture: "amd64",
			OS:           "linux",
			Layers: []sbom.Layer{
				{Digest: "sha256:aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233", DiffID: layer0, Size: 77_824_512, Files: 5123, Command: "ADD rootfs.tar.xz / # buildkit"},
				{DiffID: layer1, Size: 12_582_912, Files: 804, Command: "RUN apt-get install -y python3-six"},
				{DiffID: layer2, Size: 48_234_496, Files: 2210, Command: "COPY /out /app # buildkit", Cached: true},
			},
		},
		Distro: &sbom.Distro{
			ID: "debian", VersionID: "12", VersionCodename: "bookworm",
			Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)",
		},
		Packages: pkgs,
		Unknowns: []sbom.Unknown{
			{Location: sbom.Location{Path: "/app/node_modules/broken/package.json", Layer: layer2}, Cataloger: "npm-package", Error: "invalid character '}' looking for beginning of object key string"},
			{Location: sbom.Location{Path: "/usr/local/bin/stripped", Layer: layer2}, Cataloger: "go-binary", Error: "no Go build info: not a Go executable"},
		},
	}
}

// Dir returns a scan of a directory: no layers, no distro, no unknowns.
func Dir() *sbom.SBOM {
	pkgs := []sbom.Package{
		pkg(sbom.Package{
			Name: "github.com/spf13/cobra", Version: "v1.8.0", Type: sbom.TypeGo,
			PURL: "pkg:golang/github.com/spf13/cobra@v1.8.0", Language: "go", FoundBy: "go-mod",
			Licenses:  []string{"Apache-2.0"},
			Locations: []sbom.Location{{Path: "/go.sum"}},
		}),
		pkg(sbom.Package{
			Name: "requests", Version: "2.31.0", Type: sbom.TypePython,
			PURL: "pkg:pypi/requests@2.31.0", Language: "python", FoundBy: "python-requirements",
			Locations: []sbom.Location{{Path: "/requirements.txt"}},
		}),
	}
	sbom.Sort(pkgs)
	return &sbom.SBOM{
		Schema:     sbom.SchemaVersion,
		Descriptor: sbom.Descriptor{Name: "bulkhead", Version: "0.4.0"},
		Created:    Created,
		Source:     sbom.Source{Kind: "dir", Input: "/home/dev/src/tool"},
		Packages:   pkgs,
	}
}

// Empty returns a document with no packages at all.
func Empty() *sbom.SBOM {
	return &sbom.SBOM{
		Schema:     sbom.SchemaVersion,
		Descriptor: sbom.Descriptor{Name: "bulkhead", Version: "0.4.0"},
		Created:    Created,
		Source:     sbom.Source{Kind: "dir", Input: "/empty"},
	}
}

// Cases lists the fixtures by name, for table tests and golden files.
func Cases() []struct {
	Name string
	Doc  *sbom.SBOM
} {
	return []struct {
		Name string
		Doc  *sbom.SBOM
	}{{"image", Image()}, {"dir", Dir()}, {"empty", Empty()}}
}

// Golden compares got with the file at path, or rewrites the file when
// update is set.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

// Schema compiles the JSON schema whose "$id" is root from the *.json
// files in dir. Every file is registered under its own "$id", and the
// loader refuses anything else, so a $ref that is not vendored fails
// instead of reaching for the network.
func Schema(t testing.TB, dir, root string) *jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", dir, err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		if id == "" {
			id, _ = m["id"].(string) // draft-04 (SARIF 2.1.0)
		}
		if id == "" {
			t.Fatalf("%s has no $id", f)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	s, err := c.Compile(root)
	if err != nil {
		t.Fatalf("compiling %s: %v", root, err)
	}
	return s
}

type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not vendored in testdata/schema", url)
}

// Validate fails the test unless doc validates against s, listing every
// violation.
func Validate(t testing.TB, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	if err := Check(s, doc); err != nil {
		t.Fatal(err)
	}
}

// Check validates doc against s.
func Check(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			out, _ := json.MarshalIndent(ve.BasicOutput(), "", "  ")
			return fmt.Errorf("does not validate against %s:\n%s", s.Location, out)
		}
		return fmt.Errorf("validating: %w", err)
	}
	return nil
}
