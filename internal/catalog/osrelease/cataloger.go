// Package osrelease reads os-release(5) to identify a target's distribution.
//
// It imports only the standard library, internal/sbom and internal/catalog.
package osrelease

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Cataloger reads /etc/os-release and /usr/lib/os-release.
type Cataloger struct{}

// New returns the os-release cataloger.
func New() *Cataloger { return &Cataloger{} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return "os-release" }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Wants implements catalog.Cataloger.
func (*Cataloger) Wants(p string, _ fs.FileMode) bool {
	return p == "/etc/os-release" || p == "/usr/lib/os-release"
}

// Parse implements catalog.Cataloger.
func (*Cataloger) Parse(_ context.Context, in catalog.Input) (catalog.Result, error) {
	d, err := Parse(in)
	if err != nil {
		return catalog.Result{}, err
	}
	return catalog.Result{Distro: d}, nil
}

// Parse reads os-release content; it needs at least an ID.
func Parse(r interface{ Read([]byte) (int, error) }) (*sbom.Distro, error) {
	var d sbom.Distro
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(v)
		switch k {
		case "ID":
			d.ID = strings.ToLower(v)
		case "VERSION_ID":
			d.VersionID = v
		case "VERSION_CODENAME":
			d.VersionCodename = v
		case "NAME":
			d.Name = v
		case "PRETTY_NAME":
			d.PrettyName = v
		case "ID_LIKE":
			d.IDLike = strings.Fields(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("os-release: %w", err)
	}
	if d.ID == "" {
		return nil, fmt.Errorf("os-release: no ID field")
	}
	return &d, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, `\`) {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	return v
}
