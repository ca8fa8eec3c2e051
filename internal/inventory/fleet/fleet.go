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
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
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

	// Package records (interned keys) held by images and hosts, both ways.
	imagePkgs map[uint32][]uint32
	hostPkgs  map[uint32][]uint32
	pkgImages map[uint32]*roaring.Bitmap
	pkgHosts  map[uint32]*roaring.Bitmap
	imageTags map[uint32][]string
}

// New returns an empty index.
func New() *Index {
	return &Index{
		names: map[string]uint32{}, byID: map[string]uint32{}, all: roaring.New(),
		byImage: map[uint32]*roaring.Bitmap{}, byHost: map[uint32]*roaring.Bitmap{}, byState: map[uint32]*roaring.Bitmap{},
		byLabel: map[kv]*roaring.Bitmap{}, byKey: map[uint32]*roaring.Bitmap{},
		imagePkgs: map[uint32][]uint32{}, hostPkgs: map[uint32][]uint32{},
		pkgImages: map[uint32]*roaring.Bitmap{}, pkgHosts: map[uint32]*roaring.Bitmap{},
		imageTags: map[uint32][]string{},
	}
}

// SetImageTags records images' repo tags (listed with impact answers).
func (ix *Index) SetImageTags(m map[string][]string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for id, tags := range m {
		if len(tags) == 0 {
			delete(ix.imageTags, ix.intern(id))
			continue
		}
		ix.imageTags[ix.intern(id)] = tags
	}
}

// SetImagePackages records which package records (keys) images hold,
// replacing what the index held for those images.
func (ix *Index) SetImagePackages(m map[string][]string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for id, keys := range m {
		setPackages(ix, ix.imagePkgs, ix.pkgImages, ix.intern(id), keys)
	}
}

// SetHostPackages does the same for hosts' own packages.
func (ix *Index) SetHostPackages(m map[string][]string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for name, keys := range m {
		setPackages(ix, ix.hostPkgs, ix.pkgHosts, ix.intern(name), keys)
	}
}

func setPackages(ix *Index, owned map[uint32][]uint32, holders map[uint32]*roaring.Bitmap, owner uint32, keys []string) {
	for _, k := range owned[owner] {
		remove(holders, k, owner)
	}
	if len(keys) == 0 {
		delete(owned, owner)
		return
	}
	ks := make([]uint32, len(keys))
	for i, k := range keys {
		ks[i] = ix.intern(k)
		add(holders, ks[i], owner)
	}
	owned[owner] = ks
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
		ix.link(slot, false)
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
	ix.link(slot, true)
}

// link puts a slot in (on) or takes it out of every per-attribute bitmap.
func (ix *Index) link(slot uint32, on bool) {
	r := &ix.recs[slot]
	set(ix.byImage, r.image, slot, on)
	set(ix.byHost, r.host, slot, on)
	set(ix.byState, r.state, slot, on)
	for _, l := range r.labels {
		set(ix.byLabel, l, slot, on)
		set(ix.byKey, l.k, slot, on)
	}
}

func set[K comparable](m map[K]*roaring.Bitmap, k K, slot uint32, on bool) {
	if on {
		add(m, k, slot)
	} else {
		remove(m, k, slot)
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
		ix.link(slot, false)
		ix.recs[slot] = rec{}
		ix.all.Remove(slot)
		delete(ix.byID, id)
		ix.free = append(ix.free, slot)
	}
}
