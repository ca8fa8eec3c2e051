// Package checkreport writes `bulkhead check` results as SARIF 2.1.0 and
// JUnit XML, and names the resource each result is about. It is separate
// from internal/report (the scan formats), which must not depend on the
// compliance packages.
//
// It imports the standard library, internal/compliance, internal/sbom,
// internal/report (for the shared SARIF writer) and
// github.com/owenrumney/go-sarif/v3.
package checkreport

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/report"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// CheckRun is the outcome of one `bulkhead check` command, for the SARIF
// and JUnit writers.
type CheckRun struct {
	// Command is "check config", "check docker" or "check image".
	Command string
	// Target is what was checked: the paths, the daemon, the image.
	Target string
	Tool   sbom.Descriptor
	// Checks are the checks that ran (rules carry their rationale and
	// remediation); results whose check is not listed still get a rule.
	Checks  []compliance.Check
	Results []compliance.Result
}

// Resource names what a result is about, for people: "container web
// (3f2a9c1d0b7e)", "daemon unix:///var/run/docker.sock", "Deployment
// prod/web", "image alpine:3 /etc/ssl/private/key.pem in layer
// sha256:ab12… (deleted by a later layer)".
func Resource(r compliance.Result) string {
	var s string
	switch r.Kind {
	case "Container":
		s = "container " + r.Name + idSuffix(r.ResourceID)
	case "Image":
		s = "image " + r.Name + idSuffix(r.ResourceID)
	case "Daemon":
		s = "daemon " + r.Name
	case "Host", "Files":
		s = "host " + r.Name
	case "Dockerfile":
		s = "Dockerfile"
	case "":
		s = ""
	default:
		s = r.Kind
		if r.Namespace != "" {
			s += " " + r.Namespace + "/" + r.Name
		} else if r.Name != "" {
			s += " " + r.Name
		}
	}
	if r.File != "" {
		where := r.File
		if r.Line > 0 {
			where = fmt.Sprintf("%s:%d", r.File, r.Line)
		}
		s = strings.TrimSpace(s + " " + where)
	}
	if r.Layer != "" {
		s += " in layer " + r.Layer
		if r.Deleted {
			s += " (deleted by a later layer)"
		}
	}
	return s
}

func idSuffix(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if id == "" {
		return ""
	}
	return " (" + id[:min(12, len(id))] + ")"
}

// checkLevel maps a result to SARIF kind and level: failures are error
// (critical, high) or warning (medium, low, and warn results); passes,
// manual reviews, informational and not-applicable results carry level
// none, as SARIF requires for kinds other than fail.
func checkLevel(r compliance.Result) (kind, level string) {
	switch r.Status {
	case compliance.StatusFail:
		if r.Severity == "critical" || r.Severity == "high" {
			return "fail", sarif.LevelError
		}
		return "fail", sarif.LevelWarning
	case compliance.StatusWarn:
		return "fail", sarif.LevelWarning
	case compliance.StatusPass:
		return "pass", sarif.LevelNone
	case compliance.StatusManual:
		return "review", sarif.LevelNone
	case compliance.StatusInfo:
		return "informational", sarif.LevelNone
	}
	return "notApplicable", sarif.LevelNone
}

// CheckSARIF writes a SARIF 2.1.0 log of check results. Each check is a
// rule carrying its benchmark reference; each result names its resource in
// its message, its logical location and its properties. Results with
// status error become tool execution notifications.
func CheckSARIF(w io.Writer, run *CheckRun) error {
	checks := map[string]compliance.Check{}
	for _, c := range run.Checks {
		checks[c.ID] = c
	}
	for _, r := range run.Results {
		if _, ok := checks[r.CheckID]; !ok && r.CheckID != "" {
			checks[r.CheckID] = compliance.Check{ID: r.CheckID, Title: r.Title, Severity: r.Severity, Benchmark: r.Benchmark}
		}
	}
	ids := make([]string, 0, len(checks))
	for id := range checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	driver := sarif.NewToolComponent().
		WithName(cmp.Or(run.Tool.Name, "bulkhead")).
		WithInformationURI(informationURI)
	if run.Tool.Version != "" {
		driver.WithVersion(run.Tool.Version)
	}
	index := map[string]int{}
	for i, id := range ids {
		driver.AddRule(checkRule(checks[id]))
		index[id] = i
	}
	sr := sarif.NewRun().WithTool(sarif.NewTool().WithDriver(driver))
	sr.WithOriginalUriBaseIds(map[string]sarif.ArtifactLocation{
		rootBase: *sarif.NewArtifactLocation().WithURI("file:///").
			WithDescription(sarif.NewMessage().WithText("The root of the checked image's or host's file system.")),
	})
	props := sarif.NewPropertyBag()
	props.Add("command", run.Command)
	props.Add("target", run.Target)
	sr.WithProperties(props)
	inv := sarif.NewInvocation().WithExecutionSuccessful(true)
	for _, r := range run.Results {
		if r.Status == compliance.StatusError {
			inv.AddToolExecutionNotification(sarif.NewNotification().
				WithLevel(sarif.LevelError).
				WithMessage(sarif.NewMessage().WithText(clean(strings.TrimSpace(Resource(r) + ": " + r.Message)))))
			continue
		}
		sr.AddResult(checkResult(r, index))
	}
	sr.AddInvocation(inv)
	log := sarif.NewReport()
	log.AddRun(sr)

	return report.WriteSARIF(w, log)
}

