package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var imgA = "sha256:" + strings.Repeat("a1", 32)

func cid(n int) string { return fmt.Sprintf("%064x", n) }

// fakeEngine: containers the test adds, and an event channel it feeds.
type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]*container.InspectResponse
	ev         chan events.Message
}

func newEngine() *fakeEngine {
	return &fakeEngine{containers: map[string]*container.InspectResponse{}, ev: make(chan events.Message, 100)}
}

func (f *fakeEngine) run(n int, labels map[string]string) {
	f.mu.Lock()
	f.containers[cid(n)] = &container.InspectResponse{ID: cid(n), Name: fmt.Sprintf("/c%d", n), Image: imgA, Created: time.Now().UTC().Format(time.RFC3339Nano),
		State: &container.State{Status: container.StateRunning, StartedAt: time.Now().UTC().Format(time.RFC3339Nano)}, Config: &container.Config{Image: "app:1", Labels: labels}}
	f.mu.Unlock()
	now := time.Now()
	for _, a := range []events.Action{events.ActionCreate, events.ActionStart} {
		f.ev <- events.Message{Type: events.ContainerEventType, Action: a, Actor: events.Actor{ID: cid(n), Attributes: map[string]string{"name": fmt.Sprintf("c%d", n), "image": "app:1"}}, TimeNano: now.UnixNano()}
		now = now.Add(time.Millisecond)
	}
}

func (f *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r client.ContainerListResult
	for id := range f.containers {
		r.Items = append(r.Items, container.Summary{ID: id})
	}
	return r, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		return client.ContainerInspectResult{Container: *c}, nil
	}
	return client.ContainerInspectResult{}, cerrdefs.ErrNotFound
}

func (f *fakeEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: imgA}}, nil
}

func (f *fakeEngine) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	errs := make(chan error, 1)
	go func() { <-ctx.Done(); errs <- ctx.Err() }()
	return client.EventsResult{Messages: f.ev, Err: errs}
}

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Name: "node-1", ServerVersion: "20.10.24", OperatingSystem: "Debian GNU/Linux 12 (bookworm)", KernelVersion: "6.1.0"}}, nil
}

type fakeScanner struct {
	images, hosts atomic.Int32
	mu            sync.Mutex
	byID          map[string]int
}

func (s *fakeScanner) ScanImage(_ context.Context, id string) (*sbom.SBOM, error) {
	s.images.Add(1)
	s.mu.Lock()
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	s.byID[id]++
	s.mu.Unlock()
	return &sbom.SBOM{Schema: sbom.SchemaVersion, Source: sbom.Source{Kind: "docker", ImageID: id, RepoTags: []string{"app:1"}, Layers: []sbom.Layer{{DiffID: "sha256:" + strings.Repeat("0f", 32)}}},
		Packages: []sbom.Package{{ID: "p1", Name: "zlib", Version: "1.2.13", Type: sbom.TypeDeb}}}, nil
}

func (s *fakeScanner) ScanHost(context.Context) (*sbom.SBOM, error) {
	s.hosts.Add(1)
	return &sbom.SBOM{Schema: sbom.SchemaVersion, Source: sbom.Source{Kind: "host"}, Packages: []sbom.Package{{ID: "h1", Name: "bash", Version: "5.2", Type: sbom.TypeDeb}}}, nil
}

// fakeServer speaks the ingest API; it is down while down is set.
type fakeServer struct {
	mu      sync.Mutex
	items   []api.Item
	streams map[string]uint64 // high-water mark per stream
	dups    int
	down    atomic.Bool
	images  map[string]bool
	srv     *httptest.Server
}

func newServer(t *testing.T) *fakeServer {
	f := &fakeServer{streams: map[string]uint64{}, images: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/agents/enroll", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(api.EnrollResponse{AgentID: "agent-1", HasAdvisoryDB: true, MaxBatchBytes: 1 << 20})
	})
	mux.HandleFunc("POST /api/v1/ingest", func(w http.ResponseWriter, r *http.Request) {
		var b api.Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if err := b.Validate(); err != nil {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(api.Error{Error: err.Error()})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		key := b.AgentID + "/" + b.Stream
		for _, it := range b.Items {
			if it.Seq <= f.streams[key] {
				f.dups++
				continue
			}
			f.streams[key] = it.Seq
			f.items = append(f.items, it)
			if it.Image != nil {
				f.images[it.Image.ID] = true
			}
		}
		json.NewEncoder(w).Encode(api.IngestResponse{AckSeq: f.streams[key], Accepted: len(b.Items)})
	})
	mux.HandleFunc("GET /api/v1/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.images[r.PathValue("id")] {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(api.Error{Error: "no such image"})
			return
		}
		json.NewEncoder(w).Encode(api.Image{ID: r.PathValue("id")})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) snapshot() []api.Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Item(nil), f.items...)
}

