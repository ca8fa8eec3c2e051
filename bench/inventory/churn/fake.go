package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
)

// fakeEngine serves the part of the Docker Engine API the agent reads
// (ping, info, container list and inspect, image inspect, events) on a unix
// socket, and simulates containers that start at a fixed rate, run for
// -lifetime and are removed: for measuring the agent at start rates the
// real engine here cannot reach. Every container is inspectable while it
// exists and 404s after its destroy event, as with the real engine.
type fakeEngine struct {
	imageID string
	label   [2]string

	mu         sync.Mutex
	containers map[string]*container.InspectResponse
	subs       map[chan events.Message]bool
	n          int
}

func (f *fakeEngine) publish(ev events.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber loses events, as with dockerd
		}
	}
}

func (f *fakeEngine) spawn(lifetime time.Duration) {
	f.mu.Lock()
	f.n++
	n := f.n
	id := fmt.Sprintf("%064x", 0xfa6e0000000+n)
	name := fmt.Sprintf("churn-%d", n)
	now := time.Now().UTC()
	c := &container.InspectResponse{ID: id, Name: "/" + name, Image: f.imageID, Created: now.Format(time.RFC3339Nano), Path: "/bin/busybox", Args: []string{"true"},
		State:      &container.State{Status: container.StateRunning, Running: true, StartedAt: now.Format(time.RFC3339Nano), FinishedAt: "0001-01-01T00:00:00Z"},
		Config:     &container.Config{Image: "bulkhead-bench/busybox:1", Labels: map[string]string{f.label[0]: f.label[1]}},
		HostConfig: &container.HostConfig{AutoRemove: true, NetworkMode: "none"}}
	f.containers[id] = c
	f.mu.Unlock()
	attrs := map[string]string{"name": name, "image": "bulkhead-bench/busybox:1", f.label[0]: f.label[1]}
	ev := func(a events.Action, extra map[string]string) {
		at := map[string]string{}
		for k, v := range attrs {
			at[k] = v
		}
		for k, v := range extra {
			at[k] = v
		}
		t := time.Now()
		f.publish(events.Message{Type: events.ContainerEventType, Action: a, Actor: events.Actor{ID: id, Attributes: at}, Scope: "local", Time: t.Unix(), TimeNano: t.UnixNano()})
	}
	ev(events.ActionCreate, nil)
	ev(events.ActionStart, nil)
	time.AfterFunc(lifetime, func() {
		f.mu.Lock()
		c.State = &container.State{Status: container.StateExited, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		f.mu.Unlock()
		ev(events.ActionDie, map[string]string{"exitCode": "0"})
		f.mu.Lock()
		delete(f.containers, id)
		f.mu.Unlock()
		ev(events.ActionDestroy, nil)
	})
}

func (f *fakeEngine) serve(sock string) error {
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	ping := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Header().Set("OSType", "linux")
		w.Write([]byte("OK"))
	}
	mux.HandleFunc("/_ping", ping)
	mux.HandleFunc("/{v}/_ping", ping)
	mux.HandleFunc("GET /{v}/info", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(system.Info{Name: "fake-engine", ServerVersion: "20.10.24-fake", OperatingSystem: "simulated", OSType: "linux", Architecture: "x86_64"})
	})
	mux.HandleFunc("GET /{v}/containers/json", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		var out []container.Summary
		for id, c := range f.containers {
			out = append(out, container.Summary{ID: id, Names: []string{c.Name}, Image: c.Config.Image, ImageID: c.Image, State: c.State.Status})
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /{v}/containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		c, ok := f.containers[r.PathValue("id")]
		var b []byte
		if ok {
			b, _ = json.Marshal(c)
		}
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"No such container: %s"}`, r.PathValue("id"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	mux.HandleFunc("GET /{v}/images/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(image.InspectResponse{ID: f.imageID, RepoTags: []string{"bulkhead-bench/busybox:1"}, Os: "linux", Architecture: "amd64"})
	})
	mux.HandleFunc("GET /{v}/events", func(w http.ResponseWriter, r *http.Request) {
		ch := make(chan events.Message, 1024)
		f.mu.Lock()
		f.subs[ch] = true
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		fl := w.(http.Flusher)
		fl.Flush()
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-ch:
				if enc.Encode(ev) != nil {
					return
				}
				fl.Flush()
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotImplemented)
		fmt.Fprintf(w, `{"message":"fake engine: %s %s not implemented"}`, r.Method, strings.ReplaceAll(r.URL.Path, `"`, ""))
	})
	return http.Serve(ln, mux)
}
