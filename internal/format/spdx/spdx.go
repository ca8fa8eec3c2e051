// Package spdx writes SPDX 2.3 JSON documents and reads SPDX 2.2/2.3 JSON
// back into Bulkhead's packages.
//
// The document DESCRIBES one root package standing for the scanned target
// (an image or a directory), which CONTAINS the operating system and every
// package found. Licence strings that are SPDX ids or valid SPDX
// expressions are written as they are; any other licence text becomes a
// LicenseRef-<sanitised text> with a hasExtractedLicensingInfos entry that
// keeps the original text (so the expression stays valid and nothing is
// lost). licenseConcluded is always NOASSERTION: Bulkhead reports what
// packages declare, it does not conclude.
//
// This package imports the standard library, internal/sbom,
// internal/format/license, internal/format/purl and
// github.com/spdx/tools-golang. It must not import internal/format.
package spdx

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/bulkhead-sec/bulkhead/internal/format/license"
	"github.com/bulkhead-sec/bulkhead/internal/format/purl"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

const (
	noAssertion = "NOASSERTION"
	// namespaceBase prefixes documentNamespace. SPDX requires a unique
	// URI, not a resolvable one.
	namespaceBase = "https://github.com/bulkhead-sec/bulkhead/sbom/"
	// maxIDName bounds the readable part of an SPDXID.
	maxIDName = 64
)

var imageKinds = []string{"docker", "docker-archive", "oci-dir", "oci-archive", "registry"}

// Encoder writes SPDX 2.3 JSON.
type Encoder struct{}

// Encode writes doc to w as an SPDX 2.3 JSON document. It does not modify
// doc. The output is deterministic for a given doc (including Created):
// documentNamespace ends in a hash of the content rather than a random
// UUID. A zero Created is replaced by the current time, since SPDX
// requires one.
func (Encoder) Encode(w io.Writer, doc *sbom.SBOM) error {
	d, err := toDocument(doc)
	if err != nil {
		return err
	}
	if err := spdxjson.Write(d, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("spdx: %w", err)
	}
	return nil
}

func toDocument(doc *sbom.SBOM) (*v2_3.Document, error) {
	if doc == nil {
		return nil, errors.New("spdx: nil document")
	}
	pkgs := slices.Clone(doc.Packages)
	sbom.Sort(pkgs)

	created := doc.Created
	if created.IsZero() {
		created = time.Now()
	}
	h, err := contentHash(doc, pkgs)
	if err != nil {
		return nil, err
	}
	name := cmp.Or(doc.Source.Input, "unknown")
	out := &v2_3.Document{
		SPDXVersion:       v2_3.Version,
		DataLicense:       v2_3.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: namespaceBase + sanitise(cmp.Or(doc.Source.Kind, "unknown")) + "/" + sanitise(name) + "-" + h[:32],
		CreationInfo: &v2_3.CreationInfo{
			Creators: []common.Creator{{
				CreatorType: "Tool",
				Creator:     cmp.Or(doc.Descriptor.Name, "bulkhead") + "-" + cmp.Or(doc.Descriptor.Version, "unknown"),
			}},
			Created: created.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}

	root := rootPackage(doc.Source)
	out.Packages = append(out.Packages, root)
	rel := func(a common.ElementID, typ string, b common.ElementID) {
		out.Relationships = append(out.Relationships, &v2_3.Relationship{
			RefA:         common.MakeDocElementID("", string(a)),
			RefB:         common.MakeDocElementID("", string(b)),
			Relationship: typ,
		})
	}
	rel("DOCUMENT", common.TypeRelationshipDescribe, root.PackageSPDXIdentifier)

	if d := doc.Distro; d != nil {
		p := &v2_3.Package{
			PackageName:             cmp.Or(d.ID, "unknown"),
			PackageSPDXIdentifier:   common.ElementID("OperatingSystem-" + short(d.ID+"-"+d.VersionID)),
			PackageVersion:          d.VersionID,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageDescription:      d.PrettyName,
			PrimaryPackagePurpose:   "OPERATING_SYSTEM",
		}
		out.Packages = append(out.Packages, p)
		rel(root.PackageSPDXIdentifier, common.TypeRelationshipContains, p.PackageSPDXIdentifier)
	}

	refs := &licenseRefs{byText: map[string]string{}, byID: map[string]string{}}
	byPkgID := map[string]common.ElementID{}
	seen := map[common.ElementID]int{}
	for _, p := range pkgs {
		id := p.ID
		if id == "" {
			q := p
			sbom.AssignID(&q)
			id = q.ID
		}
		eid := common.ElementID("Package-" + short(string(p.Type)+"-"+p.Name) + "-" + sanitise(id))
		if n := seen[eid]; n > 0 {
			seen[eid]++
			eid += common.ElementID("-" + strconv.Itoa(n+1))
		} else {
			seen[eid] = 1
		}
		if _, ok := byPkgID[p.ID]; !ok && p.ID != "" {
			byPkgID[p.ID] = eid
		}
		sp := &v2_3.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   eid,
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageSourceInfo:       sourceInfo(p),
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  refs.declared(p.Licenses),
			PrimaryPackagePurpose:   "LIBRARY",
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*v2_3.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  p.PURL,
			}}
		}
		out.Packages = append(out.Packages, sp)
		rel(root.PackageSPDXIdentifier, common.TypeRelationshipContains, eid)
	}
	// A package whose files an OS package installed is contained in it.
	for _, p := range pkgs {
		owner, ok := byPkgID[p.OwnedBy]
		if p.OwnedBy == "" || !ok {
			continue
		}
		rel(owner, common.TypeRelationshipContains, byPkgID[p.ID])
	}
	out.OtherLicenses = refs.list()
	return out, nil
}

