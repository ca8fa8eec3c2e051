package java

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type pomProject struct {
	GroupID    string      `xml:"groupId"`
	ArtifactID string      `xml:"artifactId"`
	Version    string      `xml:"version"`
	Parent     pomParent   `xml:"parent"`
	Properties pomPropsXML `xml:"properties"`
	Licenses   []struct {
		Name string `xml:"name"`
	} `xml:"licenses>license"`
	Dependencies []pomDependency `xml:"dependencies>dependency"`
	Managed      []pomDependency `xml:"dependencyManagement>dependencies>dependency"`
}

type pomParent struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
}

type pomDependency struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
	Scope      string `xml:"scope"`
	Optional   string `xml:"optional"`
}

// pomPropsXML collects the free-form <properties> children.
type pomPropsXML map[string]string

func (p *pomPropsXML) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	m := map[string]string{}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			m[t.Name.Local] = strings.TrimSpace(v)
		case xml.EndElement:
			*p = m
			return nil
		}
	}
}

// parsePomXML reports what Syft's java-pom-cataloger reports for a pom.xml
// read on its own: the project itself and its direct <dependencies>, with
// ${...} references resolved from <properties>, project.* and parent.*
// values and versions missing from a dependency filled from the same
// file's <dependencyManagement>. Parent POMs are not fetched. Test-scoped
// dependencies get Scope "dev" (Syft reports them without scope).
func parsePomXML(r io.Reader, foundBy string) ([]sbom.Package, error) {
	var proj pomProject
	if err := xml.NewDecoder(r).Decode(&proj); err != nil {
		return nil, fmt.Errorf("decode pom.xml: %w", err)
	}
	props := map[string]string{}
	for k, v := range proj.Properties {
		props[k] = v
	}
	group := proj.GroupID
	if group == "" {
		group = proj.Parent.GroupID
	}
	version := proj.Version
	if version == "" {
		version = proj.Parent.Version
	}
	for k, v := range map[string]string{
		"project.groupId": group, "project.artifactId": proj.ArtifactID, "project.version": version,
		"pom.groupId": group, "pom.artifactId": proj.ArtifactID, "pom.version": version,
		"project.parent.groupId": proj.Parent.GroupID, "project.parent.version": proj.Parent.Version,
		"parent.groupId": proj.Parent.GroupID, "parent.version": proj.Parent.Version,
	} {
		if _, ok := props[k]; !ok {
			props[k] = v
		}
	}
	resolve := func(s string) string { return resolveProps(strings.TrimSpace(s), props) }

	var pkgs []sbom.Package
	if name := resolve(proj.ArtifactID); name != "" {
		p := newPackage(resolve(group), name, resolve(version), foundBy, "")
		for _, l := range proj.Licenses {
			if n := strings.TrimSpace(l.Name); n != "" {
				p.Licenses = append(p.Licenses, n)
			}
		}
		pkgs = append(pkgs, p)
	}

	managed := map[string]string{}
	for _, d := range proj.Managed {
		managed[resolve(d.GroupID)+":"+resolve(d.ArtifactID)] = resolve(d.Version)
	}
	for _, d := range proj.Dependencies {
		g, a, v := resolve(d.GroupID), resolve(d.ArtifactID), resolve(d.Version)
		if a == "" {
			continue
		}
		if v == "" {
			v = managed[g+":"+a]
		}
		if strings.Contains(v, "${") {
			v = "" // unresolved (defined in a parent POM)
		}
		p := newPackage(g, a, v, foundBy, "")
		if s := resolve(d.Scope); s != "" {
			p.Metadata["scope"] = s
			if s == "test" {
				p.Scope = "dev"
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// resolveProps replaces ${name} references, following references inside
// values a bounded number of times (properties can refer to each other,
// and to themselves).
func resolveProps(s string, props map[string]string) string {
	for range 8 {
		i := strings.Index(s, "${")
		if i < 0 {
			return s
		}
		var b strings.Builder
		changed := false
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				b.WriteString(s)
				break
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				b.WriteString(s)
				break
			}
			b.WriteString(s[:i])
			key := s[i+2 : i+j]
			if v, ok := props[key]; ok && v != "" {
				b.WriteString(v)
				changed = true
			} else {
				b.WriteString(s[i : i+j+1])
			}
			s = s[i+j+1:]
			if b.Len() > 1<<16 {
				return b.String()
			}
		}
		s = b.String()
		if !changed {
			return s
		}
	}
	return s
}
