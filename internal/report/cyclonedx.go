package report

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/bulkhead-sec/bulkhead/internal/format/cyclonedx"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// CycloneDX writes a CycloneDX 1.6 JSON BOM: the packages as components,
// exactly as `bulkhead sbom -o cyclonedx-json` writes them (bom-ref = package
// ID), and one entry in "vulnerabilities" per finding. A suppressed finding
// carries analysis.state "not_affected" with the reason as detail (and a
// justification when the reason names one), which makes the document a VEX.
type CycloneDX struct{}

// Property names on vulnerabilities, next to the bulkhead:… names
// internal/format/cyclonedx uses on components.
const (
	propVuln         = "bulkhead:vulnerability:"
	propKEV          = propVuln + "kev"
	propEPSS         = propVuln + "epss"
	propSourceRecord = propVuln + "source" // repeated: the advisory records that matched
	propEcosystem    = propVuln + "ecosystem"
	propMatchedName  = propVuln + "matchedName"
	propRule         = propVuln + "rule"
	propSuppressedBy = propVuln + "suppressedBy" // VEX, ignore file, other
	propLayer        = propVuln + "layer"
)

// Encode writes r to w.
func (CycloneDX) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("cyclonedx: nil report")
	}
	bom, err := cdxBOM(r)
	if err != nil {
		return err
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	// The BOM is built as 1.6 (SpecVersion and $schema set), so Encode is
	// enough: EncodeVersion deep-copies the BOM through gob.
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("cyclonedx: %w", err)
	}
	return nil
}

func cdxBOM(r *Report) (*cdx.BOM, error) {
	// Components come from the SBOM encoder so that a scan's BOM and the
	// SBOM of the same target describe packages the same way. Its output
	// is read back rather than rebuilt here; that costs one JSON decode.
	var buf bytes.Buffer
	if err := (cyclonedx.Encoder{OmitFiles: true}).Encode(&buf, r.doc()); err != nil {
		return nil, err
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return nil, fmt.Errorf("cyclonedx: reading back the SBOM: %w", err)
	}
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"

	refs := map[string]bool{}
	if bom.Components != nil {
		for _, c := range *bom.Components {
			refs[c.BOMRef] = true
		}
	}
	findings := sorted(r.Findings)
	vulns := make([]cdx.Vulnerability, 0, len(findings))
	used := map[string]int{}
	for _, f := range findings {
		ref := f.PackageID
		if ref == "" || !refs[ref] {
			// A finding on a package the SBOM does not list: give it a
			// component so that affects never points nowhere.
			c := findingComponent(f)
			if !refs[c.BOMRef] {
				refs[c.BOMRef] = true
				if bom.Components == nil {
					bom.Components = &[]cdx.Component{}
				}
				*bom.Components = append(*bom.Components, c)
			}
			ref = c.BOMRef
		}
		v := cdxVulnerability(f, ref)
		// bom-refs are unique in a BOM: the same vulnerability reported
		// twice on one package gets a counter.
		if n := used[v.BOMRef]; n > 0 {
			used[v.BOMRef]++
			v.BOMRef += "#" + strconv.Itoa(n+1)
		} else {
			used[v.BOMRef] = 1
		}
		vulns = append(vulns, v)
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	serial, err := reportSerial(bom.SerialNumber, r, findings)
	if err != nil {
		return nil, err
	}
	bom.SerialNumber = serial
	return bom, nil
}

func findingComponent(f sbom.Finding) cdx.Component {
	ref := f.PackageID
	if ref == "" {
		h := sha256.Sum256([]byte(packageKey(f)))
		ref = "bulkhead-finding-package:" + hex.EncodeToString(h[:8])
	}
	return cdx.Component{
		BOMRef:     ref,
		Type:       cdx.ComponentTypeLibrary,
		Name:       f.PackageName,
		Version:    f.InstalledVersion,
		PackageURL: f.PURL,
	}
}

func cdxVulnerability(f sbom.Finding, ref string) cdx.Vulnerability {
	v := cdx.Vulnerability{
		BOMRef:      "vuln:" + f.ID + ":" + ref,
		ID:          f.ID,
		Source:      &cdx.Source{Name: vulnSource(f.ID), URL: vulnURL(f.ID)},
		Description: f.Summary,
	}
	if len(f.Aliases) > 0 {
		refs := make([]cdx.VulnerabilityReference, 0, len(f.Aliases))
		for _, a := range f.Aliases {
			refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{Name: vulnSource(a), URL: vulnURL(a)}})
		}
		v.References = &refs
	}
	rating := cdx.VulnerabilityRating{
		Severity: cdx.Severity(severity(f)),
		Method:   scoringMethod(f.Vector),
		Vector:   f.Vector,
	}
	if f.Score > 0 {
		s := f.Score
		rating.Score = &s
	}
	v.Ratings = &[]cdx.VulnerabilityRating{rating}
	if len(f.FixedVersions) > 0 {
		v.Recommendation = "Upgrade to " + strings.Join(f.FixedVersions, " or ")
	}

	status := cdx.VulnerabilityStatusAffected
	if f.Suppressed != "" {
		status = cdx.VulnerabilityStatusNotAffected
		v.Analysis = &cdx.VulnerabilityAnalysis{
			State:         cdx.IASNotAffected,
			Justification: justification(f.Suppressed),
			Detail:        f.Suppressed,
		}
	}
	v.Affects = &[]cdx.Affects{{
		Ref:   ref,
		Range: &[]cdx.AffectedVersions{{Version: f.InstalledVersion, Status: status}},
	}}

	var ps []cdx.Property
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, cdx.Property{Name: name, Value: value})
		}
	}
	if f.KEV {
		add(propKEV, "true")
	}
	if f.EPSS != nil {
		add(propEPSS, strconv.FormatFloat(*f.EPSS, 'f', -1, 64))
	}
	for _, s := range f.Sources {
		add(propSourceRecord, s)
	}
	add(propEcosystem, f.Ecosystem)
	add(propMatchedName, f.MatchedName)
	add(propRule, f.Rule)
	add(propLayer, f.Layer)
	if f.Suppressed != "" {
		add(propSuppressedBy, suppressedBy(f.Suppressed))
	}
	if len(ps) > 0 {
		v.Properties = &ps
	}
	return v
}

