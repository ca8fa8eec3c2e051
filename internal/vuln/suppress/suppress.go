// Package suppress applies the user's decisions to findings: an ignore file
// (ids with an optional package, expiry and reason) and VEX documents
// (OpenVEX and CycloneDX VEX) whose not_affected statements suppress a
// finding and say why. A suppressed finding stays in the report with its
// reason; it does not count toward --fail-on.
//
// It imports the standard library, yaml.v3, packageurl-go, cyclonedx-go and
// internal/sbom.
package suppress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	packageurl "github.com/package-url/packageurl-go"
	"gopkg.in/yaml.v3"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxInput bounds an ignore file or VEX document.
const maxInput = 32 << 20

// Rule is one suppression.
type Rule struct {
	// ID is the vulnerability id; it matches the finding's id or any alias.
	ID string `yaml:"id" json:"id"`
	// Packages, when set, limit the rule to packages given by name or
	// Package URL (a PURL without version matches every version).
	Packages []string `yaml:"packages" json:"packages,omitempty"`
	// Expires, when set, ends the rule (the finding counts again).
	Expires *time.Time `yaml:"-" json:"expires,omitempty"`
	Reason  string     `yaml:"reason" json:"reason,omitempty"`
	// Origin says where the rule came from ("ignore file x.yaml", "VEX y").
	Origin string `yaml:"-" json:"origin"`
}

// Set is every rule loaded.
type Set struct {
	Rules []Rule
	// Expired lists rules past their expiry, for a warning.
	Expired []Rule
}

type ignoreYAML struct {
	Vulnerabilities []struct {
		ID       string   `yaml:"id"`
		Package  string   `yaml:"package"`
		Packages []string `yaml:"packages"`
		PURLs    []string `yaml:"purls"`
		Expires  string   `yaml:"expires"`
		Reason   string   `yaml:"reason"`
	} `yaml:"vulnerabilities"`
}

// LoadIgnoreFile reads an ignore file: YAML (.yaml/.yml, see
// docs/ignore-and-vex.md) or the plain format, one id per line with an
// optional "exp:YYYY-MM-DD" and "#" comments.
func LoadIgnoreFile(path string, now time.Time) (*Set, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	s := &Set{}
	origin := "ignore file " + filepath.Base(path)
	add := func(r Rule) {
		r.Origin = origin
		if r.Expires != nil && now.After(*r.Expires) {
			s.Expired = append(s.Expired, r)
			return
		}
		s.Rules = append(s.Rules, r)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		var doc ignoreYAML
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("ignore file %s: %w", path, err)
		}
		for i, v := range doc.Vulnerabilities {
			if v.ID == "" {
				return nil, fmt.Errorf("ignore file %s: entry %d has no id", path, i+1)
			}
			r := Rule{ID: v.ID, Reason: v.Reason, Packages: append(v.Packages, v.PURLs...)}
			if v.Package != "" {
				r.Packages = append(r.Packages, v.Package)
			}
			if v.Expires != "" {
				t, err := time.Parse("2006-01-02", v.Expires)
				if err != nil {
					return nil, fmt.Errorf("ignore file %s: %s: expires %q is not YYYY-MM-DD", path, v.ID, v.Expires)
				}
				t = t.Add(24*time.Hour - time.Nanosecond)
				r.Expires = &t
			}
			add(r)
		}
		return s, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text, comment, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		r := Rule{ID: fields[0], Reason: strings.TrimSpace(comment)}
		for _, f := range fields[1:] {
			v, ok := strings.CutPrefix(f, "exp:")
			if !ok {
				return nil, fmt.Errorf("ignore file %s:%d: unexpected %q (want ID [exp:YYYY-MM-DD] [# reason])", path, line, f)
			}
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				return nil, fmt.Errorf("ignore file %s:%d: exp:%s is not YYYY-MM-DD", path, line, v)
			}
			t = t.Add(24*time.Hour - time.Nanosecond)
			r.Expires = &t
		}
		add(r)
	}
	return s, sc.Err()
}

// openVEX is the part of an OpenVEX document we read (v0.0.1 and v0.2.0:
// vulnerability and products changed from strings to objects).
type openVEX struct {
	Context    string `json:"@context"`
	ID         string `json:"@id"`
	Statements []struct {
		Vulnerability   json.RawMessage   `json:"vulnerability"`
		Products        []json.RawMessage `json:"products"`
		Status          string            `json:"status"`
		Justification   string            `json:"justification"`
		ImpactStatement string            `json:"impact_statement"`
	} `json:"statements"`
}

// LoadVEX reads an OpenVEX or CycloneDX VEX document. Statements with status
// not_affected (CycloneDX: analysis state not_affected or false_positive)
// become rules; others are informational and ignored.
func LoadVEX(path string) (*Set, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("VEX %s: not JSON: %w", path, err)
	}
	origin := "VEX " + filepath.Base(path)
	switch {
	case probe["@context"] != nil || probe["statements"] != nil:
		return loadOpenVEX(b, path, origin)
	case probe["bomFormat"] != nil:
		return loadCycloneDXVEX(b, path, origin)
	}
	return nil, fmt.Errorf("VEX %s: neither OpenVEX (@context, statements) nor CycloneDX (bomFormat)", path)
}

