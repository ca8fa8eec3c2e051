package inspect

import (
	"context"
	"os"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogers"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// BenchmarkScanTree scans the debootstrap rootfs of scripts/test-env.sh
// (BULKHEAD_TEST_ROOTFS) with every cataloger.
func BenchmarkScanTree(b *testing.B) {
	root := os.Getenv("BULKHEAD_TEST_ROOTFS")
	if root == "" {
		b.Skip("BULKHEAD_TEST_ROOTFS not set")
	}
	e := New(catalogers.Default())
	for b.Loop() {
		doc, err := e.ScanTree(context.Background(), root, sbom.Source{Kind: "dir"}, nil)
		if err != nil || len(doc.Packages) == 0 {
			b.Fatal(err, len(doc.Packages))
		}
	}
}
