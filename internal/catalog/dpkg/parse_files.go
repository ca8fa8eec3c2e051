package dpkg

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
)

// parseList reads a dpkg info/*.list: one absolute path per line.
func parseList(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var files []string
	for sc.Scan() {
		p := sc.Text()
		if p == "" || p == "/." {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			return files, fmt.Errorf("file list entry %q is not absolute", truncate(p))
		}
		files = append(files, path.Clean(p))
	}
	if err := sc.Err(); err != nil {
		return files, fmt.Errorf("file list: %w", err)
	}
	return files, nil
}

// parseMD5Sums reads a distroless status.d/*.md5sums: "<md5>  <relative path>".
func parseMD5Sums(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var files []string
	for sc.Scan() {
		_, p, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			continue
		}
		files = append(files, path.Clean("/"+p))
	}
	if err := sc.Err(); err != nil {
		return files, fmt.Errorf("md5sums: %w", err)
	}
	return files, nil
}

// commonLicense matches references to /usr/share/common-licenses/NAME, the
// way most non-DEP-5 copyright files name their license.
var (
	licenseField      = []byte("License:")
	commonLicensesDir = []byte("/usr/share/common-licenses/")
)

var commonLicense = regexp.MustCompile(`/usr/share/common-licenses/([A-Za-z0-9._+-]+)`)

// parseCopyright extracts license names from a copyright file: DEP-5
// "License:" fields and /usr/share/common-licenses references. Names are
// returned in first-seen order without duplicates.
func parseCopyright(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	var out []string
	add := func(l string) {
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), "."))
		if l == "" || len(l) > 80 || slices.Contains(out, l) {
			return
		}
		out = append(out, l)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, licenseField); ok {
			// "License: GPL-2+ or Artistic": keep each alternative.
			for _, alt := range splitAlternatives(string(v)) {
				add(alt)
			}
			continue
		}
		if bytes.Contains(line, commonLicensesDir) {
			for _, m := range commonLicense.FindAllSubmatch(line, -1) {
				add(strings.TrimSuffix(string(m[1]), "."))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("copyright: %w", err)
	}
	return out, nil
}

func splitAlternatives(v string) []string {
	v = strings.TrimSpace(v)
	var out []string
	for _, f := range strings.Fields(v) {
		switch strings.ToLower(f) {
		case "or", "and", "|", "with":
			continue
		}
		out = append(out, strings.Trim(f, ",()"))
	}
	return out
}