func loadOpenVEX(b []byte, path, origin string) (*Set, error) {
	var doc openVEX
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("OpenVEX %s: %w", path, err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return nil, fmt.Errorf("OpenVEX %s: @context %q is not an OpenVEX namespace", path, doc.Context)
	}
	s := &Set{}
	for i, st := range doc.Statements {
		vuln, err := stringOrField(st.Vulnerability, "name", "@id")
		if err != nil || vuln == "" {
			return nil, fmt.Errorf("OpenVEX %s: statement %d: vulnerability has no name", path, i+1)
		}
		switch st.Status {
		case "not_affected":
			if st.Justification == "" && st.ImpactStatement == "" {
				return nil, fmt.Errorf("OpenVEX %s: statement %d (%s): not_affected needs a justification or impact_statement", path, i+1, vuln)
			}
		case "affected", "fixed", "under_investigation":
			continue
		default:
			return nil, fmt.Errorf("OpenVEX %s: statement %d (%s): unknown status %q", path, i+1, vuln, st.Status)
		}
		r := Rule{ID: vuln, Origin: origin, Reason: "not_affected"}
		if st.Justification != "" {
			r.Reason += " (" + st.Justification + ")"
		}
		if st.ImpactStatement != "" {
			r.Reason += ": " + st.ImpactStatement
		}
		for _, p := range st.Products {
			id, err := stringOrField(p, "@id")
			if err != nil {
				return nil, fmt.Errorf("OpenVEX %s: statement %d: product: %w", path, i+1, err)
			}
			if id != "" {
				r.Packages = append(r.Packages, id)
			}
		}
		s.Rules = append(s.Rules, r)
	}
	return s, nil
}

func stringOrField(raw json.RawMessage, fields ...string) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", errors.New("neither a string nor an object")
	}
	for _, f := range fields {
		if v, ok := m[f].(string); ok && v != "" {
			return v, nil
		}
	}
	return "", nil
}

func loadCycloneDXVEX(b []byte, path, origin string) (*Set, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("CycloneDX VEX %s: %w", path, err)
	}
	refs := map[string]string{} // bom-ref → purl
	if bom.Components != nil {
		for _, c := range *bom.Components {
			if c.BOMRef != "" && c.PackageURL != "" {
				refs[c.BOMRef] = c.PackageURL
			}
		}
	}
	s := &Set{}
	if bom.Vulnerabilities == nil {
		return s, nil
	}
	for _, v := range *bom.Vulnerabilities {
		if v.Analysis == nil {
			continue
		}
		state := string(v.Analysis.State)
		if state != "not_affected" && state != "false_positive" {
			continue
		}
		r := Rule{ID: v.ID, Origin: origin, Reason: state}
		if v.Analysis.Justification != "" {
			r.Reason += " (" + string(v.Analysis.Justification) + ")"
		}
		if v.Analysis.Detail != "" {
			r.Reason += ": " + v.Analysis.Detail
		}
		if v.Affects != nil {
			for _, a := range *v.Affects {
				if p, ok := refs[a.Ref]; ok {
					r.Packages = append(r.Packages, p)
				} else if a.Ref != "" {
					r.Packages = append(r.Packages, a.Ref)
				}
			}
		}
		s.Rules = append(s.Rules, r)
	}
	return s, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxInput)
	}
	return b, nil
}

// Merge combines sets.
func Merge(sets ...*Set) *Set {
	out := &Set{}
	for _, s := range sets {
		if s != nil {
			out.Rules = append(out.Rules, s.Rules...)
			out.Expired = append(out.Expired, s.Expired...)
		}
	}
	return out
}

// Apply marks each finding a rule covers; it returns how many it marked.
func (s *Set) Apply(fs []sbom.Finding) int {
	n := 0
	for i := range fs {
		for _, r := range s.Rules {
			if r.matches(&fs[i]) {
				fs[i].Suppressed = r.Origin + ": " + r.Reason
				n++
				break
			}
		}
	}
	return n
}

func (r Rule) matches(f *sbom.Finding) bool {
	if f.ID != r.ID && !contains(f.Aliases, r.ID) && !contains(f.Sources, r.ID) {
		return false
	}
	if len(r.Packages) == 0 {
		return true
	}
	for _, p := range r.Packages {
		if p == f.PackageName || purlMatches(p, f.PURL) {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// purlMatches compares type, namespace and name, and the version when the
// rule's PURL has one; qualifiers are ignored.
func purlMatches(rule, pkg string) bool {
	if !strings.HasPrefix(rule, "pkg:") || pkg == "" {
		return false
	}
	a, err := packageurl.FromString(rule)
	if err != nil {
		return false
	}
	b, err := packageurl.FromString(pkg)
	if err != nil {
		return false
	}
	if a.Type != b.Type || !strings.EqualFold(a.Namespace, b.Namespace) || a.Name != b.Name {
		return false
	}
	return a.Version == "" || a.Version == b.Version
}
