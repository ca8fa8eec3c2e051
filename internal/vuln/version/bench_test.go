package version

import "testing"

// benchPairs are realistic installed/fixed pairs; each benchmark op is one
// Compare of two unparsed strings, which is what the matcher pays per event.
var benchPairs = map[string][2]string{
	"Debian":    {"2.38.1-5+deb12u1", "2.38.1-5+deb12u2"},
	"Alpine":    {"3.1.4-r4", "3.1.4_p1-r0"},
	"Red Hat":   {"1:1.1.1k-7.el8_6", "1:1.1.1k-9.el8_7"},
	"PyPI":      {"2.31.0", "2.32.0rc1"},
	"Maven":     {"2.14.1", "2.15.0-rc1"},
	"RubyGems":  {"7.0.4.2", "7.0.8.pre"},
	"npm":       {"4.17.20", "4.17.21-beta.1"},
	"Pub":       {"1.0.0+1", "1.0.0+2"},
	"NuGet":     {"13.0.1", "13.0.1.1-beta"},
	"Go":        {"v0.0.0-20220722155217-630584e8d5aa", "v0.17.0"},
	"Packagist": {"v5.4.21", "5.4.22-RC1"},
}

func benchCompare(b *testing.B, eco string) {
	cmp, err := ForEcosystem(eco)
	if err != nil {
		b.Fatal(err)
	}
	p := benchPairs[eco]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cmp.Compare(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareDeb(b *testing.B)       { benchCompare(b, "Debian") }
func BenchmarkCompareAPK(b *testing.B)       { benchCompare(b, "Alpine") }
func BenchmarkCompareRPM(b *testing.B)       { benchCompare(b, "Red Hat") }
func BenchmarkComparePyPI(b *testing.B)      { benchCompare(b, "PyPI") }
func BenchmarkCompareMaven(b *testing.B)     { benchCompare(b, "Maven") }
func BenchmarkCompareGem(b *testing.B)       { benchCompare(b, "RubyGems") }
func BenchmarkCompareSemVer(b *testing.B)    { benchCompare(b, "npm") }
func BenchmarkComparePub(b *testing.B)       { benchCompare(b, "Pub") }
func BenchmarkCompareNuGet(b *testing.B)     { benchCompare(b, "NuGet") }
func BenchmarkCompareGo(b *testing.B)        { benchCompare(b, "Go") }
func BenchmarkComparePackagist(b *testing.B) { benchCompare(b, "Packagist") }

// BenchmarkAffectedDeb is one typical advisory check: a two-event range.
func BenchmarkAffectedDeb(b *testing.B) {
	cmp, _ := ForEcosystem("Debian:12")
	ranges := []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: "2.38.1-5+deb12u2"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Affected(cmp, "2.38.1-5+deb12u1", ranges, nil); err != nil {
			b.Fatal(err)
		}
	}
}
