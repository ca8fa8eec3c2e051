package version

import (
	"fmt"
	"slices"
	"sync"
)

// parseOncer is implemented by the comparers that can parse a version once and
// then compare parsed values cheaply. Affected uses it to parse the
// installed version once per call and each event version once, instead of
// re-parsing both sides on every comparison.
type parseOncer[T any] interface {
	Comparer
	// parse validates v; its error is the one Valid returns.
	parse(v string) (T, error)
	// compareParsed orders two parsed versions (-1, 0, +1).
	compareParsed(a, b T) (int, error)
}

// compareParsedStrings is Compare for a parseOncer.
func compareParsedStrings[T any, P parseOncer[T]](p P, a, b string) (int, error) {
	pa, err := p.parse(a)
	if err != nil {
		return 0, err
	}
	pb, err := p.parse(b)
	if err != nil {
		return 0, err
	}
	return p.compareParsed(pa, pb)
}

// affectedWith dispatches Affected to the parse-once evaluation for the
// comparers that support it.
func affectedWith(cmp Comparer, version string, ranges []Range, versions []string) (ok, handled bool, err error) {
	switch c := cmp.(type) {
	case debComparer:
		ok, err = affectedParsed(c, version, ranges, versions)
	case rpmComparer:
		ok, err = affectedParsed(c, version, ranges, versions)
	case apkComparer:
		ok, err = affectedParsed(c, version, ranges, versions)
	case pep440Comparer:
		ok, err = affectedParsed(c, version, ranges, versions)
	default:
		return false, false, nil
	}
	return ok, true, err
}

// affectedParsed is Affected for a parseOncer: the same evaluation, the same
// errors in the same order, fewer parses.
func affectedParsed[T any, P parseOncer[T]](p P, version string, ranges []Range, versions []string) (bool, error) {
	iv, err := p.parse(version)
	if err != nil {
		return false, err
	}
	if slices.Contains(versions, version) {
		return true, nil
	}
	for i, r := range ranges {
		switch r.Type {
		case RangeGit:
			continue
		case RangeEcosystem, RangeSemVer:
		default:
			return false, fmt.Errorf("%w: range %d: unknown type %q", ErrMalformedRange, i, r.Type)
		}
		hit, err := inRangeParsed(p, iv, r.Events)
		if err != nil {
			return false, fmt.Errorf("range %d (%s): %w", i, r.Type, err)
		}
		if hit {
			return true, nil
		}
	}
	return false, nil
}

type parsedEvent[T any] struct {
	kind eventKind
	zero bool   // introduced "0"
	s    string // as written
	v    T      // parsed, unless zero
}

// inRangeParsed evaluates one ECOSYSTEM or SEMVER range for a parsed,
// valid installed version.
func inRangeParsed[T any, P parseOncer[T]](p P, iv T, raw []Event) (bool, error) {
	var buf [4]parsedEvent[T]
	events := buf[:0]
	var lbuf [2]T
	limits := lbuf[:0]
	for _, e := range raw {
		ev, err := e.kind()
		if err != nil {
			return false, err
		}
		if ev.kind == evLimit {
			if ev.version != "*" {
				lv, err := p.parse(ev.version)
				if err != nil {
					return false, err
				}
				limits = append(limits, lv)
			}
			continue
		}
		events = append(events, parsedEvent[T]{kind: ev.kind, zero: isZero(ev), s: ev.version})
	}
	// Parse in order, so that the first invalid version is the one named.
	for i := range events {
		if !events[i].zero {
			v, err := p.parse(events[i].s)
			if err != nil {
				return false, err
			}
			events[i].v = v
		}
	}

	cmpEvents := func(a, b parsedEvent[T]) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		c, _ := p.compareParsed(a.v, b.v)
		if c != 0 {
			return c
		}
		return sign(int(a.kind) - int(b.kind))
	}
	for i := 1; i < len(events); i++ {
		if cmpEvents(events[i-1], events[i]) > 0 {
			slices.SortStableFunc(events, cmpEvents)
			break
		}
	}

	affected := false
	for _, ev := range events {
		if ev.zero {
			affected = true
			continue
		}
		c, err := p.compareParsed(iv, ev.v)
		if err != nil {
			return false, err
		}
		if c < 0 {
			break // every later event is at or above this one
		}
		switch ev.kind {
		case evIntroduced:
			affected = true
		case evFixed:
			affected = false
		case evLastAffected:
			if c > 0 {
				affected = false
			}
		}
	}
	if !affected || len(limits) == 0 {
		return affected, nil
	}
	for _, l := range limits {
		c, err := p.compareParsed(iv, l)
		if err != nil {
			return false, err
		}
		if c < 0 {
			return true, nil
		}
	}
	return false, nil
}

// parseCache memoises parsed versions for comparers whose parsing is
// expensive. It is safe for concurrent use and bounded: when it holds max
// entries it is emptied and starts over, which keeps the hot set (the fixed
// versions that recur across packages) without growing with the input.
type parseCache[T any] struct {
	mu  sync.RWMutex
	m   map[string]T
	max int
}

func newParseCache[T any](max int) *parseCache[T] {
	return &parseCache[T]{m: make(map[string]T), max: max}
}

func (c *parseCache[T]) get(v string) (T, bool) {
	c.mu.RLock()
	t, ok := c.m[v]
	c.mu.RUnlock()
	return t, ok
}

// put stores t under v; v should not share memory with a large buffer.
func (c *parseCache[T]) put(v string, t T) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[v] = t
	c.mu.Unlock()
}

// len reports the number of cached entries (for tests).
func (c *parseCache[T]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
