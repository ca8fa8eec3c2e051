package ruby

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

const maxLine = 1 << 20

// parseGemfileLock reports the gems of a Gemfile.lock: the 4-space indented
// "name (version)" lines under specs: of the GEM, GIT, PATH and PLUGIN
// SOURCE sections (the same sections Syft reads). Deeper lines are the
// gems' own requirements and are skipped.
//
// A platform-specific gem is written "name (version-platform)", where the
// version itself never holds a '-' (Bundler splits on the first one). Like
// Syft, the package's Version keeps the whole "1.18.6-x86_64-linux-gnu"; the
// PURL carries the version proper and a platform qualifier, as the purl
// spec has it, and Metadata["platform"] the platform.
func parseGemfileLock(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var (
		pkgs    []sbom.Package
		section string
		wanted  bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section = line
			switch section {
			case "GEM", "GIT", "PATH", "PLUGIN SOURCE":
				wanted = true
			default:
				wanted = false
			}
			continue
		}
		if !wanted || len(line) < 5 || line[:4] != "    " || line[4] == ' ' {
			continue
		}
		name, rest, ok := strings.Cut(line[4:], " ")
		if !ok || len(rest) < 3 || rest[0] != '(' || rest[len(rest)-1] != ')' || strings.Contains(rest, " ") {
			continue
		}
		full := rest[1 : len(rest)-1]
		version, platform, _ := strings.Cut(full, "-")
		p := newGem(name, full, foundBy)
		if platform != "" {
			p.PURL = gemPURL(name, version, platform)
			p.Metadata = map[string]string{"platform": platform}
		}
		switch section {
		case "GIT", "PATH":
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata["source"] = strings.ToLower(section)
		}
		pkgs = append(pkgs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Gemfile.lock: %w", err)
	}
	return pkgs, nil
}
