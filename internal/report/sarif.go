package report

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// SARIF writes a SARIF 2.1.0 log for code-scanning services (GitHub code
// scanning, GitLab, Azure DevOps). Each vulnerability id is a rule, each
// finding a result located at the file the package was read from, relative
// to the uriBaseId ROOTPATH (the image's or directory's root).
//
// GitHub ranks results by the rule property "security-severity", a CVSS
// score as a string. Findings without a score get the middle of their
// severity's band (critical 9.5, high 8.0, medium 5.5, low 2.0, as Trivy
// does) so that GitHub shows the severity Bulkhead decided; unknown gets
// none.
type SARIF struct{}

// rootBase is the uriBaseId of every artifact location.
const rootBase = "ROOTPATH"

const informationURI = "https://github.com/bulkhead-sec/bulkhead"

// Encode writes r to w.
func (SARIF) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("sarif: nil report")
	}
	return WriteSARIF(w, sarifLog(r))
}

// WriteSARIF writes log as indented JSON. go-sarif writes every optional
// array ("addresses": [], "graphs": [], … two dozen per run, five per
// result) and index -1 ("not set") everywhere. Both mean the same as
// leaving the property out; they are dropped so that the log is readable
// and a third of the size. The check commands' SARIF uses it too.
func WriteSARIF(w io.Writer, log *sarif.Report) error {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	var compact bytes.Buffer
	dec := json.NewDecoder(&raw)
	dec.UseNumber()
	if _, err := pruneJSON(dec, &compact); err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	return nil
}

// keepEmpty are the arrays SARIF wants present even when empty: a run's
// results say "nothing found" rather than "not run".
var keepEmpty = map[string]bool{"results": true, "runs": true}

// unsetIndex are the properties whose value -1 means "not set".
var unsetIndex = map[string]bool{"index": true, "parentIndex": true, "id": true, "rank": true, "ruleIndex": true}

// pruneJSON copies the next JSON value from dec to out, compact, in the
// same order, leaving out object members that are empty arrays (but for
// keepEmpty), empty "properties" bags and unset indexes. It reports whether
// the value was an empty array or object.
func pruneJSON(dec *json.Decoder, out *bytes.Buffer) (empty bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out.WriteByte('[')
			n := 0
			for dec.More() {
				if n > 0 {
					out.WriteByte(',')
				}
				if _, err := pruneJSON(dec, out); err != nil {
					return false, err
				}
				n++
			}
			out.WriteByte(']')
			_, err = dec.Token()
			return n == 0, err
		case '{':
			out.WriteByte('{')
			n := 0
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false, err
				}
				key, _ := kt.(string)
				var val bytes.Buffer
				isEmpty, err := pruneJSON(dec, &val)
				if err != nil {
					return false, err
				}
				v := val.String()
				if isEmpty && (v == "[]" && !keepEmpty[key] || v == "{}" && key == "properties") || unsetIndex[key] && v == "-1" {
					continue
				}
				if n > 0 {
					out.WriteByte(',')
				}
				writeJSONString(out, key)
				out.WriteByte(':')
				out.WriteString(v)
				n++
			}
			out.WriteByte('}')
			_, err = dec.Token()
			return n == 0, err
		}
	case string:
		writeJSONString(out, t)
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(strconv.FormatBool(t))
	case nil:
		out.WriteString("null")
	}
	return false, nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	out.Truncate(out.Len() - 1)
}

