package version

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pep440 "github.com/aquasecurity/go-pep440-version"
	apk "github.com/knqyf263/go-apk-version"
	deb "github.com/knqyf263/go-deb-version"
	rpm "github.com/knqyf263/go-rpm-version"
	"gopkg.in/yaml.v3"
)

// The hand-written dpkg, rpm and apk comparators (deb.go, rpm.go, apk.go)
// and the parse-once Affected (parsed.go) replace library calls; these
// tests hold them to the libraries' answers: the libraries' own test
// tables, every version named in the shared advisory data, and fuzzing.

// Legacy comparers: exactly what libs.go did before, library and all.

type libDebComparer struct{ eco string }

func (c libDebComparer) parse(v string) (deb.Version, error) {
	if err := firstErr(checkCommon(v), checkASCII(v), checkDigitRuns(v)); err != nil {
		return deb.Version{}, invalid(c.eco, v, err)
	}
	pv, err := deb.NewVersion(v)
	if err != nil {
		return deb.Version{}, invalid(c.eco, v, err)
	}
	return pv, nil
}
func (c libDebComparer) Valid(v string) error { _, err := c.parse(v); return err }
func (c libDebComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y deb.Version) int { return x.Compare(y) })
}

type libAPKComparer struct{ eco string }

func (c libAPKComparer) parse(v string) (apk.Version, error) {
	if err := firstErr(checkCommon(v), checkASCII(v), checkDigitRuns(v), checkAPKRevision(v)); err != nil {
		return "", invalid(c.eco, v, err)
	}
	pv, err := apk.NewVersion(v)
	if err != nil {
		return "", invalid(c.eco, v, err)
	}
	return pv, nil
}
func (c libAPKComparer) Valid(v string) error { _, err := c.parse(v); return err }
func (c libAPKComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y apk.Version) int { return x.Compare(y) })
}

type libRPMComparer struct{ eco string }

func (c libRPMComparer) parse(v string) (rpm.Version, error) {
	if err := rpmComparer(c).check(v); err != nil {
		return rpm.Version{}, invalid(c.eco, v, err)
	}
	return rpm.NewVersion(v), nil
}
func (c libRPMComparer) Valid(v string) error { _, err := c.parse(v); return err }
func (c libRPMComparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y rpm.Version) int { return x.Compare(y) })
}

type libPEP440Comparer struct{ eco string }

func (c libPEP440Comparer) parse(v string) (pep440.Version, error) {
	if err := checkCommon(v); err != nil {
		return pep440.Version{}, invalid(c.eco, v, err)
	}
	pv, err := pep440.Parse(v)
	if err != nil {
		return pep440.Version{}, invalid(c.eco, v, err)
	}
	return pv, nil
}
func (c libPEP440Comparer) Valid(v string) error { _, err := c.parse(v); return err }
func (c libPEP440Comparer) Compare(a, b string) (int, error) {
	return compareWith(c.eco, a, b, c.parse, func(x, y pep440.Version) int { return x.Compare(y) })
}

// sameAnswer fails unless both comparers give the same result, or both
// fail with the same message.
func sameAnswer(t *testing.T, got, want Comparer, a, b string) {
	t.Helper()
	g, gerr := got.Compare(a, b)
	w, werr := want.Compare(a, b)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("Compare(%q, %q): error %v, library %v", a, b, gerr, werr)
	}
	if g != w {
		t.Fatalf("Compare(%q, %q) = %d, library %d", a, b, g, w)
	}
	gv, wv := got.Valid(a), want.Valid(a)
	if (gv == nil) != (wv == nil) || (gv != nil && gv.Error() != wv.Error()) {
		t.Fatalf("Valid(%q) = %v, library %v", a, gv, wv)
	}
}

// readLibCases reads a testdata/libcases table: v1 <op> v2 per line.
func readLibCases(t *testing.T, name string) [][3]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "libcases", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 3 {
			t.Fatalf("%s: bad line %q", name, sc.Text())
		}
		out = append(out, [3]string{p[0], p[1], p[2]})
	}
	return out
}

func opSign(op string) int {
	switch op {
	case "<":
		return -1
	case ">":
		return 1
	}
	return 0
}

