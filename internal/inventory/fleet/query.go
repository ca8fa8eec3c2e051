package fleet

import (
	"cmp"
	"container/heap"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
)

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

// match returns the slots q selects; imgs, when non-nil, replaces
// q.Images by a set of interned image ids. The caller holds the read lock.
func (ix *Index) match(q *Query, imgs *roaring.Bitmap) *roaring.Bitmap {
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
	if imgs == nil && q.Images != nil {
		imgs = roaring.New()
		for id := range q.Images {
			if n, ok := ix.lookup(id); ok {
				imgs.Add(n)
			}
		}
	}
	// A few images: OR their bitmaps. Many (a vulnerability in much of
	// the fleet): check each candidate's image in the filtering pass below,
	// which costs one array lookup per candidate instead of merging
	// thousands of small bitmaps.
	var wantImage []bool
	if imgs != nil && imgs.GetCardinality() <= uint64(manyImages) {
		var bs []*roaring.Bitmap
		it := imgs.Iterator()
		for it.HasNext() {
			if b := ix.byImage[it.Next()]; b != nil {
				bs = append(bs, b)
			}
		}
		need(union(bs))
	} else if imgs != nil {
		wantImage = make([]bool, len(ix.strs))
		it := imgs.Iterator()
		for it.HasNext() {
			wantImage[it.Next()] = true
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
	return int(ix.match(&q, nil).GetCardinality())
}

// Page returns how many containers q selects and the ids of those at
// [offset, offset+limit) in id order.
func (ix *Index) Page(q Query, offset, limit int) (int, []string) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.match(&q, nil)
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

// ImpactQuery asks which containers, images and hosts hold any of Keys
// (the package records a vulnerability affects).
type ImpactQuery struct {
	// Query filters the containers; Query.Images, when non-nil, also
	// restricts the images.
	Query
	Keys []string
	// ImagesWithContainers lists only images with a selected container
	// (the caller filters containers and wants images to follow).
	ImagesWithContainers bool
	// HostPackages also counts hosts holding a key in their own packages.
	HostPackages bool
	// Limit bounds each list.
	Limit int
}

// ImageHit is an affected image: its selected containers and the keys it
// holds.
type ImageHit struct {
	ID         string
	Tags       []string
	Containers int
	Keys       []string
}

// HostHit is an affected host: its selected containers and the keys it
// holds itself.
type HostHit struct {
	Name       string
	Containers int
	Keys       []string
}

// Impact is an impact answer with exact totals and the first Limit
// containers (in image id, id order), images and hosts (in id/name order).
type Impact struct {
	Total      int
	Containers []Container
	Images     int
	ImageHits  []ImageHit
	Hosts      int
	HostHits   []HostHit
}

// Impact answers q: the images holding a key, their containers that q
// selects (counted per image and per host in one pass, into arrays
// indexed by interned string), and the hosts running them or holding a
// key.
func (ix *Index) Impact(q ImpactQuery) Impact {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	limit := max(q.Limit, 0)
	imgs := ix.holders(ix.pkgImages, q.Keys)
	if q.Images != nil {
		allowed := roaring.New()
		for id := range q.Images {
			if n, ok := ix.lookup(id); ok {
				allowed.Add(n)
			}
		}
		imgs.And(allowed)
	}
	m := ix.match(&q.Query, imgs)
	out := Impact{Total: int(m.GetCardinality())}
	perImage := make([]int32, len(ix.strs))
	perHost := make([]int32, len(ix.strs))
	var hostIDs []uint32
	it := m.Iterator()
	for it.HasNext() {
		r := &ix.recs[it.Next()]
		perImage[r.image]++
		if perHost[r.host] == 0 {
			hostIDs = append(hostIDs, r.host)
		}
		perHost[r.host]++
	}

	// Images, in id order.
	var imageIDs []uint32
	ii := imgs.Iterator()
	for ii.HasNext() {
		n := ii.Next()
		if q.ImagesWithContainers && perImage[n] == 0 {
			continue
		}
		imageIDs = append(imageIDs, n)
	}
	out.Images = len(imageIDs)
	keyIDs := make([]uint32, 0, len(q.Keys))
	for _, k := range q.Keys {
		if n, ok := ix.lookup(k); ok {
			keyIDs = append(keyIDs, n)
		}
	}
	slices.SortFunc(keyIDs, func(a, b uint32) int { return cmp.Compare(ix.strs[a], ix.strs[b]) })
	keyIDs = slices.Compact(keyIDs)
	held := func(holders map[uint32]*roaring.Bitmap, owner uint32) []string {
		var ks []string
		for _, k := range keyIDs {
			if b := holders[k]; b != nil && b.Contains(owner) {
				ks = append(ks, ix.strs[k])
			}
		}
		return ks
	}
	for _, n := range ix.firstByName(imageIDs, limit) {
		out.ImageHits = append(out.ImageHits, ImageHit{ID: ix.strs[n], Tags: ix.imageTags[n], Containers: int(perImage[n]), Keys: held(ix.pkgImages, n)})
	}

	// Containers: the first images with selected containers, in id order.
	var running []uint32
	for _, n := range imageIDs {
		if perImage[n] > 0 {
			running = append(running, n)
		}
	}
	for _, n := range ix.firstByName(running, limit) {
		if len(out.Containers) >= limit {
			break
		}
		slots := roaring.And(ix.byImage[n], m).ToArray()
		slices.SortFunc(slots, func(a, b uint32) int { return cmp.Compare(ix.recs[a].id, ix.recs[b].id) })
		for _, s := range slots[:min(len(slots), limit-len(out.Containers))] {
			out.Containers = append(out.Containers, ix.container(s))
		}
	}

	// Hosts running a selected container, and (HostPackages) hosts
	// holding a key themselves.
	if q.HostPackages {
		hi := ix.holders(ix.pkgHosts, q.Keys).Iterator()
		for hi.HasNext() {
			n := hi.Next()
			if q.Host != "" && ix.strs[n] != q.Host {
				continue
			}
			if perHost[n] == 0 {
				hostIDs = append(hostIDs, n)
				perHost[n] = -1 // listed once; holds a key, runs nothing selected
			}
		}
	}
	out.Hosts = len(hostIDs)
	for _, n := range ix.firstByName(hostIDs, limit) {
		h := HostHit{Name: ix.strs[n], Containers: max(int(perHost[n]), 0)}
		if q.HostPackages {
			h.Keys = held(ix.pkgHosts, n)
		}
		out.HostHits = append(out.HostHits, h)
	}
	return out
}

// firstByName returns the first limit of ids in the order of their strings.
func (ix *Index) firstByName(ids []uint32, limit int) []uint32 {
	if limit <= 0 || len(ids) == 0 {
		return nil
	}
	h := &topK{less: func(a, b uint32) bool { return ix.strs[a] < ix.strs[b] }}
	for _, n := range ids {
		h.offer(n, limit)
	}
	return h.sorted()
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

// holders returns the owners (interned ids) holding any of keys.
func (ix *Index) holders(m map[uint32]*roaring.Bitmap, keys []string) *roaring.Bitmap {
	var bs []*roaring.Bitmap
	for _, k := range keys {
		if n, ok := ix.lookup(k); ok && m[n] != nil {
			bs = append(bs, m[n])
		}
	}
	switch len(bs) {
	case 0:
		return roaring.New()
	case 1:
		return bs[0].Clone()
	}
	return roaring.FastOr(bs...)
}

// ImagesWith returns the ids of the images holding any of keys.
func (ix *Index) ImagesWith(keys []string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.strings(ix.holders(ix.pkgImages, keys))
}

// HostsWith returns the hosts holding any of keys in their own packages.
func (ix *Index) HostsWith(keys []string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.strings(ix.holders(ix.pkgHosts, keys))
}

// HostsRunning returns the hosts of the containers q selects.
func (ix *Index) HostsRunning(q Query) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	hosts := roaring.New()
	it := ix.match(&q, nil).Iterator()
	for it.HasNext() {
		hosts.Add(ix.recs[it.Next()].host)
	}
	return ix.strings(hosts)
}

// strings returns the strings of a set of interned ids.
func (ix *Index) strings(b *roaring.Bitmap) []string {
	out := make([]string, 0, b.GetCardinality())
	it := b.Iterator()
	for it.HasNext() {
		out = append(out, ix.strs[it.Next()])
	}
	return out
}
