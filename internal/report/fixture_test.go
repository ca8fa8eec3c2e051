package report

import (
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func ptr[T any](v T) *T { return &v }

// finding fills the package fields of f from the package called name in
// doc, as the matcher does.
func finding(t testing.TB, doc *sbom.SBOM, name string, f sbom.Finding) sbom.Finding {
	t.Helper()
	for _, p := range doc.Packages {
		if p.Name != name {
			continue
		}
		f.Kind = "vulnerability"
		f.PackageID, f.PackageName, f.PackageType, f.PURL = p.ID, p.Name, p.Type, p.PURL
		f.InstalledVersion, f.Locations, f.Layer = p.Version, p.Locations, p.Layer
		if f.Sources == nil {
			f.Sources = []string{f.ID}
		}
		if f.Rule == "" {
			f.Rule = "exact-name"
		}
		if f.MatchedName == "" {
			f.MatchedName = p.Name
		}
		return f
	}
	t.Fatalf("fixture has no package %q", name)
	return f
}

const (
	v31Critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	v31High     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
	v31Medium   = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"
	v4Critical  = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	v2High      = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
)

// imageReport is a scan of formattest.Image(): findings of every severity
// on packages of several types, CVSS v2, v3.1 and v4 vectors, a KEV one,
// EPSS, a finding without a fix, a non-CVE id, an unknown severity and
// three suppressed findings (two by VEX, one by the ignore file).
func imageReport(t testing.TB) *Report {
	doc := formattest.Image()
	fs := []sbom.Finding{
		finding(t, doc, "libc6", sbom.Finding{
			ID: "CVE-2024-2961", Aliases: []string{"DEBIAN-CVE-2024-2961"}, FixedVersions: []string{"2.36-9+deb12u7"},
			Severity: "high", Score: 8.8, Vector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", KEV: true, EPSS: ptr(0.91246),
			Summary:   "The iconv() function in the GNU C Library overflows its output buffer when converting to ISO-2022-CN-EXT",
			Sources:   []string{"DEBIAN-CVE-2024-2961"},
			Ecosystem: "Debian:12", MatchedName: "glibc", Rule: "distro-source",
		}),
		finding(t, doc, "libc6", sbom.Finding{
			ID: "CVE-2024-33601", FixedVersions: []string{"2.36-9+deb12u7"},
			Severity: "medium", Score: 6.2, Vector: v31Medium, EPSS: ptr(0.00043),
			Summary:   "nscd: netgroup cache may terminate daemon on memory allocation failure",
			Sources:   []string{"DEBIAN-CVE-2024-33601"},
			Ecosystem: "Debian:12", MatchedName: "glibc", Rule: "distro-source",
		}),
		finding(t, doc, "openssl-libs", sbom.Finding{
			ID: "CVE-2024-5535", FixedVersions: []string{"1:3.0.7-28.el9_4"},
			Severity: "critical", Score: 9.1, Vector: v31Critical,
			Summary:   "SSL_select_next_proto buffer overread",
			Ecosystem: "Red Hat:9", MatchedName: "openssl", Rule: "distro-source",
		}),
		finding(t, doc, "serde", sbom.Finding{
			ID: "GHSA-9q4w-2xqx-8f3v", FixedVersions: []string{"1.0.200"},
			Severity: "critical", Score: 9.3, Vector: v4Critical,
			Summary:   "Deserialization of untrusted data in serde (fixture)",
			Ecosystem: "crates.io",
		}),
		finding(t, doc, "org.slf4j:slf4j-api", sbom.Finding{
			ID: "CVE-2018-8088", FixedVersions: []string{"2.0.10", "1.7.26"},
			Severity: "high", Score: 7.5, Vector: v2High,
			Summary:   "org.slf4j.ext.EventData deserialization (fixture)",
			Ecosystem: "Maven",
		}),
		finding(t, doc, "golang.org/x/text", sbom.Finding{
			ID: "GO-2024-9999", Aliases: []string{"GHSA-xxxx-yyyy-zzzz"}, FixedVersions: []string{"v0.15.0"},
			Severity: "medium",
			Summary:  "Unbounded memory use in language tag parsing (fixture)",
			Sources:  []string{"GO-2024-9999", "GHSA-xxxx-yyyy-zzzz"}, Ecosystem: "Go",
		}),
		finding(t, doc, "left-pad", sbom.Finding{
			ID: "GHSA-aaaa-bbbb-cccc", Severity: "low", Score: 3.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N",
			Summary: "left-pad pads to the left (fixture, no fix)", Ecosystem: "npm",
		}),
		finding(t, doc, "busybox", sbom.Finding{
			ID: "CVE-2023-42366", Severity: "unknown",
			Summary: "A heap-buffer-overflow in busybox awk", Ecosystem: "Alpine:v3.19", Rule: "distro-source",
		}),
		finding(t, doc, "rack", sbom.Finding{
			ID: "CVE-2024-26146", FixedVersions: []string{"3.0.9.2"}, Severity: "medium", Score: 5.3,
			Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", Summary: "Possible denial of service in header parsing", Ecosystem: "RubyGems",
		}),
		finding(t, doc, "six", sbom.Finding{
			ID: "CVE-2099-0001", FixedVersions: []string{"1.17.0"}, Severity: "high", Score: 7.1, Vector: v31High,
			Summary: "six fixture vulnerability", Ecosystem: "PyPI",
			Suppressed: "VEX not_affected: vulnerable_code_not_in_execute_path (.vex/openvex.json)",
		}),
		finding(t, doc, "monolog/monolog", sbom.Finding{
			ID: "CVE-2099-0002", Severity: "critical", Score: 9.8, Vector: v31Critical,
			Summary: "monolog fixture vulnerability", Ecosystem: "Packagist",
			Suppressed: "VEX not_affected: component_not_present (.vex/cyclonedx.json)",
		}),
		finding(t, doc, "Newtonsoft.Json", sbom.Finding{
			ID: "CVE-2024-21907", FixedVersions: []string{"13.0.4"}, Severity: "high", Score: 7.5, Vector: v31High,
			Summary: "Improper handling of exceptional conditions in Newtonsoft.Json", Ecosystem: "NuGet",
			Suppressed: "ignore file .bulkhead-ignore: accepted until 2027-01-01",
		}),
	}
	return &Report{SBOM: doc, Findings: fs, DBStatus: "built 2026-11-27, 3 sources"}
}

// dirReport is a scan of formattest.Dir(): a directory source (no
// layers, no distro) with one finding.
func dirReport(t testing.TB) *Report {
	doc := formattest.Dir()
	return &Report{SBOM: doc, DBStatus: "built 2026-11-27, 3 sources", Findings: []sbom.Finding{
		finding(t, doc, "requests", sbom.Finding{
			ID: "CVE-2024-35195", Aliases: []string{"GHSA-9wx4-h78v-vm56", "PYSEC-2024-40"}, FixedVersions: []string{"2.32.0"},
			Severity: "medium", Score: 5.6, Vector: "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N", EPSS: ptr(0.0004),
			Summary: "Requests `Session` object does not verify requests after making first request with verify=False",
			Sources: []string{"GHSA-9wx4-h78v-vm56", "PYSEC-2024-40"}, Ecosystem: "PyPI",
		}),
	}}
}

// emptyReport has no packages and no findings.
func emptyReport(testing.TB) *Report {
	return &Report{SBOM: formattest.Empty()}
}

// hostileReport puts control characters, XML and HTML specials, a bidi
// override, invalid UTF-8 and a CDATA terminator into every free-text field
// an attacker controls (package metadata, advisory text, VEX reasons).
func hostileReport(t testing.TB) *Report {
	r := dirReport(t)
	const evil = "evil<script>alert('x')</script>&amp;\"q\"\t\n\r\x00\x01\x1b[31mred\x7f\u0085\u202emoc.exe]]></failure>\xff"
	r.SBOM.Packages[0].Name = "pkg" + evil
	r.SBOM.Packages[0].Version = "1.0" + evil
	r.SBOM.Source.Input = "/src" + evil
	f := &r.Findings[0]
	f.PackageName = r.SBOM.Packages[1].Name + evil
	f.InstalledVersion += evil
	f.Summary = "summary" + evil
	f.FixedVersions = []string{"2.32.0" + evil}
	f.Locations = []sbom.Location{{Path: "/dir with space/a:b/%41?x#y" + evil}}
	sup := *f
	sup.ID = "CVE-2099-0003" + evil
	sup.Suppressed = "VEX not_affected" + evil
	r.Findings = append(r.Findings, sup)
	r.DBStatus = "db" + evil
	return r
}

type reportCase struct {
	name   string
	report func(testing.TB) *Report
}

var cases = []reportCase{
	{"image", imageReport},
	{"dir", dirReport},
	{"empty", emptyReport},
}
