package advisory

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sharedData is the team's shared real-data folder, present on the
// development machines but not in a fresh clone.
const sharedData = "../../../../shared/data"

func sharedPath(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data not available: %s (%v)", p, err)
	}
	return p
}

func TestSharedDataCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("imports ~14k records")
	}
	tests := []struct {
		name, rel     string
		records, uniq int
		withdrawn     int
		gitRefs       int // records kept with ErrGitRef (PyPA short SHAs)
	}{
		{"go", "vulndata/osv-go", 4291, 4291, 17, 0},
		{"pypi", "vulndata/osv-pypi", 2661, 2661, 10, 7}, // withdrawn counts from grep, not the MANIFEST
		{"crates", "vulndata/osv-crates", 1206, 1206, 13, 0},
		{"almalinux", "vulndata/osv-almalinux", 5680, 5637, 0, 0},
		{"debian", "debian/osv", 712, 712, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advs, errs := ImportOSV(sharedPath(t, tt.rel))
			ids := map[string]bool{}
			withdrawn := 0
			for _, a := range advs {
				ids[a.ID] = true
				if a.Withdrawn != nil {
					withdrawn++
				}
			}
			gitRefs := map[string]bool{}
			for _, e := range errs {
				if e.Kept && errors.Is(e, ErrGitRef) {
					gitRefs[e.ID] = true
					continue
				}
				t.Errorf("unexpected error: %v", e)
			}
			if len(advs) != tt.records || len(ids) != tt.uniq || withdrawn != tt.withdrawn || len(gitRefs) != tt.gitRefs {
				t.Errorf("records %d (want %d), unique ids %d (want %d), withdrawn %d (want %d), GIT-ref records %d (want %d)",
					len(advs), tt.records, len(ids), tt.uniq, withdrawn, tt.withdrawn, len(gitRefs), tt.gitRefs)
			}
		})
	}
	t.Run("alpine-legacy", func(t *testing.T) {
		advs, errs := ImportAlpineSecDB(sharedPath(t, "vulndata/alpine-secdb-legacy"))
		if len(advs) == 0 {
			t.Error("no advisories")
		}
		for _, e := range errs {
			t.Logf("alpine legacy: %v", e)
		}
		t.Logf("alpine legacy: %d advisories, %d errors", len(advs), len(errs))
	})
	t.Run("kev", func(t *testing.T) {
		kevs, errs := ImportKEV(sharedPath(t, "vulndata/kev/known_exploited_vulnerabilities.json"))
		if len(kevs) != 1404 || len(errs) != 0 {
			t.Errorf("got %d entries (want 1404), errors %v", len(kevs), errs)
		}
	})
}

func BenchmarkImportOSVGo(b *testing.B) {
	dir := sharedPath(b, "vulndata/osv-go")
	n := 0
	for b.Loop() {
		advs, errs := ImportOSV(dir)
		if len(errs) != 0 {
			b.Fatal(errs[0])
		}
		n += len(advs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
