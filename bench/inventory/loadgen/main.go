// Command loadgen simulates a fleet of Bulkhead agents reporting to one
// inventory server through its real HTTP API, with real agent tokens, and
// then measures the server's queries at that size.
//
//	loadgen -server http://127.0.0.1:8080 -admin-token T \
//	        -agents 5000 -containers 100000 -images 10000
//
// Each simulated agent gets its own agent token (POST /api/v1/tokens with
// the admin token), enrolls, and sends what a real agent sends: its host,
// its host's SBOM, the SBOM of every image its containers run that the
// server does not have yet (asked with GET /api/v1/images/{id}, as the
// agent does), and every container's lifecycle (create, start, and die for
// one in ten) as container items — in batches of at most 500 items. SBOMs
// hold 100–500 real package names and versions: Debian packages from dpkg
// status files (some at versions before a security fix, so the server's
// advisory database finds real vulnerabilities), npm, PyPI and RubyGems
// packages from public projects' lockfiles; see universe.go.
//
// It then times the impact query for CVEs present in the fleet and
// container searches by label selector, and prints p50/p99 (and a JSON
// report with -report).
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

type config struct {
	server, adminToken         string
	agents, containers, images int
	minPkgs, maxPkgs           int
	concurrency                int
	seed                       uint64
	statusFiles                string
	lockDir                    string
	advisories                 string
	impactIDs                  string
	selectors                  string
	queryRuns                  int
	queryBudget                time.Duration
	report                     string
	hostSBOMs                  bool
	skipIngest                 bool
	batchItems                 int
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "http://127.0.0.1:8080", "inventory server URL")
	flag.StringVar(&c.adminToken, "admin-token", os.Getenv("BULKHEAD_ADMIN_TOKEN"), "admin token (issues the agent tokens, imports advisories, runs the queries)")
	flag.IntVar(&c.agents, "agents", 5000, "simulated agents (hosts)")
	flag.IntVar(&c.containers, "containers", 100000, "containers across the fleet")
	flag.IntVar(&c.images, "images", 10000, "distinct images")
	flag.IntVar(&c.minPkgs, "min-packages", 100, "fewest packages per image")
	flag.IntVar(&c.maxPkgs, "max-packages", 500, "most packages per image")
	flag.IntVar(&c.concurrency, "concurrency", 32, "agents sending at the same time")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed (the fleet is deterministic for a seed)")
	flag.StringVar(&c.statusFiles, "dpkg-status", "/work/shared/data/debian/vulnerable-rootfs/var/lib/dpkg/status,"+os.Getenv("BULKHEAD_TEST_ROOTFS")+"/var/lib/dpkg/status", "comma-separated dpkg status files to draw Debian packages from")
	flag.StringVar(&c.lockDir, "lockfiles", "/work/shared/data/lockfiles", "directory of Syft JSON documents (syft.json) to draw language packages from")
	flag.StringVar(&c.advisories, "advisories", "", "directory of OSV JSON records to upload first (POST /api/v1/db/import); empty: the server has its database already (bench/inventory.sh starts it with --db)")
	flag.StringVar(&c.impactIDs, "impact", "CVE-2024-28085,CVE-2023-4911,CVE-2024-2961,CVE-2023-29383", "vulnerability ids to time the impact query with")
	flag.StringVar(&c.selectors, "selectors", "team=payments;env=prod,tier in (frontend,backend);app=api-search,env!=dev;team notin (ml,ads),tier=worker", "semicolon-separated label selectors to time container search with")
	flag.IntVar(&c.queryRuns, "query-runs", 200, "runs of each query")
	flag.DurationVar(&c.queryBudget, "query-budget", 60*time.Second, "stop timing a query after this long (the report says how many runs were made)")
	flag.StringVar(&c.report, "report", "", "write a JSON report here")
	flag.BoolVar(&c.hostSBOMs, "host-sboms", true, "each agent also sends its host's SBOM")
	flag.BoolVar(&c.skipIngest, "queries-only", false, "skip ingest; only run the queries against what the server holds")
	flag.IntVar(&c.batchItems, "batch-items", 500, "items per ingest batch")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Report is the JSON report.
type Report struct {
	Agents, Containers, Images int
	PackagesPerImage           [2]int
	AvgPackagesPerImage        float64
	IngestSeconds              float64
	ContainerItems             int64
	ImagesSent                 int64
	ImagesSkipped              int64
	HostItems                  int64
	Items                      int64
	Requests                   int64
	ServerErrors, Splits       int64
	ContainersPerSecond        float64
	EventsPerSecond            float64
	ItemsPerSecond             float64
	IngestLatencyP50           float64
	IngestLatencyP99           float64
	Queries                    []QueryResult
}