// TestRPMLibraryTable runs go-rpm-version's own table (version_testcase.go)
// against rpmvercmp's port.
func TestRPMLibraryTable(t *testing.T) {
	cases := readLibCases(t, "rpm.tsv")
	got, want := rpmComparer{"Red Hat"}, libRPMComparer{"Red Hat"}
	for _, c := range cases {
		// The library's tests compare the strings as versions (no epoch
		// or release).
		if r := rpmvercmp(c[0], c[2]); r != opSign(c[1]) {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %s", c[0], c[2], r, c[1])
		}
		sameAnswer(t, got, want, c[0], c[2])
	}
}

// TestAPKLibraryTable runs go-apk-version's own table (version.data).
func TestAPKLibraryTable(t *testing.T) {
	cases := readLibCases(t, "apk.tsv")
	got, want := apkComparer{"Alpine"}, libAPKComparer{"Alpine"}
	for _, c := range cases {
		if r := compareAPK(c[0], c[2]); r != opSign(c[1]) {
			t.Errorf("compareAPK(%q, %q) = %d, want %s", c[0], c[2], r, c[1])
		}
		if lib := apk.Valid(c[0]); lib != validAPK(c[0]) {
			t.Errorf("validAPK(%q) = %v, library %v", c[0], !lib, lib)
		}
		sameAnswer(t, got, want, c[0], c[2])
	}
}

// TestDebLibraryTable runs go-deb-version's own tables (version_test.go).
func TestDebLibraryTable(t *testing.T) {
	less := [][2]string{
		{"7.4.629-3", "7.4.629-5"}, {"7.4.622-1", "7.4.629-1"}, {"6.0-4.el6.x86_64", "6.0-5.el6.x86_64"},
		{"6.0-4.el6.x86_64", "6.1-3.el6.x86_64"}, {"6.1-3.el6.x86_64", "7.0-4.el6.x86_64"},
		{"2:7.4.052-1ubuntu3", "2:7.4.052-1ubuntu3.1"}, {"2:7.4.052-1ubuntu2", "2:7.4.052-1ubuntu3"},
		{"2:7.4.052-1", "2:7.4.052-1ubuntu3"}, {"2:7.4.052", "2:7.4.052-1"}, {"1:7.4.052", "2:7.4.052"},
		{"7.4.052", "1:7.4.052"}, {"2:7.4.052-1ubuntu3.1", "2:7.4.052-1ubuntu3.2"},
		{"2:6.0-9ubuntu1.4", "2:6.0-9ubuntu1.5"}, {"7.4.052", "7.4.052-1ubuntu2"},
		{"2:7.4.052-1", "2:7.4.052-1ubuntu1"},
	}
	cmp := debComparer{"Debian"}
	for _, p := range less {
		if c, err := cmp.Compare(p[0], p[1]); c != -1 || err != nil {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", p[0], p[1], c, err)
		}
		if c, err := cmp.Compare(p[1], p[0]); c != 1 || err != nil {
			t.Errorf("Compare(%q, %q) = %d, %v; want 1", p[1], p[0], c, err)
		}
	}
	for _, p := range [][2]string{
		{"6.4.052", "7.4.052"}, {"6.4.052", "6.5.052"}, {"6.4.052", "6.4.053"},
		{"1ubuntu1", "1ubuntu3.1"}, {"1", "1ubuntu1"}, {"7.4.027", "7.4.052"},
	} {
		if c := verrevcmp(p[0], p[1]); c != -1 {
			t.Errorf("verrevcmp(%q, %q) = %d, want -1", p[0], p[1], c)
		}
	}
	if c := verrevcmp("1+deb9u1build0.16.4.1", "1+deb9u1build0.16.04.1"); c != 0 {
		t.Errorf("leading zeros: %d", c)
	}
	for v, ok := range map[string]bool{
		"1.2.3": true, "1:1.2.3": true, "A:1.2.3": false, "-1:1.2.3": false, "6.0-4.el6.x86_64": true,
		"6.0-9ubuntu1.5": true, "2:7.4.052-1ubuntu3.1": true, "2:-1ubuntu3.1": false,
		"2:A7.4.052-1ubuntu3.1": false, "2:7.4.!052-1ubuntu3.1": false, "7.4.052-!1ubuntu3.1": false,
		"+1:1.0": true, "-0:1.0": true, "1:2:3": true, "1.0-": true, "1.0_1-a_b": true,
	} {
		if err := cmp.Valid(v); (err == nil) != ok {
			t.Errorf("Valid(%q) = %v, want valid %v", v, err, ok)
		}
		sameAnswer(t, cmp, libDebComparer{"Debian"}, v, "1.0")
	}
}

