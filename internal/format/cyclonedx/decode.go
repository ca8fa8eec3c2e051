package cyclonedx

import (
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

	"github.com/bulkhead-sec/bulkhead/internal/format/purl"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// MaxDecodeSize bounds the documents Decode reads (256 MiB).
const MaxDecodeSize = 256 << 20

// maxNesting bounds how deep components may be nested in each other.
const maxNesting = 64

// ErrTooLarge is returned by Decode for documents over MaxDecodeSize.
var ErrTooLarge = errors.New("document too large")

// ErrNotCycloneDX is returned by Decode for JSON that is not a CycloneDX
// BOM this package can read.
var ErrNotCycloneDX = errors.New("not a CycloneDX JSON BOM")

// Decode reads a CycloneDX JSON BOM (spec 1.2 to 1.7). Every component
// except the one describing the target (metadata.component) and
// operating-system components becomes a package; the first
// operating-system component becomes the distro. Bulkhead's own properties
// are read back when present. Package IDs are the bom-refs of documents
// Bulkhead wrote, and computed with sbom.AssignID otherwise.
func Decode(r io.Reader) (*sbom.SBOM, error) {
	return decode(r, MaxDecodeSize)
}

func decode(r io.Reader, limit int64) (*sbom.SBOM, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cyclonedx: reading document: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("cyclonedx: %w: over %d bytes", ErrTooLarge, limit)
	}
	var head struct {
		BOMFormat   *string `json:"bomFormat"`
		SpecVersion *string `json:"specVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("cyclonedx: %w: %w", ErrNotCycloneDX, err)
	}
	switch {
	case head.BOMFormat == nil:
		return nil, fmt.Errorf("cyclonedx: %w: no bomFormat", ErrNotCycloneDX)
	case *head.BOMFormat != cdx.BOMFormat:
		return nil, fmt.Errorf("cyclonedx: %w: bomFormat is %q", ErrNotCycloneDX, *head.BOMFormat)
	case head.SpecVersion == nil:
		return nil, fmt.Errorf("cyclonedx: %w: no specVersion", ErrNotCycloneDX)
	}
	var bom cdx.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, fmt.Errorf("cyclonedx: decoding specVersion %q BOM: %w", *head.SpecVersion, err)
	}
	if bom.SpecVersion < cdx.SpecVersion1_2 {
		return nil, fmt.Errorf("cyclonedx: %w: specVersion %q has no JSON format", ErrNotCycloneDX, *head.SpecVersion)
	}
	return fromBOM(&bom)
}

func fromBOM(bom *cdx.BOM) (*sbom.SBOM, error) {
	doc := &sbom.SBOM{Schema: sbom.SchemaVersion}
	var rootRef string
	if m := bom.Metadata; m != nil {
		if m.Timestamp != "" {
			t, err := time.Parse(time.RFC3339, m.Timestamp)
			if err != nil {
				return nil, fmt.Errorf("cyclonedx: metadata.timestamp: %w", err)
			}
			doc.Created = t
		}
		doc.Descriptor = tool(m.Tools)
		if c := m.Component; c != nil {
			rootRef = c.BOMRef
			src, err := source(c)
			if err != nil {
				return nil, err
			}
			doc.Source = src
		}
		us, err := unknowns(m.Properties)
		if err != nil {
			return nil, err
		}
		doc.Unknowns = us
	}

	var comps []*cdx.Component
	if err := flatten(bom.Components, 0, &comps); err != nil {
		return nil, err
	}
	doc.Packages = []sbom.Package{}
	for i, c := range comps {
		if rootRef != "" && c.BOMRef == rootRef {
			continue
		}
		if c.Type == cdx.ComponentTypeOS {
			if doc.Distro == nil {
				doc.Distro = distro(c)
			}
			continue
		}
		p, err := pkg(c)
		if err != nil {
			return nil, fmt.Errorf("cyclonedx: component %d (name %q, bom-ref %q): %w", i, c.Name, c.BOMRef, err)
		}
		doc.Packages = append(doc.Packages, p)
	}
	sbom.Sort(doc.Packages)
	return doc, nil
}

func flatten(cs *[]cdx.Component, depth int, out *[]*cdx.Component) error {
	if cs == nil {
		return nil
	}
	if depth > maxNesting {
		return fmt.Errorf("cyclonedx: components nested more than %d deep", maxNesting)
	}
	for i := range *cs {
		c := &(*cs)[i]
		*out = append(*out, c)
		if err := flatten(c.Components, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

func tool(tc *cdx.ToolsChoice) sbom.Descriptor {
	if tc == nil {
		return sbom.Descriptor{}
	}
	if tc.Components != nil && len(*tc.Components) > 0 {
		c := (*tc.Components)[0]
		return sbom.Descriptor{Name: c.Name, Version: c.Version}
	}
	if tc.Tools != nil && len(*tc.Tools) > 0 {
		t := (*tc.Tools)[0]
		return sbom.Descriptor{Name: t.Name, Version: t.Version}
	}
	if tc.Services != nil && len(*tc.Services) > 0 {
		s := (*tc.Services)[0]
		return sbom.Descriptor{Name: s.Name, Version: s.Version}
	}
	return sbom.Descriptor{}
}

func propList(ps *[]cdx.Property) []cdx.Property {
	if ps == nil {
		return nil
	}
	return *ps
}

// indexed parses "<i>:<field>" (what follows an indexed property prefix).
func indexed(rest string) (int, string, error) {
	is, field, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, "", fmt.Errorf("want <index>:<field>, got %q", rest)
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 {
		return 0, "", fmt.Errorf("bad index %q", is)
	}
	return i, field, nil
}

// byIndex returns the values of m in index order. Indexes need not be
// dense, so a hostile "…:999999999:…" costs nothing.
func byIndex[T any](m map[int]*T) []T {
	if len(m) == 0 {
		return nil
	}
	out := make([]T, 0, len(m))
	for _, i := range slices.Sorted(maps.Keys(m)) {
		out = append(out, *m[i])
	}
	return out
}

func at[T any](m map[int]*T, i int) *T {
	if m[i] == nil {
		m[i] = new(T)
	}
	return m[i]
}

func source(c *cdx.Component) (sbom.Source, error) {
	src := sbom.Source{Input: c.Name}
	layers := map[int]*sbom.Layer{}
	for _, p := range propList(c.Properties) {
		switch name := p.Name; {
		case name == propSourceKind:
			src.Kind = p.Value
		case name == propImageID:
			src.ImageID = p.Value
		case name == propManifest:
			src.ManifestID = p.Value
		case name == propTag:
			src.RepoTags = append(src.RepoTags, p.Value)
		case name == propRepoDigest:
			src.RepoDigests = append(src.RepoDigests, p.Value)
		case name == propArchitecture:
			src.Architecture = p.Value
		case name == propOS:
			src.OS = p.Value
		case strings.HasPrefix(name, propLabel):
			if src.Labels == nil {
				src.Labels = map[string]string{}
			}
			src.Labels[strings.TrimPrefix(name, propLabel)] = p.Value
		case strings.HasPrefix(name, propImageLayer):
			i, field, err := indexed(strings.TrimPrefix(name, propImageLayer))
			if err != nil {
				return src, fmt.Errorf("cyclonedx: metadata.component property %q: %w", name, err)
			}
			l := at(layers, i)
			switch field {
			case "diffID":
				l.DiffID = p.Value
			case "digest":
				l.Digest = p.Value
			case "createdBy":
				l.Command = p.Value
			case "cached":
				l.Cached = p.Value == "true"
			case "size":
				n, err := strconv.ParseInt(p.Value, 10, 64)
				if err != nil {
					return src, fmt.Errorf("cyclonedx: metadata.component property %q: %w", name, err)
				}
				l.Size = n
			case "files":
				n, err := strconv.Atoi(p.Value)
				if err != nil {
					return src, fmt.Errorf("cyclonedx: metadata.component property %q: %w", name, err)
				}
				l.Files = n
			}
		}
	}
	src.Layers = byIndex(layers)
	return src, nil
}

func unknowns(ps *[]cdx.Property) ([]sbom.Unknown, error) {
	us := map[int]*sbom.Unknown{}
	for _, p := range propList(ps) {
		rest, ok := strings.CutPrefix(p.Name, propUnknown)
		if !ok {
			continue
		}
		i, field, err := indexed(rest)
		if err != nil {
			return nil, fmt.Errorf("cyclonedx: metadata property %q: %w", p.Name, err)
		}
		u := at(us, i)
		switch field {
		case "path":
			u.Path = p.Value
		case "layer":
			u.Layer = p.Value
		case "cataloger":
			u.Cataloger = p.Value
		case "error":
			u.Error = p.Value
		}
	}
	return byIndex(us), nil
}

func distro(c *cdx.Component) *sbom.Distro {
	d := &sbom.Distro{ID: c.Name, VersionID: c.Version, PrettyName: c.Description}
	for _, p := range propList(c.Properties) {
		switch p.Name {
		case propDistro + "name":
			d.Name = p.Value
		case propDistro + "versionCodename":
			d.VersionCodename = p.Value
		case propDistro + "prettyName":
			d.PrettyName = p.Value
		case propDistro + "idLike":
			d.IDLike = append(d.IDLike, p.Value)
		}
	}
	return d
}

func pkg(c *cdx.Component) (sbom.Package, error) {
	p := sbom.Package{Name: c.Name, Version: c.Version, PURL: c.PackageURL}
	if p.Name == "" {
		return p, errors.New("component has no name")
	}
	ours := false
	locs := map[int]*sbom.Location{}
	for _, pr := range propList(c.Properties) {
		switch name := pr.Name; {
		case name == propType:
			p.Type, ours = sbom.Type(pr.Value), true
		case name == propFoundBy:
			p.FoundBy = pr.Value
		case name == propLanguage:
			p.Language = pr.Value
		case name == propLayer:
			p.Layer = pr.Value
		case name == propArch:
			p.Arch = pr.Value
		case name == propSourceName:
			p.SourceName = pr.Value
		case name == propSourceVersion:
			p.SourceVersion = pr.Value
		case name == propScope:
			p.Scope = pr.Value
		case name == propOwnedBy:
			p.OwnedBy = pr.Value
		case name == propFile:
			p.Files = append(p.Files, pr.Value)
		case strings.HasPrefix(name, propMetadata):
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata[strings.TrimPrefix(name, propMetadata)] = pr.Value
		case strings.HasPrefix(name, propLocation):
			i, field, err := indexed(strings.TrimPrefix(name, propLocation))
			if err != nil {
				return p, fmt.Errorf("property %q: %w", name, err)
			}
			switch field {
			case "path":
				at(locs, i).Path = pr.Value
			case "layer":
				at(locs, i).Layer = pr.Value
			}
		}
	}
	p.Locations = byIndex(locs)
	if p.PURL != "" {
		t, err := purl.Type(p.PURL)
		if err != nil {
			return p, err
		}
		if !ours {
			p.Type = t
		}
	}
	if c.Licenses != nil {
		for _, l := range *c.Licenses {
			switch {
			case l.Expression != "":
				p.Licenses = append(p.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				p.Licenses = append(p.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				p.Licenses = append(p.Licenses, l.License.Name)
			}
		}
	}
	if ours && c.BOMRef != "" {
		p.ID = c.BOMRef
	} else {
		sbom.AssignID(&p)
	}
	return p, nil
}