// scoringMethod names the CVSS version a vector is written in.
func scoringMethod(vector string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(vector, "CVSS:4."):
		return cdx.ScoringMethodCVSSv4
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(vector, "CVSS:3"):
		return cdx.ScoringMethodCVSSv3
	case strings.HasPrefix(strings.TrimPrefix(vector, "("), "AV:") && strings.Contains(vector, "Au:"):
		return cdx.ScoringMethodCVSSv2 // v2 vectors have no prefix; Au is v2-only
	}
	return cdx.ScoringMethodOther
}

// justification finds a CycloneDX impact-analysis justification named in a
// suppression reason, either by its CycloneDX name or by the OpenVEX name
// that means the same. Reasons that name none (or an OpenVEX one with no
// single CycloneDX equivalent) get none: the reason is in detail anyway.
func justification(reason string) cdx.ImpactAnalysisJustification {
	words := strings.FieldsFunc(strings.ToLower(reason), func(r rune) bool {
		return (r < 'a' || r > 'z') && r != '_'
	})
	for _, w := range words {
		switch j := cdx.ImpactAnalysisJustification(w); j {
		case cdx.IAJCodeNotPresent, cdx.IAJCodeNotReachable, cdx.IAJRequiresConfiguration,
			cdx.IAJRequiresDependency, cdx.IAJRequiresEnvironment, cdx.IAJProtectedByCompiler,
			cdx.IAJProtectedAtRuntime, cdx.IAJProtectedAtPerimeter, cdx.IAJProtectedByMitigatingControl:
			return j
		}
		switch w {
		case "component_not_present", "vulnerable_code_not_present":
			return cdx.IAJCodeNotPresent
		case "vulnerable_code_not_in_execute_path":
			return cdx.IAJCodeNotReachable
		case "inline_mitigations_already_exist":
			return cdx.IAJProtectedByMitigatingControl
		}
	}
	return ""
}

// reportSerial derives the BOM's serial number from the SBOM's (itself a
// content hash) and the findings, so that equal reports get equal serial
// numbers and a report differs from the plain SBOM of the same target.
func reportSerial(sbomSerial string, r *Report, findings []sbom.Finding) (string, error) {
	b, err := json.Marshal(struct {
		Serial   string
		DB       string
		Findings []sbom.Finding
	}{sbomSerial, r.DBStatus, findings})
	if err != nil {
		return "", fmt.Errorf("cyclonedx: hashing findings: %w", err)
	}
	sum := sha256.Sum256(b)
	// RFC 4122 name-based (SHA-1, version 5) UUID in the URL namespace.
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte("bulkhead:scan:sha256:" + hex.EncodeToString(sum[:])))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], nil
}
