// Package cyclonedx writes CycloneDX 1.6 JSON documents and reads CycloneDX
// JSON (1.2 to 1.7) back into Bulkhead's core types.
//
// Everything Bulkhead knows that CycloneDX has no field for (locations,
// layers, source packages, scope, cataloger, metadata, file lists, image
// details, unknowns) is written as properties named "bulkhead:…", and Decode
// reads them back, so a Bulkhead → CycloneDX → Bulkhead round trip keeps
// every package field (licence spelling is normalised to SPDX ids).
//
// This package imports the standard library, internal/sbom,
// internal/format/license, internal/format/purl and
// github.com/CycloneDX/cyclonedx-go. It must not import internal/format.
package cyclonedx

import (
	"cmp"
	"crypto/sha1"
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

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/bulkhead-sec/bulkhead/internal/format/license"
	"github.com/bulkhead-sec/bulkhead/internal/format/purl"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Property names. They are part of the output format: renaming one breaks
// Decode for documents already written.
const (
	prefix = "bulkhead:"

	propType          = prefix + "package:type"
	propFoundBy       = prefix + "package:foundBy"
	propLanguage      = prefix + "package:language"
	propLayer         = prefix + "package:layer"
	propArch          = prefix + "package:arch"
	propSourceName    = prefix + "package:sourceName"
	propSourceVersion = prefix + "package:sourceVersion"
	propScope         = prefix + "package:scope"
	propOwnedBy       = prefix + "package:ownedBy"
	propFile          = prefix + "package:file" // repeated, in order
	propLocation      = prefix + "location:"    // location:<i>:path, location:<i>:layer
	propMetadata      = prefix + "metadata:"    // metadata:<key>
	propSourceKind    = prefix + "source:kind"  // on metadata.component
	propImageID       = prefix + "image:id"     // config digest
	propManifest      = prefix + "image:manifestDigest"
	propTag           = prefix + "image:tag"        // repeated
	propRepoDigest    = prefix + "image:repoDigest" // repeated
	propArchitecture  = prefix + "image:architecture"
	propOS            = prefix + "image:os"
	propLabel         = prefix + "image:label:" // image:label:<key>
	propImageLayer    = prefix + "image:layer:" // image:layer:<i>:<field>
	propDistro        = prefix + "distro:"      // distro:<field>
	propUnknown       = prefix + "unknown:"     // unknown:<i>:<field>, on metadata
	sourceRef         = "bulkhead-source"       // bom-ref of metadata.component
	distroRefPrefix   = "bulkhead-os:"          // bom-ref of the distro component
)

// Encoder writes CycloneDX 1.6 JSON.
type Encoder struct {
	// OmitFiles leaves out the files each OS package installed (one
	// property per file: thousands for a Debian image, most of the
	// document). Bulkhead's own JSON always keeps them.
	OmitFiles bool
}

// Encode writes doc to w as a CycloneDX 1.6 JSON BOM. It does not modify
// doc. The output is deterministic: the serial number is derived from the
// document's content (including Created) rather than random.
func (e Encoder) Encode(w io.Writer, doc *sbom.SBOM) error {
	bom, err := toBOM(doc, e.OmitFiles)
	if err != nil {
		return err
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	// toBOM builds a 1.6 document directly (SpecVersion and $schema set),
	// so Encode is enough: EncodeVersion would deep-copy the whole BOM
	// through gob to convert versions, which costs more than the scan of a
	// small root filesystem.
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("cyclonedx: %w", err)
	}
	return nil
}

func toBOM(doc *sbom.SBOM, omitFiles bool) (*cdx.BOM, error) {
	if doc == nil {
		return nil, errors.New("cyclonedx: nil document")
	}
	pkgs := slices.Clone(doc.Packages)
	sbom.Sort(pkgs)

	serial, err := serialNumber(doc, pkgs)
	if err != nil {
		return nil, err
	}
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	bom.SerialNumber = serial

	meta := &cdx.Metadata{
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    cmp.Or(doc.Descriptor.Name, "bulkhead"),
			Version: doc.Descriptor.Version,
		}}},
		Component:  sourceComponent(doc.Source),
		Properties: unknownProps(doc.Unknowns),
	}
	if !doc.Created.IsZero() {
		meta.Timestamp = doc.Created.UTC().Format(time.RFC3339)
	}
	bom.Metadata = meta

	comps := make([]cdx.Component, 0, len(pkgs)+1)
	deps := make([]string, 0, len(pkgs)+1)
	if d := doc.Distro; d != nil {
		c := distroComponent(d)
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	seen := make(map[string]int, len(pkgs))
	for _, p := range pkgs {
		c := packageComponent(p, omitFiles)
		// bom-refs must be unique; package IDs are, unless the caller
		// put the same package at the same place twice.
		if n := seen[c.BOMRef]; n > 0 {
			seen[c.BOMRef]++
			c.BOMRef += "-" + strconv.Itoa(n+1)
		} else {
			seen[c.BOMRef] = 1
		}
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	if len(comps) > 0 {
		bom.Components = &comps
	}
	// The root depends on everything found in it. Package-to-package
	// edges are not known to the catalogers yet, so no other entries.
	dep := cdx.Dependency{Ref: sourceRef}
	if len(deps) > 0 {
		dep.Dependencies = &deps
	}
	bom.Dependencies = &[]cdx.Dependency{dep}
	return bom, nil
}

// serialNumber returns a name-based (version 5) UUID URN whose name is the
// SHA-256 of the document, so equal documents get equal serial numbers and
// different ones (including a different Created) different ones.
func serialNumber(doc *sbom.SBOM, pkgs []sbom.Package) (string, error) {
	// Hash what identifies the document (source, time, distro, unknowns)
	// and each package's identity, not the owned-file lists, which are most
	// of the bytes and do not reach the BOM when omitted.
	d := *doc
	d.Packages = nil
	b, err := json.Marshal(&d)
	if err != nil {
		return "", fmt.Errorf("cyclonedx: hashing document: %w", err)
	}
	hs := sha256.New()
	hs.Write(b)
	for _, p := range pkgs {
		for _, f := range []string{p.ID, p.Name, p.Version, string(p.Type), p.PURL, p.Layer, p.FoundBy, p.Scope, p.OwnedBy, strings.Join(p.Licenses, ",")} {
			hs.Write([]byte(f))
			hs.Write([]byte{0})
		}
		for _, l := range p.Locations {
			hs.Write([]byte(l.Path + "\x00" + l.Layer + "\x00"))
		}
		hs.Write([]byte{1})
	}
	var sum [sha256.Size]byte
	hs.Sum(sum[:0])
	// RFC 4122 name-based UUID in the URL namespace, name = content hash.
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte("bulkhead:sha256:" + hex.EncodeToString(sum[:])))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], nil
}

