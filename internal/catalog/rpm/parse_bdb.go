package rpm

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Berkeley DB hash databases, as rpm ≤ 4.15 wrote /var/lib/rpm/Packages:
// page 0 is the hash metadata page (magic, page size, last page number);
// hash pages hold key/data pairs whose data items, for rpm headers, are
// "off-page" references to a chain of overflow pages carrying the header
// blob. Values are in the byte order of the machine that wrote the file,
// which the metadata magic tells.
const (
	bdbHashMagic       = 0x061561
	bdbPageHeaderSize  = 26
	bdbPageHashMeta    = 8
	bdbPageHashSorted  = 13
	bdbPageHashUnsort  = 2 // pages from before Berkeley DB 4.6
	bdbPageOverflow    = 7
	bdbItemOffPage     = 3
	bdbOffPageItemSize = 12
)

func readBDB(ra io.ReaderAt, size int64, visit func([]byte) error) error {
	var meta [72]byte
	if err := readFull(ra, meta[:], 0, "bdb metadata page"); err != nil {
		return err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.LittleEndian.Uint32(meta[12:]) != bdbHashMagic {
		if binary.BigEndian.Uint32(meta[12:]) != bdbHashMagic {
			return errNotRPMDB
		}
		bo = binary.BigEndian
	}
	if meta[24] != 0 {
		return fmt.Errorf("bdb: encrypted database (algorithm %d)", meta[24])
	}
	if meta[25] != bdbPageHashMeta {
		return fmt.Errorf("bdb: page 0 has type %d, want hash metadata", meta[25])
	}
	pageSize := int64(bo.Uint32(meta[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("bdb: invalid page size %d", pageSize)
	}
	lastPage := int64(bo.Uint32(meta[32:]))
	if (lastPage+1)*pageSize > size {
		return fmt.Errorf("bdb: last page %d lies past the end of the %d-byte file", lastPage, size)
	}
	page := make([]byte, pageSize)
	ovf := make([]byte, pageSize)
	for pgno := int64(1); pgno <= lastPage; pgno++ {
		if err := readFull(ra, page, pgno*pageSize, "bdb page"); err != nil {
			return err
		}
		if t := page[25]; t != bdbPageHashSorted && t != bdbPageHashUnsort {
			continue
		}
		entries := int64(bo.Uint16(page[20:]))
		if bdbPageHeaderSize+entries*2 > pageSize {
			return fmt.Errorf("bdb: page %d claims %d entries", pgno, entries)
		}
		// Entries alternate key, data; the data items are the odd ones.
		for i := int64(1); i < entries; i += 2 {
			off := int64(bo.Uint16(page[bdbPageHeaderSize+i*2:]))
			if off < bdbPageHeaderSize || off >= pageSize {
				return fmt.Errorf("bdb: page %d item %d at offset %d is outside the page", pgno, i, off)
			}
			if page[off] != bdbItemOffPage {
				continue // inline data: not a header (rpm's record 0 holds a counter)
			}
			if off+bdbOffPageItemSize > pageSize {
				return fmt.Errorf("bdb: page %d off-page item %d at offset %d runs off the page", pgno, i, off)
			}
			item := page[off : off+bdbOffPageItemSize]
			blob, err := readOverflow(ra, bo, ovf, int64(bo.Uint32(item[4:])), int64(bo.Uint32(item[8:])), pageSize, lastPage)
			if err != nil {
				return fmt.Errorf("bdb: page %d item %d: %w", pgno, i, err)
			}
			if err := visit(blob); err != nil {
				return fmt.Errorf("bdb page %d item %d: %w", pgno, i, err)
			}
		}
	}
	return nil
}

// readOverflow follows a chain of overflow pages from first, collecting
// total bytes. Each page says how many bytes it holds; the chain is
// bounded by the file's page count so a cycle cannot loop forever.
func readOverflow(ra io.ReaderAt, bo binary.ByteOrder, buf []byte, first, total, pageSize, lastPage int64) ([]byte, error) {
	if total > (lastPage+1)*pageSize {
		return nil, fmt.Errorf("overflow item of %d bytes is larger than the file", total)
	}
	out := make([]byte, 0, total)
	pgno := first
	for steps := int64(0); int64(len(out)) < total; steps++ {
		if pgno <= 0 || pgno > lastPage || steps > lastPage {
			return nil, fmt.Errorf("overflow chain broken at page %d after %d of %d bytes", pgno, len(out), total)
		}
		if err := readFull(ra, buf, pgno*pageSize, "bdb overflow page"); err != nil {
			return nil, err
		}
		if buf[25] != bdbPageOverflow {
			return nil, fmt.Errorf("overflow chain reaches page %d of type %d", pgno, buf[25])
		}
		n := int64(bo.Uint16(buf[22:])) // bytes used on an overflow page
		if n > pageSize-bdbPageHeaderSize {
			n = pageSize - bdbPageHeaderSize
		}
		if rest := total - int64(len(out)); n > rest {
			n = rest
		}
		out = append(out, buf[bdbPageHeaderSize:bdbPageHeaderSize+n]...)
		next := int64(bo.Uint32(buf[16:]))
		if next == 0 {
			break
		}
		pgno = next
	}
	if int64(len(out)) != total {
		return nil, fmt.Errorf("overflow chain ends after %d of %d bytes", len(out), total)
	}
	return out, nil
}
