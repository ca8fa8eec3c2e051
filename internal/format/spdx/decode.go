package spdx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/format/purl"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// MaxDecodeSize bounds the documents Decode reads (256 MiB).
const MaxDecodeSize = 256 << 20

// ErrTooLarge is returned by Decode for documents over MaxDecodeSize.
var ErrTooLarge = errors.New("document too large")

// ErrNotSPDX is returned by Decode for JSON that is not an SPDX 2.2 or 2.3
// document.
var ErrNotSPDX = errors.New("not an SPDX 2.2/2.3 JSON document")

// The subset of SPDX 2.2/2.3 JSON that Decode reads. It is decoded with
// these local types rather than tools-golang's, which reject documents
// for fields Bulkhead does not use (a malformed supplier, say) and whose
// error messages do not say where the problem is.
type (
	document struct {
		SPDXVersion  *string `json:"spdxVersion"`
		Name         string  `json:"name"`
		CreationInfo *struct {
			Created  string   `json:"created"`
			Creators []string `json:"creators"`
		} `json:"creationInfo"`
		Packages      []pkg `json:"packages"`
		OtherLicenses []struct {
			ID   string `json:"licenseId"`
			Text string `json:"extractedText"`
		} `json:"hasExtractedLicensingInfos"`
		Relationships []struct {
			A    string `json:"spdxElementId"`
			B    string `json:"relatedSpdxElement"`
			Type string `json:"relationshipType"`
		} `json:"relationships"`
		DocumentDescribes []string `json:"documentDescribes"`
	}
	pkg struct {
		SPDXID       string `json:"SPDXID"`
		Name         string `json:"name"`
		Version      string `json:"versionInfo"`
		Declared     string `json:"licenseDeclared"`
		Concluded    string `json:"licenseConcluded"`
		Description  string `json:"description"`
		Purpose      string `json:"primaryPackagePurpose"`
		ExternalRefs []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
	}
)

// ourID matches the SPDXIDs Encode gives packages, ending in the
// package's Bulkhead ID.
var ourID = regexp.MustCompile(`^SPDXRef-Package-.*-([0-9a-f]{16})$`)

// Decode reads an SPDX 2.2 or 2.3 JSON document. Every package with a
// purl external reference becomes a package; the package the document
// DESCRIBES becomes the source and an OPERATING_SYSTEM package the
// distro. Licences come from licenseDeclared (or licenseConcluded) as one
// expression; a lone LicenseRef is replaced by its extracted text.
func Decode(r io.Reader) (*sbom.SBOM, error) {
	return decode(r, MaxDecodeSize)
}

func decode(r io.Reader, limit int64) (*sbom.SBOM, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("spdx: reading document: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("spdx: %w: over %d bytes", ErrTooLarge, limit)
	}
	var d document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("spdx: %w: %w", ErrNotSPDX, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("spdx: %w: unexpected data after the document", ErrNotSPDX)
	}
	switch {
	case d.SPDXVersion == nil:
		return nil, fmt.Errorf("spdx: %w: no spdxVersion", ErrNotSPDX)
	case *d.SPDXVersion != "SPDX-2.2" && *d.SPDXVersion != "SPDX-2.3":
		return nil, fmt.Errorf("spdx: %w: spdxVersion is %q", ErrNotSPDX, *d.SPDXVersion)
	}

	doc := &sbom.SBOM{Schema: sbom.SchemaVersion, Packages: []sbom.Package{}}
	ours := false
	if ci := d.CreationInfo; ci != nil {
		if ci.Created != "" {
			t, err := time.Parse(time.RFC3339, ci.Created)
			if err != nil {
				return nil, fmt.Errorf("spdx: creationInfo.created: %w", err)
			}
			doc.Created = t
		}
		for _, c := range ci.Creators {
			tool, ok := strings.CutPrefix(c, "Tool:")
			if !ok {
				continue
			}
			tool = strings.TrimSpace(tool)
			if i := strings.LastIndexByte(tool, '-'); i > 0 {
				doc.Descriptor = sbom.Descriptor{Name: tool[:i], Version: tool[i+1:]}
			} else {
				doc.Descriptor = sbom.Descriptor{Name: tool}
			}
			ours = doc.Descriptor.Name == "bulkhead"
			break
		}
	}

	described := map[string]bool{}
	for _, id := range d.DocumentDescribes {
		described[id] = true
	}
	for _, rel := range d.Relationships {
		switch {
		case rel.Type == "DESCRIBES" && rel.A == "SPDXRef-DOCUMENT":
			described[rel.B] = true
		case rel.Type == "DESCRIBED_BY" && rel.B == "SPDXRef-DOCUMENT":
			described[rel.A] = true
		}
	}
	extracted := map[string]string{}
	for _, l := range d.OtherLicenses {
		extracted[l.ID] = l.Text
	}

	rootSeen := false
	for i, sp := range d.Packages {
		if described[sp.SPDXID] && !rootSeen {
			rootSeen = true
			doc.Source.Input = sp.Name
			if sp.Purpose == "CONTAINER" && strings.HasPrefix(sp.Version, "sha256:") {
				doc.Source.ManifestID = sp.Version
			}
			continue
		}
		if sp.Purpose == "OPERATING_SYSTEM" || sp.Purpose == "OPERATING-SYSTEM" {
			if doc.Distro == nil {
				doc.Distro = &sbom.Distro{ID: sp.Name, VersionID: sp.Version, PrettyName: sp.Description}
			}
			continue
		}
		p, ok, err := toPackage(sp, extracted, ours)
		if err != nil {
			return nil, fmt.Errorf("spdx: package %d (SPDXID %q, name %q): %w", i, sp.SPDXID, sp.Name, err)
		}
		if ok {
			doc.Packages = append(doc.Packages, p)
		}
	}
	if doc.Source.Input == "" {
		doc.Source.Input = d.Name
	}
	sbom.Sort(doc.Packages)
	return doc, nil
}

func toPackage(sp pkg, extracted map[string]string, ours bool) (sbom.Package, bool, error) {
	var u string
	for _, ref := range sp.ExternalRefs {
		cat := strings.ReplaceAll(ref.Category, "_", "-")
		if cat == "PACKAGE-MANAGER" && ref.Type == "purl" {
			u = ref.Locator
			break
		}
	}
	if u == "" {
		return sbom.Package{}, false, nil
	}
	if sp.Name == "" {
		return sbom.Package{}, false, errors.New("package has no name")
	}
	typ, err := purl.Type(u)
	if err != nil {
		return sbom.Package{}, false, err
	}
	p := sbom.Package{Name: sp.Name, Version: sp.Version, Type: typ, PURL: u}
	l := sp.Declared
	if l == "" || l == noAssertion || l == "NONE" {
		l = sp.Concluded
	}
	if l != "" && l != noAssertion && l != "NONE" {
		if text, ok := extracted[l]; ok && text != "" {
			l = text
		}
		p.Licenses = []string{l}
	}
	if m := ourID.FindStringSubmatch(sp.SPDXID); ours && m != nil {
		p.ID = m[1]
	} else {
		sbom.AssignID(&p)
	}
	return p, true, nil
}
