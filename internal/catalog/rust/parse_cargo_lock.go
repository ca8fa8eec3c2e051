package rust

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxLine bounds one line of a Cargo.lock; real lines are under 200 bytes.
const maxLine = 1 << 20

type cargoLockEntry struct {
	Name, Version, Source, Checksum string
}

// parseCargoLock reports every [[package]] of a Cargo.lock. Entries without
// a source are workspace members or path dependencies: they are reported,
// like Syft does, but without a PURL (see cargoPURL).
//
// Cargo.lock is always written by Cargo in one fixed shape (one key per
// line, tables [[package]] and, in format v1, [metadata]), so it is read
// line by line instead of with a general TOML decoder: that is several
// times faster and cannot be driven into deep recursion by nested arrays.
func parseCargoLock(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var (
		entries   []cargoLockEntry
		checksums map[string]string // format v1: [metadata] "checksum N V (S)" = "sum"
		section   string
		cur       *cargoLockEntry
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' && !strings.Contains(line, "=") {
			section = line
			cur = nil
			if line == "[[package]]" {
				entries = append(entries, cargoLockEntry{})
				cur = &entries[len(entries)-1]
			}
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue // continuation of a multi-line array
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch {
		case cur != nil:
			var dst *string
			switch key {
			case "name":
				dst = &cur.Name
			case "version":
				dst = &cur.Version
			case "source":
				dst = &cur.Source
			case "checksum":
				dst = &cur.Checksum
			default:
				continue
			}
			s, err := tomlString(val)
			if err != nil {
				return nil, fmt.Errorf("parse Cargo.lock line %d: %s: %w", lineNo, key, err)
			}
			*dst = s
		case section == "[metadata]" && strings.HasPrefix(key, `"checksum `):
			k, err1 := tomlString(key)
			v, err2 := tomlString(val)
			if err1 != nil || err2 != nil {
				continue
			}
			if checksums == nil {
				checksums = map[string]string{}
			}
			checksums[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Cargo.lock: %w", err)
	}

	pkgs := make([]sbom.Package, 0, len(entries))
	for _, e := range entries {
		if e.Name == "" || e.Version == "" {
			continue
		}
		meta := map[string]string{}
		if e.Source != "" {
			meta["source"] = e.Source
		}
		sum := e.Checksum
		if sum == "" && e.Source != "" {
			sum = checksums["checksum "+e.Name+" "+e.Version+" ("+e.Source+")"]
		}
		if sum != "" && sum != "<none>" {
			meta["checksum"] = "sha256:" + sum
		}
		if len(meta) == 0 {
			meta = nil
		}
		pkgs = append(pkgs, newPackage(e.Name, e.Version, foundBy, e.Source != "", meta))
	}
	return pkgs, nil
}

// tomlString decodes a TOML basic ("...") or literal ('...') string that
// makes up the whole of s.
func tomlString(s string) (string, error) {
	if len(s) < 2 {
		return "", fmt.Errorf("not a string: %q", s)
	}
	switch q := s[0]; {
	case q == '\'' && s[len(s)-1] == '\'':
		return s[1 : len(s)-1], nil
	case q == '"' && s[len(s)-1] == '"':
		inner := s[1 : len(s)-1]
		if !strings.ContainsRune(inner, '\\') {
			return inner, nil
		}
		// TOML basic-string escapes are a subset of Go's, except \UXXXXXXXX
		// which Go also accepts.
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("bad string %q: %w", s, err)
		}
		return u, nil
	default:
		return "", fmt.Errorf("not a string: %q", s)
	}
}
