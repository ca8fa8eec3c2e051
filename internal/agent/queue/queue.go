// Package queue is the agent's on-disk outbox: every item the agent wants
// the server to have is written here first, in one bbolt file, with a
// per-agent sequence number that only grows, and is removed only when the
// server has acknowledged it. Delivery (deliver.go) is therefore
// at-least-once; the server de-duplicates by (agent, seq).
//
// The queue is bounded. When it is full, the oldest re-creatable or
// superseded items go first and container lifecycle events last; every drop
// is logged with its sequence number and counted, never silent.
//
// It imports the standard library and bbolt only.
package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Class says how much an item matters when the queue must drop something.
// Lower classes are dropped first.
type Class uint8

const (
	// ClassBulk items can be produced again (an image SBOM is re-scanned,
	// a host scan re-run): dropped first, and the owner is told.
	ClassBulk Class = 1
	// ClassState items describe current state (a container's attributes);
	// a later item with the same key supersedes them.
	ClassState Class = 2
	// ClassEvent items record something that happened (a container
	// started or died) and cannot be observed again: dropped last.
	ClassEvent Class = 3
)

func (c Class) String() string {
	switch c {
	case ClassBulk:
		return "bulk"
	case ClassState:
		return "state"
	case ClassEvent:
		return "event"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Item is one queued record.
type Item struct {
	// Seq is assigned by Append: per queue file, strictly increasing, never
	// reused (kept in the file across restarts).
	Seq uint64
	// Kind names the payload's type for the consumer ("container", ...).
	Kind  string
	Class Class
	// Key identifies what the item describes (a container id, an image
	// id); an older item is superseded by a newer one with the same
	// non-empty key and class.
	Key     string
	Payload []byte
	// Queued is when the item was appended.
	Queued time.Time
}

func (it *Item) size() int64 { return int64(len(it.Payload) + len(it.Key) + len(it.Kind) + 32) }

// Options bound the queue.
type Options struct {
	// MaxBytes bounds the payload bytes held (default 256 MiB).
	MaxBytes int64
	// MaxItems bounds the number of items held (default 1,000,000).
	MaxItems int
	Logger   *slog.Logger
	// OnDrop is called (outside any lock) for every item dropped to make
	// room, so its producer can redo it later (re-scan an image).
	OnDrop func(Item)
	// NoSync skips fsync on commit: for benchmarks only.
	NoSync bool
}

// Stats describe the queue.
type Stats struct {
	Items   int    `json:"items"`
	Bytes   int64  `json:"bytes"`
	NextSeq uint64 `json:"nextSeq"`
	// Dropped counts items dropped to make room since the file was created.
	Dropped uint64 `json:"dropped"`
	// Oldest is when the oldest queued item was appended.
	Oldest time.Time `json:"oldest,omitzero"`
}

var (
	bItems = []byte("items") // seq (8 bytes BE) → header + payload
	bState = []byte("state") // caller key → value
	bMeta  = []byte("meta")  // dropped → uint64
	kDrop  = []byte("dropped")
)

// ErrTooLarge is returned for an item that could never fit.
var ErrTooLarge = errors.New("item larger than the queue")

// entry is the in-memory index of one stored item.
type entry struct {
	seq   uint64
	class Class
	key   string
	kind  string
	size  int64
	at    time.Time
	// superseded is set when a newer item has the same class and key.
	superseded bool
}

// Queue is an open on-disk queue. Its methods are safe for concurrent use.
type Queue struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	entries []entry           // by seq, ascending
	latest  map[string]uint64 // class|key → newest seq
	bytes   int64
	dropped uint64
	full    bool // logged "full" and not yet back under the bound
	notify  chan struct{}
}

// Open opens or creates the queue file at path.
func Open(path string, opts Options) (*Queue, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = 1_000_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	q := &Queue{db: db, opts: opts, log: opts.Logger, latest: map[string]uint64{}, notify: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bItems, bState, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bMeta).Get(kDrop); len(v) == 8 {
			q.dropped = binary.BigEndian.Uint64(v)
		}
		return tx.Bucket(bItems).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("bad key %x", k)
			}
			it, err := decode(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			q.index(&it)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	if len(q.entries) > 0 {
		q.signal()
	}
	return q, nil
}

// Close closes the file.
func (q *Queue) Close() error { return q.db.Close() }

func latestKey(c Class, key string) string { return string(rune('0'+c)) + "|" + key }

// index records a stored item in memory (callers hold mu or are in Open).
func (q *Queue) index(it *Item) {
	e := entry{seq: it.Seq, class: it.Class, key: it.Key, kind: it.Kind, size: it.size(), at: it.Queued}
	if it.Key != "" {
		lk := latestKey(it.Class, it.Key)
		if prev, ok := q.latest[lk]; ok {
			if i := q.find(prev); i >= 0 {
				q.entries[i].superseded = true
			}
		}
		q.latest[lk] = it.Seq
	}
	q.entries = append(q.entries, e)
	q.bytes += e.size
}

// find returns the index of seq in entries, or -1.
func (q *Queue) find(seq uint64) int {
	lo, hi := 0, len(q.entries)
	for lo < hi {
		m := (lo + hi) / 2
		if q.entries[m].seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(q.entries) && q.entries[lo].seq == seq {
		return lo
	}
	return -1
}

// remove forgets the entries whose seqs are in set, in one pass (callers
// hold mu).
func (q *Queue) remove(set map[uint64]bool) {
	if len(set) == 0 {
		return
	}
	kept := q.entries[:0]
	for _, e := range q.entries {
		if !set[e.seq] {
			kept = append(kept, e)
			continue
		}
		q.bytes -= e.size
		if e.key != "" {
			lk := latestKey(e.class, e.key)
			if q.latest[lk] == e.seq {
				delete(q.latest, lk)
			}
		}
	}
	clear(q.entries[len(kept):])
	q.entries = kept
}

// Append stores items in one transaction, assigning each its sequence
// number (written back into items), together with state updates (nil value
// deletes). When it returns nil the items are on disk.
func (q *Queue) Append(items []Item, state map[string][]byte) error {
	var need int64
	for i := range items {
		if items[i].Class < ClassBulk || items[i].Class > ClassEvent {
			return fmt.Errorf("queue: item %q: invalid class %d", items[i].Kind, items[i].Class)
		}
		if items[i].size() > q.opts.MaxBytes {
			return fmt.Errorf("queue: %s %s is %d bytes, the queue holds %d: %w", items[i].Kind, items[i].Key, items[i].size(), q.opts.MaxBytes, ErrTooLarge)
		}
		need += items[i].size()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	victims := q.choose(need, len(items))
	now := time.Now()
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		var kb [8]byte
		for _, v := range victims {
			binary.BigEndian.PutUint64(kb[:], v.seq)
			if err := b.Delete(kb[:]); err != nil {
				return err
			}
		}
		if len(victims) > 0 {
			var db [8]byte
			binary.BigEndian.PutUint64(db[:], q.dropped+uint64(len(victims)))
			if err := tx.Bucket(bMeta).Put(kDrop, db[:]); err != nil {
				return err
			}
		}
		for i := range items {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			items[i].Seq = seq
			if items[i].Queued.IsZero() {
				items[i].Queued = now
			}
			binary.BigEndian.PutUint64(kb[:], seq)
			if err := b.Put(kb[:], encode(&items[i])); err != nil {
				return err
			}
		}
		st := tx.Bucket(bState)
		for k, v := range state {
			var err error
			if v == nil {
				err = st.Delete([]byte(k))
			} else {
				err = st.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := range items {
			items[i].Seq = 0
		}
		return fmt.Errorf("queue: append: %w", err)
	}
	dropped := q.applyDrops(victims)
	for i := range items {
		q.index(&items[i])
	}
	if len(items) > 0 {
		q.signal()
	}
	if len(dropped) > 0 && q.opts.OnDrop != nil {
		// Outside the write transaction but under mu: OnDrop must not call
		// back into the queue synchronously.
		go func() {
			for _, d := range dropped {
				q.opts.OnDrop(d)
			}
		}()
	}
	return nil
}

// choose picks the entries to drop so that n more items of need bytes fit
// (callers hold mu). Order: superseded items, then bulk, then state, then
// events; oldest first within each.
func (q *Queue) choose(need int64, n int) []entry {
	overBytes := q.bytes + need - q.opts.MaxBytes
	overItems := len(q.entries) + n - q.opts.MaxItems
	if overBytes <= 0 && overItems <= 0 {
		if q.full {
			q.full = false
			q.log.Info("agent queue has room again", "items", len(q.entries), "bytes", q.bytes)
		}
		return nil
	}
	if !q.full {
		q.full = true
		q.log.Warn("agent queue full: dropping the oldest superseded and re-creatable items first, container events last",
			"items", len(q.entries), "bytes", q.bytes, "max_items", q.opts.MaxItems, "max_bytes", q.opts.MaxBytes)
	}
	var victims []entry
	taken := map[uint64]bool{}
	pick := func(match func(e *entry) bool) {
		for i := range q.entries {
			if overBytes <= 0 && overItems <= 0 {
				return
			}
			e := &q.entries[i]
			if taken[e.seq] || !match(e) {
				continue
			}
			taken[e.seq] = true
			victims = append(victims, *e)
			overBytes -= e.size
			overItems--
		}
	}
	pick(func(e *entry) bool { return e.superseded })
	pick(func(e *entry) bool { return e.class == ClassBulk })
	pick(func(e *entry) bool { return e.class == ClassState })
	pick(func(e *entry) bool { return e.class == ClassEvent })
	return victims
}

// applyDrops updates the index after victims were deleted on disk and logs
// each one (callers hold mu).
func (q *Queue) applyDrops(victims []entry) []Item {
	var out []Item
	set := make(map[uint64]bool, len(victims))
	for _, v := range victims {
		set[v.seq] = true
	}
	q.remove(set)
	for _, v := range victims {
		q.dropped++
		reason := "oldest " + v.class.String()
		if v.superseded {
			reason = "superseded by a newer " + v.kind
		}
		q.log.Warn("agent queue full: dropped item", "seq", v.seq, "kind", v.kind, "key", v.key, "class", v.class.String(),
			"reason", reason, "queued", v.at.Format(time.RFC3339), "dropped_total", q.dropped)
		out = append(out, Item{Seq: v.seq, Kind: v.kind, Class: v.class, Key: v.key, Queued: v.at})
	}
	return out
}

func (q *Queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Ready is signalled after items are appended (and once on Open when the
// file holds items). One signal may stand for many appends.
func (q *Queue) Ready() <-chan struct{} { return q.notify }

// Peek returns up to max oldest items whose payloads total at most maxBytes
// (at least one item when any is queued), without removing them.
func (q *Queue) Peek(max int, maxBytes int64) ([]Item, error) {
	q.mu.Lock()
	var seqs []uint64
	var total int64
	for _, e := range q.entries {
		if len(seqs) >= max || (len(seqs) > 0 && total+e.size > maxBytes) {
			break
		}
		seqs = append(seqs, e.seq)
		total += e.size
	}
	q.mu.Unlock()
	if len(seqs) == 0 {
		return nil, nil
	}
	out := make([]Item, 0, len(seqs))
	err := q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		var kb [8]byte
		for _, s := range seqs {
			binary.BigEndian.PutUint64(kb[:], s)
			v := b.Get(kb[:])
			if v == nil {
				continue // dropped or acknowledged meanwhile
			}
			it, err := decode(s, v)
			if err != nil {
				return err
			}
			it.Payload = bytes.Clone(it.Payload)
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: read: %w", err)
	}
	return out, nil
}

// Ack removes delivered items. Sequence numbers no longer queued (dropped
// meanwhile) are ignored.
func (q *Queue) Ack(seqs ...uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		var kb [8]byte
		for _, s := range seqs {
			binary.BigEndian.PutUint64(kb[:], s)
			if err := b.Delete(kb[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: ack: %w", err)
	}
	set := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		set[s] = true
	}
	q.remove(set)
	return nil
}

// Drop removes items that can never be delivered (the server rejected them
// as invalid), logging each: the caller says why.
func (q *Queue) Drop(reason string, items ...Item) error {
	seqs := make([]uint64, len(items))
	for i, it := range items {
		seqs[i] = it.Seq
		q.log.Error("agent queue: dropping item the server will not accept", "seq", it.Seq, "kind", it.Kind, "key", it.Key, "reason", reason)
	}
	if err := q.Ack(seqs...); err != nil {
		return err
	}
	q.mu.Lock()
	q.dropped += uint64(len(items))
	n := q.dropped
	q.mu.Unlock()
	return q.db.Update(func(tx *bolt.Tx) error {
		var db [8]byte
		binary.BigEndian.PutUint64(db[:], n)
		return tx.Bucket(bMeta).Put(kDrop, db[:])
	})
}

// Stats returns the queue's current size.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{Items: len(q.entries), Bytes: q.bytes, Dropped: q.dropped}
	if len(q.entries) > 0 {
		s.Oldest = q.entries[0].at
	}
	_ = q.db.View(func(tx *bolt.Tx) error {
		s.NextSeq = tx.Bucket(bItems).Sequence() + 1
		return nil
	})
	return s
}

// Get returns a state value stored with Append or Set (nil when absent).
func (q *Queue) Get(key string) ([]byte, error) {
	var out []byte
	err := q.db.View(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bState).Get([]byte(key)))
		return nil
	})
	return out, err
}

// Set stores a state value (nil deletes).
func (q *Queue) Set(key string, val []byte) error { return q.Append(nil, map[string][]byte{key: val}) }

// ForEachState calls fn for every state key with the given prefix.
func (q *Queue) ForEachState(prefix string, fn func(key string, val []byte) error) error {
	return q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bState).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// On disk an item is: class (1 byte), queued unix nanoseconds (8 bytes),
// uvarint len + kind, uvarint len + key, payload.
func encode(it *Item) []byte {
	b := make([]byte, 0, 9+2*binary.MaxVarintLen32+len(it.Kind)+len(it.Key)+len(it.Payload))
	b = append(b, byte(it.Class))
	b = binary.BigEndian.AppendUint64(b, uint64(it.Queued.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(it.Kind)))
	b = append(b, it.Kind...)
	b = binary.AppendUvarint(b, uint64(len(it.Key)))
	b = append(b, it.Key...)
	return append(b, it.Payload...)
}

var errCorrupt = errors.New("corrupt queue record")

func decode(seq uint64, v []byte) (Item, error) {
	it := Item{Seq: seq}
	if len(v) < 9 {
		return it, fmt.Errorf("seq %d: %w", seq, errCorrupt)
	}
	it.Class = Class(v[0])
	it.Queued = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))
	v = v[9:]
	str := func() (string, bool) {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			return "", false
		}
		s := string(v[w : w+int(n)])
		v = v[w+int(n):]
		return s, true
	}
	var ok1, ok2 bool
	it.Kind, ok1 = str()
	it.Key, ok2 = str()
	if !ok1 || !ok2 || it.Class < ClassBulk || it.Class > ClassEvent {
		return it, fmt.Errorf("seq %d: %w", seq, errCorrupt)
	}
	it.Payload = v
	return it, nil
}
