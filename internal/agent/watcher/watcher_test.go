package watcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

func cid(n int) string { return fmt.Sprintf("%064x", n) }

var imgID = "sha256:" + strings.Repeat("ab", 32)

// fakeDocker is an engine whose containers and events the test controls.
// Like dockerd it keeps past events and replays those at or after `since`.
type fakeDocker struct {
	mu         sync.Mutex
	containers map[string]*container.InspectResponse
	history    []events.Message
	subs       []chan events.Message
	errs       []chan error
	sinces     []string
}

func newFake() *fakeDocker { return &fakeDocker{containers: map[string]*container.InspectResponse{}} }

func (f *fakeDocker) add(n int, name string, status container.ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[cid(n)] = &container.InspectResponse{
		ID: cid(n), Name: "/" + name, Image: imgID, Created: "2026-11-28T01:00:00.5Z",
		Path: "/bin/sh", Args: []string{"-c", "sleep 1"},
		State:      &container.State{Status: status, StartedAt: "2026-11-28T01:00:01Z", FinishedAt: "0001-01-01T00:00:00Z"},
		Config:     &container.Config{Image: "busybox:test", Labels: map[string]string{"app": name}, User: "1000"},
		HostConfig: &container.HostConfig{Privileged: n%2 == 0, CapAdd: []string{"NET_ADMIN"}},
	}
}

func (f *fakeDocker) ContainerList(_ context.Context, _ client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r client.ContainerListResult
	for id := range f.containers {
		r.Items = append(r.Items, container.Summary{ID: id})
	}
	return r, nil
}

func (f *fakeDocker) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return client.ContainerInspectResult{}, fmt.Errorf("no such container %s: %w", id, cerrdefs.ErrNotFound)
	}
	return client.ContainerInspectResult{Container: *c}, nil
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if ref == "busybox:test" {
		return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: imgID}}, nil
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound
}

func (f *fakeDocker) Events(ctx context.Context, o client.EventsListOptions) client.EventsResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	msgs := make(chan events.Message, 1024)
	errs := make(chan error, 1)
	f.sinces = append(f.sinces, o.Since)
	var since int64
	if o.Since != "" {
		var s, ns int64
		fmt.Sscanf(o.Since, "%d.%d", &s, &ns)
		since = s*1e9 + ns
	}
	for _, ev := range f.history {
		if ev.TimeNano >= since {
			msgs <- ev
		}
	}
	f.subs = append(f.subs, msgs)
	f.errs = append(f.errs, errs)
	return client.EventsResult{Messages: msgs, Err: errs}
}

// emit publishes an event to the current subscriber and the history.
func (f *fakeDocker) emit(n int, action events.Action, at time.Time, attrs map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := map[string]string{"name": fmt.Sprintf("c%d", n), "image": "busybox:test", "app": fmt.Sprintf("c%d", n)}
	for k, v := range attrs {
		a[k] = v
	}
	ev := events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: cid(n), Attributes: a}, Time: at.Unix(), TimeNano: at.UnixNano()}
	f.history = append(f.history, ev)
	if len(f.subs) > 0 {
		f.subs[len(f.subs)-1] <- ev
	}
}

// breakStream fails the current subscription.
func (f *fakeDocker) breakStream() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[len(f.errs)-1] <- errors.New("unexpected EOF")
}

type recorder struct {
	mu   sync.Mutex
	obs  []Observation
	cur  Cursor
	live map[string]bool
}

func (r *recorder) emit(obs []Observation, cur Cursor, live map[string]bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, obs...)
	r.cur = cur
	if r.live == nil {
		r.live = map[string]bool{}
	}
	for k, v := range live {
		r.live[k] = v
	}
	return nil
}

