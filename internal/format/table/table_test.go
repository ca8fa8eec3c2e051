package table

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGolden(t *testing.T) {
	for _, tc := range formattest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (Encoder{}).Encode(&buf, tc.Doc); err != nil {
				t.Fatal(err)
			}
			formattest.Golden(t, filepath.Join("testdata", "golden", tc.Name+".txt"), buf.Bytes(), *update)
		})
	}
}

func TestHostileNames(t *testing.T) {
	doc := formattest.Dir()
	doc.Packages[0].Name = "evil\ttab\nnewline\x1b[31mred"
	var buf bytes.Buffer
	if err := (Encoder{}).Encode(&buf, doc); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(buf.String(), "\t\x1b") || strings.Count(buf.String(), "\n") != 5 {
		t.Fatalf("control characters leaked into the table:\n%q", buf.String())
	}
}

func TestShort(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:6c3e5b5c0f2f1c8e9d7a4b3c": "6c3e5b5c0f2f",
		"abc":                             "abc",
		"":                                "",
	} {
		if got := short(in); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNil(t *testing.T) {
	if err := (Encoder{}).Encode(&bytes.Buffer{}, (*sbom.SBOM)(nil)); err == nil {
		t.Fatal("no error for a nil document")
	}
}
