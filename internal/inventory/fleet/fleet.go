// Package fleet is the inventory server's in-memory index of containers:
// the attributes the container search and the impact query filter, group
// and order by (host, image, state, labels, lifecycle times), with a
// compressed bitmap (roaring) per image, host, state and label, so that a
// query costs a few bitmap operations and one pass over its matches
// instead of index probes per matching row. 100,000 containers take
// about 40 MB.
//
// The index holds nothing the database lacks: the store loads it on first
// use and keeps it current from the database's change numbers
// (store.SQL.fleet), so every server sharing a PostgreSQL database sees
// every other server's writes.
//
// It imports the standard library, roaring and internal/inventory/selector.
package fleet

import (
	"cmp"
	"container/heap"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
)

// Container is what the index keeps of a container.
type Container struct {
	ID, Name, Host, ImageID, ImageRef, State string
	Labels                                   map[string]string
	// Unix nanoseconds; 0 when unknown (Created) or not yet (Destroyed).
	Created, FirstSeen, Destroyed int64
}

type kv struct{ k, v uint32 }

type rec struct {
	id, name, imageRef      string
	host, image, state      uint32
	labels                  []kv
	created, firstSeen, des int64
}

// Index is safe for concurrent use: queries share a read lock, updates
// take the write lock.
type Index struct {
	mu      sync.RWMutex
	names   map[string]uint32 // interned strings
	strs    []string
	recs    []rec // by slot
	free    []uint32
	byID    map[string]uint32
	all     *roaring.Bitmap
	byImage map[uint32]*roaring.Bitmap
	byHost  map[uint32]*roaring.Bitmap
	byState map[uint32]*roaring.Bitmap
	byLabel map[kv]*roaring.Bitmap
	byKey   map[uint32]*roaring.Bitmap
}

// New returns an empty index.
func New() *Index {
	return &Index{
		names: map[string]uint32{}, byID: map[string]uint32{}, all: roaring.New(),
		byImage: map[uint32]*roaring.Bitmap{}, byHost: map[uint32]*roaring.Bitmap{}, byState: map[uint32]*roaring.Bitmap{},
		byLabel: map[kv]*roaring.Bitmap{}, byKey: map[uint32]*roaring.Bitmap{},
	}
}

// Len is the number of containers indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

func (ix *Index) intern(s string) uint32 {
	if n, ok := ix.names[s]; ok {
		return n
	}
	n := uint32(len(ix.strs))
	ix.strs = append(ix.strs, s)
	ix.names[s] = n
	return n
}

func (ix *Index) lookup(s string) (uint32, bool) {
	n, ok := ix.names[s]
	return n, ok
}

func add[K comparable](m map[K]*roaring.Bitmap, k K, slot uint32) {
	b := m[k]
	if b == nil {
		b = roaring.New()
		m[k] = b
	}
	b.Add(slot)
}

func remove[K comparable](m map[K]*roaring.Bitmap, k K, slot uint32) {
	if b := m[k]; b != nil {
		b.Remove(slot)
		if b.IsEmpty() {
			delete(m, k)
		}
	}
}

// Upsert adds a container or replaces what the index holds of it.
func (ix *Index) Upsert(cs ...Container) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range cs {
		ix.upsert(&cs[i])
	}
}

func (ix *Index) upsert(c *Container) {
	slot, ok := ix.byID[c.ID]
	if ok {
		ix.unlink(slot)
	} else {
		if n := len(ix.free); n > 0 {
			slot, ix.free = ix.free[n-1], ix.free[:n-1]
		} else {
			slot = uint32(len(ix.recs))
			ix.recs = append(ix.recs, rec{})
		}
		ix.byID[c.ID] = slot
		ix.all.Add(slot)
	}
	r := rec{id: c.ID, name: c.Name, imageRef: c.ImageRef, host: ix.intern(c.Host), image: ix.intern(c.ImageID),
		state: ix.intern(c.State), created: c.Created, firstSeen: c.FirstSeen, des: c.Destroyed}
	if len(c.Labels) > 0 {
		r.labels = make([]kv, 0, len(c.Labels))
		for k, v := range c.Labels {
			r.labels = append(r.labels, kv{ix.intern(k), ix.intern(v)})
		}
		slices.SortFunc(r.labels, func(a, b kv) int { return cmp.Compare(a.k, b.k) })
	}
	ix.recs[slot] = r
	add(ix.byImage, r.image, slot)
	add(ix.byHost, r.host, slot)
	add(ix.byState, r.state, slot)
	for _, l := range r.labels {
		add(ix.byLabel, l, slot)
		add(ix.byKey, l.k, slot)
	}
}

// unlink takes a slot out of every per-attribute bitmap.
func (ix *Index) unlink(slot uint32) {
	r := &ix.recs[slot]
	remove(ix.byImage, r.image, slot)
	remove(ix.byHost, r.host, slot)
	remove(ix.byState, r.state, slot)
	for _, l := range r.labels {
		remove(ix.byLabel, l, slot)
		remove(ix.byKey, l.k, slot)
	}
}

