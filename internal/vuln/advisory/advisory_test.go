package advisory

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

type golden struct {
	Records any      `json:"records"`
	Errors  []string `json:"errors,omitempty"`
}

func checkGolden(t *testing.T, name string, records any, errs []RecordError) {
	t.Helper()
	g := golden{Records: records}
	for _, e := range errs {
		g.Errors = append(g.Errors, e.Error())
	}
	got, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file %s (run with -update after checking the diff)\n got: %.2000s", name, path, got)
	}
}

func byID(advs []Advisory) map[string]Advisory {
	m := map[string]Advisory{}
	for _, a := range advs {
		m[a.ID] = a
	}
	return m
}

func TestImportOSV(t *testing.T) {
	tests := []struct {
		name, path string
		n          int
		kept       []error // expected Kept errors, in order
		check      func(t *testing.T, m map[string]Advisory)
	}{
		{name: "go", path: "testdata/osv/go", n: 3, check: func(t *testing.T, m map[string]Advisory) {
			if m["GO-2022-0617"].Withdrawn == nil {
				t.Error("GO-2022-0617: Withdrawn not set")
			}
			if m["GO-2020-0001"].Withdrawn != nil {
				t.Error("GO-2020-0001: Withdrawn set")
			}
		}},
		{name: "pypi", path: "testdata/osv/pypi", n: 3, kept: []error{ErrGitRef}, check: func(t *testing.T, m map[string]Advisory) {
			a := m["PYSEC-2021-424"]
			if a.DatabaseSpecific[FlagsKey] != FlagGitRef {
				t.Errorf("PYSEC-2021-424 flags = %q, want %q", a.DatabaseSpecific[FlagsKey], FlagGitRef)
			}
			if len(a.Affected) != 1 || len(a.Affected[0].Ranges) != 2 || a.Affected[0].Ranges[0].Type != "GIT" {
				t.Errorf("PYSEC-2021-424: GIT range not kept: %+v", a.Affected)
			}
		}},
		{name: "crates", path: "testdata/osv/crates", n: 2, check: func(t *testing.T, m map[string]Advisory) {
			if l, s := Normalize(m["RUSTSEC-2024-0445"].Severity); l == LevelUnknown || s == 0 {
				t.Errorf("RUSTSEC-2024-0445 (CVSS v4): Normalize = %v, %v", l, s)
			}
		}},
		{name: "almalinux", path: "testdata/osv/almalinux", n: 1},
		{name: "debian", path: "testdata/osv/debian", n: 2, check: func(t *testing.T, m map[string]Advisory) {
			aff := m["DEBIAN-CVE-1999-1572"].Affected[0]
			if l, _ := Normalize(aff.Severity); l != LevelHigh {
				t.Errorf("Debian urgency high: Normalize = %v", l)
			}
		}},
		{name: "ubuntu", path: "testdata/osv/ubuntu", n: 2},
		{name: "ghsa", path: "testdata/osv/ghsa", n: 2, check: func(t *testing.T, m map[string]Advisory) {
			if l, s := Normalize(m["GHSA-jfh8-c2jp-5v3q"].Severity); l != LevelCritical || s != 10 {
				t.Errorf("log4shell: Normalize = %v, %v; want critical, 10", l, s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advs, errs := ImportOSV(tt.path)
			if len(advs) != tt.n {
				t.Errorf("got %d advisories, want %d", len(advs), tt.n)
			}
			if len(errs) != len(tt.kept) {
				t.Fatalf("errors = %v, want %d kept", errs, len(tt.kept))
			}
			for i, e := range errs {
				if !e.Kept || !errors.Is(e, tt.kept[i]) || e.ID == "" || e.File == "" {
					t.Errorf("error %d = %+v, want kept %v naming record and file", i, e, tt.kept[i])
				}
			}
			if tt.check != nil {
				tt.check(t, byID(advs))
			}
			checkGolden(t, "osv-"+tt.name, advs, errs)
		})
	}
}

func TestImportOSVSingleFileAndZip(t *testing.T) {
	advs, errs := ImportOSV("testdata/osv/pypi/PYSEC-2022-42969.yaml")
	if len(advs) != 1 || len(errs) != 0 || advs[0].ID != "PYSEC-2022-42969" {
		t.Fatalf("single YAML file: %v %v", advs, errs)
	}
	// The osv.dev layout: <Ecosystem>/all.zip with one JSON record per entry.
	var entries []zipEntry
	for _, f := range []string{"GO-2020-0001.json", "GO-2022-0617.json", "GO-2023-1840.json"} {
		b, err := os.ReadFile(filepath.Join("testdata/osv/go", f))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, zipEntry{f, b})
	}
	zipPath := filepath.Join(t.TempDir(), "Go", "all.zip")
	writeZip(t, zipPath, entries...)
	advs, errs = ImportOSV(zipPath)
	if len(advs) != 3 || len(errs) != 0 {
		t.Fatalf("zip: %d advisories, errors %v", len(advs), errs)
	}
	want, _ := ImportOSV("testdata/osv/go")
	a, _ := json.Marshal(advs)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Error("zip and directory imports differ")
	}
}