type props []cdx.Property

func (ps *props) add(name, value string) {
	if value != "" {
		*ps = append(*ps, cdx.Property{Name: name, Value: value})
	}
}

func (ps props) ptr() *[]cdx.Property {
	if len(ps) == 0 {
		return nil
	}
	return (*[]cdx.Property)(&ps)
}

func sourceComponent(src sbom.Source) *cdx.Component {
	var ps props
	ps.add(propSourceKind, src.Kind)
	c := &cdx.Component{
		BOMRef: sourceRef,
		Type:   cdx.ComponentTypeFile,
		Name:   cmp.Or(src.Input, "unknown"),
	}
	if src.ImageID != "" || src.ManifestID != "" || len(src.Layers) > 0 {
		c.Type = cdx.ComponentTypeContainer
		c.Version = cmp.Or(src.ManifestID, src.ImageID)
		c.PackageURL = purl.ForImage(src)
	}
	ps.add(propImageID, src.ImageID)
	ps.add(propManifest, src.ManifestID)
	for _, t := range src.RepoTags {
		ps.add(propTag, t)
	}
	for _, d := range src.RepoDigests {
		ps.add(propRepoDigest, d)
	}
	ps.add(propArchitecture, src.Architecture)
	ps.add(propOS, src.OS)
	for _, k := range slices.Sorted(maps.Keys(src.Labels)) {
		ps.add(propLabel+k, src.Labels[k])
	}
	for i, l := range src.Layers {
		p := propImageLayer + strconv.Itoa(i) + ":"
		// diffID is written even when empty so that the layer exists.
		ps = append(ps, cdx.Property{Name: p + "diffID", Value: l.DiffID})
		ps.add(p+"digest", l.Digest)
		if l.Size != 0 {
			ps.add(p+"size", strconv.FormatInt(l.Size, 10))
		}
		ps.add(p+"files", strconv.Itoa(l.Files))
		ps.add(p+"createdBy", l.Command)
		if l.Cached {
			ps.add(p+"cached", "true")
		}
	}
	c.Properties = ps.ptr()
	return c
}

