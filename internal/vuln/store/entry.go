package store

import (
	"encoding/binary"
	"errors"
	"math"
	"unsafe"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
)

// The index value is an advisory.Entry in a compact binary form: strings are
// uvarint-length-prefixed, lists uvarint-count-prefixed, the score an
// IEEE-754 float. Decoding allocates only the strings.

var errCorruptEntry = errors.New("corrupt index entry")

func encodeEntry(e advisory.Entry) []byte {
	b := make([]byte, 0, 256)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	strs := func(ss []string) {
		b = binary.AppendUvarint(b, uint64(len(ss)))
		for _, s := range ss {
			str(s)
		}
	}
	str(e.ID)
	str(e.Source)
	strs(e.Aliases)
	str(e.Summary)
	if e.Withdrawn {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	str(string(e.Level))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Score))
	str(e.Vector)
	str(e.Ecosystem)
	str(e.Package)
	b = binary.AppendUvarint(b, uint64(len(e.Ranges)))
	for _, r := range e.Ranges {
		str(r.Type)
		b = binary.AppendUvarint(b, uint64(len(r.Events)))
		for _, ev := range r.Events {
			str(ev.Introduced)
			str(ev.Fixed)
			str(ev.LastAffected)
			str(ev.Limit)
		}
	}
	str(e.Versions)
	return b
}

type entryDecoder struct {
	b   []byte
	err error
	// view makes strings share the value's bytes instead of copying them:
	// only for values that outlive nothing (a read transaction's mmap).
	view bool
	// slab, when set, provides the slices of one lookup's entries.
	slab *entrySlab
}

// entrySlab carves the small slices of a lookup's entries (aliases,
// ranges, events) out of shared arrays: one allocation per many entries
// instead of several per entry. Carved slices are clipped, so appending to
// one copies it first.
type entrySlab struct {
	strs   []string
	ranges []advisory.Range
	events []advisory.Event
	// entries is the number of entries the slab serves; array sizes are
	// guessed from it (a typical entry has one range of two events and an
	// alias or two).
	entries int
}

func carve[T any](buf *[]T, n, guess int) []T {
	if len(*buf)+n > cap(*buf) {
		*buf = make([]T, 0, max(n, guess))
	}
	i := len(*buf)
	*buf = (*buf)[:i+n]
	return (*buf)[i : i+n : i+n]
}

func makeSlice[T any](s *entrySlab, buf func(*entrySlab) *[]T, n int) []T {
	if s == nil {
		return make([]T, n)
	}
	return carve(buf(s), n, 2*s.entries)
}

func (d *entryDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorruptEntry
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorruptEntry
		return ""
	}
	var s string
	if d.view {
		s = unsafe.String(unsafe.SliceData(d.b), int(n))
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *entryDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every element takes at least one byte
		d.err = errCorruptEntry
		return 0
	}
	return int(n)
}

func (d *entryDecoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := makeSlice(d.slab, func(s *entrySlab) *[]string { return &s.strs }, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

// decodeEntryInto decodes an entry, carving slices from slab when it is not
// nil.
func decodeEntryInto(b []byte, view bool, slab *entrySlab) (advisory.Entry, error) {
	d := &entryDecoder{b: b, view: view, slab: slab}
	var e advisory.Entry
	e.ID = d.str()
	e.Source = d.str()
	e.Aliases = d.strs()
	e.Summary = d.str()
	if d.err == nil && len(d.b) > 0 {
		e.Withdrawn = d.b[0] == 1
		d.b = d.b[1:]
	} else {
		d.err = errCorruptEntry
	}
	e.Level = advisory.Level(d.str())
	if d.err == nil && len(d.b) >= 8 {
		e.Score = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
	} else {
		d.err = errCorruptEntry
	}
	e.Vector = d.str()
	e.Ecosystem = d.str()
	e.Package = d.str()
	if n := d.count(); n > 0 {
		e.Ranges = makeSlice(d.slab, func(s *entrySlab) *[]advisory.Range { return &s.ranges }, n)
		for i := range e.Ranges {
			e.Ranges[i].Type = d.str()
			if m := d.count(); m > 0 {
				e.Ranges[i].Events = makeSlice(d.slab, func(s *entrySlab) *[]advisory.Event { return &s.events }, m)
				for j := range e.Ranges[i].Events {
					ev := &e.Ranges[i].Events[j]
					ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit = d.str(), d.str(), d.str(), d.str()
				}
			}
		}
	}
	e.Versions = d.str()
	if d.err != nil {
		return advisory.Entry{}, d.err
	}
	return e, nil
}
