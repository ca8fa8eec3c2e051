package e2e

import (
	"archive/zip"
	"encoding/json"
	"fmt"

	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
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

// TestScanCLI covers the scan command's gates and outputs on the Debian data:
// --fail-on exit codes, VEX suppression, SARIF validity, the missing-database
// message, malformed records on import, and signed bundles.
func TestScanCLI(t *testing.T) {
	data := sharedData(t)
	deb := filepath.Join(data, "debian")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "vuln.db")
	target := "dir:" + filepath.Join(deb, "vulnerable-rootfs")

	t.Run("missing database", func(t *testing.T) {
		_, errs, code := bulkhead(t, "scan", target, "--db", filepath.Join(dir, "none.db"), "-q")
		if code != 1 || !strings.Contains(errs, "db update") || !strings.Contains(errs, "import-bundle") {
			t.Fatalf("exit %d, %q: want exit 1 saying how to get a database", code, errs)
		}
	})

	// One malformed record among real ones.
	recs := filepath.Join(dir, "recs")
	os.MkdirAll(recs, 0o755)
	for _, n := range []string{"DEBIAN-CVE-2024-28085.json", "DEBIAN-CVE-2023-4911.json"} {
		if b, err := os.ReadFile(filepath.Join(deb, "osv", n)); err == nil {
			os.WriteFile(filepath.Join(recs, n), b, 0o644)
		}
	}
	os.WriteFile(filepath.Join(recs, "BROKEN-1.json"), []byte(`{"id": "BROKEN-1", "affected": "not a list"}`), 0o644)
	out, errs, code := bulkhead(t, "db", "import", "--db", dbPath, recs)
	if code != 0 || !strings.Contains(out, "BROKEN-1") || !strings.Contains(out, "rejected") {
		t.Fatalf("import with a malformed record: exit %d, out %q, err %q", code, out, errs)
	}
	if _, errs, code := bulkhead(t, "db", "import", "--db", dbPath, filepath.Join(deb, "osv")); code != 0 {
		t.Fatalf("import: %s", errs)
	}

	t.Run("fail-on", func(t *testing.T) {
		_, _, code := bulkhead(t, "scan", target, "--db", dbPath, "-q", "-o", "json", "--fail-on", "low", "--db-max-age", "0")
		if code != 2 {
			t.Errorf("--fail-on low: exit %d, want 2", code)
		}
		_, _, code = bulkhead(t, "scan", target, "--db", dbPath, "-q", "-o", "json", "--fail-on", "bogus", "--db-max-age", "0")
		if code != 1 {
			t.Errorf("--fail-on bogus: exit %d, want 1", code)
		}
	})

	t.Run("vex", func(t *testing.T) {
		vex := filepath.Join(dir, "vex.json")
		os.WriteFile(vex, []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","statements":[
			{"vulnerability":{"name":"CVE-2024-28085"},"products":[{"@id":"pkg:deb/debian/bsdutils"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`), 0o644)
		out, errs, code := bulkhead(t, "scan", target, "--db", dbPath, "-q", "-o", "json", "--vex", vex, "--db-max-age", "0")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var res struct {
			Findings []struct {
				ID, PackageName, Suppressed string
			} `json:"findings"`
		}
		json.Unmarshal([]byte(out), &res)
		var bsd, other int
		for _, f := range res.Findings {
			if f.ID == "CVE-2024-28085" {
				if f.PackageName == "bsdutils" && strings.HasPrefix(f.Suppressed, "VEX vex.json: not_affected") {
					bsd++
				} else if f.Suppressed == "" {
					other++
				}
			}
		}
		if bsd != 1 || other == 0 {
			t.Errorf("VEX: %d bsdutils findings suppressed (want 1), %d other packages' unsuppressed (want >0)", bsd, other)
		}
	})

	t.Run("sarif validates", func(t *testing.T) {
		out, errs, code := bulkhead(t, "scan", target, "--db", dbPath, "-q", "-o", "sarif", "--db-max-age", "0")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		schema := formattest.Schema(t, "../../internal/report/testdata/schema", "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
		formattest.Validate(t, schema, []byte(out))
	})

	t.Run("signed bundle", func(t *testing.T) {
		key := filepath.Join(dir, "k")
		if _, errs, code := bulkhead(t, "db", "keygen", "--out", key); code != 0 {
			t.Fatal(errs)
		}
		bundle := filepath.Join(dir, "db.bundle")
		if _, errs, code := bulkhead(t, "db", "export-bundle", "--db", dbPath, "--key", key+".key", "--output-file", bundle); code != 0 {
			t.Fatal(errs)
		}
		site := filepath.Join(dir, "site.db")
		if _, errs, code := bulkhead(t, "db", "import-bundle", "--db", site, "--pubkey", key+".pub", bundle); code != 0 {
			t.Fatal(errs)
		}
		// 'db import' recognises a bundle too, and wants the key.
		if _, errs, code := bulkhead(t, "db", "import", "--db", filepath.Join(dir, "other.db"), bundle); code == 0 || !strings.Contains(errs, "--pubkey") {
			t.Fatalf("bundle without a key: exit %d, %q", code, errs)
		}
		if _, errs, code := bulkhead(t, "db", "import", "--db", filepath.Join(dir, "other.db"), "--pubkey", key+".pub", bundle); code != 0 {
			t.Fatalf("db import of a bundle: %s", errs)
		}
		// Re-signed with another key, it verifies only with that key.
		key2 := filepath.Join(dir, "k2")
		bulkhead(t, "db", "keygen", "--out", key2)
		resigned := filepath.Join(dir, "resigned.bundle")
		if _, errs, code := bulkhead(t, "db", "sign", "--key", key2+".key", "--output-file", resigned, bundle); code != 0 {
			t.Fatal(errs)
		}
		if _, _, code := bulkhead(t, "db", "import-bundle", "--db", filepath.Join(dir, "x.db"), "--pubkey", key+".pub", resigned); code == 0 {
			t.Fatal("a bundle re-signed with another key verified with the old one")
		}
		b, _ := os.ReadFile(bundle)
		b[len(b)/2] ^= 0x55
		bad := filepath.Join(dir, "bad.bundle")
		os.WriteFile(bad, b, 0o644)
		if _, errs, code := bulkhead(t, "db", "import-bundle", "--db", site, "--pubkey", key+".pub", bad); code == 0 || !strings.Contains(errs, "invalid database bundle") {
			t.Fatalf("tampered bundle: exit %d, %q", code, errs)
		}
		// The previous database still answers.
		out, errs, code := bulkhead(t, "scan", target, "--db", site, "-q", "-o", "json", "--db-max-age", "0")
		if code != 0 || !strings.Contains(out, "CVE-2024-28085") {
			t.Fatalf("site database after a rejected bundle: exit %d %s", code, errs)
		}
	})
}

// TestDBUpdateFromDirectoryMirror serves osv.dev's layout from a directory
// (as an air-gapped mirror would), updates twice, and checks the second
// update changes nothing.
func TestDBUpdateFromDirectoryMirror(t *testing.T) {
	data := sharedData(t)
	mirror := t.TempDir()
	os.MkdirAll(filepath.Join(mirror, "Debian"), 0o755)
	zf, err := os.Create(filepath.Join(mirror, "Debian", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	ents, _ := os.ReadDir(filepath.Join(data, "debian", "osv"))
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(data, "debian", "osv", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(e.Name())
		w.Write(b)
		n++
	}
	zw.Close()
	zf.Close()
	kev := filepath.Join(data, "vulndata", "kev", "known_exploited_vulnerabilities.json")
	dbPath := filepath.Join(t.TempDir(), "vuln.db")
	args := []string{"db", "update", "--db", dbPath, "--mirror", mirror, "--ecosystems", "Debian", "--kev-url", kev, "--source="}
	out, errs, code := bulkhead(t, args...)
	if code != 0 {
		t.Fatalf("db update: exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, fmt.Sprintf("%d added", n)) || !strings.Contains(out, "known-exploited") {
		t.Errorf("first update: %s", out)
	}
	out, _, code = bulkhead(t, args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("0 added, 0 updated, %d unchanged", n)) {
		t.Errorf("second update should change nothing: %s", out)
	}
	out, _, _ = bulkhead(t, "db", "status", "--db", dbPath, "--json")
	var st struct {
		Advisories, KEV int
	}
	json.Unmarshal([]byte(out), &st)
	if st.Advisories != n || st.KEV == 0 {
		t.Errorf("status after update: %+v", st)
	}
	// An unreachable source fails the command but keeps what was applied.
	_, errs, code = bulkhead(t, "db", "update", "--db", dbPath, "--mirror", mirror, "--ecosystems", "Debian,npm", "--kev-url", "", "--source=")
	if code == 0 || !strings.Contains(errs, "npm") {
		t.Errorf("missing ecosystem zip: exit %d, %q", code, errs)
	}
}
