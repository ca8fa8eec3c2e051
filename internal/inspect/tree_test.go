package inspect

import (
	"bytes"
	"io"
	"testing"
)

// TestHeadCache checks every read through the cache against the file.
func TestHeadCache(t *testing.T) {
	for _, size := range []int{0, 10, 4096, 5000, 70000, 200000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		c := &headCache{r: bytes.NewReader(data), size: int64(size)}
		for _, off := range []int{0, 1, 4000, 4096, 5000, size - 70000, size - 65536, size - 100, size - 1, size, size + 5} {
			for _, n := range []int{1, 16, 64, 4096, 10000} {
				if off < 0 {
					continue
				}
				got := make([]byte, n)
				gn, gerr := c.ReadAt(got, int64(off))
				want := make([]byte, n)
				wn, werr := bytes.NewReader(data).ReadAt(want, int64(off))
				if gn != wn || !bytes.Equal(got[:gn], want[:wn]) || (gerr == io.EOF) != (werr == io.EOF) {
					t.Fatalf("size %d off %d n %d: got %d %v, want %d %v", size, off, n, gn, gerr, wn, werr)
				}
			}
		}
	}
}
