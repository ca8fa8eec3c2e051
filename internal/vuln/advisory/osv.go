package advisory

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// osvRecord is the subset of the OSV schema we keep, readable from JSON and
// from PyPA's YAML. Timestamps are strings so both encodings decode alike.
type osvRecord struct {
	ID               string         `json:"id" yaml:"id"`
	Modified         string         `json:"modified" yaml:"modified"`
	Published        string         `json:"published" yaml:"published"`
	Withdrawn        string         `json:"withdrawn" yaml:"withdrawn"`
	Aliases          []string       `json:"aliases" yaml:"aliases"`
	Summary          string         `json:"summary" yaml:"summary"`
	Details          string         `json:"details" yaml:"details"`
	Severity         []osvSeverity  `json:"severity" yaml:"severity"`
	Affected         []osvAffected  `json:"affected" yaml:"affected"`
	References       []osvReference `json:"references" yaml:"references"`
	DatabaseSpecific map[string]any `json:"database_specific" yaml:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type" yaml:"type"`
	Score string `json:"score" yaml:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem" yaml:"ecosystem"`
		Name      string `json:"name" yaml:"name"`
		PURL      string `json:"purl" yaml:"purl"`
	} `json:"package" yaml:"package"`
	Severity          []osvSeverity  `json:"severity" yaml:"severity"`
	Ranges            []osvRange     `json:"ranges" yaml:"ranges"`
	Versions          []string       `json:"versions" yaml:"versions"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific" yaml:"ecosystem_specific"`
	DatabaseSpecific  map[string]any `json:"database_specific" yaml:"database_specific"`
}

type osvRange struct {
	Type   string  `json:"type" yaml:"type"`
	Repo   string  `json:"repo" yaml:"repo"`
	Events []Event `json:"events" yaml:"events"`
}

type osvReference struct {
	Type string `json:"type" yaml:"type"`
	URL  string `json:"url" yaml:"url"`
}

