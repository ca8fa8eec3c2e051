package queue

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkAppendAck measures one event batch's round trip through the
// queue: append (one fsync'd transaction), peek, ack — with and without
// fsync, side by side. Items are 1 KiB, the size of a container record.
func BenchmarkAppendAck(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, n := range []int{1, 64} {
			b.Run("fsync="+strconv.FormatBool(sync)+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				q, err := Open(filepath.Join(b.TempDir(), "q.db"), Options{NoSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				defer q.Close()
				payload := make([]byte, 1024)
				b.SetBytes(int64(n * len(payload)))
				for b.Loop() {
					items := make([]Item, n)
					for i := range items {
						items[i] = Item{Kind: "container", Class: ClassEvent, Payload: payload}
					}
					if err := q.Append(items, nil); err != nil {
						b.Fatal(err)
					}
					got, err := q.Peek(n, 1<<30)
					if err != nil || len(got) != n {
						b.Fatal(err, len(got))
					}
					seqs := make([]uint64, n)
					for i, it := range got {
						seqs[i] = it.Seq
					}
					if err := q.Ack(seqs...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
