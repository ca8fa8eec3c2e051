package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/klauspost/compress/zstd"
)

// tarIndex maps the regular files of an uncompressed tar on disk to their
// byte ranges, so members can be read (in parallel) without extracting.
type tarIndex struct {
	f       *os.File
	entries map[string]section
}

type section struct{ off, size int64 }

const (
	maxOuterEntries  = 1 << 20
	maxMetadataBytes = 16 << 20 // manifests, configs, index.json
)

func indexTar(p string) (*tarIndex, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	ix := &tarIndex{f: f, entries: map[string]section{}}
	tr := tar.NewReader(f) // os.File seeks: entry bodies are skipped, not read
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a readable tar archive: %w", p, err)
		}
		if n > maxOuterEntries {
			f.Close()
			return nil, fmt.Errorf("%s: more than %d entries", p, maxOuterEntries)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != typeRegA {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return nil, err
		}
		ix.entries[path.Clean("/" + hdr.Name)[1:]] = section{off: off, size: hdr.Size}
	}
	return ix, nil
}

func (ix *tarIndex) open(name string) (*io.SectionReader, error) {
	s, ok := ix.entries[path.Clean("/" + name)[1:]]
	if !ok {
		return nil, fmt.Errorf("%s: %w in archive", name, ErrNotFound)
	}
	return io.NewSectionReader(ix.f, s.off, s.size), nil
}

func (ix *tarIndex) readFile(name string) ([]byte, error) {
	r, err := ix.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for image metadata", name, r.Size())
	}
	return io.ReadAll(r)
}

// decompress returns the uncompressed stream of a layer blob, recognising
// gzip and zstd by their magic bytes (uncompressed tars pass through).
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip layer: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// sniffFile tells a docker-save archive from an OCI archive or an SBOM.
func sniffFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return "sbom", nil
	}
	ix, err := indexTar(p)
	if err != nil {
		return "", err
	}
	defer ix.f.Close()
	if _, ok := ix.entries["manifest.json"]; ok {
		return "docker-archive", nil
	}
	if _, ok := ix.entries["oci-layout"]; ok {
		return "oci-archive", nil
	}
	return "", errors.New(p + ": a tar archive with neither manifest.json nor oci-layout")
}

// typeRegA is the pre-POSIX regular file type ('\x00', tar.TypeRegA,
// deprecated in archive/tar): old archives still use it.
const typeRegA = '\x00'