// QueryResult is one timed query.
type QueryResult struct {
	Kind    string  `json:"kind"`
	Query   string  `json:"query"`
	Runs    int     `json:"runs"`
	Results int     `json:"results"`
	P50ms   float64 `json:"p50ms"`
	P99ms   float64 `json:"p99ms"`
	MaxMs   float64 `json:"maxMs"`
}

func httpClient(conc int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conc * 2
	tr.MaxIdleConnsPerHost = conc * 2
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

func run(ctx context.Context, c config) error {
	if c.adminToken == "" {
		return fmt.Errorf("-admin-token (or BULKHEAD_ADMIN_TOKEN) is required")
	}
	hc := httpClient(c.concurrency)
	admin, err := api.NewClient(c.server, c.adminToken, api.WithHTTPClient(hc), api.WithUserAgent("bulkhead-loadgen"))
	if err != nil {
		return err
	}
	rep := &Report{Agents: c.agents, Containers: c.containers, Images: c.images, PackagesPerImage: [2]int{c.minPkgs, c.maxPkgs}}
	u, err := loadUniverse(strings.Split(c.statusFiles, ","), c.lockDir)
	if err != nil {
		return err
	}
	nLang := 0
	for _, ps := range u.lang {
		nLang += len(ps)
	}
	w := newWorld(u, c.seed, c.agents, c.containers, c.images, c.minPkgs, c.maxPkgs)
	var totalPkgs int
	for i := range w.images {
		totalPkgs += w.images[i].nbase + len(w.images[i].app)
	}
	rep.AvgPackagesPerImage = float64(totalPkgs) / float64(len(w.images))
	fmt.Printf("fleet: %d agents, %d containers, %d images (%.0f packages each on average, drawn from %d Debian and %d language packages)\n",
		c.agents, c.containers, c.images, rep.AvgPackagesPerImage, len(u.deb), nLang)

	if !c.skipIngest {
		if c.advisories != "" {
			if err := importAdvisories(ctx, admin, c.advisories); err != nil {
				return err
			}
		}
		if err := ingest(ctx, c, w, hc, admin, rep); err != nil {
			return err
		}
	}
	if err := queries(ctx, c, admin, rep); err != nil {
		return err
	}
	if c.report != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(c.report, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// importAdvisories uploads a directory of OSV records as one zip.
func importAdvisories(ctx context.Context, admin *api.Client, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		fmt.Printf("advisories: none at %s, skipped\n", dir)
		return nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		w, _ := zw.Create(filepath.Base(f))
		w.Write(b)
	}
	zw.Close()
	start := time.Now()
	res, err := admin.ImportDB(ctx, "osv", &buf)
	if err != nil {
		return fmt.Errorf("import advisories: %w", err)
	}
	fmt.Printf("advisories: imported %d records from %s (added %d) in %s\n", len(files), dir, res.Added, time.Since(start).Round(time.Millisecond))
	return nil
}

type counters struct {
	containerItems, imagesSent, imagesSkipped, hostItems, items, requests atomic.Int64
	serverErrors, splits                                                  atomic.Int64
	mu                                                                    sync.Mutex
	latencies                                                             []time.Duration
}

func ingest(ctx context.Context, c config, w *world, hc *http.Client, admin *api.Client, rep *Report) error {
	// Agent tokens first (not part of the ingest timing).
	tokens := make([]string, c.agents)
	start := time.Now()
	if err := parallel(c.agents, c.concurrency, func(a int) error {
		t, err := admin.CreateToken(ctx, api.TokenRequest{Kind: api.TokenAgent, Name: fmt.Sprintf("loadgen-%d-%d", c.seed, a)})
		if err != nil {
			return fmt.Errorf("agent token %d: %w", a, err)
		}
		tokens[a] = t.Secret
		return nil
	}); err != nil {
		return err
	}
	fmt.Printf("tokens: %d agent tokens issued in %s\n", c.agents, time.Since(start).Round(time.Millisecond))

	byAgent := make([][]int, c.agents)
	for i, cs := range w.containers {
		byAgent[cs.agent] = append(byAgent[cs.agent], i)
	}
	var ct counters
	var done atomic.Int64
	start = time.Now()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Printf("  %4.0fs: %d/%d agents done, %d containers items, %d images, %.0f items/s\n", el, done.Load(), c.agents,
					ct.containerItems.Load(), ct.imagesSent.Load(), float64(ct.items.Load())/el)
			}
		}
	}()
	err := parallel(c.agents, c.concurrency, func(a int) error {
		defer done.Add(1)
		return runAgent(ctx, c, w, hc, tokens[a], a, byAgent[a], &ct)
	})
	close(stop)
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	rep.IngestSeconds = el
	rep.ContainerItems = ct.containerItems.Load()
	rep.ImagesSent = ct.imagesSent.Load()
	rep.ImagesSkipped = ct.imagesSkipped.Load()
	rep.HostItems = ct.hostItems.Load()
	rep.Items = ct.items.Load()
	rep.Requests = ct.requests.Load()
	rep.ServerErrors = ct.serverErrors.Load()
	rep.Splits = ct.splits.Load()
	rep.ContainersPerSecond = float64(c.containers) / el
	rep.EventsPerSecond = float64(rep.ContainerItems) / el
	rep.ItemsPerSecond = float64(rep.Items) / el
	p50, p99, _ := percentiles(ct.latencies)
	rep.IngestLatencyP50, rep.IngestLatencyP99 = ms(p50), ms(p99)
	fmt.Printf("ingest: %.1fs for %d containers (%.0f containers/s), %d container events (%.0f events/s), %d images sent (%d already on the server), %d items in %d requests; batch latency p50 %.0f ms p99 %.0f ms; %d server errors retried (%d batches split)\n",
		el, c.containers, rep.ContainersPerSecond, rep.ContainerItems, rep.EventsPerSecond, rep.ImagesSent, rep.ImagesSkipped,
		rep.Items, rep.Requests, rep.IngestLatencyP50, rep.IngestLatencyP99, rep.ServerErrors, rep.Splits)
	return nil
}

