package spdx

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/format/license"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

const schemaID = "http://spdx.org/rdf/terms/2.3"

func encode(t *testing.T, doc *sbom.SBOM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Encoder{}).Encode(&buf, doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSchema(t *testing.T) {
	s := formattest.Schema(t, "testdata/schema", schemaID)
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			formattest.Validate(t, s, encode(t, tc.Doc))
		})
	}
}

// TestSchemaRejects makes sure the schema check has teeth.
func TestSchemaRejects(t *testing.T) {
	s := formattest.Schema(t, "testdata/schema", schemaID)
	good := encode(t, formattest.Dir())
	for _, bad := range [][]byte{
		bytes.Replace(good, []byte(`"downloadLocation"`), []byte(`"downloadLocator"`), 1),
		bytes.Replace(good, []byte(`"relationshipType": "CONTAINS"`), []byte(`"relationshipType": "HOLDS"`), 1),
		bytes.Replace(good, []byte(`"primaryPackagePurpose": "LIBRARY"`), []byte(`"primaryPackagePurpose": "LIBRARIES"`), 1),
	} {
		if bytes.Equal(bad, good) {
			t.Fatal("test edit did not apply")
		}
		if formattest.Check(s, bad) == nil {
			t.Errorf("schema accepted an invalid document")
		}
	}
}

// TestIDs checks what the 2.3 schema does not: SPDXIDs and licence
// references use only letters, digits, '.' and '-' (the pattern of later
// schema revisions), and every licenseDeclared is a valid expression.
func TestIDs(t *testing.T) {
	d, err := toDocument(formattest.Image())
	if err != nil {
		t.Fatal(err)
	}
	valid := regexp.MustCompile(`^SPDXRef-[a-zA-Z0-9.-]+$`)
	for _, p := range d.Packages {
		if id := "SPDXRef-" + string(p.PackageSPDXIdentifier); !valid.MatchString(id) {
			t.Errorf("invalid SPDXID %q", id)
		}
		if l := p.PackageLicenseDeclared; l != "NOASSERTION" {
			if _, ok := license.Normalize(l); !ok {
				t.Errorf("%s: licenseDeclared %q is not a valid SPDX expression", p.PackageName, l)
			}
		}
	}
	for _, l := range d.OtherLicenses {
		if !license.IsRef(l.LicenseIdentifier) {
			t.Errorf("invalid licence reference %q", l.LicenseIdentifier)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			formattest.Golden(t, filepath.Join("testdata", "golden", tc.Name+".json"), encode(t, tc.Doc), *update)
		})
	}
}

func TestDeterministicNamespace(t *testing.T) {
	ns := func(b []byte) string {
		i := bytes.Index(b, []byte(`"documentNamespace"`))
		j := bytes.IndexByte(b[i:], '\n')
		return string(b[i : i+j])
	}
	a, b := encode(t, formattest.Image()), encode(t, formattest.Image())
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same document differ")
	}
	later := formattest.Image()
	later.Created = later.Created.Add(1e9)
	if ns(a) == ns(encode(t, later)) {
		t.Fatal("documentNamespace does not change with the content")
	}
}

