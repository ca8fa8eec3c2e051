package dpkg

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// metaNeedsDistro matches inspect.MetaNeedsDistro: the engine completes the
// PURL's namespace and distro qualifier from os-release.
const metaNeedsDistro = "purlNeedsDistro"

// ParseStatus reads a dpkg status file (RFC 822-style stanzas separated by
// blank lines) and returns the installed packages. Entries whose Status is
// not "installed" (removed packages whose conffiles remain, half-installed
// ones) are left out, as dpkg -l would.
func ParseStatus(r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var (
		pkgs   []sbom.Package
		fields = map[string]string{}
		line   int
		start  int
	)
	flush := func() error {
		if len(fields) == 0 {
			return nil
		}
		defer clear(fields)
		name, version := fields["Package"], fields["Version"]
		if name == "" {
			return fmt.Errorf("stanza at line %d has no Package field", start)
		}
		if version == "" {
			return fmt.Errorf("package %s (line %d) has no Version field", name, start)
		}
		if st := fields["Status"]; st != "" && !strings.HasSuffix(st, " installed") {
			return nil
		}
		pkgs = append(pkgs, newPackage(fields))
		return nil
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 || (len(strings.TrimSpace(string(b))) == 0) {
			if err := flush(); err != nil {
				return pkgs, err
			}
			continue
		}
		if b[0] == ' ' || b[0] == '\t' {
			// Continuation of a multi-line field (Description, Conffiles):
			// nothing we keep needs it.
			continue
		}
		if len(fields) == 0 {
			start = line
		}
		k, v, ok := strings.Cut(string(b), ":")
		if !ok {
			return pkgs, fmt.Errorf("line %d: %q is neither a field nor a continuation", line, truncate(string(b)))
		}
		switch k {
		case "Package", "Version", "Status", "Architecture", "Source", "Maintainer", "Installed-Size", "Multi-Arch", "Homepage":
			fields[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return pkgs, fmt.Errorf("line %d: %w", line, err)
	}
	return pkgs, flush()
}

func newPackage(f map[string]string) sbom.Package {
	p := sbom.Package{
		Name:    f["Package"],
		Version: f["Version"],
		Type:    sbom.TypeDeb,
		Arch:    f["Architecture"],
	}
	p.SourceName, p.SourceVersion = p.Name, p.Version
	if src := f["Source"]; src != "" {
		name, ver, ok := strings.Cut(src, " ")
		p.SourceName = name
		if ok {
			p.SourceVersion = strings.Trim(strings.TrimSpace(ver), "()")
		}
	}
	meta := map[string]string{metaNeedsDistro: "1"}
	for k, mk := range map[string]string{"Maintainer": "maintainer", "Installed-Size": "installedSize", "Homepage": "homepage"} {
		if v := f[k]; v != "" {
			meta[mk] = v
		}
	}
	p.Metadata = meta
	q := map[string]string{}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	if p.SourceName != p.Name {
		if p.SourceVersion != p.Version {
			q["upstream"] = p.SourceName + "@" + p.SourceVersion
		} else {
			q["upstream"] = p.SourceName
		}
	}
	p.PURL = packageurl.NewPackageURL(packageurl.TypeDebian, "", p.Name, p.Version, packageurl.QualifiersFromMap(q), "").ToString()
	return p
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
