// Package watcher follows a Docker Engine's containers: it lists every
// container (running or not) on start, then reads the engine's event stream
// (create, start, die, destroy, rename, update, pause, unpause, restart) and
// inspects each container as its events arrive, so a container that lives
// for a second is still recorded with its full attributes and lifecycle
// timestamps. When the container is already gone, the event's own
// attributes (name, image, labels, exit code) are recorded instead.
//
// The event stream is read by one goroutine into memory without delay (the
// engine drops events for subscribers that fall behind) and processed in
// batches: one inspect per container per batch, several in parallel. After a
// stream error the watcher reconnects with `since` set to the last event it
// processed and skips events it has already seen, then re-lists to catch
// anything the engine no longer replays. Progress is reported with a
// Cursor the caller persists together with the observations, so a restarted
// agent resumes where it stopped.
//
// It imports the standard library, the Docker Engine API client and
// internal/inventory/api (the container record it produces).
package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// Docker is the part of the Engine API client the watcher uses
// (*client.Client implements it).
type Docker interface {
	ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ImageInspect(ctx context.Context, id string, o ...client.ImageInspectOption) (client.ImageInspectResult, error)
	Events(ctx context.Context, o client.EventsListOptions) client.EventsResult
}

// Actions are the container events followed.
var Actions = []events.Action{
	events.ActionCreate, events.ActionStart, events.ActionDie, events.ActionDestroy,
	events.ActionRename, events.ActionUpdate, events.ActionPause, events.ActionUnPause, events.ActionRestart,
}

// Observation is one container record to send, with what produced it.
type Observation struct {
	Container api.Container
	// Action is the event action ("start", "die", …), "list" for the
	// initial listing, or "gone" for a container found missing on a
	// re-list (its destroy event was not seen).
	Action string
	// Inspected says the attributes come from an inspect call; otherwise
	// only from the event (or the last inspect before it).
	Inspected bool
}

// Cursor is how far the event stream has been processed: the time of the
// last processed event and the identities of the events at that exact
// time (the engine's `since` is inclusive).
type Cursor struct {
	TimeNano int64    `json:"timeNano"`
	Seen     []string `json:"seen,omitempty"`
}

// Marshal encodes the cursor for storage.
func (c Cursor) Marshal() []byte { b, _ := json.Marshal(c); return b }

// ParseCursor decodes a stored cursor (empty input: the zero cursor).
func ParseCursor(b []byte) (Cursor, error) {
	var c Cursor
	if len(b) == 0 {
		return c, nil
	}
	err := json.Unmarshal(b, &c)
	return c, err
}

// Emit receives observations in event order together with the cursor after
// them and the set changes of live container ids (ids added, ids removed).
// The watcher calls it from one goroutine; an error stops the watcher.
type Emit func(obs []Observation, cur Cursor, live map[string]bool) error

// Options configure a Watcher.
type Options struct {
	// Host is the host name put on every container record.
	Host string
	// Cursor resumes the event stream (zero: start from now).
	Cursor Cursor
	// Known lists container ids recorded as not destroyed by a previous
	// run; those no longer present are reported as destroyed ("gone").
	Known []string
	// Inspectors is how many inspect calls run at once (default 4).
	Inspectors int
	// MaxBatch bounds the events processed per batch (default 512).
	MaxBatch int
	Logger   *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Stats count what the watcher did.
type Stats struct {
	Events, Inspects, InspectGone, Reconnects, Duplicates int64
}

// Watcher follows one engine.
type Watcher struct {
	d    Docker
	opts Options
	log  *slog.Logger

	cur  Cursor
	seen map[string]bool // event keys at cur.TimeNano

	// last inspected record per container, to fill in what an event lacks
	// once the container is gone.
	last  map[string]api.Container
	known map[string]bool // live (not destroyed) container ids

	mu    sync.Mutex
	stats Stats
}

// New returns a watcher; Run starts it.
func New(d Docker, opts Options) *Watcher {
	if opts.Inspectors <= 0 {
		opts.Inspectors = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Watcher{d: d, opts: opts, log: opts.Logger, cur: opts.Cursor, seen: map[string]bool{}, last: map[string]api.Container{}, known: map[string]bool{}}
	for _, k := range opts.Cursor.Seen {
		w.seen[k] = true
	}
	for _, id := range opts.Known {
		w.known[id] = true
	}
	return w
}

// Stats returns counters.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

func (w *Watcher) count(f func(*Stats)) {
	w.mu.Lock()
	f(&w.stats)
	w.mu.Unlock()
}

func eventKey(ev *events.Message) string {
	return strconv.FormatInt(ev.TimeNano, 10) + "/" + ev.Actor.ID + "/" + string(ev.Action)
}

// stream is the in-memory buffer between the reader goroutine and the
// processor.
type stream struct {
	mu     sync.Mutex
	events []events.Message
	err    error
	ready  chan struct{}
}

func (s *stream) push(ev events.Message) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *stream) take(max int) ([]events.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.events), max)
	out := slices.Clone(s.events[:n])
	s.events = s.events[n:]
	if len(s.events) == 0 {
		s.events = nil
	}
	if n > 0 {
		return out, nil
	}
	return nil, s.err
}