func sarifLog(r *Report) *sarif.Report {
	doc := r.doc()
	findings := sorted(r.Findings)

	driver := sarif.NewToolComponent().
		WithName(cmp.Or(doc.Descriptor.Name, "bulkhead")).
		WithInformationURI(informationURI)
	if v := doc.Descriptor.Version; v != "" {
		driver.WithVersion(v)
	}

	// One rule per vulnerability id, in id order.
	byID := map[string][]sbom.Finding{}
	for _, f := range findings {
		byID[f.ID] = append(byID[f.ID], f)
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range byID {
			if !yield(id) {
				return
			}
		}
	})
	ruleIndex := make(map[string]int, len(ids))
	for i, id := range ids {
		driver.AddRule(sarifRule(id, byID[id]))
		ruleIndex[id] = i
	}

	run := sarif.NewRun().WithTool(sarif.NewTool().WithDriver(driver))
	root := sarif.NewArtifactLocation().
		WithDescription(sarif.NewMessage().WithText("The root of the scanned target's file system."))
	if u := rootURI(doc.Source); u != "" {
		root.WithURI(u)
	}
	run.WithOriginalUriBaseIds(map[string]sarif.ArtifactLocation{rootBase: *root})

	props := sarif.NewPropertyBag()
	target := cmp.Or(doc.Source.Input, "(unnamed)")
	if doc.Source.Kind != "" {
		target = doc.Source.Kind + ":" + target
	}
	props.Add("target", target)
	if d := doc.Distro; d != nil {
		props.Add("distro", strings.TrimSpace(d.ID+" "+d.VersionID))
	}
	if r.DBStatus != "" {
		props.Add("database", r.DBStatus)
	}
	run.WithProperties(props)

	for _, f := range findings {
		run.AddResult(sarifResult(f, ruleIndex[f.ID]))
	}

	log := sarif.NewReport()
	log.AddRun(run)
	return log
}

func sarifRule(id string, fs []sbom.Finding) *sarif.ReportingDescriptor {
	// fs is sorted worst first.
	worst := fs[0]
	summary := ""
	score := 0.0
	kev := false
	var aliases []string
	for _, f := range fs {
		if summary == "" {
			summary = strings.TrimSpace(f.Summary)
		}
		score = max(score, f.Score)
		kev = kev || f.KEV
		aliases = append(aliases, f.Aliases...)
	}
	slices.Sort(aliases)
	aliases = slices.Compact(aliases)
	short := summary
	if short == "" {
		short = id
	}
	sev := severity(worst)

	var help strings.Builder
	fmt.Fprintf(&help, "%s: %s\n\nSeverity: %s", id, short, sev)
	if score > 0 {
		fmt.Fprintf(&help, " (CVSS %s)", strconv.FormatFloat(score, 'f', 1, 64))
	}
	if kev {
		help.WriteString("\nKnown exploited: listed in CISA's Known Exploited Vulnerabilities catalog.")
	}
	if len(aliases) > 0 {
		fmt.Fprintf(&help, "\nAliases: %s", strings.Join(aliases, ", "))
	}
	fmt.Fprintf(&help, "\nMore information: %s", vulnURL(id))

	props := sarif.NewPropertyBag().WithTags([]string{"security", "vulnerability", sev})
	if s := securitySeverity(score, sev); s != "" {
		props.Add("security-severity", s)
	}
	return sarif.NewRule(id).
		WithShortDescription(sarif.NewMultiformatMessageString().WithText(short)).
		WithFullDescription(sarif.NewMultiformatMessageString().WithText(short)).
		WithHelp(sarif.NewMultiformatMessageString().WithText(help.String())).
		WithHelpURI(vulnURL(id)).
		WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(sev))).
		WithProperties(props)
}

