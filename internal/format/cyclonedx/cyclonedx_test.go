package cyclonedx

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/format/license"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

func encode(t *testing.T, doc *sbom.SBOM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Encoder{}).Encode(&buf, doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSchema(t *testing.T) {
	s := formattest.Schema(t, "testdata/schema", "http://cyclonedx.org/schema/bom-1.6.schema.json")
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			formattest.Validate(t, s, encode(t, tc.Doc))
		})
	}
}

// TestSchemaRejects makes sure the schema check has teeth.
func TestSchemaRejects(t *testing.T) {
	s := formattest.Schema(t, "testdata/schema", "http://cyclonedx.org/schema/bom-1.6.schema.json")
	for _, doc := range []string{
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","licenses":[{"license":{"id":"Not-A-License"}}]}]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:nope"}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","licenses":[{"license":{"id":"MIT"}},{"expression":"MIT OR ISC"}]}]}`,
	} {
		if formattest.Check(s, []byte(doc)) == nil {
			t.Errorf("schema accepted %s", doc)
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

func TestDeterministic(t *testing.T) {
	a, b := encode(t, formattest.Image()), encode(t, formattest.Image())
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same document differ")
	}
	later := formattest.Image()
	later.Created = later.Created.Add(1)
	if bytes.Equal(serial(t, a), serial(t, encode(t, later))) {
		t.Fatal("serial number does not change with the document")
	}
}

func serial(t *testing.T, doc []byte) []byte {
	t.Helper()
	i := bytes.Index(doc, []byte(`"serialNumber"`))
	if i < 0 {
		t.Fatal("no serialNumber")
	}
	return doc[i : i+60]
}

// normLicenses is what the encoder does to licence strings: SPDX ids get
// their canonical spelling, lone expressions are normalised.
func normLicenses(ls []string) []string {
	var out []string
	for _, l := range ls {
		if id, ok := license.ID(l); ok {
			l = id
		} else if len(ls) == 1 && license.HasOperator(l) {
			if e, ok := license.Normalize(l); ok {
				l = e
			}
		}
		out = append(out, l)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(encode(t, tc.Doc)))
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.Doc
			want.Packages = nil
			for _, p := range tc.Doc.Packages {
				p.Licenses = normLicenses(p.Licenses)
				want.Packages = append(want.Packages, p)
			}
			if want.Packages == nil {
				want.Packages = []sbom.Package{}
			}
			if !reflect.DeepEqual(got.Packages, want.Packages) {
				for i := range min(len(got.Packages), len(want.Packages)) {
					if !reflect.DeepEqual(got.Packages[i], want.Packages[i]) {
						t.Errorf("package %d:\n got %+v\nwant %+v", i, got.Packages[i], want.Packages[i])
					}
				}
				t.Fatalf("got %d packages, want %d", len(got.Packages), len(want.Packages))
			}
			got.Packages, want.Packages = nil, nil
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("document:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestLicenses(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"MIT"}, `[{"license":{"id":"MIT"}}]`},
		{[]string{"apache-2.0"}, `[{"license":{"id":"Apache-2.0"}}]`},
		{[]string{"MIT OR Apache-2.0"}, `[{"expression":"MIT OR Apache-2.0"}]`},
		{[]string{"GPL-2.0-only WITH Classpath-exception-2.0"}, `[{"expression":"GPL-2.0-only WITH Classpath-exception-2.0"}]`},
		{[]string{"GPL or Artistic"}, `[{"license":{"name":"GPL or Artistic"}}]`},
		{[]string{"BSD-style"}, `[{"license":{"name":"BSD-style"}}]`},
		{[]string{"MIT OR Apache-2.0", "BSD-3-Clause"}, `[{"license":{"name":"MIT OR Apache-2.0"}},{"license":{"id":"BSD-3-Clause"}}]`},
		{nil, `null`},
	} {
		b, err := jsonMarshal(licenses(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("licenses(%q) = %s, want %s", tc.in, b, tc.want)
		}
	}
}

func TestDecodeForeign(t *testing.T) {
	for _, name := range []string{"foreign-1.4.json", "minimal-1.2.json"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			doc, err := Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Packages) == 0 {
				t.Fatal("no packages")
			}
			for _, p := range doc.Packages {
				if p.ID == "" || p.Name == "" {
					t.Errorf("package without ID or name: %+v", p)
				}
			}
			if name != "foreign-1.4.json" {
				return
			}
			var got []string
			for _, p := range doc.Packages {
				got = append(got, string(p.Type)+":"+p.Name+" "+strings.Join(p.Licenses, "|"))
			}
			want := []string{":some-tool ", "apk:musl MIT", "apk:ssl_client GPL-2.0-only", "rust-crate:nested-lib "}
			if !slices.Equal(got, want) {
				t.Errorf("packages %q, want %q", got, want)
			}
			if doc.Distro == nil || doc.Distro.ID != "alpine" || doc.Distro.VersionID != "3.19.1" {
				t.Errorf("distro %+v", doc.Distro)
			}
			if doc.Descriptor.Name != "syft" || doc.Source.Input != "alpine:3.19" || doc.Created.IsZero() {
				t.Errorf("descriptor %+v, source %+v, created %v", doc.Descriptor, doc.Source, doc.Created)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		is             error
	}{
		{"not json", `{`, "not a CycloneDX JSON BOM", ErrNotCycloneDX},
		{"array", `[]`, "not a CycloneDX JSON BOM", ErrNotCycloneDX},
		{"spdx", `{"spdxVersion":"SPDX-2.3"}`, "no bomFormat", ErrNotCycloneDX},
		{"format", `{"bomFormat":"SPDX","specVersion":"1.6"}`, `bomFormat is "SPDX"`, ErrNotCycloneDX},
		{"no version", `{"bomFormat":"CycloneDX"}`, "no specVersion", ErrNotCycloneDX},
		{"bad version", `{"bomFormat":"CycloneDX","specVersion":"9.9"}`, `specVersion "9.9"`, nil},
		{"xml only", `{"bomFormat":"CycloneDX","specVersion":"1.1"}`, "has no JSON format", ErrNotCycloneDX},
		{"bad purl", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","purl":"pkg:"}]}`, `component 0 (name "x"`, nil},
		{"no name", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":""}]}`, "no name", nil},
		{"bad time", `{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"timestamp":"yesterday"}}`, "metadata.timestamp", nil},
		{"bad index", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","properties":[{"name":"bulkhead:location:x:path","value":"/"}]}]}`, `bad index "x"`, nil},
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
	_, err := decode(bytes.NewReader(doc), int64(len(doc)-1))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestDeepNesting(t *testing.T) {
	in := `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[` +
		strings.Repeat(`{"type":"library","name":"x","components":[`, 100) +
		strings.Repeat(`]}`, 100) + `]}`
	_, err := Decode(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("got %v, want a nesting error", err)
	}
}

func FuzzDecodeCycloneDX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cyclonedx: ") {
				t.Fatalf("error does not say where it comes from: %v", err)
			}
			return
		}
		// Whatever decodes must encode again.
		var buf bytes.Buffer
		if err := (Encoder{}).Encode(&buf, doc); err != nil {
			t.Fatalf("re-encoding a decoded document: %v", err)
		}
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
