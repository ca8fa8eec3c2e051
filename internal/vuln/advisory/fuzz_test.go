package advisory

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Seed corpora live in testdata/fuzz/<Name>/ and hold real records.

func FuzzOSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, yamlName bool) {
		name := "r.json"
		if yamlName {
			name = "r.yaml"
		}
		advs, errs := ReadOSV(bytes.NewReader(data), name, WithLimits(Limits{MaxRecordBytes: 1 << 20}))
		checkImport(t, advs, errs)
		// The zip path must not panic either, whatever the bytes.
		ReadOSVZip(bytes.NewReader(data), int64(len(data)), "all.zip", WithLimits(Limits{MaxRecordBytes: 1 << 20, MaxZipEntries: 100}))
	})
}

func FuzzDebianTracker(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, errs := ReadDebianTracker(bytes.NewReader(data), "t.json")
		checkImport(t, advs, errs)
		advs, errs = ReadDebianParsed(bytes.NewReader(data), "p.json")
		checkImport(t, advs, errs)
	})
}

func FuzzAlpineSecDB(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, errs := ReadAlpineSecDB(bytes.NewReader(data), "s.json")
		checkImport(t, advs, errs)
		advs, errs = ReadAlpineSecDB(bytes.NewReader(data), "s.yaml")
		checkImport(t, advs, errs)
	})
}

func FuzzKEV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		kevs, errs := ReadKEV(bytes.NewReader(data), "k.json")
		for _, k := range kevs {
			if k.CVE == "" || k.DateAdded.IsZero() {
				t.Fatalf("incomplete entry imported: %+v", k)
			}
		}
		checkErrs(t, errs)
	})
}

func FuzzEPSS(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		scores, errs := ReadEPSS(bytes.NewReader(data), "e.csv")
		for _, s := range scores {
			if s.CVE == "" || s.Score < 0 || s.Score > 1 || s.Percentile < 0 || s.Percentile > 1 {
				t.Fatalf("bad score imported: %+v", s)
			}
		}
		checkErrs(t, errs)
	})
}

func FuzzCVSS(f *testing.F) {
	f.Fuzz(func(t *testing.T, vector string) {
		typ, score, err := ParseCVSS(vector)
		if err != nil {
			return
		}
		if typ == "" || score < 0 || score > 10 {
			t.Fatalf("ParseCVSS(%q) = %q, %v", vector, typ, score)
		}
		if l, s := Normalize([]Severity{{Type: typ, Vector: vector}}); s != score && !(score == 0 && l == LevelUnknown) {
			t.Fatalf("Normalize disagrees with ParseCVSS on %q: %v vs %v", vector, s, score)
		}
	})
}

// checkImport asserts the invariants every importer keeps: records have IDs,
// errors name their file, and records survive a JSON round trip (the store
// persists them as JSON).
func checkImport(t *testing.T, advs []Advisory, errs []RecordError) {
	t.Helper()
	for _, a := range advs {
		if a.ID == "" || a.Source == "" {
			t.Fatalf("record without id or source: %+v", a)
		}
	}
	b, err := json.Marshal(advs)
	if err != nil {
		t.Fatalf("records do not marshal: %v", err)
	}
	var back []Advisory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("records do not round-trip: %v", err)
	}
	checkErrs(t, errs)
}

func checkErrs(t *testing.T, errs []RecordError) {
	t.Helper()
	for _, e := range errs {
		if e.File == "" || e.Err == nil {
			t.Fatalf("error without file or reason: %+v", e)
		}
	}
}
