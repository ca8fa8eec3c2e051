package python

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxLine bounds one line of a text file.
const maxLine = 1 << 20

// maxShortLicense is the longest License header kept as a license name;
// longer values are usually the whole licence text.
const maxShortLicense = 80

// parseMetadata reads the RFC 822 style header of a METADATA or PKG-INFO
// file (core metadata): Name, Version and licence fields. The body (the
// long description) is not read.
func parseMetadata(r io.Reader) (sbom.Package, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16*1024), maxLine)
	var (
		name, version, license, expr string
		classifiers                  []string
		last                         string // header a continuation line extends
		multiline                    bool   // License spans several lines
	)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "license" {
				multiline = true
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		val = strings.TrimSpace(val)
		last = strings.ToLower(key)
		switch last {
		case "name":
			name = val
		case "version":
			version = val
		case "license":
			license = val
		case "license-expression":
			expr = val
		case "classifier":
			if rest, ok := strings.CutPrefix(val, "License :: "); ok {
				if i := strings.LastIndex(rest, " :: "); i >= 0 {
					classifiers = append(classifiers, strings.TrimSpace(rest[i+4:]))
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sbom.Package{}, false, fmt.Errorf("python metadata: %w", err)
	}
	if !validName(name) || !validVersion(version) {
		return sbom.Package{}, false, nil
	}
	p := newPackage(name, version)
	switch {
	case expr != "":
		p.Licenses = []string{expr}
	case license != "" && !multiline && len(license) <= maxShortLicense && !strings.EqualFold(license, "UNKNOWN"):
		p.Licenses = []string{license}
	default:
		p.Licenses = classifiers
	}
	return p, true, nil
}