// runAgent is one simulated agent's whole report.
func runAgent(ctx context.Context, c config, w *world, hc *http.Client, token string, a int, mine []int, ct *counters) error {
	cl, err := api.NewClient(c.server, token, api.WithHTTPClient(hc), api.WithUserAgent("bulkhead-loadgen-agent"))
	if err != nil {
		return err
	}
	host := fmt.Sprintf("node-%05d.fleet.example.com", a)
	en, err := cl.Enroll(ctx, api.EnrollRequest{Hostname: host, Version: "loadgen"})
	if err != nil {
		return fmt.Errorf("agent %d enroll: %w", a, err)
	}
	b := &batcher{cl: cl, ct: ct, max: c.batchItems, batch: api.Batch{AgentID: en.AgentID, Stream: fmt.Sprintf("loadgen-%d", c.seed), Host: host}}
	now := time.Now().UTC()
	h := api.Host{Name: host, OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-28-amd64", Arch: "amd64", AgentID: en.AgentID, AgentVersion: "loadgen", Engine: "docker 20.10.24",
		Labels: map[string]string{"zone": fmt.Sprintf("zone-%d", a%6), "pool": fmt.Sprintf("pool-%d", a%40)}}
	if err := b.add(ctx, api.Item{Time: now, Type: api.ItemHost, Host: &h}); err != nil {
		return err
	}
	ct.hostItems.Add(1)
	if c.hostSBOMs {
		if err := b.add(ctx, api.Item{Time: now, Type: api.ItemHostSBOM, HostSBOM: w.hostSBOM(a, host)}); err != nil {
			return err
		}
		ct.hostItems.Add(1)
	}
	sent := map[int]bool{}
	for _, i := range mine {
		img := w.containers[i].image
		if !sent[img] {
			sent[img] = true
			has, err := cl.HasImage(ctx, w.images[img].id)
			if err != nil {
				return fmt.Errorf("agent %d: has image: %w", a, err)
			}
			if has {
				ct.imagesSkipped.Add(1)
			} else {
				doc := w.imageSBOM(img)
				im := w.images[img]
				ai := api.Image{ID: im.id, RepoTags: im.tags, OS: "linux", Architecture: "amd64", SBOM: doc,
					Labels: map[string]string{"org.opencontainers.image.source": "https://git.example.com/" + im.tags[0]}}
				for _, l := range im.layers {
					ai.Layers = append(ai.Layers, api.Layer{DiffID: l})
				}
				if err := b.add(ctx, api.Item{Time: now, Type: api.ItemImage, Image: &ai}); err != nil {
					return err
				}
				ct.imagesSent.Add(1)
				// An agent sends the image before its containers (as the
				// real one queues the scan result): flush so a concurrent
				// agent's HasImage sees it soon.
				if err := b.flush(ctx); err != nil {
					return err
				}
			}
		}
		for _, it := range w.containerItems(i, host) {
			if err := b.add(ctx, it); err != nil {
				return err
			}
			ct.containerItems.Add(1)
		}
	}
	return b.flush(ctx)
}

type batcher struct {
	cl    *api.Client
	ct    *counters
	max   int
	seq   uint64
	batch api.Batch
	size  int
}

