package jsonfmt

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"reflect"
	"slices"
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
		{"listing scope", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"some","files":[]}}`, `unknown scope "some"`},
		{"listing relative", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"bin/x","type":"file","mode":"0755"}]}}`, "not absolute and clean"},
		{"listing unclean", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"/a/../x","type":"file","mode":"0755"}]}}`, "not absolute and clean"},
		{"listing type", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"/x","type":"dir","mode":"0755"}]}}`, `unknown type "dir"`},
		{"listing link", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"/x","type":"symlink","mode":"0777"}]}}`, "symlink without a target"},
		{"listing mode", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"/x","type":"file","mode":"10755"}]}}`, "file mode"},
		{"listing mode number", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","files":[{"path":"/x","type":"file","mode":493}]}}`, "file mode"},
		{"listing contradiction", `{"schema":"bulkhead.sbom/v1","fileListing":{"scope":"all","complete":true,"truncated":true,"files":[]}}`, "marked complete but truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// withListing is the image test case with a small file listing, as
// "bulkhead sbom --files" writes it.
func withListing() *sbom.SBOM {
	doc := *formattest.Image()
	layer := "sha256:" + strings.Repeat("ab", 32)
	if len(doc.Source.Layers) > 0 {
		layer = doc.Source.Layers[0].DiffID
	}
	doc.FileListing = &sbom.FileListing{
		Scope:    sbom.FilesExecutable,
		Complete: true,
		Files: []sbom.File{
			{Path: "/usr/bin/env", Type: sbom.FileRegular, Mode: 0o755, Size: 48536, Layer: layer},
			{Path: "/bin", Type: sbom.FileSymlink, Mode: 0o777, LinkTarget: "usr/bin", Layer: layer},
			{Path: "/usr/bin/passwd", Type: sbom.FileRegular, Mode: 0o4755, Size: 68248, Layer: layer},
		},
	}
	return &doc
}

func TestFileListingGoldenAndRoundTrip(t *testing.T) {
	doc := withListing()
	before := slices.Clone(doc.FileListing.Files)
	out := encode(t, doc)
	if !reflect.DeepEqual(doc.FileListing.Files, before) {
		t.Fatal("Encode modified the document's listing")
	}
	formattest.Golden(t, filepath.Join("testdata", "golden", "image-files.json"), out, *update)
	got, err := Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(before)
	sbom.SortFiles(want)
	if !reflect.DeepEqual(got.FileListing.Files, want) || got.FileListing.Scope != sbom.FilesExecutable || !got.FileListing.Complete {
		t.Fatalf("listing changed in a round trip:\n got %+v\nwant %+v", got.FileListing, want)
	}
	if !strings.Contains(string(out), `"mode": "4755"`) {
		t.Errorf("setuid mode not written as octal:\n%s", out)
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
	f.Add([]byte(`{"schema":"bulkhead.sbom/v1","packages":[],"fileListing":{"scope":"all","complete":true,"files":[{"path":"/bin/x","type":"file","mode":"0755"}]}}`))
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
