package watcher

import "testing"

// FuzzParseCursor: a damaged stored cursor is an error, never a panic, and
// a parsed one survives a round trip.
func FuzzParseCursor(f *testing.F) {
	f.Add([]byte(`{"timeNano":1800000000000000000,"seen":["1/abc/start"]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"timeNano":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCursor(b)
		if err != nil {
			return
		}
		back, err := ParseCursor(c.Marshal())
		if err != nil || back.TimeNano != c.TimeNano || len(back.Seen) != len(c.Seen) {
			t.Fatalf("round trip: %+v → %+v (%v)", c, back, err)
		}
	})
}