// subscribe starts reading the event stream from since into a new buffer.
func (w *Watcher) subscribe(ctx context.Context, since time.Time) *stream {
	f := client.Filters{}
	f.Add("type", string(events.ContainerEventType))
	for _, a := range Actions {
		f.Add("event", string(a))
	}
	opts := client.EventsListOptions{Filters: f}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	s := &stream{ready: make(chan struct{}, 1)}
	res := w.d.Events(ctx, opts)
	go func() {
		for {
			select {
			case ev, ok := <-res.Messages:
				if !ok {
					s.fail(errors.New("event stream closed"))
					return
				}
				s.push(ev)
			case err, ok := <-res.Err:
				if !ok || err == nil {
					err = errors.New("event stream closed")
				}
				s.fail(err)
				return
			}
		}
	}()
	return s
}

// Run lists the containers, then follows events until ctx is done. It
// returns ctx's error, or emit's.
func (w *Watcher) Run(ctx context.Context, emit Emit) error {
	since := time.Time{}
	if w.cur.TimeNano > 0 {
		since = time.Unix(0, w.cur.TimeNano)
	} else {
		// Subscribe before listing so nothing between the two is missed;
		// events the listing already covers are harmless repeats.
		since = w.opts.Now()
	}
	// A child context per subscription: a failed stream's goroutine ends
	// when its context is cancelled.
	sctx, cancel := context.WithCancel(ctx)
	s := w.subscribe(sctx, since)
	if err := w.list(ctx, emit, w.cur.TimeNano == 0); err != nil {
		cancel()
		return err
	}
	backoff := 250 * time.Millisecond
	for {
		evs, err := s.take(w.opts.MaxBatch)
		if len(evs) > 0 {
			backoff = 250 * time.Millisecond
			if err := w.process(ctx, evs, emit); err != nil {
				cancel()
				return err
			}
			continue
		}
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.count(func(s *Stats) { s.Reconnects++ })
			w.log.Warn("docker event stream lost; reconnecting from the last processed event", "err", err, "retry_in", backoff.String())
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			sctx, cancel = context.WithCancel(ctx)
			since := w.opts.Now().Add(-time.Second)
			if w.cur.TimeNano > 0 {
				since = time.Unix(0, w.cur.TimeNano)
			}
			s = w.subscribe(sctx, since)
			// The engine replays only its last few hundred events: a
			// re-list catches containers whose events fell out of it.
			if err := w.list(ctx, emit, false); err != nil {
				if ctx.Err() != nil {
					cancel()
					return ctx.Err()
				}
				w.log.Warn("re-list after reconnect failed", "err", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		case <-s.ready:
		}
	}
}

// list inspects every container the engine has and reports containers
// recorded as live that no longer exist.
func (w *Watcher) list(ctx context.Context, emit Emit, initial bool) error {
	var res client.ContainerListResult
	var err error
	for attempt := 0; ; attempt++ {
		res, err = w.d.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 0 {
			w.log.Warn("cannot list containers; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 10*time.Second)):
		}
	}
	ids := make([]string, 0, len(res.Items))
	present := map[string]bool{}
	for _, it := range res.Items {
		ids = append(ids, it.ID)
		present[it.ID] = true
	}
	recs := w.inspectAll(ctx, ids)
	var obs []Observation
	live := map[string]bool{}
	for _, id := range ids {
		r, ok := recs[id]
		if !ok {
			continue // removed between list and inspect: its destroy event follows
		}
		w.last[id] = r
		if !w.known[id] {
			w.known[id] = true
			live[id] = true
		}
		obs = append(obs, Observation{Container: r, Action: "list", Inspected: true})
	}
	now := w.opts.Now().UTC()
	for id := range w.known {
		if present[id] {
			continue
		}
		c, ok := w.last[id]
		if !ok {
			c = api.Container{ID: id, Host: w.opts.Host}
		}
		c.State, c.Destroyed, c.ObservedAt = api.StateDestroyed, &now, now
		obs = append(obs, Observation{Container: c, Action: "gone"})
		delete(w.known, id)
		delete(w.last, id)
		live[id] = false
	}
	if len(obs) == 0 && len(live) == 0 {
		return nil
	}
	if initial {
		w.log.Info("listed containers", "containers", len(ids))
	}
	return emit(obs, w.cursor(), live)
}

// inspectAll inspects ids with a few calls in flight; missing containers
// are absent from the result.
func (w *Watcher) inspectAll(ctx context.Context, ids []string) map[string]api.Container {
	out := make(map[string]api.Container, len(ids))
	var mu sync.Mutex
	sem := make(chan struct{}, w.opts.Inspectors)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
			// Stamped before asking: an event later than this stamp is
			// newer than what the inspect can show, so its record wins.
			asked := w.opts.Now().UTC()
			res, err := w.d.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
			cancel()
			w.count(func(s *Stats) { s.Inspects++ })
			if err != nil {
				if cerrdefs.IsNotFound(err) {
					w.count(func(s *Stats) { s.InspectGone++ })
				} else if ctx.Err() == nil {
					w.log.Warn("container inspect failed; recording what its events carry", "container", id, "err", err)
				}
				return
			}
			c := fromInspect(&res.Container, w.opts.Host)
			c.ObservedAt = asked
			mu.Lock()
			out[id] = c
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// process turns a batch of events into observations.
func (w *Watcher) process(ctx context.Context, evs []events.Message, emit Emit) error {
	var fresh []events.Message
	for i := range evs {
		ev := &evs[i]
		if ev.Type != events.ContainerEventType || ev.Actor.ID == "" || !slices.Contains(Actions, ev.Action) {
			continue
		}
		if ev.TimeNano == 0 {
			ev.TimeNano = ev.Time * int64(time.Second)
		}
		if ev.TimeNano < w.cur.TimeNano || ev.TimeNano == w.cur.TimeNano && w.seen[eventKey(ev)] {
			w.count(func(s *Stats) { s.Duplicates++ })
			continue
		}
		fresh = append(fresh, *ev)
	}
	w.count(func(s *Stats) { s.Events += int64(len(fresh)) })
	// One inspect per container, unless its last event in the batch is
	// destroy (nothing left to inspect).
	lastAction := map[string]events.Action{}
	for i := range fresh {
		lastAction[fresh[i].Actor.ID] = fresh[i].Action
	}
	var ids []string
	for id, a := range lastAction {
		if a != events.ActionDestroy {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	recs := w.inspectAll(ctx, ids)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	obs := make([]Observation, 0, len(fresh))
	live := map[string]bool{}
	for i := range fresh {
		ev := &fresh[i]
		id := ev.Actor.ID
		c, inspected := recs[id]
		if !inspected {
			if prev, ok := w.last[id]; ok {
				c = prev
			} else {
				c = fromEvent(ev, w.opts.Host)
				c.ImageID = w.resolveImage(ctx, c.ImageRef)
			}
		}
		// Each event's record starts from the freshest knowledge and then
		// says what this event did.
		c.Labels = mergeLabels(c.Labels, ev)
		applyEvent(&c, ev)
		if ev.Action == events.ActionDestroy {
			delete(w.last, id)
			if w.known[id] {
				delete(w.known, id)
			}
			live[id] = false
		} else {
			w.last[id] = c
			if !w.known[id] {
				w.known[id] = true
				live[id] = true
			}
		}
		obs = append(obs, Observation{Container: c, Action: string(ev.Action), Inspected: inspected})
		w.advance(ev)
	}
	if len(obs) == 0 {
		return nil
	}
	return emit(obs, w.cursor(), live)
}

// mergeLabels keeps inspect's labels; when there are none (container gone)
// the event's attributes stand in.
func mergeLabels(have map[string]string, ev *events.Message) map[string]string {
	if len(have) > 0 {
		return have
	}
	ec := fromEvent(ev, "")
	return ec.Labels
}

// resolveImage finds the image id of a reference when only an event names
// the image (the container is gone); "" when the image is gone too.
func (w *Watcher) resolveImage(ctx context.Context, ref string) string {
	if ref == "" {
		return ""
	}
	if api.ValidImageID(ref) {
		return ref
	}
	res, err := w.d.ImageInspect(ctx, ref)
	if err != nil || !api.ValidImageID(res.ID) {
		return ""
	}
	return res.ID
}

func (w *Watcher) advance(ev *events.Message) {
	if ev.TimeNano > w.cur.TimeNano {
		w.cur.TimeNano = ev.TimeNano
		clear(w.seen)
	}
	w.seen[eventKey(ev)] = true
}

func (w *Watcher) cursor() Cursor {
	c := Cursor{TimeNano: w.cur.TimeNano}
	for k := range w.seen {
		c.Seen = append(c.Seen, k)
	}
	slices.Sort(c.Seen)
	return c
}
