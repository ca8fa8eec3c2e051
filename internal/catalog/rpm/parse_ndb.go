package rpm

import (
	"encoding/binary"
	"fmt"
	"io"
)

// rpm's ndb format (lib/backend/ndb/rpmpkg.c), all little-endian: a 32-byte
// header ("RpmP", version, generation, slot page count, ...), then slot
// pages of 4096 bytes holding 16-byte slots ("Slot", package index, block
// offset, block count; the first two slots' room is the header). A used
// slot points, in 16-byte blocks, at a blob: "BlbS", package index,
// checksum, length, then the header blob itself.
const (
	ndbMagic        = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic    = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic    = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbPageSize     = 4096
	ndbSlotSize     = 16
	ndbBlockSize    = 16
	ndbMaxSlotPages = 2048 // 512k slots: far more packages than any system has
)

func readNDB(ra io.ReaderAt, size int64, visit func([]byte) error) error {
	var hdr [32]byte
	if err := readFull(ra, hdr[:], 0, "ndb header"); err != nil {
		return err
	}
	if v := binary.LittleEndian.Uint32(hdr[4:]); v != 0 {
		return fmt.Errorf("ndb: unsupported version %d", v)
	}
	npages := binary.LittleEndian.Uint32(hdr[12:])
	if npages == 0 || npages > ndbMaxSlotPages || int64(npages)*ndbPageSize > size {
		return fmt.Errorf("ndb: implausible slot page count %d for a %d-byte file", npages, size)
	}
	slots := make([]byte, int64(npages)*ndbPageSize)
	if err := readFull(ra, slots, 0, "ndb slot pages"); err != nil {
		return err
	}
	var bh [16]byte
	for off := 2 * ndbSlotSize; off+ndbSlotSize <= len(slots); off += ndbSlotSize {
		s := slots[off : off+ndbSlotSize]
		if binary.LittleEndian.Uint32(s) != ndbSlotMagic {
			return fmt.Errorf("ndb: bad slot magic at offset %d", off)
		}
		idx := binary.LittleEndian.Uint32(s[4:])
		if idx == 0 {
			continue // free slot
		}
		blkOff := int64(binary.LittleEndian.Uint32(s[8:])) * ndbBlockSize
		blkCnt := int64(binary.LittleEndian.Uint32(s[12:])) * ndbBlockSize
		if blkOff < int64(len(slots)) || blkOff+blkCnt > size {
			return fmt.Errorf("ndb: package %d's blob (%d bytes at %d) is outside the data area", idx, blkCnt, blkOff)
		}
		if err := readFull(ra, bh[:], blkOff, "ndb blob header"); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(bh[:]) != ndbBlobMagic {
			return fmt.Errorf("ndb: bad blob magic for package %d", idx)
		}
		if got := binary.LittleEndian.Uint32(bh[4:]); got != idx {
			return fmt.Errorf("ndb: slot for package %d points at the blob of package %d", idx, got)
		}
		n := int64(binary.LittleEndian.Uint32(bh[12:]))
		if 16+n > blkCnt {
			return fmt.Errorf("ndb: package %d's blob length %d exceeds its %d-byte block", idx, n, blkCnt)
		}
		blob := make([]byte, n)
		if err := readFull(ra, blob, blkOff+16, "ndb blob"); err != nil {
			return err
		}
		if err := visit(blob); err != nil {
			return fmt.Errorf("ndb package %d: %w", idx, err)
		}
	}
	return nil
}
