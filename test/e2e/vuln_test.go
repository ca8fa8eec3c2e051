package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedData locates ../shared/data beside the checkout, as CI lays it out.
func sharedData(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not present at %s", p)
	}
	return p
}

type expectedFile struct {
	Summary struct {
		Findings int `json:"findings_total"`
		CVEs     int `json:"distinct_cves"`
	} `json:"summary"`
	Packages map[string]struct {
		Source   string `json:"source"`
		Findings []struct {
			CVE   string `json:"cve"`
			Fixed string `json:"fixed"`
		} `json:"findings"`
	} `json:"packages"`
}

type scanFinding struct {
	ID            string   `json:"id"`
	PackageName   string   `json:"packageName"`
	PackageType   string   `json:"packageType"`
	FixedVersions []string `json:"fixedVersions"`
	MatchedName   string   `json:"matchedName"`
	Rule          string   `json:"rule"`
}

// TestDebianExpectedFindings imports the Debian 12 OSV records derived from
// the packages' changelogs and scans the rolled-back dpkg database: every
// expected (binary package, CVE, fixed version) must be reported, and
// nothing else.
func TestDebianExpectedFindings(t *testing.T) {
	data := sharedData(t)
	deb := filepath.Join(data, "debian")
	var exp expectedFile
	b, err := os.ReadFile(filepath.Join(deb, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "vuln.db")
	if _, errs, code := bulkhead(t, "db", "import", "--db", dbPath, filepath.Join(deb, "osv")); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errs)
	}
	out, errs, code := bulkhead(t, "scan", "dir:"+filepath.Join(deb, "vulnerable-rootfs"), "--db", dbPath, "-q", "-o", "json", "--db-max-age", "0")
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errs)
	}
	var res struct {
		Findings []scanFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("scan output: %v", err)
	}
	want := map[string]bool{}
	cves := map[string]bool{}
	sources := map[string]bool{}
	for name, p := range exp.Packages {
		for _, f := range p.Findings {
			want[name+" "+f.CVE+" "+f.Fixed] = true
			cves[f.CVE] = true
			sources[p.Source+" "+f.CVE] = true
		}
	}
	got := map[string]bool{}
	gotSources := map[string]bool{}
	for _, f := range res.Findings {
		got[f.PackageName+" "+f.ID+" "+strings.Join(f.FixedVersions, ",")] = true
		gotSources[f.MatchedName+" "+f.ID] = true
		if f.Rule != "distro-source" {
			t.Errorf("%s %s: rule %q, want distro-source", f.PackageName, f.ID, f.Rule)
		}
	}
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("findings differ from expected.json: %d missing %v; %d unexpected %v", len(missing), head(missing), len(extra), head(extra))
	}
	if len(want) != exp.Summary.Findings || len(got) != len(want) {
		t.Errorf("got %d findings, expected.json has %d (summary says %d)", len(got), len(want), exp.Summary.Findings)
	}
	if len(gotSources) != len(sources) {
		t.Errorf("%d distinct (source package, CVE) pairs, want %d", len(gotSources), len(sources))
	}
	t.Logf("%d findings on %d packages, %d (source, CVE) pairs, %d CVEs", len(got), len(exp.Packages), len(gotSources), len(cves))
}

func head(s []string) []string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
