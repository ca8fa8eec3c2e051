package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// pkg is one real package name and version the synthetic SBOMs draw from.
type pkg struct {
	Type          sbom.Type
	Name, Version string
	// Source package (Debian), for matching by source as the server does.
	SourceName, SourceVersion string
	Arch                      string
}

// universe holds the packages by ecosystem.
type universe struct {
	deb  []pkg
	lang map[sbom.Type][]pkg
}

//go:embed packages.txt
var shippedList string

// loadUniverse reads Debian packages from dpkg status files and language
// packages from Syft JSON documents under lockDir (real projects'
// lockfiles); without them it falls back to the shipped list.
func loadUniverse(statusFiles []string, lockDir string) (*universe, error) {
	u := &universe{lang: map[sbom.Type][]pkg{}}
	seen := map[string]bool{}
	add := func(p pkg) {
		k := string(p.Type) + "/" + p.Name + "@" + p.Version
		if seen[k] || p.Name == "" || p.Version == "" {
			return
		}
		seen[k] = true
		if p.Type == sbom.TypeDeb {
			u.deb = append(u.deb, p)
		} else {
			u.lang[p.Type] = append(u.lang[p.Type], p)
		}
	}
	for _, f := range statusFiles {
		ps, err := readStatus(f)
		if err != nil {
			continue // optional input
		}
		for _, p := range ps {
			add(p)
		}
	}
	if lockDir != "" {
		_ = filepath.WalkDir(lockDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "syft.json" {
				return nil
			}
			ps, err := readSyft(p)
			if err == nil {
				for _, x := range ps {
					add(x)
				}
			}
			return nil
		})
	}
	if len(u.deb) < 50 || len(u.lang) == 0 {
		for _, line := range strings.Split(shippedList, "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 3 || strings.HasPrefix(line, "#") {
				continue
			}
			p := pkg{Type: sbom.Type(f[0]), Name: f[1], Version: f[2]}
			if len(f) >= 5 {
				p.SourceName, p.SourceVersion = f[3], f[4]
			}
			add(p)
		}
	}
	sort.Slice(u.deb, func(i, j int) bool { return u.deb[i].Name+u.deb[i].Version < u.deb[j].Name+u.deb[j].Version })
	for _, ps := range u.lang {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Name+ps[i].Version < ps[j].Name+ps[j].Version })
	}
	if len(u.deb) == 0 {
		return nil, fmt.Errorf("no Debian packages found")
	}
	return u, nil
}

// readStatus parses the installed packages of a dpkg status file.
func readStatus(path string) ([]pkg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []pkg
	var cur pkg
	installed := false
	flush := func() {
		if installed && cur.Name != "" {
			cur.Type = sbom.TypeDeb
			if cur.SourceName == "" {
				cur.SourceName = cur.Name
			}
			if cur.SourceVersion == "" {
				cur.SourceVersion = cur.Version
			}
			out = append(out, cur)
		}
		cur, installed = pkg{}, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Package":
			cur.Name = v
		case "Version":
			cur.Version = v
		case "Architecture":
			cur.Arch = v
		case "Status":
			installed = strings.HasSuffix(v, " installed")
		case "Source":
			name, ver, ok := strings.Cut(v, " ")
			cur.SourceName = name
			if ok {
				cur.SourceVersion = strings.Trim(ver, "()")
			}
		}
	}
	flush()
	return out, sc.Err()
}

func readSyft(path string) ([]pkg, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Artifacts []struct {
			Name, Version, Type string
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	types := map[string]sbom.Type{"npm": sbom.TypeNPM, "python": sbom.TypePython, "gem": sbom.TypeGem, "go-module": sbom.TypeGo,
		"java-archive": sbom.TypeJava, "rust-crate": sbom.TypeRust, "dotnet": sbom.TypeDotnet}
	var out []pkg
	for _, a := range doc.Artifacts {
		if t, ok := types[a.Type]; ok {
			out = append(out, pkg{Type: t, Name: a.Name, Version: a.Version})
		}
	}
	return out, nil
}
