package java

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

type archiveFilename struct {
	name, version string
}

// parseArchiveFilename splits "name-1.2.3.jar" into name and version the
// way Syft's nameAndVersionPattern does, without a regexp: dash-separated
// groups belong to the name until one looks like a version (starts with a
// digit, is "build" followed by a digit, or is "r"/"rc" followed only by
// digits); that group and the rest are the version. Failing that, a
// version joined by '.' or '_' ("foo_1.2") is looked for.
func parseArchiveFilename(vpath string) archiveFilename {
	base := archiveBase(vpath)
	name, version := base, ""
	for i := 0; i < len(base); i++ {
		if base[i] == '-' && i > 0 && looksLikeVersion(base[i+1:]) {
			name, version = base[:i], base[i+1:]
			break
		}
	}
	if version == "" {
		for i := 1; i < len(name); i++ {
			if c := name[i]; (c == '.' || c == '_' || c == '-') && looksLikeVersion(name[i+1:]) {
				name, version = name[:i], name[i+1:]
				break
			}
		}
	}
	return archiveFilename{name: name, version: version}
}

func looksLikeVersion(s string) bool {
	if s == "" {
		return false
	}
	if isDigit(s[0]) {
		return true
	}
	if strings.HasPrefix(strings.ToLower(s), "build") && len(s) > 5 && isDigit(s[5]) {
		return true
	}
	// r4 / rc12, up to the next dash
	t, _, _ := strings.Cut(s, "-")
	if t[0] == 'r' || t[0] == 'R' {
		t = t[1:]
		if t != "" && (t[0] == 'c' || t[0] == 'C') {
			t = t[1:]
		}
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if !isDigit(t[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nameFromFilename is Syft's extractNameFromArchiveFilename: a dotted
// name made of Java identifiers is taken as groupId.artifactId and gives
// the artifactId, except for Eclipse's org.eclipse.* bundles.
func nameFromFilename(fn archiveFilename) string {
	if !strings.Contains(fn.name, ".") || strings.HasPrefix(fn.name, "org.eclipse.") {
		return fn.name
	}
	fields := strings.Split(fn.name, ".")
	for _, f := range fields {
		r, _ := utf8.DecodeRuneInString(f)
		if f == "" || !(unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Sc, r) || unicode.Is(unicode.Pc, r)) {
			return fn.name
		}
	}
	return fields[len(fields)-1]
}

// selectName follows Syft: the Apache Maven Bundle Plugin's
// Bundle-SymbolicName, then the file name, then manifest name fields.
func selectName(mf *manifest, fn archiveFilename) string {
	if strings.Contains(mf.get("Created-By"), "Apache Maven Bundle Plugin") {
		if sym := mf.get("Bundle-SymbolicName"); sym != "" {
			if vid := mf.get("Implementation-Vendor-Id"); vid == "" || vid != sym {
				sym, _, _ = strings.Cut(sym, ";")
				fields := strings.Split(strings.TrimSpace(sym), ".")
				return fields[len(fields)-1]
			}
		}
	}
	if n := nameFromFilename(fn); n != "" {
		return n
	}
	for _, k := range []string{"Name", "Bundle-Name", "Short-Name", "Extension-Name", "Implementation-Title"} {
		if v := mf.get(k); v != "" {
			return v
		}
	}
	return ""
}

// selectVersion follows Syft: the file name's version, then the manifest.
func selectVersion(mf *manifest, fn archiveFilename) string {
	if fn.version != "" {
		return fn.version
	}
	for _, k := range []string{"Implementation-Version", "Specification-Version", "Plugin-Version", "Bundle-Version"} {
		if v := mf.field(k); v != "" {
			return v
		}
	}
	return ""
}

// selectLicenses returns the manifest's licence declarations as written.
func selectLicenses(mf *manifest) []string {
	var out []string
	for _, k := range []string{"Bundle-License", "Plugin-License-Name"} {
		if v := mf.field(k); v != "" {
			out = append(out, v)
		}
	}
	return out
}

var (
	primaryGroupFields   = []string{"Group-Id", "Bundle-SymbolicName", "Extension-Name", "Specification-Vendor", "Implementation-Vendor", "Implementation-Vendor-Id", "Implementation-Title", "Bundle-Activator"}
	secondaryGroupFields = []string{"Automatic-Module-Name", "Main-Class", "Package"}
)

// groupIDFromManifest is Syft's groupIDFromJavaManifest: of the values of
// the fields above that start like a reverse domain name, the smallest.
func groupIDFromManifest(mf *manifest) string {
	for _, fields := range [][]string{primaryGroupFields, secondaryGroupFields} {
		var ids []string
		for _, s := range append([][]attr{mf.main}, mf.sections...) {
			for _, a := range s {
				for _, f := range fields {
					if strings.EqualFold(a.key, f) && startsWithTLD(a.value) {
						ids = append(ids, cleanGroupID(a.value))
					}
				}
			}
		}
		if len(ids) > 0 {
			sort.Strings(ids)
			return ids[0]
		}
	}
	return ""
}

func startsWithTLD(v string) bool {
	for _, d := range []string{"com", "org", "net", "io", "be"} {
		if strings.HasPrefix(v, d) {
			return true
		}
	}
	return false
}

// cleanGroupID drops OSGi directives ("org.bar;singleton:=true") and
// anything after '#'.
func cleanGroupID(g string) string {
	g, _, _ = strings.Cut(g, ";")
	g, _, _ = strings.Cut(g, "#")
	return strings.TrimSpace(g)
}

// artifactIDMatchesFilename is Syft's test of whether a pom.properties
// describes the archive itself: an exact match when some pom.properties
// has the file's name as artifactId, else a prefix/suffix match.
func artifactIDMatchesFilename(artifactID, fileName string, props []pomProperties) bool {
	if artifactID == "" || fileName == "" {
		return false
	}
	for _, p := range props {
		if p.artifactID == fileName {
			return artifactID == fileName
		}
	}
	return strings.HasPrefix(artifactID, fileName) || strings.HasSuffix(fileName, artifactID)
}