type zipEntry struct {
	name string
	data []byte
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeZip(t *testing.T, path string, entries ...zipEntry) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, zipBytes(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOSVErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/osv/go/GO-2020-0001.json")
	if err != nil {
		t.Fatal(err)
	}
	badVector := bytes.Replace(good, []byte(`"id": "GO-2020-0001",`),
		[]byte(`"id": "GO-2020-0001", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X/AC:L"}],`), 1)
	if bytes.Equal(badVector, good) {
		t.Fatal("fixture edit did not apply")
	}
	tests := []struct {
		name     string
		file     string
		data     []byte
		zip      bool
		opts     []Option
		wantAdvs int
		wantFile string // suffix of RecordError.File
		wantID   string
		wantErr  error
		wantKept bool
	}{
		{name: "malformed JSON", file: "bad.json", data: []byte(`{"id": "GO-X", "affected": [`), wantFile: "bad.json", wantErr: ErrMalformed},
		{name: "wrong type", file: "type.json", data: []byte(`{"id": "GO-Y", "aliases": "CVE-1"}`), wantFile: "type.json", wantID: "GO-Y", wantErr: ErrMalformed},
		{name: "bad timestamp", file: "ts.json", data: []byte(`{"id": "GO-Z", "modified": "yesterday"}`), wantFile: "ts.json", wantID: "GO-Z", wantErr: ErrMalformed},
		{name: "missing id", file: "noid.json", data: []byte(`{"modified": "2024-01-01T00:00:00Z"}`), wantFile: "noid.json", wantErr: ErrMissingID},
		{name: "malformed YAML", file: "bad.yaml", data: []byte("id: PYSEC-1\naffected: [\n"), wantFile: "bad.yaml", wantErr: ErrMalformed},
		{name: "bad vector kept", file: "vec.json", data: badVector, wantAdvs: 1, wantFile: "vec.json", wantID: "GO-2020-0001", wantErr: ErrBadVector, wantKept: true},
		{name: "oversized record", file: "big.json", data: good, opts: []Option{WithLimits(Limits{MaxRecordBytes: 100})}, wantFile: "big.json", wantErr: ErrTooLarge},
		{name: "traversal zip entry", zip: true, data: zipBytes(t, zipEntry{"../../etc/GO-1.json", good}, zipEntry{"GO-2020-0001.json", good}),
			wantAdvs: 1, wantFile: "all.zip!../../etc/GO-1.json", wantErr: ErrUnsafePath},
		{name: "absolute zip entry", zip: true, data: zipBytes(t, zipEntry{"/GO-1.json", good}), wantFile: "all.zip!/GO-1.json", wantErr: ErrUnsafePath},
		{name: "oversized zip entry", zip: true, data: zipBytes(t, zipEntry{"GO-2020-0001.json", good}), opts: []Option{WithLimits(Limits{MaxRecordBytes: 100})},
			wantFile: "all.zip!GO-2020-0001.json", wantErr: ErrTooLarge},
		{name: "zip bomb ratio", zip: true, data: zipBytes(t, zipEntry{"GO-BOMB.json", make([]byte, 4<<20)}), wantFile: "all.zip!GO-BOMB.json", wantErr: ErrZipBomb},
		{name: "zip bomb entries", zip: true, data: zipBytes(t, zipEntry{"a.json", good}, zipEntry{"b.json", good}, zipEntry{"c.json", good}),
			opts: []Option{WithLimits(Limits{MaxZipEntries: 2})}, wantFile: "all.zip", wantErr: ErrZipBomb},
		{name: "not a zip", zip: true, data: []byte("PK\x03\x04 truncated"), wantFile: "all.zip", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var advs []Advisory
			var errs []RecordError
			if tt.zip {
				advs, errs = ReadOSVZip(bytes.NewReader(tt.data), int64(len(tt.data)), "all.zip", tt.opts...)
			} else {
				path := filepath.Join(t.TempDir(), tt.file)
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
				advs, errs = ImportOSV(path, tt.opts...)
			}
			if len(advs) != tt.wantAdvs {
				t.Errorf("got %d advisories, want %d", len(advs), tt.wantAdvs)
			}
			if len(errs) != 1 {
				t.Fatalf("got errors %v, want one", errs)
			}
			e := errs[0]
			if !strings.HasSuffix(e.File, tt.wantFile) || e.ID != tt.wantID || !errors.Is(e, tt.wantErr) || e.Kept != tt.wantKept {
				t.Errorf("got %+v (%v), want file *%s id %q err %v kept %v", e, e, tt.wantFile, tt.wantID, tt.wantErr, tt.wantKept)
			}
			if tt.wantKept && advs[0].DatabaseSpecific[FlagsKey] != FlagBadVector {
				t.Errorf("flags = %q", advs[0].DatabaseSpecific[FlagsKey])
			}
		})
	}
}