func distroComponent(d *sbom.Distro) cdx.Component {
	var ps props
	ps.add(propDistro+"name", d.Name)
	ps.add(propDistro+"versionCodename", d.VersionCodename)
	ps.add(propDistro+"prettyName", d.PrettyName)
	for _, l := range d.IDLike {
		ps.add(propDistro+"idLike", l)
	}
	return cdx.Component{
		BOMRef:      distroRefPrefix + d.ID + "@" + d.VersionID,
		Type:        cdx.ComponentTypeOS,
		Name:        cmp.Or(d.ID, "unknown"),
		Version:     d.VersionID,
		Description: d.PrettyName,
		Properties:  ps.ptr(),
	}
}

func unknownProps(us []sbom.Unknown) *[]cdx.Property {
	var ps props
	for i, u := range us {
		p := propUnknown + strconv.Itoa(i) + ":"
		ps = append(ps, cdx.Property{Name: p + "path", Value: u.Path})
		ps.add(p+"layer", u.Layer)
		ps.add(p+"cataloger", u.Cataloger)
		ps.add(p+"error", u.Error)
	}
	return ps.ptr()
}

func packageComponent(p sbom.Package, omitFiles bool) cdx.Component {
	ref := p.ID
	if ref == "" {
		q := p
		sbom.AssignID(&q)
		ref = q.ID
	}
	var ps props
	ps.add(propType, string(p.Type))
	ps.add(propFoundBy, p.FoundBy)
	ps.add(propLanguage, p.Language)
	ps.add(propLayer, p.Layer)
	ps.add(propArch, p.Arch)
	ps.add(propSourceName, p.SourceName)
	ps.add(propSourceVersion, p.SourceVersion)
	ps.add(propScope, p.Scope)
	ps.add(propOwnedBy, p.OwnedBy)
	for i, l := range p.Locations {
		n := propLocation + strconv.Itoa(i) + ":"
		ps = append(ps, cdx.Property{Name: n + "path", Value: l.Path})
		ps.add(n+"layer", l.Layer)
	}
	if !omitFiles {
		for _, f := range p.Files {
			ps.add(propFile, f)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Metadata)) {
		ps.add(propMetadata+k, p.Metadata[k])
	}
	return cdx.Component{
		BOMRef:     ref,
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: p.PURL,
		Licenses:   licenses(p.Licenses),
		Properties: ps.ptr(),
	}
}

// licenses maps license strings to CycloneDX: a known SPDX id becomes
// license.id, a lone valid SPDX expression becomes expression, anything
// else license.name. CycloneDX allows either a list of licenses or exactly
// one expression, so in a list of several an expression is written as a
// named license to keep it.
func licenses(ls []string) *cdx.Licenses {
	var out cdx.Licenses
	for _, l := range ls {
		if l == "" {
			continue
		}
		if id, ok := license.ID(l); ok {
			out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: id}})
			continue
		}
		if len(ls) == 1 && license.HasOperator(l) {
			if expr, ok := license.Normalize(l); ok {
				out = append(out, cdx.LicenseChoice{Expression: expr})
				continue
			}
		}
		out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: l}})
	}
	if len(out) == 0 {
		return nil
	}
	return &out
}