// Event needs yaml tags for PyPA's YAML; JSON uses the struct tags above.
func (e *Event) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Introduced   string `yaml:"introduced"`
		Fixed        string `yaml:"fixed"`
		LastAffected string `yaml:"last_affected"`
		Limit        string `yaml:"limit"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*e = Event(raw)
	return nil
}

// ImportOSV imports OSV records from path: a single .json/.yaml/.yml file, a
// directory (recursively, those extensions only) or a zip in the osv.dev
// layout (<Ecosystem>/all.zip, one record per entry).
func ImportOSV(path string, opts ...Option) ([]Advisory, []RecordError) {
	o := buildOptions(opts)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, []RecordError{{File: path, Err: err}}
	}
	switch {
	case fi.IsDir():
		return importOSVDir(path, o)
	case strings.EqualFold(filepath.Ext(path), ".zip"):
		zr, err := os.Open(path)
		if err != nil {
			return nil, []RecordError{{File: path, Err: err}}
		}
		defer zr.Close()
		return readOSVZip(zr, fi.Size(), path, o)
	}
	data, err := readFileBounded(path, o.limits.MaxRecordBytes)
	if err != nil {
		return nil, []RecordError{{File: path, Err: err}}
	}
	return parseOSVRecord(data, path)
}

func isOSVFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".yaml", ".yml":
		return true
	}
	return false
}

func importOSVDir(dir string, o options) ([]Advisory, []RecordError) {
	var advs []Advisory
	var errs []RecordError
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isOSVFile(p) {
			return nil
		}
		data, err := readFileBounded(p, o.limits.MaxRecordBytes)
		if err != nil {
			errs = append(errs, RecordError{File: p, Err: err})
			return nil
		}
		a, e := parseOSVRecord(data, p)
		advs = append(advs, a...)
		errs = append(errs, e...)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, RecordError{File: dir, Err: walkErr})
	}
	return advs, errs
}

// ReadOSV parses one OSV record. file names it in errors and decides the
// encoding by extension (.yaml/.yml); other names are sniffed.
func ReadOSV(r io.Reader, file string, opts ...Option) ([]Advisory, []RecordError) {
	o := buildOptions(opts)
	data, err := readBounded(r, o.limits.MaxRecordBytes)
	if err != nil {
		return nil, []RecordError{{File: file, Err: err}}
	}
	return parseOSVRecord(data, file)
}

// ReadOSVZip imports an osv.dev-style zip held by ra. Entries are read one
// at a time, each bounded by Limits.MaxRecordBytes; names that would escape
// an extraction directory are rejected even though nothing is extracted, as
// they mark a hostile archive.
func ReadOSVZip(ra io.ReaderAt, size int64, file string, opts ...Option) ([]Advisory, []RecordError) {
	return readOSVZip(ra, size, file, buildOptions(opts))
}

func readOSVZip(ra io.ReaderAt, size int64, file string, o options) ([]Advisory, []RecordError) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
	}
	lim := o.limits
	if len(zr.File) > lim.MaxZipEntries {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %d entries, limit %d", ErrZipBomb, len(zr.File), lim.MaxZipEntries)}}
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > lim.MaxZipBytes {
			return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: declared content over %d bytes", ErrZipBomb, lim.MaxZipBytes)}}
		}
	}
	var advs []Advisory
	var errs []RecordError
	for _, f := range zr.File {
		entry := file + "!" + f.Name
		if !safeZipName(f.Name) {
			errs = append(errs, RecordError{File: entry, Err: fmt.Errorf("%w: %q", ErrUnsafePath, f.Name)})
			continue
		}
		if f.FileInfo().IsDir() || !isOSVFile(f.Name) {
			continue
		}
		if f.UncompressedSize64 > uint64(lim.MaxRecordBytes) {
			errs = append(errs, RecordError{File: entry, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, f.UncompressedSize64, lim.MaxRecordBytes)})
			continue
		}
		if f.UncompressedSize64 > 0 && (f.CompressedSize64 == 0 || f.UncompressedSize64/f.CompressedSize64 > lim.MaxZipRatio) {
			errs = append(errs, RecordError{File: entry, Err: fmt.Errorf("%w: compression ratio of %d/%d bytes over %d", ErrZipBomb, f.UncompressedSize64, f.CompressedSize64, lim.MaxZipRatio)})
			continue
		}
		data, err := readZipEntry(f, lim.MaxRecordBytes)
		if err != nil {
			errs = append(errs, RecordError{File: entry, Err: err})
			continue
		}
		a, e := parseOSVRecord(data, entry)
		advs = append(advs, a...)
		errs = append(errs, e...)
	}
	return advs, errs
}

func readZipEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer rc.Close()
	// Bounded even if the declared size lies; archive/zip also checks the
	// CRC and declared size at EOF.
	data, err := readBounded(rc, max)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return data, err
}

func safeZipName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") {
		return false
	}
	return filepath.IsLocal(strings.TrimSuffix(name, "/"))
}

func isYAMLName(file string) bool {
	ext := strings.ToLower(filepath.Ext(file))
	return ext == ".yaml" || ext == ".yml"
}

// parseOSVRecord decodes and converts one record. It returns at most one
// advisory; errors with Kept set accompany an imported record.
func parseOSVRecord(data []byte, file string) ([]Advisory, []RecordError) {
	var rec osvRecord
	var err error
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if isYAMLName(file) || (len(trimmed) > 0 && trimmed[0] != '{' && !strings.EqualFold(filepath.Ext(file), ".json")) {
		err = yaml.Unmarshal(data, &rec)
	} else {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return nil, []RecordError{{File: file, ID: rec.ID, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
	}
	adv, errs, err := rec.toAdvisory(file)
	if err != nil {
		return nil, []RecordError{{File: file, ID: rec.ID, Err: err}}
	}
	return []Advisory{adv}, errs
}

func parseOSVTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	return t.UTC(), nil
}

func (rec *osvRecord) toAdvisory(file string) (Advisory, []RecordError, error) {
	if strings.TrimSpace(rec.ID) == "" {
		return Advisory{}, nil, ErrMissingID
	}
	adv := Advisory{
		ID:      rec.ID,
		Aliases: rec.Aliases,
		Summary: rec.Summary,
		Details: rec.Details,
		Source:  SourceOSV,
	}
	var err error
	if adv.Modified, err = parseOSVTime("modified", rec.Modified); err != nil {
		return Advisory{}, nil, err
	}
	if adv.Published, err = parseOSVTime("published", rec.Published); err != nil {
		return Advisory{}, nil, err
	}
	if rec.Withdrawn != "" {
		w, err := parseOSVTime("withdrawn", rec.Withdrawn)
		if err != nil {
			return Advisory{}, nil, err
		}
		adv.Withdrawn = &w
	}
	var warns []RecordError
	warn := func(flag string, err error) {
		adv.addFlag(flag)
		warns = append(warns, RecordError{File: file, ID: rec.ID, Kept: true, Err: err})
	}
	adv.DatabaseSpecific = flatten(rec.DatabaseSpecific) // before warn adds flags
	adv.Severity = convertOSVSeverity(rec.Severity, warn)
	if s := adv.DatabaseSpecific["severity"]; s != "" {
		typ := "database_specific"
		if strings.HasPrefix(rec.ID, "GHSA-") {
			typ = SeverityGHSA
		}
		adv.Severity = append(adv.Severity, Severity{Type: typ, Rating: s})
	}
	for _, ref := range rec.References {
		if ref.URL != "" {
			adv.References = append(adv.References, ref.URL)
		}
	}
	for _, a := range rec.Affected {
		aff := Affected{
			Ecosystem:         a.Package.Ecosystem,
			Package:           a.Package.Name,
			PURL:              a.Package.PURL,
			Versions:          a.Versions,
			Severity:          convertOSVSeverity(a.Severity, warn),
			EcosystemSpecific: flatten(a.EcosystemSpecific),
		}
		if u := aff.EcosystemSpecific["urgency"]; u != "" && strings.HasPrefix(aff.Ecosystem, "Debian") {
			aff.Severity = append(aff.Severity, Severity{Type: SeverityDebian, Rating: strings.TrimRight(u, "*")})
		}
		if p := aff.EcosystemSpecific["ubuntu_priority"]; p != "" {
			aff.Severity = append(aff.Severity, Severity{Type: SeverityUbuntu, Rating: p})
		}
		for _, r := range a.Ranges {
			if r.Type == "GIT" {
				for _, ev := range r.Events {
					for _, v := range []string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
						if v != "" && v != "0" && !isCommitHash(v) {
							warn(FlagGitRef, fmt.Errorf("%w: %q in %s", ErrGitRef, v, r.Repo))
						}
					}
				}
			}
			aff.Ranges = append(aff.Ranges, Range(r))
		}
		adv.Affected = append(adv.Affected, aff)
	}
	return adv, warns, nil
}

func isCommitHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func convertOSVSeverity(in []osvSeverity, warn func(string, error)) []Severity {
	var out []Severity
	for _, s := range in {
		sev := Severity{Type: s.Type}
		switch s.Type {
		case SeverityCVSSv2, SeverityCVSSv3, SeverityCVSSv4:
			sev.Vector = s.Score
			if _, score, err := ParseCVSS(s.Score); err != nil {
				warn(FlagBadVector, err)
			} else {
				sev.Score = score
			}
		default:
			// Ubuntu's severity type carries a priority word, not a vector.
			sev.Rating = s.Score
		}
		out = append(out, sev)
	}
	return out
}

// flatten keeps the scalar values of a database_specific or
// ecosystem_specific object as strings; nested values are dropped because
// the model keeps only what the matcher and severity rule read.
func flatten(m map[string]any) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case int:
			out[k] = strconv.Itoa(v)
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case uint64:
			out[k] = strconv.FormatUint(v, 10)
		case time.Time:
			out[k] = v.UTC().Format(time.RFC3339Nano)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