// securitySeverity is GitHub's "security-severity": the CVSS score, or a
// stand-in for the severity when there is none.
func securitySeverity(score float64, sev string) string {
	if score <= 0 {
		score = map[string]float64{"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0}[sev]
	}
	if score <= 0 {
		return ""
	}
	return strconv.FormatFloat(min(score, 10), 'f', 1, 64)
}

func sarifLevel(sev string) string {
	switch sev {
	case "critical", "high":
		return sarif.LevelError
	case "medium":
		return sarif.LevelWarning
	}
	return sarif.LevelNote
}

func sarifResult(f sbom.Finding, ruleIndex int) *sarif.Result {
	sev := severity(f)
	msg := fmt.Sprintf("%s %s (%s) is affected by %s (%s); ", f.PackageName, f.InstalledVersion, f.PackageType, f.ID, sev)
	if len(f.FixedVersions) > 0 {
		msg += "fixed in " + strings.Join(f.FixedVersions, ", ")
	} else {
		msg += "no fix available"
	}
	if f.KEV {
		msg += "; known exploited (CISA KEV)"
	}
	res := sarif.NewRuleResult(f.ID).
		WithRuleIndex(ruleIndex).
		WithLevel(sarifLevel(sev)).
		WithMessage(sarif.NewMessage().WithText(msg)).
		WithPartialFingerprints(map[string]string{"bulkheadFinding/v1": fingerprint(f)})

	var loc *sarif.Location
	if p := primaryLocation(f); p.Path != "" {
		if u := relativeURI(p.Path); u != "" {
			loc = sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewArtifactLocation().WithURI(u).WithURIBaseID(rootBase)))
		}
	}
	if loc == nil {
		loc = sarif.NewLocation()
	}
	ll := sarif.NewLogicalLocation().
		WithName(f.PackageName + "@" + f.InstalledVersion).
		WithKind("package")
	if f.PURL != "" {
		ll.WithFullyQualifiedName(f.PURL)
	}
	loc.AddLogicalLocation(ll)
	lprops := sarif.NewPropertyBag()
	if l := cmp.Or(primaryLocation(f).Layer, f.Layer); l != "" {
		lprops.Add("layer", l)
	}
	if f.PURL != "" {
		lprops.Add("purl", f.PURL)
	}
	if len(lprops.Properties) > 0 {
		loc.WithProperties(lprops)
	}
	res.AddLocation(loc)

	props := sarif.NewPropertyBag()
	props.Add("packageName", f.PackageName)
	props.Add("packageType", string(f.PackageType))
	props.Add("installedVersion", f.InstalledVersion)
	if len(f.FixedVersions) > 0 {
		props.Add("fixedVersions", f.FixedVersions)
	}
	if f.PURL != "" {
		props.Add("purl", f.PURL)
	}
	if f.Layer != "" {
		props.Add("layer", f.Layer)
	}
	props.Add("severity", sev)
	if f.Score > 0 {
		props.Add("cvssScore", f.Score)
	}
	if f.Vector != "" {
		props.Add("cvssVector", f.Vector)
	}
	if f.KEV {
		props.Add("kev", true)
	}
	if f.EPSS != nil {
		props.Add("epss", *f.EPSS)
	}
	if len(f.Aliases) > 0 {
		props.Add("aliases", f.Aliases)
	}
	res.WithProperties(props)

	if f.Suppressed != "" {
		res.AddSuppression(sarif.NewSuppression().
			WithKind("external").
			WithStatus("accepted").
			WithJustification(f.Suppressed))
	}
	return res
}

func primaryLocation(f sbom.Finding) sbom.Location {
	if len(f.Locations) == 0 {
		return sbom.Location{}
	}
	return f.Locations[0]
}

// relativeURI turns an absolute path inside the target into a relative URI
// reference: leading "/" stripped, percent-encoded, and prefixed with "./"
// when its first segment would otherwise read as a URI scheme.
func relativeURI(p string) string {
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		return ""
	}
	return (&url.URL{Path: rel}).String()
}

// rootURI is the absolute URI ROOTPATH stands for, when it is known: the
// file-system root of an image or host, the directory of a dir scan.
func rootURI(src sbom.Source) string {
	switch src.Kind {
	case "dir":
		if !strings.HasPrefix(src.Input, "/") {
			return "" // relative to wherever the scan ran: unknown here
		}
		p := path.Clean(src.Input)
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	case "sbom", "":
		return ""
	}
	return "file:///"
}

// fingerprint identifies a finding across scans of the same target: the
// vulnerability, the package and where the package is, but not the
// installed version, so that an upgrade that does not fix keeps the alert.
func fingerprint(f sbom.Finding) string {
	h := sha256.New()
	for _, s := range []string{f.ID, string(f.PackageType), f.PackageName, firstPath(f)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
