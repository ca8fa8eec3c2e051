package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestSplit(t *testing.T) {
	tests := []struct{ in, scheme, rest string }{
		{"docker:alpine:3.19", "docker", "alpine:3.19"},
		{"docker-archive:/x/y.tar", "docker-archive", "/x/y.tar"},
		{"oci-dir:./layout", "oci-dir", "./layout"},
		{"registry:localhost:5000/a/b@sha256:00", "registry", "localhost:5000/a/b@sha256:00"},
		{"host", "host", ""},
		{"hostname.tar", "", "hostname.tar"},
		{"alpine:3.19", "", "alpine:3.19"},
		{"sbom:bom.json", "sbom", "bom.json"},
	}
	for _, tt := range tests {
		s, r := Split(tt.in)
		if s != tt.scheme || r != tt.rest {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.in, s, r, tt.scheme, tt.rest)
		}
	}
}

func TestBlobPathRejectsTraversal(t *testing.T) {
	for _, h := range []v1.Hash{
		{Algorithm: "sha256", Hex: "../../etc/passwd"},
		{Algorithm: "../x", Hex: "00"},
		{Algorithm: "", Hex: "00"},
		{Algorithm: "sha256", Hex: "ABCDEF"},
	} {
		if p, err := blobPath(h); err == nil {
			t.Errorf("blobPath(%v) = %q, want an error", h, p)
		}
	}
	if p, err := blobPath(v1.Hash{Algorithm: "sha256", Hex: "0a1b"}); err != nil || p != "blobs/sha256/0a1b" {
		t.Errorf("valid digest: %q %v", p, err)
	}
}

func TestDecompress(t *testing.T) {
	plain := bytes.Repeat([]byte("layer data "), 1000)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	enc, _ := zstd.NewWriter(&zs)
	enc.Write(plain)
	enc.Close()
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		rc, err := decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: got %d bytes, %v", name, len(got), err)
		}
	}
}

// writeArchive writes a docker-save archive with the given members.
func writeArchive(t testing.TB, dir string, members map[string][]byte) string {
	t.Helper()
	p := filepath.Join(dir, "img.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range members {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func validArchive(t testing.TB) map[string][]byte {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "etc/hostname", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.Close()
	sum := sha256.Sum256(layer.Bytes())
	diff := "sha256:" + hex.EncodeToString(sum[:])
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{diff}}})
	man, _ := json.Marshal([]map[string]any{{"Config": "cfg.json", "RepoTags": []string{"x:1"}, "Layers": []string{"l/layer.tar"}}})
	return map[string][]byte{"manifest.json": man, "cfg.json": cfg, "l/layer.tar": layer.Bytes()}
}

func TestDockerArchive(t *testing.T) {
	p := writeArchive(t, t.TempDir(), validArchive(t))
	img, err := openDockerArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if len(img.Info.Layers) != 1 || img.Info.RepoTags[0] != "x:1" || img.Info.Architecture != "amd64" {
		t.Fatalf("info %+v", img.Info)
	}
	rc, err := img.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != img.Info.Layers[0].DiffID {
		t.Error("layer content does not match its DiffID")
	}
}

func TestDockerArchiveErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string][]byte)
		want   string
	}{
		{"no manifest", func(m map[string][]byte) { delete(m, "manifest.json") }, "manifest.json"},
		{"bad manifest", func(m map[string][]byte) { m["manifest.json"] = []byte("{") }, "manifest.json"},
		{"empty manifest", func(m map[string][]byte) { m["manifest.json"] = []byte("[]") }, "no image"},
		{"missing layer", func(m map[string][]byte) { delete(m, "l/layer.tar") }, "layer 1"},
		{"layer count mismatch", func(m map[string][]byte) {
			m["manifest.json"] = []byte(`[{"Config":"cfg.json","Layers":["l/layer.tar","l/layer.tar"]}]`)
		}, "diff_ids"},
		{"config escapes", func(m map[string][]byte) {
			m["manifest.json"] = []byte(`[{"Config":"../../../etc/passwd","Layers":["l/layer.tar"]}]`)
		}, "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validArchive(t)
			tt.mutate(m)
			_, err := openDockerArchive(writeArchive(t, t.TempDir(), m))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzDockerArchiveManifest(f *testing.F) {
	m := validArchive(f)
	f.Add(m["manifest.json"], m["cfg.json"])
	f.Fuzz(func(t *testing.T, manifest, cfg []byte) {
		mm := validArchive(t)
		mm["manifest.json"], mm["cfg.json"] = manifest, cfg
		img, err := openDockerArchive(writeArchive(t, t.TempDir(), mm))
		if err == nil {
			img.Close()
		}
	})
}
