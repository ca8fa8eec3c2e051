package store

import (
	"fmt"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/version"
)

// typeEcosystem names the version ordering of each package type.
var typeEcosystem = map[sbom.Type]string{
	sbom.TypeDeb: "Debian", sbom.TypeAPK: "Alpine", sbom.TypeRPM: "Red Hat",
	sbom.TypeNPM: "npm", sbom.TypePython: "PyPI", sbom.TypeGo: "Go", sbom.TypeJava: "Maven",
	sbom.TypeRust: "crates.io", sbom.TypeGem: "RubyGems", sbom.TypeComposer: "Packagist", sbom.TypeDotnet: "NuGet",
}

type bound struct {
	op, v string
}

// ParseVersionRange parses "=1.2.3", ">=1.2,<1.3", "<2" (comma means and)
// into a predicate comparing a package's version in its ecosystem's
// ordering. A version that ordering rejects never matches (except by
// string equality for "=").
func ParseVersionRange(expr string) (func(Pkg) bool, error) {
	var bounds []bound
	for _, part := range strings.Split(expr, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("empty term in version range %q", expr)
		}
		var b bound
		for _, op := range []string{">=", "<=", "!=", "==", ">", "<", "="} {
			if strings.HasPrefix(part, op) {
				b = bound{op: op, v: strings.TrimSpace(part[len(op):])}
				if op == "==" {
					b.op = "="
				}
				break
			}
		}
		if b.op == "" && b.v == "" {
			b = bound{op: "=", v: part}
		}
		if b.v == "" {
			return nil, fmt.Errorf("version range term %q has no version", part)
		}
		bounds = append(bounds, b)
	}
	return func(p Pkg) bool {
		eco, ok := typeEcosystem[p.Type]
		var cmp version.Comparer
		if ok {
			cmp, _ = version.ForEcosystem(eco)
		}
		for _, b := range bounds {
			var c int
			if cmp == nil {
				c = strings.Compare(p.Version, b.v)
			} else {
				var err error
				c, err = cmp.Compare(p.Version, b.v)
				// "<1.3" means "<1.3.0" where the ordering wants full versions.
				for _, pad := range []string{".0", ".0.0"} {
					if err == nil {
						break
					}
					if _, verr := cmp.Compare(p.Version, p.Version); verr == nil {
						c, err = cmp.Compare(p.Version, b.v+pad)
					}
				}
				if err != nil {
					if b.op == "=" && p.Version == b.v {
						continue
					}
					return false
				}
			}
			switch b.op {
			case "=":
				if c != 0 {
					return false
				}
			case "!=":
				if c == 0 {
					return false
				}
			case ">":
				if c <= 0 {
					return false
				}
			case ">=":
				if c < 0 {
					return false
				}
			case "<":
				if c >= 0 {
					return false
				}
			case "<=":
				if c > 0 {
					return false
				}
			}
		}
		return true
	}, nil
}
