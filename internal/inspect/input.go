package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
)

// streamFile is one regular file of a tar stream, shared by every cataloger
// that wants it. Peeks come from a small buffer; a sequential Read by the only
// interested cataloger streams straight from the tar; anything else (random
// access, or several catalogers) buffers the content once, bounded by max.
type streamFile struct {
	path string
	size int64
	mode fs.FileMode
	max  int64
	br   *bufio.Reader
	full []byte
	err  error
	// shared is set when more than one cataloger wants the file, so a
	// sequential read must not consume the stream.
	shared   bool
	consumed bool
	// scratch, when set, is a buffer reused across the files of one layer
	// for full loads (executables, archives): catalogers must not keep
	// references into an Input's bytes after Parse returns.
	scratch *[]byte
}

func (f *streamFile) load() ([]byte, error) {
	if f.full != nil || f.err != nil {
		return f.full, f.err
	}
	if f.consumed {
		return nil, fmt.Errorf("%s: content already consumed", f.path)
	}
	if f.size > f.max {
		f.err = fmt.Errorf("%s (%d bytes): %w", f.path, f.size, catalog.ErrTooLarge)
		return nil, f.err
	}
	var buf []byte
	if f.scratch != nil && int64(cap(*f.scratch)) >= f.size {
		buf = (*f.scratch)[:f.size]
	} else {
		buf = make([]byte, f.size)
		if f.scratch != nil && f.size <= maxScratch {
			*f.scratch = buf
		}
	}
	_, err := io.ReadFull(f.br, buf)
	f.consumed = true
	if err != nil {
		f.err = fmt.Errorf("read %s: %w", f.path, err)
		return nil, f.err
	}
	f.full = buf
	return buf, nil
}

// maxScratch is the largest buffer kept for reuse between files; larger
// files get their own allocation, freed after use.
const maxScratch = 64 << 20

// view is what one cataloger sees of a streamFile.
type view struct {
	f  *streamFile
	rd io.Reader
}

func (v *view) Path() string      { return v.f.path }
func (v *view) Size() int64       { return v.f.size }
func (v *view) Mode() fs.FileMode { return v.f.mode }

func (v *view) Peek(n int) ([]byte, error) {
	if v.f.full != nil {
		if n > len(v.f.full) {
			n = len(v.f.full)
		}
		return v.f.full[:n], nil
	}
	if v.f.consumed {
		return nil, fmt.Errorf("%s: content already consumed", v.f.path)
	}
	if int64(n) > v.f.size {
		n = int(v.f.size)
	}
	b, err := v.f.br.Peek(n)
	if err == bufio.ErrBufferFull {
		err = nil
	}
	return b, err
}

func (v *view) Read(p []byte) (int, error) {
	if v.rd == nil {
		if v.f.shared || v.f.full != nil {
			b, err := v.f.load()
			if err != nil {
				return 0, err
			}
			v.rd = bytes.NewReader(b)
		} else {
			v.f.consumed = true
			v.rd = &capped{r: io.LimitReader(v.f.br, v.f.size), left: v.f.max, path: v.f.path}
		}
	}
	return v.rd.Read(p)
}

func (v *view) ReaderAt() (io.ReaderAt, error) {
	b, err := v.f.load()
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// capped fails with ErrTooLarge once more than left bytes were read.
type capped struct {
	r    io.Reader
	left int64
	path string
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%s: %w", c.path, catalog.ErrTooLarge)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// diskFile is a regular file of a directory tree: random access is free.
type diskFile struct {
	path string
	f    io.ReaderAt
	size int64
	mode fs.FileMode
	max  int64
	rd   io.Reader
}

func (d *diskFile) Path() string      { return d.path }
func (d *diskFile) Size() int64       { return d.size }
func (d *diskFile) Mode() fs.FileMode { return d.mode }

func (d *diskFile) Peek(n int) ([]byte, error) {
	if int64(n) > d.size {
		n = int(d.size)
	}
	b := make([]byte, n)
	m, err := d.f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b[:m], err
}

func (d *diskFile) Read(p []byte) (int, error) {
	if d.rd == nil {
		d.rd = &capped{r: io.NewSectionReader(d.f, 0, d.size), left: d.max, path: d.path}
	}
	return d.rd.Read(p)
}

// ReaderAt on a file on disk costs no memory, so the per-file limit does not
// apply: a 700 MB Go binary is read only where its headers point.
func (d *diskFile) ReaderAt() (io.ReaderAt, error) {
	return io.NewSectionReader(d.f, 0, d.size), nil
}