func TestDebianTracker(t *testing.T) {
	advs, errs := ImportDebianTracker("testdata/debian-tracker/tracker.json")
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	m := byID(advs)
	if len(advs) != 4 {
		t.Errorf("got %d advisories, want 4", len(advs))
	}
	glibc := m["CVE-2023-4911"]
	// bookworm+bullseye fixed from glibc, buster not affected ("0"),
	// bullseye open from eglibc: merged into one advisory.
	if len(glibc.Affected) != 3 {
		t.Errorf("CVE-2023-4911 affected = %+v", glibc.Affected)
	}
	if r := glibc.Affected[0].Severity[0].Rating; r != "high" {
		t.Errorf("urgency %q, want \"high\" without **", r)
	}
	if s := m["TEMP-0000000-F2C4A1"].Affected; len(s) != 1 || s[0].EcosystemSpecific["status"] != "undetermined" {
		t.Errorf("undetermined: %+v", s)
	}
	checkGolden(t, "debian-tracker", advs, errs)

	t.Run("malformed", func(t *testing.T) {
		in := `{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "resolved", "fixed_version": 5}}}, "CVE-2": {"releases": {"bookworm": {"status": "open"}}}}, "other": [1]}`
		advs, errs := ReadDebianTracker(strings.NewReader(in), "t.json")
		if len(advs) != 1 || advs[0].ID != "CVE-2" || len(errs) != 2 ||
			errs[0].ID != "CVE-1" || !errors.Is(errs[0], ErrMalformed) || errs[1].ID != "other" {
			t.Errorf("got %+v, %v", advs, errs)
		}
		_, errs = ReadDebianTracker(strings.NewReader(`{"pkg": {`), "trunc.json")
		if len(errs) != 1 || errs[0].File != "trunc.json" || !errors.Is(errs[0], ErrMalformed) {
			t.Errorf("truncated: %v", errs)
		}
	})
}

func TestDebianParsed(t *testing.T) {
	advs, errs := ImportDebianTracker("testdata/debian-parsed")
	if len(advs) != 7 || len(errs) != 0 {
		t.Errorf("got %d advisories (want 7), errors %v", len(advs), errs)
	}
	m := byID(advs)
	dsa := m["DSA-5724-1"]
	if len(dsa.Aliases) != 1 || dsa.Aliases[0] != "CVE-2024-6387" || dsa.Affected[0].Ecosystem != "Debian:12" ||
		dsa.Affected[0].Ranges[0].Events[1].Fixed != "1:9.2p1-2+deb12u3" {
		t.Errorf("DSA-5724-1 = %+v", dsa)
	}
	if a := m["CVE-2011-3374"].Affected; len(a) != 1 || a[0].Ecosystem != "Debian:sid" || a[0].Severity[0].Rating != "unimportant" {
		t.Errorf("CVE-2011-3374 = %+v", a)
	}
	checkGolden(t, "debian-parsed", advs, errs)
	single, errs := ImportDebianTracker("testdata/debian-parsed/tracker/DSA/DSA-5514-1.json")
	if len(single) != 1 || len(errs) != 0 {
		t.Errorf("single parsed file: %v %v", single, errs)
	}
}