func TestDeclared(t *testing.T) {
	r := &licenseRefs{byText: map[string]string{}, byID: map[string]string{}}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "NOASSERTION"},
		{[]string{"mit"}, "MIT"},
		{[]string{"MIT OR Apache-2.0"}, "MIT OR Apache-2.0"},
		{[]string{"MIT OR Apache-2.0", "BSD-3-Clause"}, "(MIT OR Apache-2.0) AND BSD-3-Clause"},
		{[]string{"MIT AND ISC", "GPL-2.0-only WITH Classpath-exception-2.0"}, "MIT AND ISC AND GPL-2.0-only WITH Classpath-exception-2.0"},
		{[]string{"BSD-style"}, "LicenseRef-BSD-style"},
		{[]string{"BSD style"}, "LicenseRef-BSD-style-" + "b1c3e08d"},
		{[]string{"GPL or Artistic", "MIT"}, "LicenseRef-GPL-or-Artistic AND MIT"},
	} {
		got := r.declared(tc.in)
		if strings.HasPrefix(tc.want, "LicenseRef-BSD-style-") {
			if !strings.HasPrefix(got, "LicenseRef-BSD-style-") || got == "LicenseRef-BSD-style" {
				t.Errorf("declared(%q) = %q, want a distinct ref", tc.in, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("declared(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if _, ok := license.Normalize(got); !ok && got != "NOASSERTION" {
			t.Errorf("declared(%q) = %q is not a valid SPDX expression", tc.in, got)
		}
	}
	if n := len(r.list()); n != 3 {
		t.Errorf("%d extracted licences, want 3", n)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(encode(t, tc.Doc)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Packages) != len(tc.Doc.Packages) {
				t.Fatalf("got %d packages, want %d", len(got.Packages), len(tc.Doc.Packages))
			}
			for i, w := range tc.Doc.Packages {
				g := got.Packages[i]
				if g.ID != w.ID || g.Name != w.Name || g.Version != w.Version || g.Type != w.Type || g.PURL != w.PURL {
					t.Errorf("package %d: got %+v, want %+v", i, g, w)
				}
				if len(w.Licenses) == 1 {
					want := w.Licenses[0]
					if n, ok := license.Normalize(want); ok {
						want = n
					}
					if !slices.Equal(g.Licenses, []string{want}) {
						t.Errorf("package %s: licenses %q, want %q", w.Name, g.Licenses, want)
					}
				}
			}
			if got.Source.Input != tc.Doc.Source.Input || !got.Created.Equal(tc.Doc.Created) || got.Descriptor != tc.Doc.Descriptor {
				t.Errorf("document: got %+v / %v / %+v", got.Source, got.Created, got.Descriptor)
			}
			if (got.Distro == nil) != (tc.Doc.Distro == nil) || got.Distro != nil && got.Distro.ID != tc.Doc.Distro.ID {
				t.Errorf("distro: got %+v, want %+v", got.Distro, tc.Doc.Distro)
			}
		})
	}
}

func TestDecodeSPDX22(t *testing.T) {
	f, err := os.Open("testdata/foreign-2.2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range doc.Packages {
		names = append(names, string(p.Type)+":"+p.Name+"@"+p.Version+" "+strings.Join(p.Licenses, "|"))
	}
	want := []string{"deb:libssl3@3.0.11-1~deb12u2 Apache-2.0", "npm:express@4.18.2 custom licence text"}
	if !slices.Equal(names, want) {
		t.Errorf("packages %q, want %q", names, want)
	}
	if doc.Source.Input != "debian" || doc.Descriptor.Name != "syft" {
		t.Errorf("source %+v, descriptor %+v", doc.Source, doc.Descriptor)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		is             error
	}{
		{"not json", `{`, "not an SPDX", ErrNotSPDX},
		{"trailing", `{"spdxVersion":"SPDX-2.3"} {}`, "unexpected data", ErrNotSPDX},
		{"cyclonedx", `{"bomFormat":"CycloneDX"}`, "no spdxVersion", ErrNotSPDX},
		{"version", `{"spdxVersion":"SPDX-3.0"}`, `spdxVersion is "SPDX-3.0"`, ErrNotSPDX},
		{"wrong type", `{"spdxVersion":"SPDX-2.3","packages":{}}`, "packages", ErrNotSPDX},
		{"bad created", `{"spdxVersion":"SPDX-2.3","creationInfo":{"created":"now"}}`, "creationInfo.created", nil},
		{"bad purl", `{"spdxVersion":"SPDX-2.3","packages":[{"SPDXID":"SPDXRef-a","name":"a","externalRefs":[{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl","referenceLocator":"pkg:"}]}]}`, `package 0 (SPDXID "SPDXRef-a", name "a")`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	doc := encode(t, formattest.Image())
	if _, err := decode(bytes.NewReader(doc), int64(len(doc))); err != nil {
		t.Fatalf("document of exactly the limit: %v", err)
	}
	if _, err := decode(bytes.NewReader(doc), int64(len(doc)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func FuzzDecodeSPDX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "spdx: ") {
				t.Fatalf("error does not say where it comes from: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := (Encoder{}).Encode(&buf, doc); err != nil {
			t.Fatalf("re-encoding a decoded document: %v", err)
		}
	})
}