func (r *recorder) wait(t *testing.T, n int) []Observation {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.obs) >= n {
			out := append([]Observation(nil), r.obs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("got %d observations, want %d: %+v", len(r.obs), n, r.obs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListThenEvents(t *testing.T) {
	f := newFake()
	f.add(1, "web", container.StateRunning)
	f.add(2, "job", container.StateExited)
	rec := &recorder{}
	w := New(f, Options{Host: "h1", Known: []string{cid(9)}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, rec.emit) }()

	obs := rec.wait(t, 3)
	byID := map[string]Observation{}
	for _, o := range obs {
		byID[o.Container.ID] = o
	}
	web := byID[cid(1)]
	if web.Action != "list" || !web.Inspected || web.Container.State != api.StateRunning || web.Container.Name != "web" ||
		web.Container.ImageID != imgID || web.Container.ImageRef != "busybox:test" || web.Container.Labels["app"] != "web" ||
		web.Container.User != "1000" || strings.Join(web.Container.Command, " ") != "/bin/sh -c sleep 1" ||
		web.Container.Host != "h1" || web.Container.Started == nil || web.Container.Finished != nil || len(web.Container.CapAdd) != 1 {
		t.Errorf("listed web: %+v", web)
	}
	if byID[cid(2)].Container.State != api.StateExited || byID[cid(2)].Container.Privileged != true {
		t.Errorf("listed job: %+v", byID[cid(2)].Container)
	}
	if g := byID[cid(9)]; g.Action != "gone" || g.Container.State != api.StateDestroyed || g.Container.Destroyed == nil {
		t.Errorf("known container missing from the listing: %+v", g)
	}

	// A container that lives for a second and is removed before the agent
	// can inspect it: every event is still recorded from its attributes.
	t0 := time.Now()
	f.emit(3, events.ActionCreate, t0, nil)
	f.emit(3, events.ActionStart, t0.Add(10*time.Millisecond), nil)
	f.emit(3, events.ActionDie, t0.Add(time.Second), map[string]string{"exitCode": "3"})
	f.emit(3, events.ActionDestroy, t0.Add(1100*time.Millisecond), nil)
	obs = rec.wait(t, 7)[3:]
	wantStates := []string{api.StateCreated, api.StateRunning, api.StateExited, api.StateDestroyed}
	for i, o := range obs {
		c := o.Container
		if c.State != wantStates[i] || c.Name != "c3" || c.Labels["app"] != "c3" || c.ImageID != imgID || c.ImageRef != "busybox:test" {
			t.Errorf("event %d: %+v", i, c)
		}
		if _, leaked := c.Labels["name"]; leaked {
			t.Errorf("event attributes leaked into labels: %v", c.Labels)
		}
	}
	last := obs[3].Container
	if last.Created == nil || !last.Created.Equal(t0.UTC()) || last.Started == nil || last.Finished == nil ||
		!last.Finished.Equal(t0.Add(time.Second).UTC()) || last.ExitCode == nil || *last.ExitCode != 3 || last.Destroyed == nil {
		t.Errorf("lifecycle from events: %+v", last)
	}
	rec.mu.Lock()
	if rec.live[cid(3)] || rec.live[cid(9)] || !rec.live[cid(1)] {
		t.Errorf("live set %v", rec.live)
	}
	if rec.cur.TimeNano != t0.Add(1100*time.Millisecond).UnixNano() {
		t.Errorf("cursor %d, want the last event's time", rec.cur.TimeNano)
	}
	rec.mu.Unlock()

	// The stream breaks: the watcher reconnects from its cursor, the
	// engine replays the last event (since is inclusive) and it is skipped.
	f.add(4, "late", container.StateRunning)
	f.breakStream()
	time.Sleep(50 * time.Millisecond)
	f.emit(4, events.ActionStart, t0.Add(2*time.Second), nil)
	obs = rec.wait(t, 9)
	var starts int
	for _, o := range obs[7:] {
		if o.Container.ID == cid(4) && o.Action == "start" {
			starts++
		}
		if o.Container.ID == cid(3) {
			t.Errorf("replayed event processed twice: %+v", o)
		}
	}
	if starts != 1 {
		t.Errorf("start of c4 seen %d times in %+v", starts, obs[7:])
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	st := w.Stats()
	f.mu.Lock()
	sinces := f.sinces
	f.mu.Unlock()
	resumeAt := t0.Add(1100 * time.Millisecond)
	if want := fmt.Sprintf("%d.%09d", resumeAt.Unix(), resumeAt.Nanosecond()); len(sinces) != 2 || sinces[1] != want {
		t.Errorf("subscriptions since %q, want the second from the last processed event %s", sinces, want)
	}
	if st.Reconnects != 1 || st.Duplicates < 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestResumeFromCursor starts a watcher with a stored cursor: events the
// engine still holds since then are processed, older ones are not.
func TestResumeFromCursor(t *testing.T) {
	f := newFake()
	t0 := time.Unix(1_800_000_000, 0)
	f.emit(5, events.ActionCreate, t0, nil)
	f.emit(5, events.ActionStart, t0.Add(time.Second), nil)
	f.emit(6, events.ActionCreate, t0.Add(2*time.Second), nil)
	f.add(6, "c6", container.StateCreated)
	first := f.history[1]
	cur := Cursor{TimeNano: first.TimeNano, Seen: []string{eventKey(&first)}}
	rec := &recorder{}
	w := New(f, Options{Host: "h1", Cursor: cur})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, rec.emit)
	obs := rec.wait(t, 2)
	time.Sleep(50 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []string
	for _, o := range rec.obs {
		got = append(got, o.Action+":"+o.Container.Name)
	}
	if strings.Join(got, ",") != "list:c6,create:c6" {
		t.Errorf("observations %v (want the listing and the one unseen event)", got)
	}
	_ = obs
}
