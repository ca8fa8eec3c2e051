package apk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxLine bounds one line of the database. Real lines are short (the
// longest seen are dependency lists of a few KB); a longer one means the
// file is not an apk database.
const maxLine = 1 << 20

// record is one package's stanza, as far as Bulkhead uses it. The format
// (https://wiki.alpinelinux.org/wiki/Apk_spec) is one "K:value" per line,
// stanzas separated by blank lines; F: names a directory, and the R: lines
// after it name the files in it.
type record struct {
	name, version, arch, origin, license string
	maintainer, commit, buildTime        string
	url, checksum, size, installedSize   string
	dir                                  string
	files                                []string
}

// parseInstalled streams the database: only one stanza is held at a time.
func parseInstalled(ctx context.Context, r io.Reader, foundBy string) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		pkgs []sbom.Package
		rec  record
		bad  int // lines that are not K:value
		line int
	)
	flush := func() {
		if rec.name != "" {
			pkgs = append(pkgs, rec.toPackage(foundBy))
		}
		rec = record{}
	}
	for sc.Scan() {
		line++
		if line&0x3fff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b := sc.Bytes()
		if len(b) == 0 {
			flush()
			continue
		}
		if len(b) < 2 || b[1] != ':' {
			bad++
			continue
		}
		v := b[2:]
		switch b[0] {
		case 'P':
			rec.name = string(v)
		case 'V':
			rec.version = string(v)
		case 'A':
			rec.arch = string(v)
		case 'o':
			rec.origin = string(v)
		case 'L':
			rec.license = string(v)
		case 'm':
			rec.maintainer = string(v)
		case 'c':
			rec.commit = string(v)
		case 't':
			rec.buildTime = string(v)
		case 'U':
			rec.url = string(v)
		case 'C':
			rec.checksum = string(v)
		case 'S':
			rec.size = string(v)
		case 'I':
			rec.installedSize = string(v)
		case 'F':
			rec.dir = string(v)
		case 'R':
			rec.files = append(rec.files, filePath(rec.dir, v))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("apk database line %d: longer than %d bytes: %w", line+1, maxLine, err)
		}
		return nil, fmt.Errorf("read apk database: %w", err)
	}
	flush()
	if len(pkgs) == 0 && bad > 0 {
		return nil, fmt.Errorf("not an apk database: %d malformed lines and no package stanza", bad)
	}
	return pkgs, nil
}

// filePath joins an F: directory (relative to /) and an R: name.
func filePath(dir string, name []byte) string {
	if dir == "" {
		return "/" + string(name)
	}
	return "/" + dir + "/" + string(name)
}

func (r *record) toPackage(foundBy string) sbom.Package {
	meta := map[string]string{"purlNeedsDistro": "1"}
	put := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	put("maintainer", r.maintainer)
	put("commit", r.commit)
	put("buildTime", r.buildTime)
	put("url", r.url)
	put("checksum", r.checksum)
	put("size", r.size)
	put("installedSize", r.installedSize)

	p := sbom.Package{
		Name:     r.name,
		Version:  r.version,
		Type:     sbom.TypeAPK,
		PURL:     purl(r.name, r.version, r.arch, r.origin),
		FoundBy:  foundBy,
		Arch:     r.arch,
		Files:    r.files,
		Metadata: meta,
	}
	if l := strings.TrimSpace(r.license); l != "" {
		// Kept whole: newer packages carry an SPDX expression, older
		// ones a space-separated list; either way one string says it.
		p.Licenses = []string{l}
	}
	if r.origin != "" {
		p.SourceName = r.origin
		p.SourceVersion = r.version
	}
	return p
}

// purl builds pkg:apk/alpine/name@version?arch=..&upstream=.. without the
// distro qualifier: that needs /etc/os-release, which the engine joins
// (Metadata["purlNeedsDistro"]). upstream is given only when the origin
// differs from the package name, as Syft does.
func purl(name, version, arch, origin string) string {
	var q packageurl.Qualifiers
	if arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	if origin != "" && origin != name {
		q = append(q, packageurl.Qualifier{Key: "upstream", Value: origin})
	}
	return packageurl.NewPackageURL("apk", "alpine", name, version, q, "").ToString()
}
