package inspect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// hashPipe reads a layer stream ahead in 1 MiB chunks on one goroutine and
// hashes the chunks on another while the tar walker consumes them, so
// verifying a layer's DiffID costs no wall time on a machine with a spare
// core. Memory is bounded by the chunk pool (pipeChunks × pipeChunkSize).
type hashPipe struct {
	ready  chan *pipeChunk // to the reader, in order
	toHash chan *pipeChunk // to the hasher, in order
	free   chan *pipeChunk
	stop   chan struct{}
	once   sync.Once
	hashed sync.WaitGroup
	h      hash.Hash
	cur    *pipeChunk
	off    int
	pos    int64 // bytes consumed by Read and Seek
}

type pipeChunk struct {
	buf  []byte
	n    int
	err  error
	refs atomic.Int32
}

const (
	pipeChunks    = 4
	pipeChunkSize = 1 << 20
)

func newHashPipe(src io.Reader) *hashPipe {
	p := &hashPipe{
		ready:  make(chan *pipeChunk, pipeChunks),
		toHash: make(chan *pipeChunk, pipeChunks),
		free:   make(chan *pipeChunk, pipeChunks),
		stop:   make(chan struct{}),
		h:      sha256.New(),
	}
	for range pipeChunks {
		p.free <- &pipeChunk{buf: make([]byte, pipeChunkSize)}
	}
	p.hashed.Add(1)
	go p.hash()
	go p.produce(src)
	return p
}

func (p *hashPipe) produce(src io.Reader) {
	defer close(p.ready)
	defer close(p.toHash)
	for {
		var c *pipeChunk
		select {
		case c = <-p.free:
		case <-p.stop:
			return
		}
		c.n, c.err = io.ReadFull(src, c.buf)
		if c.err == io.ErrUnexpectedEOF {
			c.err = io.EOF
		}
		c.refs.Store(2)
		p.toHash <- c
		select {
		case p.ready <- c:
		case <-p.stop:
			return
		}
		if c.err != nil {
			return
		}
	}
}

func (p *hashPipe) hash() {
	defer p.hashed.Done()
	for c := range p.toHash {
		p.h.Write(c.buf[:c.n])
		p.release(c)
	}
}

func (p *hashPipe) release(c *pipeChunk) {
	if c.refs.Add(-1) == 0 {
		select {
		case p.free <- c:
		default:
		}
	}
}

// Read serves the stream in order.
func (p *hashPipe) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			c, ok := <-p.ready
			if !ok {
				return 0, io.ErrClosedPipe
			}
			p.cur, p.off = c, 0
		}
		c := p.cur
		if p.off < c.n {
			n := copy(b, c.buf[p.off:c.n])
			p.off += n
			p.pos += int64(n)
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		p.cur = nil
		p.release(c)
	}
}

// Seek supports only forward moves from the current position (and
// reporting it), which is what archive/tar needs to skip file bodies
// without copying them: skipped bytes are still hashed.
func (p *hashPipe) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return p.pos, errors.New("hashPipe: only forward relative seeks")
	}
	for offset > 0 {
		if p.cur == nil {
			c, ok := <-p.ready
			if !ok {
				return p.pos, io.ErrClosedPipe
			}
			p.cur, p.off = c, 0
		}
		c := p.cur
		if avail := int64(c.n - p.off); avail > 0 {
			step := min(avail, offset)
			p.off += int(step)
			p.pos += step
			offset -= step
			continue
		}
		if c.err != nil {
			// Past the end: archive/tar reads the last byte next and
			// reports the truncation then.
			return p.pos, nil
		}
		p.cur = nil
		p.release(c)
	}
	return p.pos, nil
}

// Sum drains what the reader did not consume (so the whole stream is
// hashed) and returns the digest as "sha256:<hex>".
func (p *hashPipe) Sum() (string, error) {
	if _, err := io.Copy(io.Discard, p); err != nil {
		return "", err
	}
	p.hashed.Wait()
	return "sha256:" + hex.EncodeToString(p.h.Sum(nil)), nil
}

// Close stops the read-ahead; safe to call more than once.
func (p *hashPipe) Close() {
	p.once.Do(func() { close(p.stop) })
	// Let the hasher finish with what it was given.
	go func() {
		for range p.ready {
		}
	}()
}