// Delete removes containers by id; unknown ids are ignored.
func (ix *Index) Delete(ids ...string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, id := range ids {
		slot, ok := ix.byID[id]
		if !ok {
			continue
		}
		ix.unlink(slot)
		ix.recs[slot] = rec{}
		ix.all.Remove(slot)
		delete(ix.byID, id)
		ix.free = append(ix.free, slot)
	}
}

// Query selects containers. Zero fields select everything.
type Query struct {
	Selector selector.Selector
	// Images, when non-nil, keeps containers of these image ids only (an
	// empty non-nil map keeps none).
	Images map[string]bool
	Host   string
	// States, when non-empty, keeps containers in one of these states.
	States []string
	// Since and Until (Unix nanoseconds) keep containers that existed at
	// some time in [Since, Until]: created (else first seen) at or before
	// Until, not destroyed before Since.
	Since, Until int64
}

// match returns the slots q selects; the caller holds the read lock.
func (ix *Index) match(q *Query) *roaring.Bitmap {
	var pos, neg []*roaring.Bitmap
	none := false
	need := func(b *roaring.Bitmap) {
		if b == nil {
			none = true
			return
		}
		pos = append(pos, b)
	}
	union := func(bs []*roaring.Bitmap) *roaring.Bitmap {
		switch len(bs) {
		case 0:
			return nil
		case 1:
			return bs[0]
		}
		return roaring.FastOr(bs...)
	}
	labelSet := func(r selector.Requirement) []*roaring.Bitmap {
		k, ok := ix.lookup(r.Key)
		if !ok {
			return nil
		}
		var bs []*roaring.Bitmap
		for _, v := range r.Values {
			if vi, ok := ix.lookup(v); ok {
				if b := ix.byLabel[kv{k, vi}]; b != nil {
					bs = append(bs, b)
				}
			}
		}
		return bs
	}
	for _, r := range q.Selector {
		switch r.Op {
		case selector.Equals, selector.In:
			need(union(labelSet(r)))
		case selector.NotEquals, selector.NotIn:
			if b := union(labelSet(r)); b != nil {
				neg = append(neg, b)
			}
		case selector.Exists:
			if k, ok := ix.lookup(r.Key); ok {
				need(ix.byKey[k])
			} else {
				none = true
			}
		case selector.NotExists:
			if k, ok := ix.lookup(r.Key); ok && ix.byKey[k] != nil {
				neg = append(neg, ix.byKey[k])
			}
		}
	}
	// A few images: OR their bitmaps. Many (a vulnerability in much of
	// the fleet): check each candidate's image in the filtering pass below,
	// which costs one array lookup per candidate instead of merging
	// thousands of small bitmaps.
	var wantImage []bool
	if q.Images != nil && len(q.Images) <= manyImages {
		var bs []*roaring.Bitmap
		for id := range q.Images {
			if n, ok := ix.lookup(id); ok && ix.byImage[n] != nil {
				bs = append(bs, ix.byImage[n])
			}
		}
		need(union(bs))
	} else if q.Images != nil {
		wantImage = make([]bool, len(ix.strs))
		any := false
		for id := range q.Images {
			if n, ok := ix.lookup(id); ok && ix.byImage[n] != nil {
				wantImage[n], any = true, true
			}
		}
		if !any {
			none = true
		}
	}
	if q.Host != "" {
		var b *roaring.Bitmap
		if n, ok := ix.lookup(q.Host); ok {
			b = ix.byHost[n]
		}
		need(b)
	}
	if len(q.States) > 0 {
		var bs []*roaring.Bitmap
		for _, s := range q.States {
			if n, ok := ix.lookup(s); ok && ix.byState[n] != nil {
				bs = append(bs, ix.byState[n])
			}
		}
		need(union(bs))
	}
	if none {
		return roaring.New()
	}
	var out *roaring.Bitmap
	if len(pos) == 0 {
		out = ix.all.Clone()
	} else {
		slices.SortFunc(pos, func(a, b *roaring.Bitmap) int { return cmp.Compare(a.GetCardinality(), b.GetCardinality()) })
		out = pos[0].Clone()
		for _, b := range pos[1:] {
			out.And(b)
		}
	}
	for _, b := range neg {
		out.AndNot(b)
	}
	if wantImage == nil && q.Since == 0 && q.Until == 0 {
		return out
	}
	kept := make([]uint32, 0, out.GetCardinality())
	it := out.Iterator()
	for it.HasNext() {
		s := it.Next()
		r := &ix.recs[s]
		if wantImage != nil && !wantImage[r.image] {
			continue
		}
		born := r.created
		if born == 0 {
			born = r.firstSeen
		}
		if (q.Until != 0 && born > q.Until) || (q.Since != 0 && r.des != 0 && r.des < q.Since) {
			continue
		}
		kept = append(kept, s)
	}
	return roaring.BitmapOf(kept...)
}