func checkRule(c compliance.Check) *sarif.ReportingDescriptor {
	var help strings.Builder
	fmt.Fprintf(&help, "%s: %s\n\nBenchmark: %s\nSeverity: %s", c.ID, c.Title, cmp.Or(c.Benchmark, "none"), c.Severity)
	if c.Rationale != "" {
		fmt.Fprintf(&help, "\nRationale: %s", c.Rationale)
	}
	if c.Remediation != "" {
		fmt.Fprintf(&help, "\nRemediation: %s", c.Remediation)
	}
	tags := []string{"security", "misconfiguration"}
	if c.Benchmark != "" {
		tags = append(tags, strings.SplitN(c.Benchmark, " ", 2)[0])
	}
	props := sarif.NewPropertyBag().WithTags(tags)
	props.Add("benchmark", c.Benchmark)
	props.Add("severity", c.Severity)
	if s := securitySeverity(c.Severity); s != "" {
		props.Add("security-severity", s)
	}
	level := sarifLevel(c.Severity)
	full := cmp.Or(c.Rationale, c.Title)
	return sarif.NewRule(c.ID).
		WithName(c.ID).
		WithShortDescription(sarif.NewMultiformatMessageString().WithText(cmp.Or(c.Title, c.ID))).
		WithFullDescription(sarif.NewMultiformatMessageString().WithText(full)).
		WithHelp(sarif.NewMultiformatMessageString().WithText(help.String())).
		WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(level)).
		WithProperties(props)
}

