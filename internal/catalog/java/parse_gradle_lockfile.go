package java

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

const maxLine = 1 << 20

// parseGradleLockfile reads "group:artifact:version=conf1,conf2" lines.
// Dependencies locked only in test configurations (testCompileClasspath,
// testRuntimeClasspath, ...) get Scope "dev"; Syft reports them without a
// scope. The configurations are kept in Metadata["configurations"].
func parseGradleLockfile(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var pkgs []sbom.Package
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		coord, confs, _ := strings.Cut(line, "=")
		parts := strings.Split(coord, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			continue // "empty=..." and anything unexpected
		}
		p := newPackage(parts[0], parts[1], parts[2], foundBy, "")
		if confs != "" {
			p.Metadata["configurations"] = confs
			if allTest(confs) {
				p.Scope = "dev"
			}
		}
		pkgs = append(pkgs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read gradle.lockfile: %w", err)
	}
	return pkgs, nil
}

func allTest(confs string) bool {
	for c := range strings.SplitSeq(confs, ",") {
		if !strings.HasPrefix(strings.TrimSpace(c), "test") {
			return false
		}
	}
	return true
}
