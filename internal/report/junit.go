package report

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// JUnit writes JUnit XML for CI systems that show test reports (GitLab,
// Jenkins, Azure DevOps, CircleCI): one testsuite per package type, one
// failing testcase per finding ("<pkg>@<ver>: <id>"), a skipped one per
// suppressed finding, and a passing one per package without findings, so
// that the UI shows how many packages were checked.
type JUnit struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	// CDATA keeps the multi-line body readable; encoding/xml splits any
	// "]]>" in it, and junitText has already removed control characters.
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// Encode writes r to w.
func (JUnit) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("junit: nil report")
	}
	doc := junitDoc(r)
	ew := &errWriter{w: w}
	io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	io.WriteString(ew, "\n")
	if ew.err != nil {
		return fmt.Errorf("junit: %w", ew.err)
	}
	return nil
}

func junitDoc(r *Report) *junitSuites {
	doc := r.doc()
	target := cmp.Or(doc.Source.Input, "(unnamed)")
	if doc.Source.Kind != "" {
		target = doc.Source.Kind + ":" + target
	}
	props := []junitProperty{{Name: "target", Value: clean(target)}}
	if d := doc.Distro; d != nil {
		props = append(props, junitProperty{Name: "distro", Value: clean(strings.TrimSpace(d.ID + " " + d.VersionID))})
	}
	if r.DBStatus != "" {
		props = append(props, junitProperty{Name: "database", Value: clean(r.DBStatus)})
	}
	timestamp := ""
	if !doc.Created.IsZero() {
		timestamp = doc.Created.UTC().Format("2006-01-02T15:04:05")
	}

	type pkgCases struct {
		typ, name, version, key string
		cases                   []junitCase
	}
	var pkgs []*pkgCases
	byKey := map[string]*pkgCases{}
	for _, f := range sorted(r.Findings) {
		k := packageKey(f)
		p := byKey[k]
		if p == nil {
			p = &pkgCases{typ: string(f.PackageType), name: f.PackageName, version: f.InstalledVersion, key: k}
			byKey[k] = p
			pkgs = append(pkgs, p)
		}
		p.cases = append(p.cases, junitFindingCase(f))
	}
	for _, pk := range doc.Packages {
		k := pk.ID
		if k == "" {
			k = strings.Join([]string{string(pk.Type), pk.Name, pk.Version, pkgFirstPath(pk)}, "\x00")
		}
		if byKey[k] != nil {
			continue
		}
		p := &pkgCases{typ: string(pk.Type), name: pk.Name, version: pk.Version, key: k}
		p.cases = []junitCase{{Name: clean(pk.Name + "@" + pk.Version), Classname: clean(cmp.Or(string(pk.Type), "unknown"))}}
		byKey[k] = p
		pkgs = append(pkgs, p)
	}
	slices.SortStableFunc(pkgs, func(a, b *pkgCases) int {
		return cmp.Or(
			cmp.Compare(a.typ, b.typ),
			cmp.Compare(a.name, b.name),
			cmp.Compare(a.version, b.version),
			cmp.Compare(a.key, b.key),
		)
	})

	out := &junitSuites{Name: clean("bulkhead scan " + target)}
	for _, p := range pkgs {
		typ := cmp.Or(p.typ, "unknown")
		if n := len(out.Suites); n == 0 || out.Suites[n-1].Name != clean(typ) {
			out.Suites = append(out.Suites, junitSuite{Name: clean(typ), Timestamp: timestamp, Properties: props})
		}
		s := &out.Suites[len(out.Suites)-1]
		for _, c := range p.cases {
			s.Cases = append(s.Cases, c)
			s.Tests++
			if c.Failure != nil {
				s.Failures++
			}
			if c.Skipped != nil {
				s.Skipped++
			}
		}
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
	}
	return out
}

func pkgFirstPath(p sbom.Package) string {
	if len(p.Locations) == 0 {
		return ""
	}
	return p.Locations[0].Path
}

func junitFindingCase(f sbom.Finding) junitCase {
	c := junitCase{
		Name:      clean(f.PackageName + "@" + f.InstalledVersion + ": " + f.ID),
		Classname: clean(cmp.Or(string(f.PackageType), "unknown")),
	}
	if f.Suppressed != "" {
		c.Skipped = &junitSkipped{Message: clean("suppressed: " + f.Suppressed)}
		return c
	}
	sev := severity(f)
	msg := fmt.Sprintf("%s %s in %s %s", sev, f.ID, f.PackageName, f.InstalledVersion)
	if len(f.FixedVersions) > 0 {
		msg += "; fixed in " + strings.Join(f.FixedVersions, ", ")
	} else {
		msg += "; no fix available"
	}
	c.Failure = &junitFailure{Message: clean(msg), Type: sev, Text: junitText(f)}
	return c
}

// junitText is the failure body: everything a person needs to triage the
// finding without opening another tool.
func junitText(f sbom.Finding) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, clean(v))
		}
	}
	line("Vulnerability", f.ID)
	line("Summary", f.Summary)
	line("Package", f.PackageName+" "+f.InstalledVersion+" ("+string(f.PackageType)+")")
	line("PURL", f.PURL)
	line("Severity", severity(f))
	if f.Score > 0 {
		line("CVSS", strings.TrimSpace(strconv.FormatFloat(f.Score, 'f', 1, 64)+" "+f.Vector))
	}
	line("Fixed in", fixedIn(f))
	if f.KEV {
		line("Known exploited", "yes (CISA KEV)")
	}
	if f.EPSS != nil {
		line("EPSS", strconv.FormatFloat(*f.EPSS, 'f', -1, 64))
	}
	for _, l := range f.Locations {
		where := l.Path
		if l.Layer != "" {
			where += " (layer " + l.Layer + ")"
		}
		line("Location", where)
	}
	line("Aliases", strings.Join(f.Aliases, ", "))
	line("More information", vulnURL(f.ID))
	return b.String()
}
