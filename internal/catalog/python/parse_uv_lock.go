package python

import (
	"fmt"
	"io"

	"github.com/BurntSushi/toml"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type uvLock struct {
	Package []uvPackage `toml:"package"`
}

type uvPackage struct {
	Name    string             `toml:"name"`
	Version string             `toml:"version"`
	Source  map[string]string  `toml:"source"`
	Deps    []uvDep            `toml:"dependencies"`
	Opt     map[string][]uvDep `toml:"optional-dependencies"`
	Dev     map[string][]uvDep `toml:"dev-dependencies"`
}

type uvDep struct {
	Name    string   `toml:"name"`
	Version string   `toml:"version"`
	Extra   []string `toml:"extra"`
}

// parseUVLock reads uv.lock. Workspace members (editable or virtual
// sources) are the project itself and are not reported; packages reached
// from them only through dev-dependencies get Scope dev.
func parseUVLock(r io.Reader) ([]sbom.Package, error) {
	var lock uvLock
	if _, err := toml.NewDecoder(r).Decode(&lock); err != nil {
		return nil, fmt.Errorf("uv.lock: %w", err)
	}
	byName := map[string][]int{}
	for i, p := range lock.Package {
		byName[normalize(p.Name)] = append(byName[normalize(p.Name)], i)
	}
	prod := make([]bool, len(lock.Package))
	dev := make([]bool, len(lock.Package))
	// walk marks what deps reach, with the extras they ask for;
	// iterative to bound stack use.
	walk := func(seen []bool, deps []uvDep) {
		extras := map[string]bool{}
		stack := append([]uvDep(nil), deps...)
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, i := range byName[normalize(d.Name)] {
				e := &lock.Package[i]
				if d.Version != "" && e.Version != d.Version {
					continue
				}
				if !seen[i] {
					seen[i] = true
					stack = append(stack, e.Deps...)
				}
				for _, x := range d.Extra {
					if k := fmt.Sprint(i, "[", x); !extras[k] {
						extras[k] = true
						stack = append(stack, e.Opt[x]...)
					}
				}
			}
		}
	}
	hasMember := false
	for i := range lock.Package {
		p := &lock.Package[i]
		if !member(p) {
			continue
		}
		hasMember = true
		walk(prod, p.Deps)
		for _, o := range p.Opt {
			walk(prod, o)
		}
		for _, d := range p.Dev {
			walk(dev, d)
		}
	}
	var pkgs []sbom.Package
	for i := range lock.Package {
		e := &lock.Package[i]
		if member(e) || !validName(e.Name) || !validVersion(e.Version) {
			continue
		}
		p := newPackage(e.Name, e.Version)
		if hasMember && dev[i] && !prod[i] {
			p.Scope = "dev"
		}
		if g := e.Source["git"]; g != "" {
			p.Metadata = map[string]string{"source": "git+" + g}
		} else if u := e.Source["url"]; u != "" {
			p.Metadata = map[string]string{"source": u}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// member reports whether p is a workspace member: the project itself.
func member(p *uvPackage) bool {
	_, editable := p.Source["editable"]
	_, virtual := p.Source["virtual"]
	return editable || virtual
}
