package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore reads an OCI image layout's files: index.json and blobs.
type blobStore interface {
	readFile(name string) ([]byte, error)
	open(name string) (io.ReadCloser, int64, error)
}

type dirStore struct{ root string }

func (d dirStore) readFile(name string) ([]byte, error) {
	rc, n, err := d.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if n > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for image metadata", name, n)
	}
	return io.ReadAll(rc)
}

func (d dirStore) open(name string) (io.ReadCloser, int64, error) {
	// Names come from blobPath (validated digests) or are constants.
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(name)))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, st.Size(), nil
}

type tarStore struct{ ix *tarIndex }

func (t tarStore) readFile(name string) ([]byte, error) { return t.ix.readFile(name) }
func (t tarStore) open(name string) (io.ReadCloser, int64, error) {
	s, err := t.ix.open(name)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(s), s.Size(), nil
}

// blobPath turns a digest into its layout path, refusing anything that is
// not algorithm:hex (a digest is attacker-controlled and becomes a path).
func blobPath(h v1.Hash) (string, error) {
	if h.Algorithm == "" || strings.ContainsAny(h.Algorithm, "/\\.") {
		return "", fmt.Errorf("bad digest algorithm %q", h.Algorithm)
	}
	for _, c := range h.Hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("bad digest %q", h.String())
		}
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

func openOCIDir(p string, opts Options) (*Image, error) {
	img, err := ociImage(dirStore{root: p}, "oci-dir", p, opts)
	if err != nil {
		return nil, fmt.Errorf("oci-dir %s: %w", p, err)
	}
	img.Close = func() error { return nil }
	return img, nil
}

func openOCIArchive(p string, opts Options) (*Image, error) {
	ix, err := indexTar(p)
	if err != nil {
		return nil, fmt.Errorf("oci-archive %s: %w", p, err)
	}
	img, err := ociImage(tarStore{ix: ix}, "oci-archive", p, opts)
	if err != nil {
		ix.f.Close()
		return nil, fmt.Errorf("oci-archive %s: %w", p, err)
	}
	img.Close = ix.f.Close
	return img, nil
}

func readBlob(s blobStore, h v1.Hash) ([]byte, error) {
	bp, err := blobPath(h)
	if err != nil {
		return nil, err
	}
	b, err := s.readFile(bp)
	if err != nil {
		return nil, err
	}
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err == nil && h.Algorithm == "sha256" && got != h {
		return nil, fmt.Errorf("blob %s hashes to %s", h, got)
	}
	return b, nil
}

// ociImage picks the image of a layout: the first manifest matching the
// platform, descending into nested indexes.
func ociImage(s blobStore, kind, input string, opts Options) (*Image, error) {
	raw, err := s.readFile("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	want := platformOf(opts.Platform)
	var manifest *v1.Manifest
	var mdigest v1.Hash
	for depth := 0; manifest == nil; depth++ {
		if depth > 4 {
			return nil, fmt.Errorf("image indexes nested too deep")
		}
		desc, err := pickManifest(idx.Manifests, want)
		if err != nil {
			return nil, err
		}
		b, err := readBlob(s, desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if desc.MediaType.IsIndex() {
			if idx, err = v1.ParseIndexManifest(bytes.NewReader(b)); err != nil {
				return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
			}
			continue
		}
		if manifest, err = v1.ParseManifest(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		mdigest = desc.Digest
	}
	rawCfg, err := readBlob(s, manifest.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers but the config has %d diff_ids", len(manifest.Layers), len(cfg.RootFS.DiffIDs))
	}
	info := imageInfo(kind, input, manifest.Config.Digest.String(), cfg)
	info.ManifestID = mdigest.String()
	for i, l := range manifest.Layers {
		info.Layers[i].Digest = l.Digest.String()
		info.Layers[i].Size = l.Size
	}
	return &Image{
		Info: info,
		Open: func(_ context.Context, i int) (io.ReadCloser, error) {
			bp, err := blobPath(manifest.Layers[i].Digest)
			if err != nil {
				return nil, err
			}
			rc, _, err := s.open(bp)
			if err != nil {
				return nil, err
			}
			dr, err := decompress(rc)
			if err != nil {
				rc.Close()
				return nil, err
			}
			return readCloser{Reader: dr, close: func() error { dr.Close(); return rc.Close() }}, nil
		},
	}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

func platformOf(s string) v1.Platform {
	if s == "" {
		return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	return *p
}

func pickManifest(ds []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	if len(ds) == 0 {
		return v1.Descriptor{}, fmt.Errorf("the index lists no manifest")
	}
	for _, d := range ds {
		if d.Platform == nil || (d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no manifest for platform %s/%s", want.OS, want.Architecture)
}
