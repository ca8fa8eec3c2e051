package queue

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode: a damaged queue record is an error, never a panic, and a
// record that decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encode(&Item{Kind: "container", Class: ClassEvent, Key: "abc", Payload: []byte(`{"x":1}`), Queued: time.Unix(1, 2)}))
	f.Add(encode(&Item{Kind: "", Class: ClassBulk}))
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decode(1, b)
		if err != nil {
			return
		}
		if got := encode(&it); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}
