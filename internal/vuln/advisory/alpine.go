package advisory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// alpineSecDB is both the secdb file ({distroversion, reponame, packages:
// [{pkg: {name, secfixes}}]}) and vuln-list's one-package split of it
// ({name, secfixes, distroversion, reponame}); JSON and legacy YAML alike.
type alpineSecDB struct {
	DistroVersion string `json:"distroversion" yaml:"distroversion"`
	RepoName      string `json:"reponame" yaml:"reponame"`
	Packages      []struct {
		Pkg alpinePkg `json:"pkg" yaml:"pkg"`
	} `json:"packages" yaml:"packages"`
	alpinePkg `yaml:",inline"`
}

type alpinePkg struct {
	Name     string              `json:"name" yaml:"name"`
	SecFixes map[string][]string `json:"secfixes" yaml:"secfixes"`
}

// ImportAlpineSecDB imports a secdb file (.json, .yaml or .yml) or every
// such file under a directory.
func ImportAlpineSecDB(path string, opts ...Option) ([]Advisory, []RecordError) {
	o := buildOptions(opts)
	var advs []Advisory
	var errs []RecordError
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			return nil
		}
		if !d.Type().IsRegular() || !isOSVFile(p) || d.Name() == "PROVENANCE.json" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			return nil
		}
		a, e := readAlpineSecDB(f, p, o)
		f.Close()
		advs = append(advs, a...)
		errs = append(errs, e...)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, RecordError{File: path, Err: walkErr})
	}
	return advs, errs
}

// ReadAlpineSecDB reads one secdb document (JSON, or YAML when file ends in
// .yaml/.yml or the content does not start with '{'). It returns one
// advisory per (ID, package) with ecosystem "Alpine:<distroversion>" and a
// range introduced 0, fixed <secfixes version>; the "0" version key lists
// IDs that never affected the package and is skipped. An ID fixed in
// several versions of one package gets one range per version.
func ReadAlpineSecDB(r io.Reader, file string, opts ...Option) ([]Advisory, []RecordError) {
	return readAlpineSecDB(r, file, buildOptions(opts))
}

var alpineID = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[0-9A-Za-z][0-9A-Za-z:._-]*$`)

func readAlpineSecDB(r io.Reader, file string, o options) ([]Advisory, []RecordError) {
	data, err := readBounded(r, o.limits.MaxFileBytes)
	if err != nil {
		return nil, []RecordError{{File: file, Err: err}}
	}
	var db alpineSecDB
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if isYAMLName(file) || len(trimmed) == 0 || trimmed[0] != '{' {
		err = yaml.Unmarshal(data, &db)
	} else {
		err = json.Unmarshal(data, &db)
	}
	if err != nil {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
	}
	if db.DistroVersion == "" {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: no distroversion", ErrMalformed)}}
	}
	eco := "Alpine:" + db.DistroVersion
	if !strings.HasPrefix(db.DistroVersion, "v") {
		eco = "Alpine:v" + db.DistroVersion
	}
	pkgs := make([]alpinePkg, 0, len(db.Packages)+1)
	for _, p := range db.Packages {
		pkgs = append(pkgs, p.Pkg)
	}
	if db.Name != "" {
		pkgs = append(pkgs, db.alpinePkg)
	}
	var advs []Advisory
	var errs []RecordError
	for _, p := range pkgs {
		if p.Name == "" {
			errs = append(errs, RecordError{File: file, Err: fmt.Errorf("%w: package without a name", ErrMalformed)})
			continue
		}
		index := map[string]int{}
		for _, ver := range sortedKeys(p.SecFixes) {
			if ver == "0" {
				continue
			}
			for _, line := range p.SecFixes[ver] {
				ids := alpineIDs(line)
				if len(ids) == 0 {
					errs = append(errs, RecordError{File: file, ID: p.Name + " " + ver, Err: fmt.Errorf("%w: no advisory id in %q", ErrMalformed, line)})
					continue
				}
				for _, id := range ids {
					rng := Range{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: ver}}}
					if i, ok := index[id]; ok {
						advs[i].Affected[0].Ranges = append(advs[i].Affected[0].Ranges, rng)
						continue
					}
					index[id] = len(advs)
					// secdb names a CVE once per package and release; the id
					// says which, so records of different releases and
					// packages do not replace each other in a store.
					advs = append(advs, Advisory{
						ID:      "ALPINE-" + strings.TrimPrefix(eco, "Alpine:") + "-" + p.Name + "-" + id,
						Aliases: []string{id},
						Source:  SourceAlpineSecDB,
						Affected: []Affected{{
							Ecosystem: eco,
							Package:   p.Name,
							Ranges:    []Range{rng},
						}},
						DatabaseSpecific: map[string]string{"reponame": db.RepoName},
					})
				}
			}
		}
	}
	return advs, errs
}

// alpineIDs picks the advisory IDs out of a secfixes line, which is usually
// one CVE but may hold several, or trailing prose.
func alpineIDs(line string) []string {
	var ids []string
	for _, f := range strings.Fields(line) {
		f = strings.Trim(f, ",;()")
		if alpineID.MatchString(f) {
			ids = append(ids, f)
		}
	}
	return ids
}
