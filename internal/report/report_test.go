package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"go/build"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulkhead-sec/bulkhead/internal/format/cyclonedx"
	"github.com/bulkhead-sec/bulkhead/internal/format/formattest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ext is the golden-file extension of each format.
var ext = map[string]string{
	"table":          "txt",
	"json":           "json",
	"sarif":          "sarif.json",
	"cyclonedx-json": "cdx.json",
	"junit":          "junit.xml",
}

func encode(t testing.TB, format string, r *Report) []byte {
	t.Helper()
	e, err := ByName(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.Encode(&buf, r); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestNames(t *testing.T) {
	got := slices.Sorted(maps.Keys(Encoders()))
	want := slices.Sorted(slices.Values(Names()))
	if !slices.Equal(got, want) {
		t.Fatalf("Encoders() has %q, Names() %q", got, want)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(ext)), want) {
		t.Fatalf("the tests know formats %q, the package %q", slices.Sorted(maps.Keys(ext)), want)
	}
	_, err := ByName("xml")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("got %v, want ErrUnknown", err)
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, format := range Names() {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				got := encode(t, format, tc.report(t))
				formattest.Golden(t, filepath.Join("testdata", "golden", tc.name+"."+ext[format]), got, *update)
			})
		}
	}
}

// TestDeterministic checks that the output depends on the findings, not on
// their order, and that encoding leaves the report alone.
func TestDeterministic(t *testing.T) {
	for _, format := range Names() {
		t.Run(format, func(t *testing.T) {
			r := imageReport(t)
			want := encode(t, format, r)
			if !slices.EqualFunc(r.Findings, imageReport(t).Findings, findingEqual) {
				t.Fatal("Encode modified the report's findings")
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				rng.Shuffle(len(r.Findings), func(i, j int) { r.Findings[i], r.Findings[j] = r.Findings[j], r.Findings[i] })
				if got := encode(t, format, r); !bytes.Equal(got, want) {
					t.Fatal("output depends on the order of the findings")
				}
			}
		})
	}
}

func findingEqual(a, b sbom.Finding) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestNil(t *testing.T) {
	for name, e := range Encoders() {
		if err := e.Encode(&bytes.Buffer{}, nil); err == nil {
			t.Errorf("%s: no error for a nil report", name)
		}
		// Findings without an SBOM are still a report.
		r := imageReport(t)
		r.SBOM = nil
		if err := e.Encode(&bytes.Buffer{}, r); err != nil {
			t.Errorf("%s: report without SBOM: %v", name, err)
		}
	}
}

