// Package agent is Bulkhead's node agent: it records every container the
// local Docker Engine runs (internal/agent/watcher), scans every image those
// containers use that the server does not have yet and the host's own root
// filesystem, and sends it all to the inventory server through an on-disk
// queue (internal/agent/queue) with at-least-once delivery.
//
// Scanning, local vulnerability matching and configuration checks are given
// to the agent as small interfaces (Scanner, Matcher, Checker) so the same
// code paths as the command line are used and this package stays free of
// catalogers and engines. It imports the standard library, the Docker
// Engine API client, internal/sbom, internal/inventory/api and its own
// subpackages.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/agent/watcher"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Server is the part of the inventory API the agent calls (*api.Client
// implements it).
type Server interface {
	Enroll(ctx context.Context, r api.EnrollRequest) (api.EnrollResponse, error)
	HasImage(ctx context.Context, id string) (bool, error)
	Ingest(ctx context.Context, b api.Batch) (api.IngestResponse, error)
}

// Docker is the part of the Engine API client the agent uses.
type Docker interface {
	watcher.Docker
	Info(ctx context.Context, o client.InfoOptions) (client.SystemInfoResult, error)
}

// Scanner produces SBOMs. The command line implements it with the same code
// as `bulkhead sbom docker:IMAGE` and `bulkhead sbom host`.
type Scanner interface {
	// ScanImage catalogs an image of the local engine, by id.
	ScanImage(ctx context.Context, id string) (*sbom.SBOM, error)
	// ScanHost catalogs the host's root filesystem.
	ScanHost(ctx context.Context) (*sbom.SBOM, error)
}

// Matcher matches an SBOM against a local advisory database. The agent uses
// it only when the server has no advisory database of its own.
type Matcher interface {
	Match(doc *sbom.SBOM) ([]sbom.Finding, error)
}

// Checker runs configuration checks (CIS Docker: host, daemon, images in
// use, running containers) and returns the failures as findings of kind
// "misconfig".
type Checker interface {
	Check(ctx context.Context) (*CheckReport, error)
}

// Config wires an agent.
type Config struct {
	Server  Server
	Docker  Docker
	Scanner Scanner
	// Matcher is optional: nil means the agent never matches locally.
	Matcher Matcher
	// Checker is optional: nil means no configuration checks.
	Checker Checker
	// QueueDir holds the on-disk queue and the agent's state.
	QueueDir string
	// HostRoot is the host's root filesystem as the agent sees it ("/",
	// or e.g. "/host" when the agent runs in a container).
	HostRoot string
	// ScanInterval is how often the host is scanned again (and the
	// configuration checks re-run); 0 disables periodic scans.
	ScanInterval time.Duration
	// Hostname overrides the host name (default: the engine's, else the
	// kernel's).
	Hostname string
	Version  string
	// QueueMaxBytes bounds the queue (0: the queue's default).
	QueueMaxBytes int64
	// Heartbeat is how often the host record is re-sent (default 5 min).
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound retries towards the server.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Agent is a running agent.
type Agent struct {
	cfg  Config
	log  *slog.Logger
	q    *queue.Queue
	host api.Host

	stream  string
	agentID string

	// serverDB is 0 until enrollment, then 1 when the server matches
	// SBOMs itself and 2 when it does not.
	serverDB atomic.Int32
	enrolled chan struct{} // closed on first successful enrollment
	maxBatch atomic.Int64  // batch byte bound from the server

	checkInit sync.Once
	checkQ    chan struct{} // a container started: checks are due

	mu          sync.Mutex
	seen        map[string]bool      // image ids sent or known to the server
	failed      map[string]time.Time // image ids whose scan failed, and when
	pending     map[string]bool      // image ids queued for scanning
	scanQ       chan string
	containers  map[string]string // live container id → image id
	deliverSt   queue.DeliveryStats
	imagesSent  int
	hostScans   int
	checkRuns   int
	alertsTaken int
}

const (
	stateStream  = "agent/stream"
	stateAgentID = "agent/id"
	stateCursor  = "docker/cursor"
	prefixLive   = "docker/live/"
	prefixImage  = "image/"
)

// New opens the queue and prepares the agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if cfg.Server == nil || cfg.Docker == nil || cfg.Scanner == nil {
		return nil, errors.New("agent: server, docker and scanner are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HostRoot == "" {
		cfg.HostRoot = "/"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Minute
	}
	a := &Agent{
		cfg: cfg, log: cfg.Logger,
		enrolled: make(chan struct{}),
		seen:     map[string]bool{}, failed: map[string]time.Time{}, pending: map[string]bool{},
		scanQ: make(chan string, 4096), containers: map[string]string{},
	}
	q, err := queue.Open(filepath.Join(cfg.QueueDir, "queue.db"), queue.Options{
		MaxBytes: cfg.QueueMaxBytes,
		Logger:   cfg.Logger,
		OnDrop:   a.dropped,
	})
	if err != nil {
		return nil, err
	}
	a.q = q
	if err := a.loadState(); err != nil {
		q.Close()
		return nil, err
	}
	return a, nil
}

func (a *Agent) loadState() error {
	s, err := a.q.Get(stateStream)
	if err != nil {
		return err
	}
	if len(s) == 0 {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		s = []byte("s-" + hex.EncodeToString(b[:]))
		if err := a.q.Set(stateStream, s); err != nil {
			return err
		}
	}
	a.stream = string(s)
	id, err := a.q.Get(stateAgentID)
	if err != nil {
		return err
	}
	a.agentID = string(id)
	return a.q.ForEachState(prefixImage, func(k string, _ []byte) error {
		a.seen[strings.TrimPrefix(k, prefixImage)] = true
		return nil
	})
}