func (b *batcher) add(ctx context.Context, it api.Item) error {
	b.seq++
	it.Seq = b.seq
	b.batch.Items = append(b.batch.Items, it)
	if it.Image != nil || it.HostSBOM != nil {
		b.size += 200_000
	}
	if len(b.batch.Items) >= b.max || b.size >= 4<<20 {
		return b.flush(ctx)
	}
	return nil
}

func (b *batcher) flush(ctx context.Context) error {
	if len(b.batch.Items) == 0 {
		return nil
	}
	if err := b.send(ctx, b.batch.Items, 0); err != nil {
		return err
	}
	b.batch.Items = b.batch.Items[:0]
	b.size = 0
	return nil
}

// send delivers items the way the agent does: a 5xx answer (other than
// 503) is retried, and after three in a row the batch goes in halves.
func (b *batcher) send(ctx context.Context, items []api.Item, failures int) error {
	batch := b.batch
	batch.Items = items
	start := time.Now()
	res, err := b.cl.Ingest(ctx, batch)
	lat := time.Since(start)
	if err != nil {
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code < 500 || failures >= 8 {
			return fmt.Errorf("ingest %d items: %w", len(items), err)
		}
		b.ct.serverErrors.Add(1)
		time.Sleep(time.Duration(failures+1) * 50 * time.Millisecond)
		if failures+1 >= 3 && len(items) > 1 {
			b.ct.splits.Add(1)
			h := len(items) / 2
			if err := b.send(ctx, items[:h], 0); err != nil {
				return err
			}
			return b.send(ctx, items[h:], 0)
		}
		return b.send(ctx, items, failures+1)
	}
	if last := items[len(items)-1].Seq; res.AckSeq < last {
		return fmt.Errorf("ingest acknowledged seq %d, sent up to %d", res.AckSeq, last)
	}
	b.ct.items.Add(int64(len(items)))
	b.ct.requests.Add(1)
	b.ct.mu.Lock()
	b.ct.latencies = append(b.ct.latencies, lat)
	b.ct.mu.Unlock()
	return nil
}

// parallel runs f(0..n-1) on conc goroutines and returns the first error.
func parallel(n, conc int, f func(int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func queries(ctx context.Context, c config, admin *api.Client, rep *Report) error {
	for _, id := range strings.Split(c.impactIDs, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		var results int
		q, err := timeQuery(c.queryRuns, c.queryBudget, func() (int, error) {
			im, err := admin.Impact(ctx, id, api.Filter{Limit: 100})
			if err != nil {
				return 0, err
			}
			results = im.TotalContainers
			return len(im.Images), nil
		})
		if err != nil {
			return fmt.Errorf("impact %s: %w", id, err)
		}
		q.Kind, q.Query, q.Results = "impact", id, results
		rep.Queries = append(rep.Queries, q)
		fmt.Printf("impact %-16s %6d containers: p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms (%d runs)\n", id, results, q.P50ms, q.P99ms, q.MaxMs, q.Runs)
	}
	for _, sel := range strings.Split(c.selectors, ";") {
		sel = strings.TrimSpace(sel)
		if sel == "" {
			continue
		}
		var total int
		q, err := timeQuery(c.queryRuns, c.queryBudget, func() (int, error) {
			l, err := admin.Containers(ctx, api.Filter{Selector: sel, Limit: 100})
			if err != nil {
				return 0, err
			}
			total = l.Total
			return len(l.Items), nil
		})
		if err != nil {
			return fmt.Errorf("label search %q: %w", sel, err)
		}
		q.Kind, q.Query, q.Results = "labels", sel, total
		rep.Queries = append(rep.Queries, q)
		fmt.Printf("labels %-40q %6d containers: p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms (%d runs)\n", sel, total, q.P50ms, q.P99ms, q.MaxMs, q.Runs)
	}
	return nil
}

func timeQuery(runs int, budget time.Duration, f func() (int, error)) (QueryResult, error) {
	// One warm-up run (caches, prepared statements), not counted.
	if _, err := f(); err != nil {
		return QueryResult{}, err
	}
	lat := make([]time.Duration, 0, runs)
	start := time.Now()
	for range runs {
		if budget > 0 && time.Since(start) > budget && len(lat) >= 5 {
			break
		}
		s := time.Now()
		if _, err := f(); err != nil {
			return QueryResult{}, err
		}
		lat = append(lat, time.Since(s))
	}
	p50, p99, mx := percentiles(lat)
	return QueryResult{Runs: len(lat), P50ms: ms(p50), P99ms: ms(p99), MaxMs: ms(mx)}, nil
}

func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
