package match

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

// benchDB imports the shared advisories (Go, PyPI, crates.io, AlmaLinux,
// Debian 12) into a temporary database.
func benchDB(b *testing.B) (*store.DB, map[string][]string) {
	b.Helper()
	data := filepath.Join("..", "..", "..", "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		b.Skipf("shared data not present at %s", data)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "vuln.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	names := map[string][]string{}
	for src, dir := range map[string]string{
		"osv:Go": "vulndata/osv-go", "osv:PyPI": "vulndata/osv-pypi", "osv:crates.io": "vulndata/osv-crates",
		"osv:AlmaLinux": "vulndata/osv-almalinux", "osv:Debian": "debian/osv",
	} {
		advs, _ := advisory.ImportOSV(filepath.Join(data, dir))
		if _, err := db.Import(src, dir, advs); err != nil {
			b.Fatal(err)
		}
		seen := map[string]bool{}
		for _, a := range advs {
			for _, af := range a.Affected {
				if !seen[af.Ecosystem+af.Package] {
					seen[af.Ecosystem+af.Package] = true
					names[af.Ecosystem] = append(names[af.Ecosystem], af.Package)
				}
			}
		}
	}
	return db, names
}

// mixedPackages makes n packages over five ecosystems, about half of them
// named in advisories (hits) and half not (misses), at old versions so hits
// are affected.
func mixedPackages(n int, names map[string][]string) []sbom.Package {
	type eco struct {
		key string
		typ sbom.Type
		ver string
	}
	ecos := []eco{{"Debian:12", sbom.TypeDeb, "0.1-1"}, {"Go", sbom.TypeGo, "v0.0.1"}, {"PyPI", sbom.TypePython, "0.0.1"},
		{"crates.io", sbom.TypeRust, "0.0.1"}, {"AlmaLinux:9", sbom.TypeRPM, "0.1-1.el9"}}
	pkgs := make([]sbom.Package, 0, n)
	for i := range n {
		e := ecos[i%len(ecos)]
		list := names[e.key]
		name := fmt.Sprintf("no-such-package-%d", i)
		if i%2 == 0 && len(list) > 0 {
			name = list[(i/2)%len(list)]
		}
		p := sbom.Package{ID: fmt.Sprint(i), Name: name, Version: e.ver, Type: e.typ}
		if e.typ == sbom.TypeDeb {
			p.SourceName, p.SourceVersion = name, e.ver
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// BenchmarkMatch10k matches 10,000 mixed packages on one core. The target
// (issue 3) is under 100 ms per op.
func BenchmarkMatch10k(b *testing.B) {
	db, names := benchDB(b)
	pkgs := mixedPackages(10_000, names)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	// One SBOM has one distribution: the Debian and language packages go
	// in one document, the AlmaLinux packages in another.
	var debian, alma []sbom.Package
	for _, p := range pkgs {
		if p.Type == sbom.TypeRPM {
			alma = append(alma, p)
		} else {
			debian = append(debian, p)
		}
	}
	docs := []*sbom.SBOM{
		{Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: debian},
		{Distro: &sbom.Distro{ID: "almalinux", VersionID: "9.4"}, Packages: alma},
	}
	var findings int
	cpu0 := processCPU(b)
	for b.Loop() {
		findings = 0
		err := db.View(func(r *store.Reader) error {
			m := New(r, Options{})
			for _, d := range docs {
				fs, err := m.Match(d)
				if err != nil {
					return err
				}
				findings += len(fs)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(findings), "findings")
	// Process CPU time per op: on a busy machine wall time includes time
	// spent waiting for the core; this figure does not (GOMAXPROCS is 1,
	// so it also counts the garbage collector's work on that core).
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// processCPU returns the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