// Close closes the queue.
func (a *Agent) Close() error { return a.q.Close() }

// Queue exposes the queue's statistics.
func (a *Agent) Queue() queue.Stats { return a.q.Stats() }

// Host returns the host record the agent sends.
func (a *Agent) Host() api.Host { return a.host }

// dropped is called when the queue had to drop an item to make room: an
// image dropped unsent must be scanned again later.
func (a *Agent) dropped(it queue.Item) {
	if it.Kind == api.ItemImage && it.Key != "" {
		a.mu.Lock()
		delete(a.seen, it.Key)
		a.mu.Unlock()
		if err := a.q.Set(prefixImage+it.Key, nil); err != nil {
			a.log.Warn("cannot forget dropped image", "image", it.Key, "err", err)
		}
	}
}

// enqueue appends items built from api.Items (Seq assigned by the queue).
func (a *Agent) enqueue(items []api.Item, classes []queue.Class, keys []string, state map[string][]byte) error {
	qi := make([]queue.Item, len(items))
	for i := range items {
		b, err := json.Marshal(&items[i])
		if err != nil {
			return err
		}
		qi[i] = queue.Item{Kind: items[i].Type, Class: classes[i], Key: keys[i], Payload: b}
	}
	return a.q.Append(qi, state)
}

func (a *Agent) enqueueOne(it api.Item, class queue.Class, key string, state map[string][]byte) error {
	return a.enqueue([]api.Item{it}, []queue.Class{class}, []string{key}, state)
}

// Run runs the agent until ctx is done, then flushes the queue for a few
// seconds and returns.
func (a *Agent) Run(ctx context.Context) error {
	a.host = a.describeHost(ctx)
	a.log.Info("agent starting", "host", a.host.Name, "stream", a.stream, "queue", a.q.Stats().Items, "version", a.cfg.Version)
	if err := a.enqueueOne(api.Item{Time: time.Now().UTC(), Type: api.ItemHost, Host: &a.host}, queue.ClassState, "host", nil); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	deliverCtx, stopDeliver := context.WithCancel(context.Background())
	deliverDone := make(chan struct{})
	go func() {
		defer close(deliverDone)
		if err := a.deliver(deliverCtx); err != nil && deliverCtx.Err() == nil {
			errc <- fmt.Errorf("deliver: %w", err)
			cancel()
		}
	}()
	start("docker watcher", a.watch)
	start("image scanner", a.scanImages)
	start("host scanner", a.scanHostLoop)
	start("heartbeat", a.heartbeat)
	if a.cfg.Checker != nil {
		start("configuration checks", a.checkLoop)
	}
	<-ctx.Done()
	wg.Wait()
	// Give delivery a moment to empty the queue; what remains stays on disk.
	stopDeliver()
	<-deliverDone
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	select {
	case <-a.enrolled:
		if _, err := a.q.Deliver(fctx, a.sink(), queue.DeliverOptions{StopWhenEmpty: true, Logger: a.log, MinBackoff: time.Second}); err != nil {
			a.log.Info("queue not fully delivered at shutdown; kept on disk", "items", a.q.Stats().Items)
		}
	default:
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

// describeHost gathers the host record: the engine's view, the host root's
// os-release and the kernel.
func (a *Agent) describeHost(ctx context.Context) api.Host {
	h := api.Host{AgentVersion: a.cfg.Version, Arch: goarch(), Kernel: kernelRelease()}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	info, err := a.cfg.Docker.Info(ictx, client.InfoOptions{})
	cancel()
	if err == nil {
		h.Name = info.Info.Name
		h.Engine = "docker " + info.Info.ServerVersion
		h.OS = info.Info.OperatingSystem
		if info.Info.KernelVersion != "" {
			h.Kernel = info.Info.KernelVersion
		}
		if info.Info.Architecture != "" {
			h.Arch = info.Info.Architecture
		}
	} else {
		a.log.Warn("docker info failed; host details from the local system", "err", err)
	}
	if pretty := osPrettyName(a.cfg.HostRoot); pretty != "" {
		h.OS = pretty
	}
	if a.cfg.Hostname != "" {
		h.Name = a.cfg.Hostname
	}
	if h.Name == "" {
		h.Name, _ = os.Hostname()
	}
	h.Name = sanitizeName(h.Name)
	h.AgentID = a.agentID
	return h
}

// sanitizeName makes a host name acceptable to the server (1-128 of
// [A-Za-z0-9._:@/-]).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._:@/-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 128 {
			break
		}
	}
	if b.Len() == 0 {
		return "localhost"
	}
	return b.String()
}

func (a *Agent) heartbeat(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h := a.host
			if err := a.enqueueOne(api.Item{Time: time.Now().UTC(), Type: api.ItemHost, Host: &h}, queue.ClassState, "host", nil); err != nil {
				return err
			}
		}
	}
}

// Stats summarises what the agent did.
type Stats struct {
	Queue      queue.Stats         `json:"queue"`
	Delivery   queue.DeliveryStats `json:"delivery"`
	Images     int                 `json:"imagesSent"`
	HostScans  int                 `json:"hostScans"`
	CheckRuns  int                 `json:"checkRuns"`
	Alerts     int                 `json:"alerts"`
	Containers int                 `json:"liveContainers"`
}

// Stats returns counters.
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{Queue: a.q.Stats(), Delivery: a.deliverSt, Images: a.imagesSent, HostScans: a.hostScans, CheckRuns: a.checkRuns, Alerts: a.alertsTaken, Containers: len(a.containers)}
}
