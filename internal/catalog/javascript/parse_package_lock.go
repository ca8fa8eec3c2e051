package javascript

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// maxV1Depth bounds the recursion over a lockfileVersion 1 "dependencies"
// tree; real trees are a few levels deep.
const maxV1Depth = 128

type packageLock struct {
	LockfileVersion int                      `json:"lockfileVersion"`
	Packages        map[string]lockPackage   `json:"packages"`
	Dependencies    map[string]lockV1Package `json:"dependencies"`
}

// lockPackage is an entry of the v2/v3 "packages" map.
type lockPackage struct {
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Resolved    string          `json:"resolved"`
	Integrity   string          `json:"integrity"`
	License     json.RawMessage `json:"license"`
	Dev         bool            `json:"dev"`
	DevOptional bool            `json:"devOptional"`
	Link        bool            `json:"link"`
}

// lockV1Package is an entry of the v1 "dependencies" tree.
type lockV1Package struct {
	Version      string                   `json:"version"`
	Integrity    string                   `json:"integrity"`
	Dev          bool                     `json:"dev"`
	Dependencies map[string]lockV1Package `json:"dependencies"`
}

// parsePackageLock reads package-lock.json. Versions 2 and 3 are read from
// "packages" (keyed by install path); version 1, and v2 files without
// "packages", from the nested "dependencies" tree.
func parsePackageLock(r io.Reader) ([]sbom.Package, error) {
	var lock packageLock
	dec := json.NewDecoder(r)
	if err := dec.Decode(&lock); err != nil {
		return nil, fmt.Errorf("package-lock.json: %w", err)
	}
	if lock.Packages != nil {
		return lockV2Packages(lock.Packages), nil
	}
	var pkgs []sbom.Package
	if err := lockV1Packages(lock.Dependencies, 0, &pkgs); err != nil {
		return nil, err
	}
	return pkgs, nil
}

func lockV2Packages(m map[string]lockPackage) []sbom.Package {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var pkgs []sbom.Package
	for _, key := range keys {
		e := m[key]
		// "" is the project itself; keys without node_modules are the
		// project's own workspace folders; links point at those.
		if e.Link {
			continue
		}
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 {
			continue
		}
		// "name" is set when it differs from the install folder (aliases:
		// "node_modules/foo" installed from npm:bar@1.0.0).
		name := e.Name
		if name == "" {
			name = key[i+len("node_modules/"):]
		}
		if !validName(name) || e.Version == "" {
			continue
		}
		p := newPackage(name, e.Version)
		p.Licenses = licenses(e.License)
		if e.Dev || e.DevOptional {
			// devOptional: needed only by dev dependencies and optional
			// ones; npm prunes it with --omit=dev like dev.
			p.Scope = "dev"
		}
		if e.Integrity != "" {
			p.Metadata = map[string]string{"integrity": e.Integrity}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

var errTooDeep = errors.New("package-lock.json: dependencies nested too deeply")

func lockV1Packages(m map[string]lockV1Package, depth int, pkgs *[]sbom.Package) error {
	if depth > maxV1Depth {
		return errTooDeep
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		e := m[name]
		version := e.Version
		// An alias records the real package: "version": "npm:bar@1.0.0".
		if real, ok := strings.CutPrefix(version, "npm:"); ok {
			if i := strings.LastIndexByte(real, '@'); i > 0 {
				name, version = real[:i], real[i+1:]
			}
		}
		if validName(name) && version != "" {
			p := newPackage(name, version)
			if e.Dev {
				p.Scope = "dev"
			}
			if e.Integrity != "" {
				p.Metadata = map[string]string{"integrity": e.Integrity}
			}
			*pkgs = append(*pkgs, p)
		}
		if err := lockV1Packages(e.Dependencies, depth+1, pkgs); err != nil {
			return err
		}
	}
	return nil
}