// osvVersions collects every event version and listed version in the OSV
// files under dir, skipping the test when the shared data is absent.
func osvVersions(t *testing.T, dir string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("cross-check against the shared advisory data skipped in -short mode")
	}
	root := filepath.Join("..", "..", "..", "..", "shared", "data", dir)
	if _, err := os.Stat(root); err != nil {
		t.Skipf("shared data not present at %s", root)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		isJSON := strings.HasSuffix(path, ".json")
		if err != nil || d.IsDir() || !isJSON && !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rec struct {
			Affected []struct {
				Ranges []struct {
					Events []map[string]string `json:"events" yaml:"events"`
				} `json:"ranges" yaml:"ranges"`
				Versions []string `json:"versions" yaml:"versions"`
			} `json:"affected" yaml:"affected"`
		}
		unmarshal := yaml.Unmarshal
		if isJSON {
			unmarshal = json.Unmarshal
		}
		if unmarshal(b, &rec) != nil {
			return nil
		}
		for _, a := range rec.Affected {
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					for _, v := range e {
						seen[v] = true
					}
				}
			}
			for _, v := range a.Versions {
				seen[v] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Skipf("no versions under %s", root)
	}
	return out
}

// crossCheck compares every version with its neighbours in sorted order
// (the hard cases: long shared prefixes) and with random others.
func crossCheck(t *testing.T, got, want Comparer, vs []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i, a := range vs {
		for j := i; j < min(i+8, len(vs)); j++ {
			sameAnswer(t, got, want, a, vs[j])
			sameAnswer(t, got, want, vs[j], a)
			n += 2
		}
		for range 24 {
			sameAnswer(t, got, want, a, vs[r.IntN(len(vs))])
			n++
		}
	}
	t.Logf("%d versions, %d pairs agree with the library", len(vs), n)
}

func TestDebMatchesLibraryOnAdvisories(t *testing.T) {
	vs := osvVersions(t, "debian/osv")
	crossCheck(t, debComparer{"Debian:12"}, libDebComparer{"Debian:12"}, vs)
	checkAffectedMatches(t, debComparer{"Debian:12"}, libDebComparer{"Debian:12"}, vs)
}

func TestRPMMatchesLibraryOnAdvisories(t *testing.T) {
	vs := osvVersions(t, "vulndata/osv-almalinux")
	crossCheck(t, rpmComparer{"AlmaLinux:9"}, libRPMComparer{"AlmaLinux:9"}, vs)
	checkAffectedMatches(t, rpmComparer{"AlmaLinux:9"}, libRPMComparer{"AlmaLinux:9"}, vs)
}

func TestPEP440MatchesLibraryOnAdvisories(t *testing.T) {
	vs := osvVersions(t, "vulndata/osv-pypi")
	// The library takes microseconds per comparison: a fifth is plenty.
	for i := range len(vs) / 5 {
		vs[i] = vs[i*5]
	}
	vs = vs[:len(vs)/5]
	crossCheck(t, pep440Comparer{"PyPI"}, libPEP440Comparer{"PyPI"}, vs)
	checkAffectedMatches(t, pep440Comparer{"PyPI"}, libPEP440Comparer{"PyPI"}, vs)
}

// checkAffectedMatches evaluates random ranges built from real versions
// with the parse-once Affected and with the generic one over the library
// comparer: same answers, same errors.
func checkAffectedMatches(t *testing.T, got, want Comparer, vs []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	pick := func() string { return vs[r.IntN(len(vs))] }
	for range 20000 {
		var evs []Event
		for k := range 1 + r.IntN(5) {
			switch x := r.IntN(10); {
			case k == 0 && x < 5:
				evs = append(evs, Event{Introduced: "0"})
			case x < 4:
				evs = append(evs, Event{Introduced: pick()})
			case x < 8:
				evs = append(evs, Event{Fixed: pick()})
			case x < 9:
				evs = append(evs, Event{LastAffected: pick()})
			default:
				evs = append(evs, Event{Limit: pick()})
			}
		}
		ranges := []Range{{Type: RangeEcosystem, Events: evs}}
		v := pick()
		g, gerr := Affected(got, v, ranges, nil)
		w, werr := Affected(want, v, ranges, nil)
		if g != w || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("Affected(%q, %+v) = %v, %v; library %v, %v", v, evs, g, gerr, w, werr)
		}
	}
}