func TestWriteError(t *testing.T) {
	for name, e := range Encoders() {
		if err := e.Encode(failingWriter{}, imageReport(t)); err == nil {
			t.Errorf("%s: write error not returned", name)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTable(t *testing.T) {
	out := string(encode(t, "table", imageReport(t)))
	for _, want := range []string{
		"Target: registry:ghcr.io/acme/shop:1.4.2   Distro: Debian GNU/Linux 12 (bookworm)   13 packages\n",
		"Vulnerabilities: 9 (critical 2, high 2, medium 3, low 1, unknown 1); 7 fixable, 1 known exploited (KEV)\n",
		"Database: built 2026-11-27, 3 sources\n",
		"\n3 suppressed: 2 by VEX, 1 by ignore file\n",
		"no fix",
		"2 files could not be read",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, hidden := range []string{"CVE-2099-0001", "CVE-2099-0002", "CVE-2024-21907", "Newtonsoft"} {
		if strings.Contains(out, hidden) {
			t.Errorf("suppressed finding %s is in the table", hidden)
		}
	}
	// Packages by worst severity: the two critical ones first (KEV and
	// name break ties), busybox (unknown) last.
	var order []string
	_, rows, _ := strings.Cut(out, "FIXED IN\n")
	rows, _, _ = strings.Cut(rows, "\n\n")
	for line := range strings.Lines(rows) {
		if line[0] != ' ' {
			order = append(order, strings.Fields(line)[0])
		}
	}
	want := []string{"openssl-libs", "serde", "libc6", "org.slf4j:slf4j-api", "golang.org/x/text", "rack", "left-pad", "busybox"}
	if !slices.Equal(order, want) {
		t.Errorf("package order %q, want %q", order, want)
	}
	for line := range strings.Lines(out) {
		if strings.HasSuffix(line, " \n") {
			t.Errorf("trailing space in %q", line)
		}
	}
	if got := string(encode(t, "table", emptyReport(t))); !strings.Contains(got, "No vulnerabilities found.") {
		t.Errorf("empty report:\n%s", got)
	}
}

func TestSuppressedBy(t *testing.T) {
	for reason, want := range map[string]string{
		"VEX not_affected: code_not_reachable": byVEX,
		"vex: fixed":                           byVEX,
		"OpenVEX statement in a.json":          byVEX,
		"ignore file .bulkhead-ignore":         byIgnore,
		"Ignored by rule 3":                    byIgnore,
		"policy":                               byOther,
	} {
		if got := suppressedBy(reason); got != want {
			t.Errorf("suppressedBy(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	var doc struct {
		Schema   string            `json:"schema"`
		Source   sbom.Source       `json:"source"`
		Distro   *sbom.Distro      `json:"distro"`
		Database string            `json:"database"`
		Packages int               `json:"packages"`
		Findings []json.RawMessage `json:"findings"`
		Summary  map[string]int    `json:"summary"`
	}
	r := imageReport(t)
	if err := json.Unmarshal(encode(t, "json", r), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != ScanSchema || doc.Source.Input != "ghcr.io/acme/shop:1.4.2" || doc.Distro == nil || doc.Distro.ID != "debian" ||
		doc.Packages != len(r.SBOM.Packages) || len(doc.Findings) != len(r.Findings) || doc.Database != r.DBStatus {
		t.Errorf("document head wrong: %+v", doc)
	}
	want := map[string]int{"critical": 2, "high": 2, "medium": 3, "low": 1, "unknown": 1, "fixable": 7, "kev": 1, "suppressed": 3}
	if !maps.Equal(doc.Summary, want) {
		t.Errorf("summary %v, want %v", doc.Summary, want)
	}
	var empty map[string]any
	if err := json.Unmarshal(encode(t, "json", emptyReport(t)), &empty); err != nil {
		t.Fatal(err)
	}
	if f, ok := empty["findings"].([]any); !ok || len(f) != 0 {
		t.Errorf(`empty report: "findings" is %#v, want []`, empty["findings"])
	}
	if empty["distro"] != nil {
		t.Errorf("empty report: distro %v", empty["distro"])
	}
}

// sarifSchema compiles the vendored SARIF 2.1.0 schema. It is draft-04 and
// names itself with "id", which formattest.Schema does not read.
func sarifSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	f, err := os.Open(filepath.Join("testdata", "schema", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat() // uri and uri-reference matter: artifact URIs are built from hostile paths
	c.UseLoader(offlineLoader{})
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	return nil, errors.New("schema " + url + " is not vendored")
}

func cdxSchema(t testing.TB) *jsonschema.Schema {
	return formattest.Schema(t, filepath.Join("..", "format", "cyclonedx", "testdata", "schema"), "http://cyclonedx.org/schema/bom-1.6.schema.json")
}

func TestSchemas(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{"sarif": sarifSchema(t), "cyclonedx-json": cdxSchema(t)}
	all := append(slices.Clone(cases), reportCase{"hostile", hostileReport})
	for _, format := range slices.Sorted(maps.Keys(schemas)) {
		for _, tc := range all {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				formattest.Validate(t, schemas[format], encode(t, format, tc.report(t)))
			})
		}
	}
}

// TestSchemaRejects makes sure the SARIF check has teeth.
func TestSchemaRejects(t *testing.T) {
	s := sarifSchema(t)
	for _, doc := range []string{
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"rank":101}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"r","shortDescription":{}}]}},"results":[]}]}`,
		`{"version":"2.0.0","runs":[]}`,
	} {
		if formattest.Check(s, []byte(doc)) == nil {
			t.Errorf("schema accepted %s", doc)
		}
	}
}

func TestSARIF(t *testing.T) {
	r := imageReport(t)
	var log struct {
		Runs []struct {
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Tool struct {
				Driver struct {
					Rules []struct {
						ID               string `json:"id"`
						HelpURI          string `json:"helpUri"`
						ShortDescription struct{ Text string }
						Properties       struct {
							SecuritySeverity string   `json:"security-severity"`
							Tags             []string `json:"tags"`
						} `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
					LogicalLocations []struct {
						FullyQualifiedName string `json:"fullyQualifiedName"`
					} `json:"logicalLocations"`
					Properties map[string]any `json:"properties"`
				} `json:"locations"`
				Suppressions []struct {
					Kind          string `json:"kind"`
					Justification string `json:"justification"`
				} `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(encode(t, "sarif", r), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs", len(log.Runs))
	}
	run := log.Runs[0]
	if u := run.OriginalURIBaseIDs[rootBase].URI; u != "file:///" {
		t.Errorf("ROOTPATH = %q", u)
	}
	rules := run.Tool.Driver.Rules
	if len(rules) != len(r.Findings) { // every id in the fixture is distinct
		t.Errorf("%d rules for %d vulnerability ids", len(rules), len(r.Findings))
	}
	for _, rule := range rules {
		wantURI := "https://osv.dev/vulnerability/" + rule.ID
		if strings.HasPrefix(rule.ID, "CVE-") {
			wantURI = "https://nvd.nist.gov/vuln/detail/" + rule.ID
		}
		if rule.HelpURI != wantURI {
			t.Errorf("%s: helpUri %q, want %q", rule.ID, rule.HelpURI, wantURI)
		}
		if len(rule.Properties.Tags) != 3 || rule.Properties.Tags[0] != "security" || rule.ShortDescription.Text == "" {
			t.Errorf("%s: tags %q, shortDescription %q", rule.ID, rule.Properties.Tags, rule.ShortDescription.Text)
		}
	}
	byRule := map[string]string{}
	for _, rule := range rules {
		byRule[rule.ID] = rule.Properties.SecuritySeverity
	}
	for id, want := range map[string]string{"CVE-2024-2961": "8.8", "GO-2024-9999": "5.5", "CVE-2023-42366": "", "GHSA-9q4w-2xqx-8f3v": "9.3"} {
		if byRule[id] != want {
			t.Errorf("%s: security-severity %q, want %q", id, byRule[id], want)
		}
	}
	suppressed := 0
	for _, res := range run.Results {
		if rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule %d (%s)", res.RuleID, res.RuleIndex, rules[res.RuleIndex].ID)
		}
		if len(res.Locations) != 1 {
			t.Fatalf("%s: %d locations", res.RuleID, len(res.Locations))
		}
		loc := res.Locations[0]
		al := loc.PhysicalLocation.ArtifactLocation
		if al.URIBaseID != rootBase || al.URI == "" || strings.HasPrefix(al.URI, "/") {
			t.Errorf("%s: artifact location %+v", res.RuleID, al)
		}
		if len(loc.LogicalLocations) != 1 || !strings.HasPrefix(loc.LogicalLocations[0].FullyQualifiedName, "pkg:") ||
			!strings.HasPrefix(loc.Properties["layer"].(string), "sha256:") || loc.Properties["purl"] == nil {
			t.Errorf("%s: logical location / properties %+v", res.RuleID, loc)
		}
		if len(res.Suppressions) > 0 {
			suppressed++
			if s := res.Suppressions[0]; s.Kind != "external" || s.Justification == "" {
				t.Errorf("%s: suppression %+v", res.RuleID, s)
			}
		}
	}
	if suppressed != 3 {
		t.Errorf("%d suppressed results, want 3", suppressed)
	}
	levels := map[string]string{}
	for _, res := range run.Results {
		levels[res.RuleID] = res.Level
	}
	for id, want := range map[string]string{"CVE-2024-5535": "error", "CVE-2024-2961": "error", "CVE-2024-26146": "warning", "GHSA-aaaa-bbbb-cccc": "note", "CVE-2023-42366": "note"} {
		if levels[id] != want {
			t.Errorf("%s: level %q, want %q", id, levels[id], want)
		}
	}

	// A dir scan: ROOTPATH is the directory.
	var dir map[string]any
	if err := json.Unmarshal(encode(t, "sarif", dirReport(t)), &dir); err != nil {
		t.Fatal(err)
	}
	root := dir["runs"].([]any)[0].(map[string]any)["originalUriBaseIds"].(map[string]any)[rootBase].(map[string]any)
	if root["uri"] != "file:///home/dev/src/tool/" {
		t.Errorf("dir ROOTPATH %v", root)
	}
}

func TestRelativeURI(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/dpkg/status": "var/lib/dpkg/status",
		"/a b/c%d":             "a%20b/c%25d",
		"/c:/x":                "./c:/x",
		"/app/x.jar:META-INF":  "app/x.jar:META-INF",
		"/../../etc/passwd":    "etc/passwd",
		"/":                    "",
		"":                     "",
	} {
		if got := relativeURI(in); got != want {
			t.Errorf("relativeURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCycloneDX(t *testing.T) {
	r := imageReport(t)
	out := encode(t, "cyclonedx-json", r)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || !bytes.Contains(out, []byte(`"$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json"`)) {
		t.Errorf("spec version %v", bom.SpecVersion)
	}

	// Components are the SBOM encoder's, unchanged.
	var plain bytes.Buffer
	if err := (cyclonedx.Encoder{OmitFiles: true}).Encode(&plain, r.SBOM); err != nil {
		t.Fatal(err)
	}
	var sb cdx.BOM
	if err := cdx.NewBOMDecoder(&plain, cdx.BOMFileFormatJSON).Decode(&sb); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(bom.Components)
	b, _ := json.Marshal(sb.Components)
	if !bytes.Equal(a, b) {
		t.Error("components differ from what internal/format/cyclonedx writes")
	}
	if bom.SerialNumber == sb.SerialNumber {
		t.Error("the report has the serial number of the plain SBOM")
	}

	refs := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		refs[c.BOMRef] = c
	}
	if bom.Vulnerabilities == nil || len(*bom.Vulnerabilities) != len(r.Findings) {
		t.Fatalf("vulnerabilities: %v", bom.Vulnerabilities)
	}
	vulns := map[string]cdx.Vulnerability{}
	for _, v := range *bom.Vulnerabilities {
		vulns[v.ID] = v
		if len(*v.Affects) != 1 {
			t.Fatalf("%s: affects %v", v.ID, v.Affects)
		}
		af := (*v.Affects)[0]
		c, ok := refs[af.Ref]
		if !ok {
			t.Errorf("%s: affects %s, which is no component", v.ID, af.Ref)
		}
		if got := (*af.Range)[0]; got.Version != c.Version {
			t.Errorf("%s: affected version %q, component has %q", v.ID, got.Version, c.Version)
		}
		if v.Source == nil || v.Source.URL == "" || v.Ratings == nil {
			t.Errorf("%s: source %v ratings %v", v.ID, v.Source, v.Ratings)
		}
	}
	method := func(id string) cdx.ScoringMethod { return (*vulns[id].Ratings)[0].Method }
	for id, want := range map[string]cdx.ScoringMethod{
		"CVE-2024-5535": cdx.ScoringMethodCVSSv31, "GHSA-9q4w-2xqx-8f3v": cdx.ScoringMethodCVSSv4,
		"CVE-2018-8088": cdx.ScoringMethodCVSSv2, "GO-2024-9999": cdx.ScoringMethodOther,
	} {
		if got := method(id); got != want {
			t.Errorf("%s: method %q, want %q", id, got, want)
		}
	}
	if got := vulns["CVE-2018-8088"].Recommendation; got != "Upgrade to 2.0.10 or 1.7.26" {
		t.Errorf("recommendation %q", got)
	}
	if got := vulns["GHSA-aaaa-bbbb-cccc"].Recommendation; got != "" {
		t.Errorf("recommendation without a fix: %q", got)
	}
	props := map[string]string{}
	for _, p := range *vulns["CVE-2024-2961"].Properties {
		props[p.Name] = p.Value
	}
	if props[propKEV] != "true" || props[propEPSS] != "0.91246" {
		t.Errorf("KEV/EPSS properties: %v", props)
	}
	for id, want := range map[string]cdx.ImpactAnalysisJustification{
		"CVE-2099-0001": cdx.IAJCodeNotReachable, "CVE-2099-0002": cdx.IAJCodeNotPresent, "CVE-2024-21907": "",
	} {
		v := vulns[id]
		if v.Analysis == nil || v.Analysis.State != cdx.IASNotAffected || v.Analysis.Justification != want || v.Analysis.Detail == "" {
			t.Errorf("%s: analysis %+v", id, v.Analysis)
		}
		if s := (*(*v.Affects)[0].Range)[0].Status; s != cdx.VulnerabilityStatusNotAffected {
			t.Errorf("%s: status %q", id, s)
		}
	}
	if v := vulns["CVE-2024-5535"]; v.Analysis != nil || (*(*v.Affects)[0].Range)[0].Status != cdx.VulnerabilityStatusAffected {
		t.Errorf("unsuppressed finding: analysis %+v", v.Analysis)
	}
}

// TestCycloneDXOrphan: a finding on a package the SBOM does not list
// still points at a component.
func TestCycloneDXOrphan(t *testing.T) {
	r := dirReport(t)
	r.Findings[0].PackageID = ""
	r.SBOM.Packages = nil
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(encode(t, "cyclonedx-json", r)), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.Components == nil || len(*bom.Components) != 1 || (*bom.Components)[0].BOMRef != (*(*bom.Vulnerabilities)[0].Affects)[0].Ref {
		t.Fatalf("components %v", bom.Components)
	}
}

func TestJustification(t *testing.T) {
	for reason, want := range map[string]cdx.ImpactAnalysisJustification{
		"VEX not_affected: vulnerable_code_not_in_execute_path":  cdx.IAJCodeNotReachable,
		"VEX: protected_at_runtime (vex.cdx.json)":               cdx.IAJProtectedAtRuntime,
		"VEX: inline_mitigations_already_exist":                  cdx.IAJProtectedByMitigatingControl,
		"VEX: vulnerable_code_cannot_be_controlled_by_adversary": "",
		"ignore file": "",
	} {
		if got := justification(reason); got != want {
			t.Errorf("justification(%q) = %q, want %q", reason, got, want)
		}
	}
}

type junitXML struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t testing.TB, out []byte) junitXML {
	t.Helper()
	var doc junitXML
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, out)
	}
	// The attributes must agree with the elements.
	tests, failures, skipped := 0, 0, 0
	for _, s := range doc.Suites {
		f, k := 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				k++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Skipped != k {
			t.Errorf("suite %s: tests=%d failures=%d skipped=%d, but %d cases, %d failed, %d skipped", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), f, k)
		}
		tests, failures, skipped = tests+s.Tests, failures+s.Failures, skipped+s.Skipped
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Skipped != skipped || doc.Errors != 0 {
		t.Errorf("testsuites: tests=%d failures=%d skipped=%d errors=%d, suites add up to %d/%d/%d", doc.Tests, doc.Failures, doc.Skipped, doc.Errors, tests, failures, skipped)
	}
	return doc
}

func TestJUnit(t *testing.T) {
	r := imageReport(t)
	doc := parseJUnit(t, encode(t, "junit", r))
	vulnerable := map[string]bool{}
	for _, f := range r.Findings {
		vulnerable[f.PackageID] = true
	}
	clean := len(r.SBOM.Packages) - len(vulnerable)
	if doc.Tests != len(r.Findings)+clean || doc.Failures != 9 || doc.Skipped != 3 {
		t.Errorf("tests=%d failures=%d skipped=%d, want %d/9/3", doc.Tests, doc.Failures, doc.Skipped, len(r.Findings)+clean)
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
		for _, c := range s.Cases {
			if c.Name == "libc6@2.36-9+deb12u4: CVE-2024-2961" {
				if c.Failure == nil || c.Failure.Type != "high" || !strings.Contains(c.Failure.Text, "CISA KEV") {
					t.Errorf("libc6 case: %+v", c.Failure)
				}
			}
		}
	}
	if !slices.IsSorted(names) || len(names) != len(slices.Compact(slices.Clone(names))) {
		t.Errorf("suites %q: want one per package type, sorted", names)
	}
	empty := parseJUnit(t, encode(t, "junit", emptyReport(t)))
	if empty.Tests != 0 {
		t.Errorf("empty report has %d tests", empty.Tests)
	}
}

// TestHostile feeds control characters, markup and invalid UTF-8 through
// every format.
func TestHostile(t *testing.T) {
	r := hostileReport(t)
	for _, format := range Names() {
		t.Run(format, func(t *testing.T) {
			out := encode(t, format, r)
			checkHostile(t, format, out)
		})
	}
	// The text survives, escaped, where the format can carry it.
	doc := parseJUnit(t, encode(t, "junit", r))
	found := false
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if strings.Contains(c.Name, "<script>alert('x')</script>&amp;\"q\"") {
				found = true
			}
			if c.Failure != nil && !strings.Contains(c.Failure.Text, "]]></failure>") {
				t.Errorf("failure text lost the summary: %q", c.Failure.Text)
			}
		}
	}
	if !found {
		t.Error("package name with markup did not survive the XML round trip")
	}
	table := string(encode(t, "table", r))
	if strings.Count(table, "\n") != strings.Count(string(encode(t, "table", dirReport(t))), "\n")+2 { // +2: blank line and suppressed footer
		t.Errorf("hostile names changed the table's line count:\n%s", table)
	}
}

// checkHostile fails when out is not a well-formed document of its format
// or carries raw control characters, bidi overrides or invalid UTF-8.
func checkHostile(t testing.TB, format string, out []byte) {
	t.Helper()
	if !utf8Valid(out) {
		t.Errorf("%s: invalid UTF-8 in output", format)
	}
	// JSON carries text as data: encoding/json escapes C0 controls and
	// leaves DEL, C1 and bidi characters alone, which is valid JSON and
	// lossless. Text formats must not let any of them through.
	text := format == "table" || format == "junit"
	for _, r := range string(out) {
		if r < 0x20 && r != '\n' || text && (r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e) {
			t.Errorf("%s: raw control character %U in output", format, r)
			break
		}
	}
	switch format {
	case "json", "sarif", "cyclonedx-json":
		if !json.Valid(out) {
			t.Errorf("%s: not JSON", format)
		}
	case "junit":
		d := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("junit: %v", err)
				}
				break
			}
		}
	}
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// TestImports pins what this package may import, as its doc says.
func TestImports(t *testing.T) {
	const mod = "github.com/bulkhead-sec/bulkhead/"
	allowed := []string{
		mod + "internal/sbom",
		mod + "internal/format/cyclonedx",
		"github.com/CycloneDX/cyclonedx-go",
		"github.com/owenrumney/go-sarif/v3/",
	}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
imports:
	for _, imp := range pkg.Imports {
		if !strings.Contains(strings.Split(imp, "/")[0], ".") {
			continue
		}
		for _, p := range allowed {
			if imp == p || strings.HasPrefix(imp, p) && strings.HasSuffix(p, "/") {
				continue imports
			}
		}
		t.Errorf("report imports %s", imp)
	}
}

// FuzzEncoders puts arbitrary text into the fields scanned content and
// advisories control and checks every format stays well formed.
func FuzzEncoders(f *testing.F) {
	f.Add("libc6", "2.36", "summary", "VEX not_affected", "/var/lib/dpkg/status", "CVE-2024-1")
	f.Add("a<b>&c\x00\x1b", "1\n2", "]]>\"'", "ignore\tfile", "/a b/%zz?#", "GHSA-\u202e")
	f.Add("\xff\xfe", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, version, summary, reason, path, id string) {
		r := dirReport(t)
		fi := &r.Findings[0]
		fi.PackageName, fi.InstalledVersion, fi.Summary, fi.ID = name, version, summary, id
		fi.Locations = []sbom.Location{{Path: path}}
		fi.FixedVersions = []string{version + summary}
		sup := *fi
		sup.Suppressed = reason
		r.Findings = append(r.Findings, sup)
		r.SBOM.Packages[0].Name = name
		for _, format := range Names() {
			e, _ := ByName(format)
			var buf bytes.Buffer
			if err := e.Encode(&buf, r); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.Bytes()
			switch format {
			case "json", "sarif", "cyclonedx-json":
				if !json.Valid(out) {
					t.Fatalf("%s: not JSON", format)
				}
			case "junit":
				var doc junitXML
				if err := xml.Unmarshal(out, &doc); err != nil {
					t.Fatalf("junit: %v", err)
				}
			case "table":
				for _, c := range string(out) {
					if c < 0x20 && c != '\n' {
						t.Fatalf("table: control character %U", c)
					}
				}
			}
		}
	})
}