func checkResult(r compliance.Result, index map[string]int) *sarif.Result {
	kind, level := checkLevel(r)
	res := Resource(r)
	msg := cmp.Or(r.Title, r.CheckID)
	if r.Message != "" && r.Message != r.Title {
		msg += ": " + r.Message
	}
	if res != "" {
		msg += " [" + res + "]"
	}
	if r.Evidence != "" {
		msg += " (evidence: " + r.Evidence + ")"
	}
	out := sarif.NewRuleResult(r.CheckID).
		WithKind(kind).
		WithLevel(level).
		WithMessage(sarif.NewMessage().WithText(clean(msg)))
	if i, ok := index[r.CheckID]; ok {
		out.WithRuleIndex(i)
	}
	loc := sarif.NewLocation()
	if r.File != "" {
		al := sarif.NewArtifactLocation()
		switch {
		case r.Kind == "Image":
			if u := relativeURI(r.File); u != "" {
				al.WithURI(u).WithURIBaseID(rootBase)
			}
		case strings.HasPrefix(r.File, "/"):
			al.WithURI((&url.URL{Scheme: "file", Path: path.Clean(r.File)}).String())
		default:
			al.WithURI((&url.URL{Path: path.Clean(strings.ReplaceAll(r.File, `\`, "/"))}).String())
		}
		pl := sarif.NewPhysicalLocation().WithArtifactLocation(al)
		if r.Line > 0 {
			pl.WithRegion(sarif.NewRegion().WithStartLine(r.Line))
		}
		loc.WithPhysicalLocation(pl)
	}
	if res != "" {
		ll := sarif.NewLogicalLocation().WithName(clean(res)).WithKind("resource")
		fq := r.Kind
		if r.ResourceID != "" {
			fq += "/" + r.ResourceID
		} else if r.Name != "" {
			fq += "/" + r.Name
		}
		if r.Path != "" {
			fq += "#" + r.Path
		}
		ll.WithFullyQualifiedName(clean(fq))
		loc.AddLogicalLocation(ll)
	}
	out.AddLocation(loc)
	props := sarif.NewPropertyBag()
	props.Add("status", string(r.Status))
	props.Add("severity", r.Severity)
	props.Add("benchmark", r.Benchmark)
	props.Add("resource", clean(res))
	for k, v := range map[string]string{
		"resourceKind": r.Kind, "resourceName": r.Name, "resourceID": r.ResourceID, "namespace": r.Namespace,
		"target": r.Target, "evidence": r.Evidence, "field": r.Path, "file": r.File, "layer": r.Layer, "helmSource": r.Source,
	} {
		if v != "" {
			props.Add(k, clean(v))
		}
	}
	if r.Line > 0 {
		props.Add("line", r.Line)
	}
	if r.Deleted {
		props.Add("deleted", true)
	}
	if r.Remediation != "" {
		props.Add("remediation", r.Remediation)
	}
	out.WithProperties(props)
	h := sha256.New()
	for _, s := range []string{r.CheckID, r.Kind, r.Namespace, r.Name, r.ResourceID, r.File, r.Path, r.Layer, r.Evidence} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	out.WithPartialFingerprints(map[string]string{"bulkheadCheck/v1": hex.EncodeToString(h.Sum(nil)[:16])})
	return out
}

type checkSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []checkSuite `xml:"testsuite"`
}

type checkSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []checkCase `xml:"testcase"`
}

type checkCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// CheckJUnit writes JUnit XML: one testsuite per resource, one testcase
// per result. Failures and warnings fail, errors are errors, manual and
// not-applicable results are skipped (with the question or reason), passes
// and informational results pass.
func CheckJUnit(w io.Writer, run *CheckRun) error {
	doc := checkSuites{Name: "bulkhead " + run.Command + " " + run.Target}
	byRes := map[string]int{}
	for _, r := range run.Results {
		res := Resource(compliance.Result{Kind: r.Kind, Name: r.Name, Namespace: r.Namespace, ResourceID: r.ResourceID, File: r.File})
		if res == "" {
			res = "checks"
		}
		if r.Kind == "Container" || r.Kind == "Image" || r.Kind == "Daemon" || r.Kind == "Host" {
			res = Resource(compliance.Result{Kind: r.Kind, Name: r.Name, ResourceID: r.ResourceID})
		}
		i, ok := byRes[res]
		if !ok {
			i = len(doc.Suites)
			byRes[res] = i
			doc.Suites = append(doc.Suites, checkSuite{Name: clean(res)})
		}
		s := &doc.Suites[i]
		name := r.CheckID + ": " + r.Title
		if r.Path != "" {
			name += " (" + r.Path + ")"
		}
		if r.Line > 0 && r.File != "" {
			name += fmt.Sprintf(" line %d", r.Line)
		}
		c := checkCase{Name: clean(name), Classname: clean(cmp.Or(r.Benchmark, r.CheckID))}
		text := checkText(r)
		switch r.Status {
		case compliance.StatusFail, compliance.StatusWarn:
			c.Failure = &junitFailure{Message: clean(cmp.Or(r.Message, r.Title)), Type: r.Severity, Text: text}
			s.Failures++
		case compliance.StatusError:
			c.Error = &junitFailure{Message: clean(r.Message), Type: "error", Text: text}
			s.Errors++
		case compliance.StatusManual, compliance.StatusNotApplicable:
			c.Skipped = &junitSkipped{Message: clean(string(r.Status) + ": " + cmp.Or(r.Message, r.Title))}
			s.Skipped++
		default:
			if r.Evidence != "" || r.Message != "" {
				c.SystemOut = text
			}
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	ew := &errWriter{w: w}
	io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	io.WriteString(ew, "\n")
	return ew.err
}

func checkText(r compliance.Result) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, clean(v))
		}
	}
	line("Check", r.CheckID+" "+r.Title)
	line("Benchmark", r.Benchmark)
	line("Severity", r.Severity)
	line("Status", string(r.Status))
	line("Resource", Resource(r))
	line("Field", r.Path)
	line("Evidence", r.Evidence)
	line("Message", r.Message)
	line("Remediation", r.Remediation)
	return b.String()
}

// The helpers below follow internal/report's SARIF and JUnit writers.

const (
	rootBase       = "ROOTPATH"
	informationURI = "https://github.com/bulkhead-sec/bulkhead"
)

// clean replaces control and bidirectional-override characters, which
// hostile file names and values could use to garble a terminal or a UI.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return ' '
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f:
			return ' '
		case r == 0xfffe || r == 0xffff:
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
}

func relativeURI(p string) string {
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		return ""
	}
	return (&url.URL{Path: rel}).String()
}

func securitySeverity(sev string) string {
	score := map[string]float64{"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0}[sev]
	if score <= 0 {
		return ""
	}
	return strconv.FormatFloat(score, 'f', 1, 64)
}

func sarifLevel(sev string) string {
	switch sev {
	case "critical", "high":
		return sarif.LevelError
	}
	return sarif.LevelWarning
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
