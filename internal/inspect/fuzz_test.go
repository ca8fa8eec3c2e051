package inspect

import (
	"bytes"
	"context"
	"path"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogers"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// FuzzAnalyzeTar feeds arbitrary bytes to the layer walker with every
// cataloger enabled: it must never panic, and what it returns must merge.
func FuzzAnalyzeTar(f *testing.F) {
	f.Add(layerTar(f, entry{name: "var/lib/dpkg/status", body: stanza("a", "1")}))
	f.Add(layerTar(f,
		entry{name: "etc/os-release", body: "ID=debian\nVERSION_ID=12\n"},
		entry{name: "var/lib/dpkg/status.d/.wh.x"},
		entry{name: "usr/bin/x", body: "\x7fELF\x02\x01\x01", mode: 0o755},
		entry{name: "app/package-lock.json", body: `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}`},
	))
	lim := DefaultLimits()
	lim.MaxFileSize = 1 << 20
	lim.MaxLayerBytes = 8 << 20
	lim.MaxFiles = 10_000
	var cats []catalog.Cataloger = catalogers.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(cats, WithLimits(lim), WithFileListing(sbom.FilesAll))
		lr, err := e.analyzeTar(context.Background(), bytes.NewReader(data), "sha256:fuzz")
		if err != nil {
			return
		}
		doc := e.assemble(sbom.Source{Kind: "fuzz"}, []*LayerResult{lr})
		for _, p := range doc.Packages {
			if p.ID == "" {
				t.Fatalf("package without ID: %+v", p)
			}
		}
		fl := mergeListing([]*LayerResult{lr}, sbom.FilesAll, lim.MaxListedFiles)
		for i, f := range fl.Files {
			if f.Path != path.Clean(f.Path) || !strings.HasPrefix(f.Path, "/") || f.Path == "/" {
				t.Fatalf("listed path %q is not clean and absolute", f.Path)
			}
			if i > 0 && fl.Files[i-1].Path >= f.Path {
				t.Fatalf("listing not sorted or has duplicates at %q", f.Path)
			}
		}
	})
}