// manyImages is the size of an image set above which match tests each
// candidate's image instead of merging the images' bitmaps.
var manyImages = 64

func (ix *Index) container(slot uint32) Container {
	r := &ix.recs[slot]
	c := Container{ID: r.id, Name: r.name, Host: ix.strs[r.host], ImageID: ix.strs[r.image], ImageRef: r.imageRef,
		State: ix.strs[r.state], Created: r.created, FirstSeen: r.firstSeen, Destroyed: r.des}
	if len(r.labels) > 0 {
		c.Labels = make(map[string]string, len(r.labels))
		for _, l := range r.labels {
			c.Labels[ix.strs[l.k]] = ix.strs[l.v]
		}
	}
	return c
}

// Count returns how many containers q selects.
func (ix *Index) Count(q Query) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(ix.match(&q).GetCardinality())
}

// Page returns how many containers q selects and the ids of those at
// [offset, offset+limit) in id order.
func (ix *Index) Page(q Query, offset, limit int) (int, []string) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.match(&q)
	total := int(m.GetCardinality())
	offset = max(offset, 0)
	if limit <= 0 || offset >= total {
		return total, []string{}
	}
	keep := offset + limit
	less := func(a, b uint32) bool { return ix.recs[a].id < ix.recs[b].id }
	h := &topK{less: less}
	it := m.Iterator()
	for it.HasNext() {
		h.offer(it.Next(), keep)
	}
	slots := h.sorted()
	if offset >= len(slots) {
		return total, []string{}
	}
	slots = slots[offset:]
	ids := make([]string, len(slots))
	for i, s := range slots {
		ids[i] = ix.recs[s].id
	}
	return total, ids
}

// Count is a number of containers per image or host.
type Count struct {
	Key string
	N   int
}

// Impact is the container side of an impact answer.
type Impact struct {
	Total int
	// PerImage and PerHost count the selected containers, in key order.
	PerImage, PerHost []Count
	// Containers are the first ones in (image id, id) order.
	Containers []Container
}

// Impact selects the containers q selects (q.Images being the affected
// images), counts them per image and per host, and returns the first
// limit of them in (image id, id) order. Counting is one pass over the
// matches into arrays indexed by interned string.
func (ix *Index) Impact(q Query, limit int) Impact {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.match(&q)
	out := Impact{Total: int(m.GetCardinality())}
	counts := make([]int32, len(ix.strs))
	var images, hosts []uint32
	it := m.Iterator()
	for it.HasNext() {
		r := &ix.recs[it.Next()]
		if counts[r.image] == 0 {
			images = append(images, r.image)
		}
		counts[r.image]++
		// Hosts and images are distinct strings ("sha256:…" against a
		// host name) except in contrived data; count hosts apart.
	}
	out.PerImage = ix.sortedCounts(images, counts)
	clear(counts)
	it = m.Iterator()
	for it.HasNext() {
		r := &ix.recs[it.Next()]
		if counts[r.host] == 0 {
			hosts = append(hosts, r.host)
		}
		counts[r.host]++
	}
	out.PerHost = ix.sortedCounts(hosts, counts)
	// The first containers: walk the images in id order.
	for _, pi := range out.PerImage {
		if len(out.Containers) >= limit {
			break
		}
		n, _ := ix.lookup(pi.Key)
		in := roaring.And(ix.byImage[n], m)
		slots := in.ToArray()
		slices.SortFunc(slots, func(a, b uint32) int { return cmp.Compare(ix.recs[a].id, ix.recs[b].id) })
		for _, s := range slots[:min(len(slots), limit-len(out.Containers))] {
			out.Containers = append(out.Containers, ix.container(s))
		}
	}
	return out
}

func (ix *Index) sortedCounts(keys []uint32, counts []int32) []Count {
	out := make([]Count, len(keys))
	for i, k := range keys {
		out[i] = Count{ix.strs[k], int(counts[k])}
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// topK keeps the k smallest slots by less: a max-heap whose root is the
// largest kept.
type topK struct {
	less  func(a, b uint32) bool
	items []uint32
}

func (h *topK) Len() int           { return len(h.items) }
func (h *topK) Less(i, j int) bool { return h.less(h.items[j], h.items[i]) }
func (h *topK) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topK) Push(x any)         { h.items = append(h.items, x.(uint32)) }
func (h *topK) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

func (h *topK) offer(s uint32, k int) {
	if len(h.items) < k {
		heap.Push(h, s)
		return
	}
	if h.less(s, h.items[0]) {
		h.items[0] = s
		heap.Fix(h, 0)
	}
}

func (h *topK) sorted() []uint32 {
	out := slices.Clone(h.items)
	slices.SortFunc(out, func(a, b uint32) int {
		switch {
		case h.less(a, b):
			return -1
		case h.less(b, a):
			return 1
		}
		return 0
	})
	return out
}
