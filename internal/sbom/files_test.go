package sbom

import (
	"encoding/json"
	"testing"
)

func TestFileModeJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FileMode
		err  bool
	}{
		{`"0755"`, 0o755, false},
		{`"755"`, 0o755, false},
		{`"4755"`, 0o4755, false},
		{`"0"`, 0, false},
		{`"7777"`, 0o7777, false},
		{`"10000"`, 0, true},
		{`"0x1ed"`, 0, true},
		{`"-1"`, 0, true},
		{`"0758"`, 0, true},
		{`493`, 0, true},
		{`""`, 0, true},
		{`null`, 0, true},
	} {
		var m FileMode
		err := json.Unmarshal([]byte(tc.in), &m)
		if (err != nil) != tc.err || m != tc.want {
			t.Errorf("%s: got %o, %v; want %o, error %v", tc.in, m, err, tc.want, tc.err)
		}
	}
	for m, want := range map[FileMode]string{0o755: `"0755"`, 0o4750: `"4750"`, 0: `"0000"`, 0o7: `"0007"`} {
		b, err := json.Marshal(m)
		if err != nil || string(b) != want {
			t.Errorf("%o: got %s, %v; want %s", uint32(m), b, err, want)
		}
	}
	if _, err := json.Marshal(FileMode(0o10000)); err == nil {
		t.Error("a mode with type bits was marshalled")
	}
	if !FileMode(0o4710).Executable() || FileMode(0o4644).Executable() {
		t.Error("Executable ignores or invents x bits")
	}
}

// FuzzFileModeJSON: whatever UnmarshalJSON accepts marshals back to a
// string that reads as the same mode.
func FuzzFileModeJSON(f *testing.F) {
	for _, s := range []string{`"0755"`, `"7777"`, `"08"`, `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m FileMode
		if m.UnmarshalJSON(b) != nil {
			return
		}
		out, err := m.MarshalJSON()
		if err != nil {
			t.Fatalf("accepted %q but cannot write %o: %v", b, uint32(m), err)
		}
		var back FileMode
		if err := back.UnmarshalJSON(out); err != nil || back != m {
			t.Fatalf("%q → %s → %o, %v", b, out, uint32(back), err)
		}
	})
}
