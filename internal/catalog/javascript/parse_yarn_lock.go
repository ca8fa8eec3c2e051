package javascript

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxLine bounds one line of a text lockfile.
const maxLine = 1 << 20

// yarnEntry is one block of a yarn.lock: the header's specifiers and the
// fields the catalog needs.
type yarnEntry struct {
	header     string
	version    string
	resolution string // berry
	integrity  string // classic
	checksum   string // berry
}

// parseYarnLock reads yarn.lock, classic (v1) and berry (v2+) alike. Both
// are blocks headed by an unindented "specifier[, specifier]:" line with
// two-space-indented fields; classic writes `version "1.0.0"`, berry YAML's
// `version: 1.0.0`. Deeper lines (dependency lists) are skipped.
func parseYarnLock(r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var (
		pkgs  []sbom.Package
		cur   *yarnEntry
		berry bool
		seen  = map[string]bool{}
	)
	flush := func() {
		if cur == nil {
			return
		}
		if p, ok := yarnPackage(cur, berry); ok && !seen[p.Name+"@"+p.Version] {
			seen[p.Name+"@"+p.Version] = true
			pkgs = append(pkgs, p)
		}
		cur = nil
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] != ' ' {
			flush()
			if !strings.HasSuffix(line, ":") {
				continue // not a block header; ignore rather than fail
			}
			h := line[:len(line)-1]
			if h == "__metadata" {
				berry = true
				continue
			}
			cur = &yarnEntry{header: h}
			continue
		}
		if cur == nil || !strings.HasPrefix(line, "  ") || (len(line) > 2 && line[2] == ' ') {
			continue
		}
		key, val := yarnField(line[2:])
		switch key {
		case "version":
			cur.version = val
		case "resolution":
			cur.resolution = val
		case "integrity":
			cur.integrity = val
		case "checksum":
			cur.checksum = val
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("yarn.lock: %w", err)
	}
	flush()
	return pkgs, nil
}

// yarnField splits `key "value"` (classic) or `key: value` (berry).
func yarnField(s string) (key, val string) {
	i := strings.IndexAny(s, ": ")
	if i < 0 {
		return s, ""
	}
	key, val = s[:i], strings.TrimSpace(strings.TrimPrefix(s[i:], ":"))
	return strings.Trim(key, `"`), unquote(val)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// splitSpec splits "name@range" where name may be scoped ("@s/n@^1").
func splitSpec(spec string) (name, rest string, ok bool) {
	if len(spec) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(spec[1:], '@')
	if i < 0 {
		return spec, "", true
	}
	return spec[:i+1], spec[i+2:], true
}

func yarnPackage(e *yarnEntry, berry bool) (sbom.Package, bool) {
	if e.version == "" || strings.ContainsAny(e.version, " \t") {
		return sbom.Package{}, false
	}
	first, _, _ := strings.Cut(e.header, ",")
	name, rng, ok := splitSpec(unquote(strings.TrimSpace(first)))
	if !ok {
		return sbom.Package{}, false
	}
	meta := map[string]string{}
	if berry {
		// The resolution names the package actually installed (aliases
		// included) and its protocol. Workspaces, links, portals and
		// patches of another entry are not packages of their own.
		if e.resolution != "" {
			n, ref, ok := splitSpec(e.resolution)
			if !ok {
				return sbom.Package{}, false
			}
			name, rng = n, ref
		}
		proto, _, _ := strings.Cut(rng, ":")
		switch proto {
		case "workspace", "link", "portal", "patch":
			return sbom.Package{}, false
		}
		if e.checksum != "" {
			meta["checksum"] = e.checksum
		}
	} else {
		// Classic aliases: "foo@npm:bar@^1.0.0".
		if real, ok := strings.CutPrefix(rng, "npm:"); ok {
			if n, _, ok := splitSpec(real); ok {
				name = n
			}
		}
		if strings.HasPrefix(rng, "link:") {
			return sbom.Package{}, false
		}
		if e.integrity != "" {
			meta["integrity"] = e.integrity
		}
	}
	if !validName(name) {
		return sbom.Package{}, false
	}
	p := newPackage(name, e.version)
	if len(meta) > 0 {
		p.Metadata = meta
	}
	return p, true
}
