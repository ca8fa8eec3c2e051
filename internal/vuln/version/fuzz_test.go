package version

import (
	"errors"
	"testing"
)

// fuzzCompare checks, for any two strings, that Compare never panics, that
// it fails exactly when one side is invalid (naming it), and that it is
// antisymmetric and reflexive on valid input.
func fuzzCompare(f *testing.F, eco string) {
	cmp, err := ForEcosystem(eco)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		errA, errB := cmp.Valid(a), cmp.Valid(b)
		ab, err := cmp.Compare(a, b)
		if errA != nil || errB != nil {
			if !errors.Is(err, ErrInvalidVersion) {
				t.Fatalf("Compare(%q, %q) error = %v, want ErrInvalidVersion (Valid: %v, %v)", a, b, err, errA, errB)
			}
			return
		}
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v, though both are valid", a, b, err)
		}
		ba, err := cmp.Compare(b, a)
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v", b, a, err)
		}
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if aa, err := cmp.Compare(a, a); aa != 0 || err != nil {
			t.Fatalf("Compare(%q, %q) = %d, %v", a, a, aa, err)
		}
	})
}

func FuzzCompareDeb(f *testing.F)       { fuzzCompare(f, "Debian") }
func FuzzCompareAPK(f *testing.F)       { fuzzCompare(f, "Alpine") }
func FuzzCompareRPM(f *testing.F)       { fuzzCompare(f, "Red Hat") }
func FuzzComparePyPI(f *testing.F)      { fuzzCompare(f, "PyPI") }
func FuzzCompareMaven(f *testing.F)     { fuzzCompare(f, "Maven") }
func FuzzCompareGem(f *testing.F)       { fuzzCompare(f, "RubyGems") }
func FuzzCompareSemVer(f *testing.F)    { fuzzCompare(f, "npm") }
func FuzzComparePub(f *testing.F)       { fuzzCompare(f, "Pub") }
func FuzzCompareNuGet(f *testing.F)     { fuzzCompare(f, "NuGet") }
func FuzzCompareGo(f *testing.F)        { fuzzCompare(f, "Go") }
func FuzzComparePackagist(f *testing.F) { fuzzCompare(f, "Packagist") }
