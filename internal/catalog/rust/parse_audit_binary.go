package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/elfsect"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Limits on attacker-controlled data: the compressed section and the JSON
// it inflates to. cargo-auditable's own reader refuses more than 8 MiB of
// JSON; real sections are a few KiB.
const (
	maxSectionSize = 4 << 20
	maxJSONSize    = 8 << 20
)

var elfMagic = []byte("\x7fELF")

// auditInfo is the JSON cargo-auditable writes, zlib-compressed, into the
// ".dep-v0" section (format described in cargo-auditable's
// PARSING.md / auditable-serde).
type auditInfo struct {
	Packages []auditPackage `json:"packages"`
}

type auditPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Source is "crates.io", "git", "local", "registry" or another string.
	Source string `json:"source"`
	// Kind is "runtime" (the default when absent) or "build".
	Kind string `json:"kind"`
	Root bool   `json:"root"`
}

// parseAuditBinary reads the cargo-auditable dependency list of an ELF
// executable. Files that are not ELF, or ELF files without the section,
// give no packages and no error: most executables are not Rust binaries.
func parseAuditBinary(in catalog.Input, foundBy string) ([]sbom.Package, error) {
	head, err := in.Peek(len(elfMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if !bytes.Equal(head, elfMagic) {
		return nil, nil
	}
	ra, err := in.ReaderAt()
	if err != nil {
		return nil, fmt.Errorf("open ELF: %w", err)
	}
	// Three small reads rule out the common case, an ELF without the
	// section, before debug/elf parses everything.
	if found, err := elfsect.Find(ra, in.Size(), ".dep-v0", ".rust-deps-v0"); err == nil && len(found) == 0 {
		return nil, nil
	}
	f, err := elf.NewFile(io.NewSectionReader(ra, 0, in.Size()))
	if err != nil {
		return nil, fmt.Errorf("parse ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".dep-v0")
	if sec == nil {
		// rust-audit 0.1 used this name.
		sec = f.Section(".rust-deps-v0")
	}
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if sec.Size > maxSectionSize {
		return nil, fmt.Errorf("section %s: %d bytes exceeds the %d limit", sec.Name, sec.Size, maxSectionSize)
	}
	info, err := decodeAuditSection(sec.Open())
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", sec.Name, err)
	}

	var pkgs []sbom.Package
	for _, p := range info.Packages {
		// Syft reports runtime dependencies only; build dependencies
		// (build scripts, proc-macros) are not linked into the binary.
		if p.Kind != "" && p.Kind != "runtime" {
			continue
		}
		if p.Name == "" || p.Version == "" {
			continue
		}
		meta := map[string]string{}
		if p.Source != "" {
			meta["source"] = p.Source
		}
		if p.Root {
			meta["root"] = strconv.FormatBool(true)
		}
		if len(meta) == 0 {
			meta = nil
		}
		pkgs = append(pkgs, newPackage(p.Name, p.Version, foundBy, p.Source != "local", meta))
	}
	return pkgs, nil
}

func decodeAuditSection(r io.Reader) (auditInfo, error) {
	var info auditInfo
	zr, err := zlib.NewReader(io.LimitReader(r, maxSectionSize))
	if err != nil {
		return info, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, maxJSONSize+1))
	if err != nil {
		return info, fmt.Errorf("zlib: %w", err)
	}
	if len(data) > maxJSONSize {
		return info, fmt.Errorf("dependency JSON exceeds %d bytes", maxJSONSize)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("dependency JSON: %w", err)
	}
	return info, nil
}
