package java

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// limits bound the work one top-level archive can cause. Archives are
// attacker-controlled: a zip bomb or a deep matryoshka of jars must end in
// an error, not in memory exhaustion.
type limits struct {
	// depth is how many levels of nested archives are opened below the
	// top-level file.
	depth int
	// bytes is the total number of bytes decompressed from all entries of
	// all levels (manifests, pom.properties and compressed nested archives;
	// stored nested archives are read in place).
	bytes int64
	// entries is the total number of zip entries over all levels.
	entries int
	// manifest and properties bound one MANIFEST.MF or pom.properties.
	manifest, properties int64
}

var defaultLimits = limits{
	depth:      4,
	bytes:      512 << 20,
	entries:    1 << 20,
	manifest:   1 << 20,
	properties: 64 << 10,
}

var errLimit = errors.New("java archive limit exceeded")

type walkState struct {
	lim     limits
	foundBy string
	// used so far, over all levels
	bytes   int64
	entries int
	pkgs    []sbom.Package
}

// archive catalogs one zip archive. vpath is its virtual path: the file's
// path for the top level, "outer:inner" for nested ones (Syft's notation).
func (st *walkState) archive(ctx context.Context, ra io.ReaderAt, size int64, vpath string, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// Nothing is written to disk, so entry names like "../x" are
		// harmless here.
		return fmt.Errorf("read zip %s: %w", vpath, err)
	}
	st.entries += len(zr.File)
	if st.entries > st.lim.entries {
		return fmt.Errorf("%s: more than %d zip entries: %w", vpath, st.lim.entries, errLimit)
	}

	var (
		manifest *manifest
		props    []pomProperties
		nested   []*zip.File
	)
	for _, f := range zr.File {
		name := f.Name
		switch {
		case strings.EqualFold(name, "META-INF/MANIFEST.MF"):
			if manifest != nil {
				continue // Syft gives up on such archives; first one wins here.
			}
			data, err := st.read(f, st.lim.manifest)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", vpath, name, err)
			}
			manifest = parseManifest(data)
		case strings.HasPrefix(name, "META-INF/maven/") && strings.HasSuffix(name, "/pom.properties"):
			data, err := st.read(f, st.lim.properties)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", vpath, name, err)
			}
			if p, ok := parsePomProperties(name, data); ok {
				props = append(props, p)
			}
		case isJavaArchive(name) && !f.Mode().IsDir():
			nested = append(nested, f)
		}
	}
	slices.SortFunc(props, func(a, b pomProperties) int { return strings.Compare(a.path, b.path) })

	nestedPath := ""
	if depth > 0 {
		nestedPath = vpath
	}
	st.pkgs = append(st.pkgs, identify(vpath, manifest, props, st.foundBy, nestedPath)...)

	if depth >= st.lim.depth {
		return nil
	}
	for _, f := range nested {
		if err := st.nested(ctx, ra, f, vpath+":"+f.Name, depth+1); err != nil {
			if errors.Is(err, errLimit) || ctx.Err() != nil {
				return err
			}
			// A corrupt nested archive does not hide what the rest of
			// the outer archive tells; it is skipped.
			continue
		}
	}
	return nil
}

// nested opens one archive inside another. A stored (uncompressed) entry,
// as Spring Boot writes BOOT-INF/lib, is read in place; a compressed one is
// inflated into memory within the byte budget.
func (st *walkState) nested(ctx context.Context, outer io.ReaderAt, f *zip.File, vpath string, depth int) error {
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		off, err := f.DataOffset()
		if err == nil && f.CompressedSize64 <= 1<<62 {
			return st.archive(ctx, io.NewSectionReader(outer, off, int64(f.CompressedSize64)), int64(f.CompressedSize64), vpath, depth)
		}
	}
	data, err := st.read(f, st.lim.bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", vpath, err)
	}
	return st.archive(ctx, bytes.NewReader(data), int64(len(data)), vpath, depth)
}

// read inflates one entry, at most max bytes and within the overall byte
// budget. The sizes in the zip headers are not trusted: the count is of
// bytes actually produced.
func (st *walkState) read(f *zip.File, max int64) ([]byte, error) {
	left := st.lim.bytes - st.bytes
	if max > left {
		max = left
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("entry of %d bytes exceeds the %d left: %w", f.UncompressedSize64, max, errLimit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if f.UncompressedSize64 > 0 {
		buf.Grow(int(f.UncompressedSize64))
	}
	n, err := buf.ReadFrom(io.LimitReader(rc, max+1))
	st.bytes += n
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("entry inflates past %d bytes: %w", max, errLimit)
	}
	return buf.Bytes(), nil
}

// identify turns what one archive holds into packages, the way Syft does:
//
//   - The archive's own package (only when it has a manifest): its
//     coordinates from the pom.properties whose artifactId matches the file
//     name, else its name and version from the manifest and the file name.
//   - One package for every other pom.properties (shaded or bundled
//     artifacts). Unlike Syft, these are reported for archives without a
//     manifest too.
func identify(vpath string, mf *manifest, props []pomProperties, foundBy, nestedPath string) []sbom.Package {
	var out []sbom.Package
	fn := parseArchiveFilename(vpath)

	mainName, mainGroup := "", ""
	if mf != nil && !mf.has("Weave-Classes") {
		// Weave-Classes marks New Relic instrumentation jars, which carry
		// the identity of the library they instrument.
		var match *pomProperties
		for i := range props {
			if artifactIDMatchesFilename(props[i].artifactID, fn.name, props) {
				match = &props[i]
				break
			}
		}
		var name, version string
		var licenses []string
		if match != nil {
			mainGroup, name, version = match.groupID, match.artifactID, match.version
		}
		if name == "" {
			name = selectName(mf, fn)
		}
		if version == "" {
			version = selectVersion(mf, fn)
		}
		if mainGroup == "" {
			mainGroup = groupIDFromManifest(mf)
		}
		licenses = selectLicenses(mf)
		if name != "" {
			p := newPackage(mainGroup, name, version, foundBy, nestedPath)
			p.Licenses = licenses
			if match != nil {
				p.Metadata["pomProperties"] = match.path
			}
			out = append(out, p)
			mainName = name
		}
	}

	for _, pp := range props {
		if pp.artifactID == "" || pp.version == "" {
			continue
		}
		if mainName == pp.artifactID && (pp.groupID == "" || pp.groupID == mainGroup || mainGroup == "") {
			continue // the archive's own coordinates, already reported
		}
		p := newPackage(pp.groupID, pp.artifactID, pp.version, foundBy, nestedPath)
		p.Metadata["pomProperties"] = pp.path
		out = append(out, p)
	}
	return out
}

// archiveBase is the last element of a virtual path, without extension.
func archiveBase(vpath string) string {
	if i := strings.LastIndexByte(vpath, ':'); i >= 0 {
		vpath = vpath[i+1:]
	}
	base := path.Base(vpath)
	return strings.TrimSuffix(base, path.Ext(base))
}
