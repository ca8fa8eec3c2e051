package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// rpm header tags Bulkhead reads (rpm's lib/rpmtag.h).
const (
	tagName            = 1000
	tagVersion         = 1001
	tagRelease         = 1002
	tagEpoch           = 1003
	tagSize            = 1009
	tagVendor          = 1011
	tagLicense         = 1014
	tagArch            = 1022
	tagOldFilenames    = 1027
	tagSourceRPM       = 1044
	tagDirIndexes      = 1116
	tagBasenames       = 1117
	tagDirnames        = 1118
	tagLongSize        = 5009
	tagModularityLabel = 5096
)

// rpm header data types.
const (
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
)

// Limits from rpm's header.c: a header with more entries or data than rpm
// itself accepts is not one rpm wrote.
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 0x0fffffff
	// maxFileListBytes bounds one package's joined file paths; the
	// largest real packages (kernel modules, texlive) list well under
	// 16 MB.
	maxFileListBytes = 64 << 20
)

// header is the part of an installed package's header Bulkhead keeps.
type header struct {
	name, version, release, arch  string
	sourceRPM, license, vendor    string
	modularityLabel               string
	epoch                         int64
	hasEpoch                      bool
	size                          int64
	basenames, dirnames, oldFiles []string
	dirIndexes                    []int32
}

// parseHeader reads a header blob as stored in the database: il and dl
// (big-endian counts of index entries and data bytes), il 16-byte index
// entries (tag, type, offset into the data, count), then the data. The
// region trailer that rpm uses to verify a signed header is not needed to
// read the tags and is ignored.
func parseHeader(blob []byte) (*header, error) {
	if len(blob) < 8 {
		return nil, errors.New("rpm header: shorter than its preamble")
	}
	il := binary.BigEndian.Uint32(blob)
	dl := binary.BigEndian.Uint32(blob[4:])
	if il == 0 || il > maxHeaderTags || dl > maxHeaderData {
		return nil, fmt.Errorf("rpm header: implausible size (%d entries, %d data bytes)", il, dl)
	}
	indexEnd := 8 + int64(il)*16
	if indexEnd+int64(dl) > int64(len(blob)) {
		return nil, fmt.Errorf("rpm header: %d entries and %d data bytes do not fit in %d bytes", il, dl, len(blob))
	}
	data := blob[indexEnd : indexEnd+int64(dl)]
	h := &header{}
	for i := int64(0); i < int64(il); i++ {
		e := blob[8+i*16 : 8+i*16+16]
		tag := binary.BigEndian.Uint32(e)
		typ := binary.BigEndian.Uint32(e[4:])
		off := binary.BigEndian.Uint32(e[8:])
		count := binary.BigEndian.Uint32(e[12:])
		if int64(off) > int64(len(data)) {
			return nil, fmt.Errorf("rpm header: tag %d data offset %d past the data (%d bytes)", tag, off, len(data))
		}
		d := data[off:]
		var err error
		switch tag {
		case tagName:
			h.name, err = str(d, typ, tag)
		case tagVersion:
			h.version, err = str(d, typ, tag)
		case tagRelease:
			h.release, err = str(d, typ, tag)
		case tagArch:
			h.arch, err = str(d, typ, tag)
		case tagSourceRPM:
			h.sourceRPM, err = str(d, typ, tag)
		case tagLicense:
			h.license, err = str(d, typ, tag)
		case tagVendor:
			h.vendor, err = str(d, typ, tag)
		case tagModularityLabel:
			h.modularityLabel, err = str(d, typ, tag)
		case tagEpoch:
			var v []int32
			if v, err = int32s(d, typ, count, tag); err == nil && len(v) > 0 {
				h.epoch, h.hasEpoch = int64(uint32(v[0])), true
			}
		case tagSize:
			var v []int32
			if v, err = int32s(d, typ, count, tag); err == nil && len(v) > 0 && h.size == 0 {
				h.size = int64(uint32(v[0]))
			}
		case tagLongSize:
			if typ == typeInt64 && count >= 1 && len(d) >= 8 {
				h.size = int64(binary.BigEndian.Uint64(d))
			}
		case tagBasenames:
			h.basenames, err = strs(d, typ, count, tag)
		case tagDirnames:
			h.dirnames, err = strs(d, typ, count, tag)
		case tagOldFilenames:
			h.oldFiles, err = strs(d, typ, count, tag)
		case tagDirIndexes:
			h.dirIndexes, err = int32s(d, typ, count, tag)
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

// str reads a NUL-terminated string. I18N strings hold one string per
// locale; the first is the untranslated one.
func str(d []byte, typ, tag uint32) (string, error) {
	if typ != typeString && typ != typeI18NString && typ != typeStringArray {
		return "", fmt.Errorf("rpm header: tag %d has type %d, want a string", tag, typ)
	}
	end := bytes.IndexByte(d, 0)
	if end < 0 {
		return "", fmt.Errorf("rpm header: tag %d string is not terminated", tag)
	}
	return string(d[:end]), nil
}

// strs reads count NUL-terminated strings.
func strs(d []byte, typ, count, tag uint32) ([]string, error) {
	if typ != typeStringArray && typ != typeI18NString {
		return nil, fmt.Errorf("rpm header: tag %d has type %d, want a string array", tag, typ)
	}
	// Each string takes at least its NUL: count cannot exceed the bytes.
	if int64(count) > int64(len(d)) {
		return nil, fmt.Errorf("rpm header: tag %d claims %d strings in %d bytes", tag, count, len(d))
	}
	out := make([]string, 0, count)
	for range count {
		end := bytes.IndexByte(d, 0)
		if end < 0 {
			return nil, fmt.Errorf("rpm header: tag %d string %d is not terminated", tag, len(out))
		}
		out = append(out, string(d[:end]))
		d = d[end+1:]
	}
	return out, nil
}

// int32s reads count big-endian 32-bit integers.
func int32s(d []byte, typ, count, tag uint32) ([]int32, error) {
	if typ != typeInt32 {
		return nil, fmt.Errorf("rpm header: tag %d has type %d, want int32", tag, typ)
	}
	if int64(count)*4 > int64(len(d)) {
		return nil, fmt.Errorf("rpm header: tag %d claims %d int32s in %d bytes", tag, count, len(d))
	}
	out := make([]int32, count)
	for i := range out {
		out[i] = int32(binary.BigEndian.Uint32(d[i*4:]))
	}
	return out, nil
}

// files joins the compressed file list (dirname + basename by index), or
// returns the old flat list of rpm < 4.
func (h *header) files() ([]string, error) {
	if len(h.basenames) == 0 {
		return h.oldFiles, nil
	}
	if len(h.dirIndexes) != len(h.basenames) {
		return nil, fmt.Errorf("rpm header %s: %d basenames but %d dir indexes", h.name, len(h.basenames), len(h.dirIndexes))
	}
	out := make([]string, len(h.basenames))
	total := 0
	for i, b := range h.basenames {
		di := h.dirIndexes[i]
		if di < 0 || int(di) >= len(h.dirnames) {
			return nil, fmt.Errorf("rpm header %s: dir index %d out of %d dirnames", h.name, di, len(h.dirnames))
		}
		// Many basenames can share one long dirname: bound the joined
		// size so a small crafted header cannot expand into gigabytes.
		total += len(h.dirnames[di]) + len(b)
		if total > maxFileListBytes {
			return nil, fmt.Errorf("rpm header %s: file list longer than %d bytes", h.name, maxFileListBytes)
		}
		out[i] = h.dirnames[di] + b
	}
	return out, nil
}
