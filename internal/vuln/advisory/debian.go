package advisory

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// debianReleases maps Debian codenames to OSV ecosystem suffixes: the
// numeric version, or "sid" as the OSV ecosystem list prescribes.
// "experimental" has no ecosystem and is skipped.
var debianReleases = map[string]string{
	"squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
	"bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
	"sid": "sid", "unstable": "sid",
}

// debianEcosystem returns "Debian:<n>" for a codename, "" for one to skip.
func debianEcosystem(release string) (string, error) {
	if release == "experimental" {
		return "", nil
	}
	n, ok := debianReleases[release]
	if !ok {
		return "", fmt.Errorf("%w: Debian release %q", ErrUnsupported, release)
	}
	return "Debian:" + n, nil
}

type trackerEntry struct {
	Description string                    `json:"description"`
	Scope       string                    `json:"scope"`
	Releases    map[string]trackerRelease `json:"releases"`
}

type trackerRelease struct {
	Status       string `json:"status"`
	FixedVersion string `json:"fixed_version"`
	Urgency      string `json:"urgency"`
	NoDSA        string `json:"nodsa"`
	NoDSAReason  string `json:"nodsa_reason"`
}

// ImportDebianTracker imports Debian security tracker data from path: the
// tracker's JSON export (https://security-tracker.debian.org/tracker/data/json)
// as one file, or a directory of aquasecurity/vuln-list-debian "parsed"
// files (tracker/CVE/<year>/CVE-*.json, tracker/DSA/DSA-*.json, ...).
// A single parsed file is recognised by its "Header" key.
func ImportDebianTracker(path string, opts ...Option) ([]Advisory, []RecordError) {
	o := buildOptions(opts)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, []RecordError{{File: path, Err: err}}
	}
	if !fi.IsDir() {
		f, err := os.Open(path)
		if err != nil {
			return nil, []RecordError{{File: path, Err: err}}
		}
		defer f.Close()
		br := bufio.NewReader(f)
		if head, _ := br.Peek(256); parsedHead.Match(head) {
			return readDebianParsed(br, path, o)
		}
		return ReadDebianTracker(br, path)
	}
	var advs []Advisory
	var errs []RecordError
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			return nil
		}
		if !d.Type().IsRegular() || !strings.EqualFold(filepath.Ext(p), ".json") || d.Name() == "PROVENANCE.json" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			return nil
		}
		a, e := readDebianParsed(f, p, o)
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

var parsedHead = regexp.MustCompile(`^\s*\{\s*"(Header|Annotations)"`)

// ReadDebianTracker streams the tracker JSON export
// ({package: {CVE: {description, scope, releases: {codename: {status,
// fixed_version, urgency, ...}}}}}), holding one package at a time. It
// returns one advisory per CVE (or TEMP- id) with one Affected per
// (source package, release):
//
//   - "resolved" with fixed_version: introduced 0, fixed; "0" means the
//     release was never affected and is skipped;
//   - "open": introduced 0 and no fix;
//   - "undetermined": the same, with EcosystemSpecific["status"] saying so.
//
// The urgency is kept as a Debian severity rating with "**" marks removed.
func ReadDebianTracker(r io.Reader, file string) ([]Advisory, []RecordError) {
	dec := json.NewDecoder(r)
	var errs []RecordError
	fatal := func(err error) ([]Advisory, []RecordError) {
		return nil, append(errs, RecordError{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
	}
	if tok, err := dec.Token(); err != nil {
		return fatal(err)
	} else if tok != json.Delim('{') {
		return fatal(fmt.Errorf("top level is %v, want an object", tok))
	}
	index := map[string]int{}
	var advs []Advisory
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fatal(err)
		}
		pkg, _ := tok.(string)
		var cves map[string]json.RawMessage
		if err := dec.Decode(&cves); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				errs = append(errs, RecordError{File: file, ID: pkg, Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
				continue
			}
			return fatal(err)
		}
		for _, id := range sortedKeys(cves) {
			var e trackerEntry
			if err := json.Unmarshal(cves[id], &e); err != nil {
				errs = append(errs, RecordError{File: file, ID: id, Err: fmt.Errorf("%w: package %s: %v", ErrMalformed, pkg, err)})
				continue
			}
			if id == "" {
				errs = append(errs, RecordError{File: file, ID: pkg, Err: ErrMissingID})
				continue
			}
			var affs []Affected
			for _, rel := range sortedKeys(e.Releases) {
				st := e.Releases[rel]
				eco, err := debianEcosystem(rel)
				if err != nil {
					errs = append(errs, RecordError{File: file, ID: id, Kept: true, Err: err})
					continue
				}
				if eco == "" {
					continue
				}
				aff, ok, err := trackerAffected(pkg, eco, st)
				if err != nil {
					errs = append(errs, RecordError{File: file, ID: id, Kept: true, Err: err})
				}
				if ok {
					affs = append(affs, aff)
				}
			}
			i, seen := index[id]
			if !seen {
				i = len(advs)
				index[id] = i
				advs = append(advs, Advisory{ID: id, Details: e.Description, Source: SourceDebianTracker})
				if e.Scope != "" {
					advs[i].DatabaseSpecific = map[string]string{"scope": e.Scope}
				}
			}
			advs[i].Affected = append(advs[i].Affected, affs...)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fatal(err)
	}
	return advs, errs
}

func trackerAffected(pkg, eco string, st trackerRelease) (Affected, bool, error) {
	aff := Affected{Ecosystem: eco, Package: pkg, EcosystemSpecific: map[string]string{"status": st.Status}}
	if u := strings.TrimRight(strings.TrimSpace(st.Urgency), "*"); u != "" {
		aff.Severity = []Severity{{Type: SeverityDebian, Rating: u}}
	}
	if st.NoDSA != "" {
		aff.EcosystemSpecific["nodsa"] = st.NoDSA
	}
	if st.NoDSAReason != "" {
		aff.EcosystemSpecific["nodsa_reason"] = st.NoDSAReason
	}
	switch st.Status {
	case "resolved":
		if st.FixedVersion == "" || st.FixedVersion == "0" {
			return Affected{}, false, nil // never affected
		}
		aff.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: st.FixedVersion}}}}
	case "open", "undetermined":
		aff.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}}}}
	default:
		return Affected{}, false, fmt.Errorf("%w: status %q for %s in %s", ErrUnsupported, st.Status, pkg, eco)
	}
	return aff, true, nil
}

