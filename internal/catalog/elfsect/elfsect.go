// Package elfsect answers one question cheaply: which of a few named
// sections does an ELF file have? It reads the ELF header, the section
// header table and the section-name string table, nothing else, so binary
// catalogers can skip the hundreds of C binaries in an image with three
// small reads each instead of a full debug/elf parse.
//
// It imports only the standard library.
package elfsect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Section is where a section's bytes are in the file.
type Section struct {
	Offset, Size uint64
	NoBits       bool
}

// ErrNotELF is returned for files without the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

const (
	maxSections   = 1 << 16
	maxStrtabSize = 1 << 20
)

// Find returns the sections of the ELF file in ra (of the given size) whose
// names are in want. A file with no section headers returns an empty map
// and no error: the caller decides what that means.
func Find(ra io.ReaderAt, size int64, want ...string) (map[string]Section, error) {
	var id [64]byte
	if _, err := ra.ReadAt(id[:16], 0); err != nil {
		return nil, ErrNotELF
	}
	if string(id[:4]) != "\x7fELF" {
		return nil, ErrNotELF
	}
	var bo binary.ByteOrder
	switch id[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("ELF: bad data encoding %d", id[5])
	}
	is64 := id[4] == 2
	hdrLen := 52
	if is64 {
		hdrLen = 64
	}
	if _, err := ra.ReadAt(id[:hdrLen], 0); err != nil {
		return nil, fmt.Errorf("ELF header: %w", err)
	}
	var shoff uint64
	var shentsize, shnum, shstrndx uint16
	if is64 {
		shoff = bo.Uint64(id[40:])
		shentsize, shnum, shstrndx = bo.Uint16(id[58:]), bo.Uint16(id[60:]), bo.Uint16(id[62:])
	} else {
		shoff = uint64(bo.Uint32(id[32:]))
		shentsize, shnum, shstrndx = bo.Uint16(id[46:]), bo.Uint16(id[48:]), bo.Uint16(id[50:])
	}
	out := map[string]Section{}
	if shoff == 0 || shnum == 0 {
		return out, nil
	}
	minEnt := uint16(40)
	if is64 {
		minEnt = 64
	}
	if shentsize < minEnt || shstrndx >= shnum || int(shnum) > maxSections {
		return nil, fmt.Errorf("ELF: bad section header table (entsize %d, count %d, strndx %d)", shentsize, shnum, shstrndx)
	}
	tableLen := uint64(shentsize) * uint64(shnum)
	if shoff > uint64(size) || tableLen > uint64(size)-shoff {
		return nil, fmt.Errorf("ELF: section header table past the end of the file")
	}
	table := make([]byte, tableLen)
	if _, err := ra.ReadAt(table, int64(shoff)); err != nil {
		return nil, fmt.Errorf("ELF section headers: %w", err)
	}
	type hdr struct {
		name      uint32
		typ       uint32
		off, size uint64
	}
	parse := func(i int) hdr {
		b := table[i*int(shentsize):]
		if is64 {
			return hdr{bo.Uint32(b[0:]), bo.Uint32(b[4:]), bo.Uint64(b[24:]), bo.Uint64(b[32:])}
		}
		return hdr{bo.Uint32(b[0:]), bo.Uint32(b[4:]), uint64(bo.Uint32(b[16:])), uint64(bo.Uint32(b[20:]))}
	}
	st := parse(int(shstrndx))
	if st.size > maxStrtabSize || st.off > uint64(size) || st.size > uint64(size)-st.off {
		return nil, fmt.Errorf("ELF: bad section name table")
	}
	strtab := make([]byte, st.size)
	if _, err := ra.ReadAt(strtab, int64(st.off)); err != nil {
		return nil, fmt.Errorf("ELF section names: %w", err)
	}
	for i := range int(shnum) {
		h := parse(i)
		if uint64(h.name) >= uint64(len(strtab)) {
			continue
		}
		name := strtab[h.name:]
		if n := indexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		for _, w := range want {
			if string(name) == w {
				out[w] = Section{Offset: h.off, Size: h.size, NoBits: h.typ == 8}
			}
		}
	}
	return out, nil
}

// HasSections reports whether the file has section headers at all.
func HasSections(ra io.ReaderAt, size int64) bool {
	var id [64]byte
	if _, err := ra.ReadAt(id[:], 0); err != nil || string(id[:4]) != "\x7fELF" {
		return false
	}
	if id[4] == 2 {
		if id[5] == 2 {
			return binary.BigEndian.Uint16(id[60:]) > 0
		}
		return binary.LittleEndian.Uint16(id[60:]) > 0
	}
	if id[5] == 2 {
		return binary.BigEndian.Uint16(id[48:]) > 0
	}
	return binary.LittleEndian.Uint16(id[48:]) > 0
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