func TestAlpineSecDB(t *testing.T) {
	tests := []struct {
		name, path string
		n          int
		check      func(t *testing.T, advs []Advisory)
	}{
		{name: "json", path: "testdata/alpine/json", n: 49 + 6 + 5, check: func(t *testing.T, advs []Advisory) {
			for _, a := range advs {
				if strings.HasSuffix(a.ID, "-CVE-2022-1292") {
					t.Error("\"0\" key imported as affected")
				}
				if len(a.Aliases) != 1 || !strings.HasSuffix(a.ID, "-"+a.Aliases[0]) {
					t.Errorf("%s: the id must name release, package and CVE, with the CVE as alias: %v", a.ID, a.Aliases)
				}
			}
			m := byID(advs)
			if a := m["ALPINE-v3.19-openssl-CVE-2023-6237"]; a.Affected[0].Ecosystem != "Alpine:v3.19" || a.Affected[0].Ranges[0].Events[1].Fixed != "3.1.4-r5" {
				t.Errorf("two ids on one line: %+v", a)
			}
		}},
		{name: "yaml", path: "testdata/alpine/yaml", n: 2, check: func(t *testing.T, advs []Advisory) {
			if advs[0].Affected[0].Ecosystem != "Alpine:v3.8" {
				t.Errorf("ecosystem %q", advs[0].Affected[0].Ecosystem)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advs, errs := ImportAlpineSecDB(tt.path)
			if len(errs) != 0 {
				t.Errorf("errors: %v", errs)
			}
			if len(advs) != tt.n {
				t.Errorf("got %d advisories, want %d", len(advs), tt.n)
			}
			tt.check(t, advs)
			checkGolden(t, "alpine-"+tt.name, advs, errs)
		})
	}
	t.Run("malformed", func(t *testing.T) {
		_, errs := ReadAlpineSecDB(strings.NewReader(`{"distroversion": "v3.20", "packages": [{"pkg": {"secfixes": {}}}, {"pkg": {"name": "x", "secfixes": {"1-r0": ["see upstream"]}}}]}`), "m.json")
		if len(errs) != 2 || !errors.Is(errs[0], ErrMalformed) || errs[1].ID != "x 1-r0" {
			t.Errorf("got %v", errs)
		}
		_, errs = ReadAlpineSecDB(strings.NewReader(`{"packages": []}`), "nodistro.json")
		if len(errs) != 1 || errs[0].File != "nodistro.json" {
			t.Errorf("got %v", errs)
		}
	})
}

func TestKEV(t *testing.T) {
	kevs, errs := ImportKEV("testdata/kev/kev-excerpt.json")
	if len(kevs) != 5 || len(errs) != 0 {
		t.Errorf("got %d entries, errors %v", len(kevs), errs)
	}
	checkGolden(t, "kev", kevs, errs)
	in := `{"vulnerabilities": [{"cveID": "CVE-2024-1", "dateAdded": "2024-01-01"}, {"cveID": "CVE-2024-0002", "dateAdded": "soon"}, {"vendorProject": "x"}, 7]}`
	_, errs = ReadKEV(strings.NewReader(in), "k.json")
	if len(errs) != 4 || errs[0].ID != "CVE-2024-1" || errs[1].ID != "CVE-2024-0002" || !errors.Is(errs[2], ErrMissingID) || errs[3].ID != "vulnerabilities[3]" {
		t.Errorf("got %v", errs)
	}
}

func TestEPSS(t *testing.T) {
	scores, errs := ImportEPSS("testdata/epss/epss_scores-sample.csv")
	if len(scores) != 5 || len(errs) != 0 {
		t.Errorf("got %d scores, errors %v", len(scores), errs)
	}
	checkGolden(t, "epss", scores, errs)
	in := "#model_version:v1\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\nCVE-2024-2,1.5,0.9\nCVE-2024-3,x,0.1\n,0.1,0.1\nCVE-2024-4\n\"bad\"quote,1,1\nCVE-2024-5,0.1,0.2\n"
	scores, errs = ReadEPSS(strings.NewReader(in), "e.csv")
	if len(scores) != 2 || len(errs) != 5 || errs[0].ID != "CVE-2024-2" || errs[1].ID != "CVE-2024-3" || errs[2].ID != "line 6" {
		t.Errorf("got %v, %v", scores, errs)
	}
}

func TestParseCVSS(t *testing.T) {
	tests := []struct {
		vector  string
		typ     string
		score   float64
		wantErr bool
	}{
		{"AV:N/AC:L/Au:N/C:C/I:C/A:C", SeverityCVSSv2, 10, false},
		{"(AV:N/AC:M/Au:N/C:P/I:N/A:N)", SeverityCVSSv2, 4.3, false},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", SeverityCVSSv3, 9.8, false},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", SeverityCVSSv3, 8.1, false},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", SeverityCVSSv3, 10, false},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", SeverityCVSSv4, 9.3, false},
		{"CVSS:3.1/AV:X/AC:L", "", 0, true},
		{"CVSS:4.0/AV:N", "", 0, true},
		{"high", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		typ, score, err := ParseCVSS(tt.vector)
		if (err != nil) != tt.wantErr || typ != tt.typ || score != tt.score {
			t.Errorf("ParseCVSS(%q) = %q, %v, %v; want %q, %v, err %v", tt.vector, typ, score, err, tt.typ, tt.score, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadVector) {
			t.Errorf("ParseCVSS(%q) error %v is not ErrBadVector", tt.vector, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	v2 := Severity{Type: SeverityCVSSv2, Vector: "AV:N/AC:L/Au:N/C:C/I:C/A:C", Score: 10}
	v3 := Severity{Type: SeverityCVSSv3, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 8.1}
	v3low := Severity{Type: SeverityCVSSv3, Vector: "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", Score: 1.8}
	v4 := Severity{Type: SeverityCVSSv4, Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", Score: 6.9}
	tests := []struct {
		name  string
		sevs  []Severity
		level Level
		score float64
	}{
		{"none", nil, LevelUnknown, 0},
		{"v4 beats v3 and v2", []Severity{v2, v3, v4}, LevelMedium, 6.9},
		{"v3 beats v2", []Severity{v2, v3}, LevelHigh, 8.1},
		{"highest v3", []Severity{v3low, v3}, LevelHigh, 8.1},
		{"v2 alone", []Severity{v2}, LevelCritical, 10},
		{"vector without score is parsed", []Severity{{Type: SeverityCVSSv3, Vector: v3.Vector}}, LevelHigh, 8.1},
		{"bad vector falls back to rating", []Severity{{Type: SeverityCVSSv3, Vector: "CVSS:3.1/bad"}, {Type: SeverityGHSA, Rating: "MODERATE"}}, LevelMedium, 0},
		{"CVSS beats rating", []Severity{{Type: SeverityDebian, Rating: "high"}, v3low}, LevelLow, 1.8},
		{"debian unimportant", []Severity{{Type: SeverityDebian, Rating: "unimportant"}}, LevelLow, 0},
		{"debian high**", []Severity{{Type: SeverityDebian, Rating: "high**"}}, LevelHigh, 0},
		{"debian not yet assigned", []Severity{{Type: SeverityDebian, Rating: "not yet assigned"}}, LevelUnknown, 0},
		{"ubuntu negligible", []Severity{{Type: SeverityUbuntu, Rating: "negligible"}}, LevelLow, 0},
		{"ubuntu critical", []Severity{{Type: SeverityUbuntu, Rating: "critical"}}, LevelCritical, 0},
		{"ghsa CRITICAL", []Severity{{Type: SeverityGHSA, Rating: "CRITICAL"}}, LevelCritical, 0},
		{"highest rating wins", []Severity{{Type: SeverityUbuntu, Rating: "low"}, {Type: SeverityUbuntu, Rating: "medium"}}, LevelMedium, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := Normalize(tt.sevs)
			if l != tt.level || s != tt.score {
				t.Errorf("Normalize = %v, %v; want %v, %v", l, s, tt.level, tt.score)
			}
		})
	}
	for _, c := range []struct {
		score float64
		want  Level
	}{{9.0, LevelCritical}, {8.9, LevelHigh}, {7.0, LevelHigh}, {6.9, LevelMedium}, {4.0, LevelMedium}, {3.9, LevelLow}, {0.1, LevelLow}, {0, LevelUnknown}} {
		if got := ScoreLevel(c.score); got != c.want {
			t.Errorf("ScoreLevel(%v) = %v, want %v", c.score, got, c.want)
		}
	}
}