func TestParseCacheBounded(t *testing.T) {
	c := newParseCache[int](4)
	for i := range 10 {
		c.put(strings.Repeat("x", i), i)
		if c.len() > 4 {
			t.Fatalf("cache holds %d entries, max 4", c.len())
		}
	}
	if v, ok := c.get("xxxxxxxxx"); !ok || v != 9 {
		t.Fatalf("get = %d, %v", v, ok)
	}
}

func fuzzMatchesLibrary(f *testing.F, got, want Comparer, seeds ...string) {
	for _, a := range seeds {
		for _, b := range seeds {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sameAnswer(t, got, want, a, b)
		for _, ev := range []Event{{Fixed: b}, {Introduced: b}, {LastAffected: b}, {Limit: b}} {
			ranges := []Range{{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, ev}}}
			g, gerr := Affected(got, a, ranges, nil)
			w, werr := Affected(want, a, ranges, nil)
			if g != w || !errors.Is(gerr, ErrInvalidVersion) != !errors.Is(werr, ErrInvalidVersion) || (gerr == nil) != (werr == nil) {
				t.Fatalf("Affected(%q, %+v) = %v, %v; library %v, %v", a, ranges, g, gerr, w, werr)
			}
		}
	})
}

func FuzzDebMatchesLibrary(f *testing.F) {
	fuzzMatchesLibrary(f, debComparer{"Debian"}, libDebComparer{"Debian"},
		"1.0~rc1", "1:2.3-4", "2.38.1-5+deb12u1", "1.0-1~bpo", "0.0~git20230101.1", "1.0a", "1.0+", "1:0")
}

func FuzzRPMMatchesLibrary(f *testing.F) {
	fuzzMatchesLibrary(f, rpmComparer{"Red Hat"}, libRPMComparer{"Red Hat"},
		"1.0~rc1", "1:1.1.1k-7.el8_6", "1.0^git1", "2.28-151.el8_7.1", "1.0a", "007", "1.0_1")
}

func FuzzAPKMatchesLibrary(f *testing.F) {
	fuzzMatchesLibrary(f, apkComparer{"Alpine"}, libAPKComparer{"Alpine"},
		"1.2.3_rc1", "1.2.3-r1", "1.2.3_p1", "1.2a", "01.2", "1.2.3_alpha2_p1-r3", "0.0")
}

func FuzzPEP440MatchesLibrary(f *testing.F) {
	fuzzMatchesLibrary(f, pep440Comparer{"PyPI"}, libPEP440Comparer{"PyPI"},
		"1.0.dev1", "1.0a1", "1!2.0", "1.0.post1", "1.0+local.1", "v1.0", "1.0-1")
}

// TestPEP440KeyOfNormalForms checks that every normal form of the test
// versions reads back into a key (no silent fallback to the library).
func TestPEP440KeyOfNormalForms(t *testing.T) {
	for _, v := range []string{"1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0b1", "1.0rc1", "1.0", "1.0.post1.dev1",
		"1.0.post1", "1!0.1", "1.0+local.1", "1.0+abc-def.7", "0", "0.0.0", "1.0-1", "v2.0rc0", "1.0.dev"} {
		pv, err := pep440Comparer{"PyPI"}.parse(v)
		if err != nil || !pv.keyOK {
			t.Errorf("parse(%q) = %+v, %v; want a key", v, pv, err)
		}
	}
}

func BenchmarkComparePyPIParsed(b *testing.B) {
	c := pep440Comparer{"PyPI"}
	x, _ := c.parse(benchPairs["PyPI"][0])
	y, _ := c.parse(benchPairs["PyPI"][1])
	b.ReportAllocs()
	for b.Loop() {
		c.compareParsed(x, y)
	}
}

// TestPEP440CacheConcurrent shares cached versions between goroutines (run
// with -race).
func TestPEP440CacheConcurrent(t *testing.T) {
	c := pep440Comparer{"PyPI"}
	vs := []string{"1.0", "1.0rc1", "1.0.post1", "2!1.0", "1.0+local.7", "0.9.dev3"}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			defer func() { done <- true }()
			for i := range 200 {
				a, b := vs[(g+i)%len(vs)], vs[i%len(vs)]
				got, err := c.Compare(a, b)
				want, _ := libPEP440Comparer{"PyPI"}.Compare(a, b)
				if err != nil || got != want {
					t.Errorf("Compare(%q, %q) = %d, %v; library %d", a, b, got, err, want)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
