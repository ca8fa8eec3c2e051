package advisory

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"
)

type kevCatalog struct {
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type kevEntry struct {
	CVEID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject"`
	Product                    string `json:"product"`
	VulnerabilityName          string `json:"vulnerabilityName"`
	DateAdded                  string `json:"dateAdded"`
	DueDate                    string `json:"dueDate"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// ImportKEV reads CISA's known_exploited_vulnerabilities.json.
func ImportKEV(path string, opts ...Option) ([]KEV, []RecordError) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []RecordError{{File: path, Err: err}}
	}
	defer f.Close()
	return ReadKEV(f, path, opts...)
}

// ReadKEV reads the KEV catalog JSON; an entry without a valid cveID or
// dateAdded is reported and skipped.
func ReadKEV(r io.Reader, file string, opts ...Option) ([]KEV, []RecordError) {
	o := buildOptions(opts)
	data, err := readBounded(r, o.limits.MaxFileBytes)
	if err != nil {
		return nil, []RecordError{{File: file, Err: err}}
	}
	var cat kevCatalog
	if err := json.Unmarshal(data, &cat); err != nil {
		return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
	}
	var out []KEV
	var errs []RecordError
	for i, raw := range cat.Vulnerabilities {
		var e kevEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			errs = append(errs, RecordError{File: file, ID: fmt.Sprintf("vulnerabilities[%d]", i), Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
			continue
		}
		id := e.CVEID
		if id == "" {
			errs = append(errs, RecordError{File: file, ID: fmt.Sprintf("vulnerabilities[%d]", i), Err: ErrMissingID})
			continue
		}
		if !cveID.MatchString(id) {
			errs = append(errs, RecordError{File: file, ID: id, Err: fmt.Errorf("%w: cveID %q", ErrMalformed, id)})
			continue
		}
		k := KEV{CVE: id, Vendor: e.VendorProject, Product: e.Product, Name: e.VulnerabilityName, KnownRansomwareCampaignUse: e.KnownRansomwareCampaignUse}
		if k.DateAdded, err = time.Parse(time.DateOnly, e.DateAdded); err != nil {
			errs = append(errs, RecordError{File: file, ID: id, Err: fmt.Errorf("%w: dateAdded: %v", ErrMalformed, err)})
			continue
		}
		if e.DueDate != "" {
			if k.DueDate, err = time.Parse(time.DateOnly, e.DueDate); err != nil {
				errs = append(errs, RecordError{File: file, ID: id, Err: fmt.Errorf("%w: dueDate: %v", ErrMalformed, err)})
				continue
			}
		}
		out = append(out, k)
	}
	return out, errs
}
