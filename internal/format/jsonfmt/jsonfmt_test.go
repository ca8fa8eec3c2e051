package jsonfmt

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
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

func TestGolden(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			formattest.Golden(t, filepath.Join("testdata", "golden", tc.Name+".json"), encode(t, tc.Doc), *update)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(encode(t, tc.Doc)))
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.Doc
			if want.Packages == nil {
				want.Packages = []sbom.Package{}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("round trip changed the document:\n got %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{`, "not a Bulkhead SBOM"},
		{"no schema", `{"packages":[]}`, `no "schema" field`},
		{"other schema", `{"schema":"bulkhead.sbom/v9"}`, `unsupported schema "bulkhead.sbom/v9"`},
		{"bad field", `{"schema":"bulkhead.sbom/v1","packages":{}}`, "decoding bulkhead.sbom/v1 document"},
		{"bad time", `{"schema":"bulkhead.sbom/v1","created":"today"}`, "decoding bulkhead.sbom/v1 document"},
		{"trailing", `{"schema":"bulkhead.sbom/v1"} {}`, "after top-level value"},
		{"no name", `{"schema":"bulkhead.sbom/v1","packages":[{"version":"1"}]}`, "package 0: empty name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
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

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "json: ") {
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
