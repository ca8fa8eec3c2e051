package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// errNotRPMDB says the file is none of the three database formats.
var errNotRPMDB = errors.New("not an rpm database (no SQLite, ndb or Berkeley DB hash magic)")

// parseDB detects the format from the content (the file name is only a
// hint: a Packages.db could be anything) and reads every header blob.
func parseDB(ctx context.Context, in catalog.Input, foundBy string) (pkgs []sbom.Package, err error) {
	// The readers below check every offset they follow, but they walk
	// attacker-controlled structures; a panic left in them must not take
	// the scanner down with it.
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("rpm database %s: parser panic: %v", in.Path(), r)
		}
	}()
	ra, err := in.ReaderAt()
	if err != nil {
		return nil, fmt.Errorf("read rpm database: %w", err)
	}
	return readDB(ctx, ra, in.Size(), foundBy)
}

func readDB(ctx context.Context, ra io.ReaderAt, size int64, foundBy string) ([]sbom.Package, error) {
	head := make([]byte, 32)
	n, err := ra.ReadAt(head, 0)
	if n < len(head) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, errNotRPMDB
		}
		return nil, fmt.Errorf("read rpm database: %w", err)
	}
	var pkgs []sbom.Package
	visit := func(blob []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := parseHeader(blob)
		if err != nil {
			return err
		}
		if p, ok := h.toPackage(foundBy); ok {
			pkgs = append(pkgs, p)
		}
		return nil
	}
	switch {
	case bytes.HasPrefix(head, []byte(sqliteMagic)):
		err = readSQLite(ra, size, visit)
	case binary.LittleEndian.Uint32(head) == ndbMagic:
		err = readNDB(ra, size, visit)
	case binary.LittleEndian.Uint32(head[12:]) == bdbHashMagic, binary.BigEndian.Uint32(head[12:]) == bdbHashMagic:
		err = readBDB(ra, size, visit)
	default:
		return nil, errNotRPMDB
	}
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// readFull reads exactly len(b) bytes at off, or fails naming what.
func readFull(ra io.ReaderAt, b []byte, off int64, what string) error {
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s at offset %d: %w", what, off, err)
}
