package image

import (
	"bytes"
	"context"
	"testing"
)

// FuzzScanLayer feeds arbitrary bytes as a layer: errors are fine, panics
// and paths outside the root are not.
func FuzzScanLayer(f *testing.F) {
	f.Add(layerTar(f, tf{name: "../../etc/passwd", mode: 0o4777, body: "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8a4sT2vB"}, tf{name: "a/.wh..wh..opq"}, tf{name: "/.wh.b"}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := scanLayer(context.Background(), bytes.NewReader(data), 0, Limits{MaxFiles: 1000, MaxScanBytes: 4096, MaxListed: 10})
		if err != nil {
			return
		}
		for p := range ls.files {
			if len(p) == 0 || p[0] != '/' || bytes.Contains([]byte(p), []byte("/../")) {
				t.Fatalf("path %q escapes the layer root", p)
			}
		}
		fs := merge([]*layerScan{ls})
		fs.Summarize(DefaultLimits())
	})
}
