package rpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A read-only walker for the one SQLite table rpm keeps headers in:
//
//	CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)
//
// It follows the documented file format (https://www.sqlite.org/fileformat2.html):
// find the table's root page in sqlite_schema (the b-tree on page 1), then
// visit every leaf cell of the table b-tree, reassembling payloads that
// spill onto overflow pages. It reads only the main database file: rpm
// checkpoints its write-ahead log when it closes the database, so an image
// holds everything there.
const sqliteMagic = "SQLite format 3\x00"

// sqliteMaxDepth bounds b-tree recursion; real trees of a few thousand
// rows are 2–3 levels deep.
const sqliteMaxDepth = 32

type sqliteFile struct {
	ra       io.ReaderAt
	pageSize int64
	usable   int64
	npages   int64
	visited  map[int64]bool // pages already walked: a cycle is corruption
}

func readSQLite(ra io.ReaderAt, size int64, visit func([]byte) error) error {
	var hdr [100]byte
	if err := readFull(ra, hdr[:], 0, "sqlite header"); err != nil {
		return err
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("sqlite: invalid page size %d", pageSize)
	}
	usable := pageSize - int64(hdr[20])
	if usable < 480 {
		return fmt.Errorf("sqlite: usable page size %d too small", usable)
	}
	if enc := binary.BigEndian.Uint32(hdr[56:]); enc > 1 {
		return fmt.Errorf("sqlite: text encoding %d is not UTF-8", enc)
	}
	f := &sqliteFile{ra: ra, pageSize: pageSize, usable: usable, npages: size / pageSize, visited: map[int64]bool{}}

	// sqlite_schema: type, name, tbl_name, rootpage, sql.
	var root int64
	err := f.walk(1, 0, func(rec []byte) error {
		cols, err := sqliteRecord(rec, 4)
		if err != nil {
			return fmt.Errorf("sqlite schema: %w", err)
		}
		if string(cols[0].data) == "table" && string(cols[1].data) == "Packages" {
			root = cols[3].int()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if root <= 1 {
		return errors.New("sqlite: no Packages table: not an rpm database")
	}
	clear(f.visited)
	return f.walk(root, 0, func(rec []byte) error {
		cols, err := sqliteRecord(rec, 2)
		if err != nil {
			return fmt.Errorf("sqlite Packages row: %w", err)
		}
		if cols[1].kind != sqliteBlob {
			return fmt.Errorf("sqlite Packages row: blob column has serial type kind %d", cols[1].kind)
		}
		return visit(cols[1].data)
	})
}

func (f *sqliteFile) page(n int64) ([]byte, error) {
	if n < 1 || n > f.npages {
		return nil, fmt.Errorf("sqlite: page %d out of range (file has %d)", n, f.npages)
	}
	b := make([]byte, f.pageSize)
	if err := readFull(f.ra, b, (n-1)*f.pageSize, "sqlite page"); err != nil {
		return nil, err
	}
	return b, nil
}

// walk visits every row payload of the table b-tree rooted at n, in rowid
// order.
func (f *sqliteFile) walk(n int64, depth int, fn func([]byte) error) error {
	if depth > sqliteMaxDepth {
		return fmt.Errorf("sqlite: b-tree deeper than %d at page %d", sqliteMaxDepth, n)
	}
	if f.visited[n] {
		return fmt.Errorf("sqlite: page %d reached twice", n)
	}
	f.visited[n] = true
	p, err := f.page(n)
	if err != nil {
		return err
	}
	h := int64(0)
	if n == 1 {
		h = 100 // page 1 starts with the file header
	}
	if h+12 > int64(len(p)) {
		return fmt.Errorf("sqlite: page %d too small", n)
	}
	kind := p[h]
	ncells := int64(binary.BigEndian.Uint16(p[h+3:]))
	switch kind {
	case 0x0d: // table leaf
		ptrs := h + 8
		if ptrs+ncells*2 > f.usable {
			return fmt.Errorf("sqlite: page %d claims %d cells", n, ncells)
		}
		for i := range ncells {
			off := int64(binary.BigEndian.Uint16(p[ptrs+i*2:]))
			payload, err := f.leafPayload(p, off, n)
			if err != nil {
				return err
			}
			if err := fn(payload); err != nil {
				return err
			}
		}
	case 0x05: // table interior
		ptrs := h + 12
		if ptrs+ncells*2 > f.usable {
			return fmt.Errorf("sqlite: page %d claims %d cells", n, ncells)
		}
		for i := range ncells {
			off := int64(binary.BigEndian.Uint16(p[ptrs+i*2:]))
			if off < ptrs || off+4 > f.usable {
				return fmt.Errorf("sqlite: page %d cell %d at offset %d is outside the page", n, i, off)
			}
			if err := f.walk(int64(binary.BigEndian.Uint32(p[off:])), depth+1, fn); err != nil {
				return err
			}
		}
		if err := f.walk(int64(binary.BigEndian.Uint32(p[h+8:])), depth+1, fn); err != nil {
			return err
		}
	default:
		return fmt.Errorf("sqlite: page %d has type 0x%02x, want a table b-tree page", n, kind)
	}
	return nil
}

// leafPayload returns the whole payload of the table-leaf cell at off,
// following its overflow chain when it does not fit on the page.
func (f *sqliteFile) leafPayload(p []byte, off, pgno int64) ([]byte, error) {
	if off < 8 || off >= f.usable {
		return nil, fmt.Errorf("sqlite: page %d cell at offset %d is outside the page", pgno, off)
	}
	cell := p[off:f.usable]
	size, n1 := sqliteVarint(cell)
	if n1 == 0 {
		return nil, fmt.Errorf("sqlite: page %d: truncated cell", pgno)
	}
	_, n2 := sqliteVarint(cell[n1:]) // rowid
	if n2 == 0 {
		return nil, fmt.Errorf("sqlite: page %d: truncated cell", pgno)
	}
	cell = cell[n1+n2:]
	if size < 0 || size > f.npages*f.usable {
		return nil, fmt.Errorf("sqlite: page %d: payload of %d bytes is larger than the file", pgno, size)
	}
	// Local part size, per the file format's overflow rules.
	u := f.usable
	x := u - 35
	local := size
	if size > x {
		m := ((u-12)*32)/255 - 23
		k := m + (size-m)%(u-4)
		if k <= x {
			local = k
		} else {
			local = m
		}
	}
	if local > int64(len(cell)) {
		return nil, fmt.Errorf("sqlite: page %d: cell of %d local bytes runs off the page", pgno, local)
	}
	if local == size {
		return cell[:local], nil
	}
	if local+4 > int64(len(cell)) {
		return nil, fmt.Errorf("sqlite: page %d: overflow pointer runs off the page", pgno)
	}
	out := make([]byte, 0, size)
	out = append(out, cell[:local]...)
	next := int64(binary.BigEndian.Uint32(cell[local:]))
	for steps := int64(0); int64(len(out)) < size; steps++ {
		if next == 0 || steps > f.npages {
			return nil, fmt.Errorf("sqlite: page %d: overflow chain ends after %d of %d bytes", pgno, len(out), size)
		}
		op, err := f.page(next)
		if err != nil {
			return nil, err
		}
		n := min(size-int64(len(out)), u-4)
		out = append(out, op[4:4+n]...)
		next = int64(binary.BigEndian.Uint32(op))
	}
	return out, nil
}

type sqliteKind uint8

const (
	sqliteNull sqliteKind = iota
	sqliteInt
	sqliteFloat
	sqliteBlob
	sqliteText
)

type sqliteValue struct {
	kind sqliteKind
	data []byte // integers: big-endian two's complement of 0–8 bytes
	one  bool   // serial types 8 and 9 carry the constant 0 or 1
}

func (v sqliteValue) int() int64 {
	if v.kind != sqliteInt {
		return 0
	}
	if v.one {
		return 1
	}
	var x int64
	for i, b := range v.data {
		if i == 0 {
			x = int64(int8(b))
			continue
		}
		x = x<<8 | int64(b)
	}
	return x
}

// sqliteRecord decodes the first want columns of a record: a header of
// varint serial types, then the values.
func sqliteRecord(rec []byte, want int) ([]sqliteValue, error) {
	hlen, n := sqliteVarint(rec)
	if n == 0 || hlen < int64(n) || hlen > int64(len(rec)) {
		return nil, errors.New("bad record header")
	}
	types := rec[n:hlen]
	body := rec[hlen:]
	cols := make([]sqliteValue, 0, want)
	for len(cols) < want {
		if len(types) == 0 {
			return nil, fmt.Errorf("record has %d columns, want %d", len(cols), want)
		}
		st, k := sqliteVarint(types)
		if k == 0 {
			return nil, errors.New("bad serial type")
		}
		types = types[k:]
		var v sqliteValue
		var l int64
		switch {
		case st == 0:
			v.kind = sqliteNull
		case st >= 1 && st <= 6:
			v.kind = sqliteInt
			l = [...]int64{0, 1, 2, 3, 4, 6, 8}[st]
		case st == 7:
			v.kind, l = sqliteFloat, 8
		case st == 8 || st == 9:
			v.kind, v.one = sqliteInt, st == 9
		case st >= 12 && st%2 == 0:
			v.kind, l = sqliteBlob, (st-12)/2
		case st >= 13:
			v.kind, l = sqliteText, (st-13)/2
		default:
			return nil, fmt.Errorf("reserved serial type %d", st)
		}
		if l > int64(len(body)) {
			return nil, fmt.Errorf("column %d of %d bytes runs past the record", len(cols), l)
		}
		v.data, body = body[:l], body[l:]
		cols = append(cols, v)
	}
	return cols, nil
}

// sqliteVarint decodes SQLite's big-endian varint (1–9 bytes, the ninth
// contributing all 8 bits). n is 0 when b is too short.
func sqliteVarint(b []byte) (v int64, n int) {
	var x uint64
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 {
			x = x<<8 | uint64(b[i])
			return int64(x), 9
		}
		x = x<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return int64(x), i + 1
		}
	}
	return 0, 0
}
