package advisory

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ImportEPSS reads an EPSS scores CSV, plain or gzipped as FIRST publishes
// it (epss_scores-YYYY-MM-DD.csv.gz).
func ImportEPSS(path string) ([]EPSS, []RecordError) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []RecordError{{File: path, Err: err}}
	}
	defer f.Close()
	return ReadEPSS(f, path)
}

// ReadEPSS streams an EPSS CSV: comment lines starting with '#' (the model
// version and score date), a "cve,epss,percentile" header, then one row per
// CVE. Rows that do not parse, or hold a probability outside [0,1], are
// reported and skipped. Gzipped input is detected by its magic bytes.
func ReadEPSS(r io.Reader, file string) ([]EPSS, []RecordError) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, []RecordError{{File: file, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}}
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []EPSS
	var errs []RecordError
	col := map[string]int{"cve": 0, "epss": 1, "percentile": 2}
	header := false
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The reader has consumed the bad row; go on with the next.
				errs = append(errs, RecordError{File: file, ID: fmt.Sprintf("line %d", pe.StartLine), Err: fmt.Errorf("%w: %v", ErrMalformed, err)})
				continue
			}
			return out, append(errs, RecordError{File: file, Err: err})
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("line %d", line)
		if !header && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "cve") {
			header = true
			for i, name := range rec {
				col[strings.ToLower(strings.TrimSpace(name))] = i
			}
			continue
		}
		need := max(col["cve"], col["epss"], col["percentile"])
		if len(rec) <= need {
			errs = append(errs, RecordError{File: file, ID: where, Err: fmt.Errorf("%w: %d fields", ErrMalformed, len(rec))})
			continue
		}
		id := strings.TrimSpace(rec[col["cve"]])
		if id == "" {
			errs = append(errs, RecordError{File: file, ID: where, Err: ErrMissingID})
			continue
		}
		score, err1 := parseProbability(rec[col["epss"]])
		pct, err2 := parseProbability(rec[col["percentile"]])
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, RecordError{File: file, ID: id, Err: fmt.Errorf("%w: %s: %v", ErrMalformed, where, err)})
			continue
		}
		out = append(out, EPSS{CVE: id, Score: score, Percentile: pct})
	}
	return out, errs
}

func parseProbability(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || f < 0 || f > 1 {
		return 0, fmt.Errorf("%v outside [0,1]", f)
	}
	return f, nil
}
