package osrelease

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func TestParse(t *testing.T) {
	tests := []struct {
		file string
		want sbom.Distro
	}{
		{"testdata/debian-12", sbom.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm", Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
		{"testdata/alpine-3.19", sbom.Distro{ID: "alpine", VersionID: "3.19.1", Name: "Alpine Linux", PrettyName: "Alpine Linux v3.19"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseRejectsNoID(t *testing.T) {
	if _, err := Parse(strings.NewReader("NAME=x\n")); err == nil || !strings.Contains(err.Error(), "no ID") {
		t.Fatalf("want a 'no ID' error, got %v", err)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	b, _ := os.ReadFile("testdata/debian-12")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(strings.NewReader(string(data)))
		if err == nil && d.ID == "" {
			t.Fatal("nil error without ID")
		}
	})
}