func contentHash(doc *sbom.SBOM, pkgs []sbom.Package) (string, error) {
	d := *doc
	d.Packages = pkgs
	b, err := json.Marshal(&d)
	if err != nil {
		return "", fmt.Errorf("spdx: hashing document: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func rootPackage(src sbom.Source) *v2_3.Package {
	name := cmp.Or(src.Input, "unknown")
	p := &v2_3.Package{
		PackageName:             name,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
	}
	if slices.Contains(imageKinds, src.Kind) || src.ImageID != "" || src.ManifestID != "" {
		p.PackageSPDXIdentifier = common.ElementID("DocumentRoot-Image-" + short(name))
		p.PackageVersion = cmp.Or(src.ManifestID, src.ImageID)
		p.PrimaryPackagePurpose = "CONTAINER"
		if u := purl.ForImage(src); u != "" {
			p.PackageExternalReferences = []*v2_3.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  u,
			}}
		}
		return p
	}
	p.PackageSPDXIdentifier = common.ElementID("DocumentRoot-Directory-" + short(name))
	p.PrimaryPackagePurpose = "FILE"
	return p
}

func sourceInfo(p sbom.Package) string {
	if len(p.Locations) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("acquired package info from ")
	for i, l := range p.Locations {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Path)
		if l.Layer != "" {
			b.WriteString(" (layer " + l.Layer + ")")
		}
	}
	if p.FoundBy != "" {
		b.WriteString(" by " + p.FoundBy)
	}
	return b.String()
}

// sanitise maps s to the characters an SPDXID or LicenseRef may hold:
// letters, digits, '.' and '-'. Anything else becomes '-'.
func sanitise(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "unknown"
	}
	return string(b)
}

// short is sanitise limited to maxIDName bytes.
func short(s string) string {
	s = sanitise(s)
	if len(s) > maxIDName {
		s = s[:maxIDName]
	}
	return s
}

// licenseRefs hands out LicenseRef ids for licence text that is not an
// SPDX expression, one per distinct text.
type licenseRefs struct {
	byText map[string]string // text → id
	byID   map[string]string // id → text
}

func (r *licenseRefs) ref(text string) string {
	if id, ok := r.byText[text]; ok {
		return id
	}
	id := "LicenseRef-" + short(text)
	if _, taken := r.byID[id]; taken {
		// Two texts that sanitise alike: tell them apart by hash.
		sum := sha256.Sum256([]byte(text))
		id += "-" + hex.EncodeToString(sum[:4])
	}
	r.byText[text], r.byID[id] = id, text
	return id
}

func (r *licenseRefs) list() []*v2_3.OtherLicense {
	var out []*v2_3.OtherLicense
	for _, id := range slices.Sorted(maps.Keys(r.byID)) {
		out = append(out, &v2_3.OtherLicense{
			LicenseIdentifier: id,
			ExtractedText:     r.byID[id],
			LicenseName:       r.byID[id],
		})
	}
	return out
}

// declared turns a package's licence strings into one SPDX expression,
// joining several with AND.
func (r *licenseRefs) declared(ls []string) string {
	var parts []string
	for _, l := range ls {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if id, ok := license.ID(l); ok {
			parts = append(parts, id)
		} else if e, ok := license.Normalize(l); ok {
			parts = append(parts, e)
		} else {
			parts = append(parts, r.ref(l))
		}
	}
	switch len(parts) {
	case 0:
		return noAssertion
	case 1:
		return parts[0]
	}
	for i, p := range parts {
		// AND binds tighter than OR: only an OR needs parentheses.
		if strings.Contains(p, " OR ") {
			parts[i] = "(" + p + ")"
		}
	}
	return strings.Join(parts, " AND ")
}
