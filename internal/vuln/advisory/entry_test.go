package advisory

import "testing"

func TestEntryVersions(t *testing.T) {
	a := Advisory{ID: "X", Affected: []Affected{{Ecosystem: "PyPI", Package: "p", Versions: []string{"1.0", "1.0.1", "2"}}, {Ecosystem: "PyPI", Package: "q"}}}
	es := a.Entries()
	for _, tc := range []struct {
		v    string
		want bool
	}{{"1.0", true}, {"1.0.1", true}, {"2", true}, {"1", false}, {"1.0.", false}, {"", false}} {
		if got := es[0].HasVersion(tc.v); got != tc.want {
			t.Errorf("HasVersion(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if es[1].HasVersion("") || es[1].HasVersion("1.0") {
		t.Error("an entry without versions lists none")
	}
}
