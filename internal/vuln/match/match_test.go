package match

import (
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

// memSource is an in-memory Source for tests.
type memSource struct {
	advs []*advisory.Advisory
	kev  map[string]bool
}

func (m memSource) Lookup(eco, pkg string) ([]advisory.Entry, error) {
	var out []advisory.Entry
	for _, a := range m.advs {
		for _, e := range a.Entries() {
			if e.Ecosystem == eco && store.NormalizeName(eco, e.Package) == store.NormalizeName(eco, pkg) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}
func (m memSource) KEV(cve string) (advisory.KEV, bool) { return advisory.KEV{CVE: cve}, m.kev[cve] }
func (m memSource) EPSS(string) (advisory.EPSS, bool)   { return advisory.EPSS{}, false }

func rng(intro, fixed string) []advisory.Range {
	ev := []advisory.Event{{Introduced: intro}}
	if fixed != "" {
		ev = append(ev, advisory.Event{Fixed: fixed})
	}
	return []advisory.Range{{Type: "ECOSYSTEM", Events: ev}}
}

func mk(id string, aliases []string, eco, pkg, fixed string, sev ...advisory.Severity) *advisory.Advisory {
	return &advisory.Advisory{ID: id, Aliases: aliases, Severity: sev,
		Affected: []advisory.Affected{{Ecosystem: eco, Package: pkg, Ranges: rng("0", fixed)}}}
}

func TestMatch(t *testing.T) {
	withdrawn := time.Now()
	w := mk("GHSA-gone", nil, "PyPI", "urllib3", "9.9")
	w.Withdrawn = &withdrawn
	src := memSource{kev: map[string]bool{"CVE-2024-28085": true}, advs: []*advisory.Advisory{
		// Distro record keyed by source package; binary bsdutils has an epoch.
		mk("DEBIAN-CVE-2024-28085", []string{"CVE-2024-28085"}, "Debian:12", "util-linux", "2.38.1-5+deb12u1",
			advisory.Severity{Type: "CVSS_V3", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8}),
		// The same CVE through the language feed and a GHSA: one finding.
		mk("PYSEC-2023-1", []string{"CVE-2023-43804", "GHSA-v845"}, "PyPI", "urllib3", "1.26.17"),
		mk("GHSA-v845", []string{"CVE-2023-43804"}, "PyPI", "urllib3", "1.26.18"),
		w,
		mk("GO-2024-1", []string{"CVE-2024-24790"}, "Go", "stdlib", "1.21.11"),
		mk("GO-2024-2", nil, "Go", "example.com/dep", "1.5.0"),
		mk("ALPINE-CVE-2024-1", []string{"CVE-2024-1"}, "Alpine:v3.19", "openssl", "3.1.5-r0"),
		mk("ALSA-2024:1", []string{"CVE-2024-2"}, "AlmaLinux:9", "openssl-libs", "1:3.0.7-27.el9"),
	}}
	deb := &sbom.Distro{ID: "debian", VersionID: "12"}
	doc := &sbom.SBOM{Distro: deb, Packages: []sbom.Package{
		{ID: "b", Name: "bsdutils", Version: "1:2.38.1-5", Type: sbom.TypeDeb, SourceName: "util-linux", SourceVersion: "2.38.1-5"},
		{ID: "u", Name: "urllib3", Version: "1.26.12", Type: sbom.TypePython},
		{ID: "o", Name: "urllib3", Version: "1.26.12", Type: sbom.TypePython, OwnedBy: "b", Locations: []sbom.Location{{Path: "/usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA"}}},
		{ID: "s", Name: "stdlib", Version: "go1.21.3", Type: sbom.TypeGo},
		{ID: "d", Name: "example.com/dep", Version: "v1.4.0", Type: sbom.TypeGo},
		{ID: "m", Name: "example.com/app", Version: "(devel)", Type: sbom.TypeGo},
	}}
	fs, err := New(src, Options{}).Match(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sbom.Finding{}
	for _, f := range fs {
		got[f.PackageID+" "+f.ID] = f
	}
	if len(fs) != 4 {
		t.Errorf("got %d findings, want 4: %v", len(fs), keys(got))
	}
	b := got["b CVE-2024-28085"]
	if b.Rule != "distro-source" || b.MatchedName != "util-linux" || !b.KEV || b.Severity != "high" || b.FixedVersions[0] != "2.38.1-5+deb12u1" {
		t.Errorf("bsdutils: %+v", b)
	}
	u := got["u CVE-2023-43804"]
	if len(u.Sources) != 2 || len(u.FixedVersions) != 2 || u.Rule != "language" {
		t.Errorf("urllib3 aliases not merged: %+v", u)
	}
	if _, ok := got["o CVE-2023-43804"]; ok {
		t.Error("an OS-owned Python package was matched against PyPI without --match-owned")
	}
	if s := got["s CVE-2024-24790"]; s.Rule != "language" {
		t.Errorf("Go stdlib not matched at its toolchain version: %v", keys(got))
	}
	if _, ok := got["d GO-2024-2"]; !ok {
		t.Errorf("Go module not matched: %v", keys(got))
	}

	fs, _ = New(src, Options{MatchOwned: true}).Match(doc)
	found := false
	for _, f := range fs {
		if f.PackageID == "o" && f.Rule == "language-owned" {
			found = true
		}
	}
	if !found {
		t.Error("--match-owned did not match the OS-owned package with rule language-owned")
	}

	alp := &sbom.SBOM{Distro: &sbom.Distro{ID: "alpine", VersionID: "3.19.1"}, Packages: []sbom.Package{
		{ID: "a", Name: "libssl3", Version: "3.1.4-r5", Type: sbom.TypeAPK, SourceName: "openssl", SourceVersion: "3.1.4-r5"},
	}}
	if fs, _ := New(src, Options{}).Match(alp); len(fs) != 1 || fs[0].Ecosystem != "Alpine:v3.19" {
		t.Errorf("alpine: %+v", fs)
	}
	alma := &sbom.SBOM{Distro: &sbom.Distro{ID: "almalinux", VersionID: "9.4"}, Packages: []sbom.Package{
		{ID: "r", Name: "openssl-libs", Version: "1:3.0.7-25.el9", Type: sbom.TypeRPM, SourceName: "openssl"},
	}}
	if fs, _ := New(src, Options{}).Match(alma); len(fs) != 1 || fs[0].MatchedName != "openssl-libs" {
		t.Errorf("almalinux (binary names): %+v", fs)
	}
}

func keys(m map[string]sbom.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