// parsedRecord is one aquasecurity/vuln-list-debian file: the tracker's
// data/CVE/list or data/DSA/list entry split into annotations.
type parsedRecord struct {
	Header struct {
		ID          string `json:"ID"`
		Description string `json:"Description"`
	} `json:"Header"`
	Annotations []struct {
		Type        string   `json:"Type"`
		Release     string   `json:"Release"`
		Package     string   `json:"Package"`
		Kind        string   `json:"Kind"`
		Version     string   `json:"Version"`
		Severity    string   `json:"Severity"`
		Description string   `json:"Description"`
		Bugs        []string `json:"Bugs"`
	} `json:"Annotations"`
}

// ReadDebianParsed reads one vuln-list-debian parsed file (CVE, DSA, DLA or
// DTSA entry). Package lines without a release describe sid. Kinds map as
// in the tracker: "fixed" gives a fixed range, "unfixed", "no-dsa",
// "postponed", "ignored", "end-of-life" and "undetermined" an open one
// (the kind kept as EcosystemSpecific["status"]), "not-affected", "removed"
// and "itp" nothing.
func ReadDebianParsed(r io.Reader, file string, opts ...Option) ([]Advisory, []RecordError) {
	return readDebianParsed(r, file, buildOptions(opts))
}

func readDebianParsed(r io.Reader, file string, o options) ([]Advisory, []RecordError) {
	data, err := readBounded(r, o.limits.MaxFileBytes)
	if err != nil {
		return nil, []RecordError{{File: file, Err: err}}
	}
	var rec parsedRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
	}
	id := rec.Header.ID
	if id == "" {
		return nil, []RecordError{{File: file, Err: ErrMissingID}}
	}
	adv := Advisory{ID: id, Source: SourceDebianTracker}
	desc := strings.TrimSpace(rec.Header.Description)
	if len(desc) >= 2 && (desc[0] == '(' && desc[len(desc)-1] == ')' || desc[0] == '[' && desc[len(desc)-1] == ']') {
		desc = strings.TrimSpace(desc[1 : len(desc)-1])
	}
	if isCVEList(id) {
		adv.Details = desc
	} else {
		adv.Summary = desc
	}
	var errs []RecordError
	for _, an := range rec.Annotations {
		switch an.Type {
		case "xref":
			adv.Aliases = append(adv.Aliases, an.Bugs...)
			continue
		case "package":
		default:
			continue
		}
		rel := an.Release
		if rel == "" {
			rel = "sid"
		}
		eco, err := debianEcosystem(rel)
		if err != nil {
			errs = append(errs, RecordError{File: file, ID: id, Kept: true, Err: err})
			continue
		}
		if eco == "" || an.Package == "" {
			continue
		}
		aff := Affected{Ecosystem: eco, Package: an.Package, EcosystemSpecific: map[string]string{"status": an.Kind}}
		if s := strings.TrimRight(strings.TrimSpace(an.Severity), "*"); s != "" {
			aff.Severity = []Severity{{Type: SeverityDebian, Rating: s}}
		}
		switch an.Kind {
		case "fixed":
			if an.Version == "" || an.Version == "0" {
				continue
			}
			aff.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: an.Version}}}}
		case "unfixed", "no-dsa", "postponed", "ignored", "end-of-life", "undetermined":
			aff.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}}}}
		case "not-affected", "removed", "itp":
			continue
		default:
			errs = append(errs, RecordError{File: file, ID: id, Kept: true, Err: fmt.Errorf("%w: kind %q for %s", ErrUnsupported, an.Kind, an.Package)})
			continue
		}
		adv.Affected = append(adv.Affected, aff)
	}
	return []Advisory{adv}, errs
}

func isCVEList(id string) bool {
	return strings.HasPrefix(id, "CVE-") || strings.HasPrefix(id, "TEMP-")
}