func startAgent(t *testing.T, dir string, eng *fakeEngine, srv *fakeServer, sc *fakeScanner) (*Agent, context.CancelFunc, chan error) {
	t.Helper()
	c, err := api.NewClient(srv.srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Server: c, Docker: eng, Scanner: sc, QueueDir: dir, Version: "test",
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAgentOutageAndRestart runs the agent against a server that is down
// at first: everything is delivered once it is up, in sequence order;
// after a restart on the same queue the stream continues and the image is
// not scanned again.
func TestAgentOutageAndRestart(t *testing.T) {
	srv := newServer(t)
	srv.down.Store(true)
	eng := newEngine()
	eng.run(1, map[string]string{"team": "a"})
	sc := &fakeScanner{}
	dir := t.TempDir()
	a, cancel, done := startAgent(t, dir, eng, srv, sc)
	eng.run(2, map[string]string{"team": "b"})
	waitFor(t, "items queued while the server is down", func() bool { return a.Stats().Queue.Items >= 5 })
	if n := len(srv.snapshot()); n != 0 {
		t.Fatalf("server down but received %d items", n)
	}
	srv.down.Store(false)
	waitFor(t, "queue drained", func() bool {
		return a.Stats().Queue.Items == 0 && len(srv.snapshot()) >= 7
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()

	items := srv.snapshot()
	kinds := map[string]int{}
	for i, it := range items {
		kinds[it.Type]++
		if i > 0 && it.Seq <= items[i-1].Seq {
			t.Fatalf("seq %d after %d", it.Seq, items[i-1].Seq)
		}
	}
	// host, host-sbom, image, and per container: a listing or create+start.
	if kinds[api.ItemHost] < 1 || kinds[api.ItemHostSBOM] != 1 || kinds[api.ItemImage] != 1 || kinds[api.ItemContainer] < 4 {
		t.Fatalf("items by type %v", kinds)
	}
	var host *api.Host
	states := map[string]string{}
	for _, it := range items {
		if it.Host != nil {
			host = it.Host
		}
		if it.Container != nil {
			states[it.Container.Name] = it.Container.State
			if it.Container.ImageID != imgA || it.Container.Host != "node-1" {
				t.Errorf("container item %+v", it.Container)
			}
		}
		if it.Image != nil && (it.Image.SBOM == nil || len(it.Image.SBOM.Packages) != 1 || it.Image.Findings != nil) {
			t.Errorf("image item %+v", it.Image)
		}
	}
	if host == nil || host.Name != "node-1" || host.Engine != "docker 20.10.24" || host.AgentVersion != "test" {
		t.Errorf("host %+v", host)
	}
	if states["c1"] != api.StateRunning || states["c2"] != api.StateRunning {
		t.Errorf("states %v", states)
	}

	// Restart on the same queue directory: same stream, sequence numbers
	// continue, the image is not scanned again.
	lastSeq := items[len(items)-1].Seq
	eng.run(3, nil)
	a2, cancel2, done2 := startAgent(t, dir, eng, srv, sc)
	defer a2.Close()
	waitFor(t, "c3 delivered", func() bool {
		for _, it := range srv.snapshot() {
			if it.Container != nil && it.Container.Name == "c3" {
				return true
			}
		}
		return false
	})
	cancel2()
	<-done2
	srv.mu.Lock()
	if len(srv.streams) != 1 {
		t.Errorf("restart opened a new stream: %v", srv.streams)
	}
	for _, it := range srv.items[len(items):] {
		if it.Seq <= lastSeq {
			t.Errorf("seq %d reused after restart", it.Seq)
		}
	}
	srv.mu.Unlock()
	if n := sc.images.Load(); n != 1 {
		t.Errorf("image scanned %d times, want 1", n)
	}
}

func TestAlertHandler(t *testing.T) {
	srv := newServer(t)
	eng := newEngine()
	eng.run(7, nil)
	a, cancel, done := startAgent(t, t.TempDir(), eng, srv, &fakeScanner{})
	defer a.Close()
	waitFor(t, "container known", func() bool { return a.containerByPrefix(cid(7)[:12]) == cid(7) })
	h := httptest.NewServer(a.AlertHandler())
	defer h.Close()
	body := `{"time":"2026-11-28T04:00:00Z","rule":"Terminal shell in container","priority":"Notice","output":"shell","source":"syscall","tags":["shell"],"output_fields":{"container.id":"` + cid(7)[:12] + `"}}
{"rule":"Read sensitive file untrusted","priority":"Warning","output_fields":{"container.id":"host"}}`
	resp, err := http.Post(h.URL, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("post: %v %v", err, resp)
	}
	resp, _ = http.Post(h.URL, "application/json", strings.NewReader(`{"priority":"x"}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("alert without rule: %d", resp.StatusCode)
	}
	waitFor(t, "alerts delivered", func() bool {
		n := 0
		for _, it := range srv.snapshot() {
			if it.Alert != nil {
				n++
			}
		}
		return n == 2
	})
	cancel()
	<-done
	for _, it := range srv.snapshot() {
		if it.Alert != nil && it.Alert.Rule == "Terminal shell in container" && it.Alert.ContainerID != cid(7) {
			t.Errorf("alert not attributed to the full container id: %+v", it.Alert)
		}
	}
}

// TestAlertWriter feeds alert lines the way an in-process sensor's JSON
// output writes them, split at arbitrary points: every complete line is
// queued once, a bad line is an error, nothing is queued twice.
func TestAlertWriter(t *testing.T) {
	srv := newServer(t)
	eng := newEngine()
	a, cancel, done := startAgent(t, t.TempDir(), eng, srv, &fakeScanner{})
	defer a.Close()
	w := a.AlertWriter()
	lines := `{"rule":"Rule one","priority":"Warning","output_fields":{"container.id":"host"}}
{"rule":"Rule two","priority":"Notice","output_fields":{}}
`
	for _, part := range []string{lines[:20], lines[20:90], lines[90:]} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("write %q: %d %v", part, n, err)
		}
	}
	if _, err := w.Write([]byte("{\"priority\":\"x\"}\n")); err == nil {
		t.Error("an alert without a rule was accepted")
	}
	waitFor(t, "alerts delivered", func() bool {
		n := 0
		for _, it := range srv.snapshot() {
			if it.Alert != nil {
				n++
			}
		}
		return n == 2
	})
	cancel()
	<-done
	var rules []string
	for _, it := range srv.snapshot() {
		if it.Alert != nil {
			rules = append(rules, it.Alert.Rule)
		}
	}
	if strings.Join(rules, ",") != "Rule one,Rule two" {
		t.Errorf("alerts %v", rules)
	}
	if st := a.Stats(); st.Alerts != 2 {
		t.Errorf("stats count %d alerts, want 2", st.Alerts)
	}
}

type fakeChecker struct{ runs atomic.Int32 }

func (c *fakeChecker) Check(context.Context) (*CheckReport, error) {
	c.runs.Add(1)
	return &CheckReport{
		Host:       []sbom.Finding{{ID: "CIS-DI-2.1", Kind: "misconfig", Severity: "medium", Summary: "icc enabled"}},
		Containers: map[string][]sbom.Finding{cid(8): {{ID: "CIS-DI-5.4", Kind: "misconfig", Severity: "high", Summary: "privileged"}}, cid(9): nil},
	}, nil
}

// TestChecksReported: configuration check failures reach the server as
// complete misconfig reports per subject, and a container start triggers a
// new run.
func TestChecksReported(t *testing.T) {
	srv := newServer(t)
	eng := newEngine()
	ch := &fakeChecker{}
	c, _ := api.NewClient(srv.srv.URL, "tok")
	a, err := New(Config{Server: c, Docker: eng, Scanner: &fakeScanner{}, Checker: ch, QueueDir: t.TempDir(), MinBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "first check run", func() bool { return ch.runs.Load() == 1 })
	eng.run(8, nil)
	waitFor(t, "a run after the container start", func() bool { return ch.runs.Load() == 2 })
	waitFor(t, "reports delivered", func() bool {
		n := 0
		for _, it := range srv.snapshot() {
			if it.Findings != nil {
				n++
			}
		}
		return n >= 6
	})
	cancel()
	<-done
	subjects := map[string]int{}
	for _, it := range srv.snapshot() {
		if f := it.Findings; f != nil {
			if f.Kind != api.KindMisconfig || !f.Complete {
				t.Errorf("report %+v", f)
			}
			subjects[f.SubjectKind+"/"+f.SubjectID] = len(f.Findings)
		}
	}
	if n, ok := subjects["container/"+cid(9)]; !ok || n != 0 || subjects["host/node-1"] != 1 || subjects["container/"+cid(8)] != 1 {
		t.Errorf("reports by subject %v", subjects)
	}
}
