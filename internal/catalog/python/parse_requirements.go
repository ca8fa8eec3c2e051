package python

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxJoined bounds a logical line built from "\"-continued physical lines.
const maxJoined = 1 << 20

// parseRequirements reads a pip requirements file and reports exact pins
// ("name==version", "name[extra]===version ; marker"). Ranges, unpinned
// names, URLs, editable installs and option lines (-r, -c, -e, -i,
// --hash...) are skipped: they do not say which version is installed.
func parseRequirements(r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16*1024), maxLine)
	var (
		pkgs []sbom.Package
		seen = map[string]bool{}
		acc  strings.Builder
	)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasSuffix(line, `\`) {
			if acc.Len()+len(line) > maxJoined {
				return nil, fmt.Errorf("requirements: continued line longer than %d bytes", maxJoined)
			}
			acc.WriteString(line[:len(line)-1])
			acc.WriteByte(' ')
			continue
		}
		if acc.Len() > 0 {
			acc.WriteString(line)
			line = acc.String()
			acc.Reset()
		}
		p, ok := requirement(line)
		if !ok {
			continue
		}
		if k := normalize(p.Name) + "@" + p.Version; !seen[k] {
			seen[k] = true
			pkgs = append(pkgs, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("requirements: %w", err)
	}
	return pkgs, nil
}

// requirement parses one logical line.
func requirement(s string) (sbom.Package, bool) {
	// A comment starts at "#" at the beginning or after whitespace.
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '-' {
		return sbom.Package{}, false
	}
	// Per-requirement options ("--hash=sha256:...") follow the spec.
	if i := strings.Index(s, " -"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "\t-"); i >= 0 {
		s = s[:i]
	}
	var marker string
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s, marker = s[:i], strings.TrimSpace(s[i+1:])
	}
	if strings.ContainsAny(s, "@/:") { // direct references and paths
		return sbom.Package{}, false
	}
	i := 0
	for i < len(s) && nameByte(s[i]) {
		i++
	}
	name, rest := s[:i], strings.TrimSpace(s[i:])
	if strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return sbom.Package{}, false
		}
		rest = strings.TrimSpace(rest[j+1:])
	}
	var version string
	switch {
	case strings.HasPrefix(rest, "==="):
		version = rest[3:]
	case strings.HasPrefix(rest, "=="):
		version = rest[2:]
	default:
		return sbom.Package{}, false
	}
	version = strings.TrimSpace(version)
	if !validName(name) || !pinnedVersion(version) {
		return sbom.Package{}, false
	}
	p := newPackage(name, version)
	if marker != "" {
		p.Metadata = map[string]string{"markers": marker}
	}
	return p, true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// pinnedVersion accepts the characters of a PEP 440 version (and the
// local and legacy forms pip still installs): no ranges or wildcards.
func pinnedVersion(v string) bool {
	if v == "" || len(v) > 200 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !nameByte(c) && c != '+' && c != '!' {
			return false
		}
	}
	return true
}
