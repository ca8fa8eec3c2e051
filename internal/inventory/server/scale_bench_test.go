package server_test

// Scale benchmarks of the inventory server: a synthetic fleet (default
// 5,000 hosts, 100,000 containers, 10,000 images of 100–500 packages drawn
// from real Debian and Go advisory data, so that many are shared and many
// are vulnerable) is ingested through the HTTP API, then the impact query,
// label search and a full re-match after a database change are timed.
//
//	go test -run XXX -bench Scale -benchtime 200x -timeout 60m ./internal/inventory/server/
//
// BULKHEAD_BENCH_SCALE=hosts,containers,images shrinks the fleet (e.g.
// 500,10000,1000). BULKHEAD_BENCH_DIR keeps the SQLite fleet in that
// directory and reuses it on the next run (the ingest figures are those of
// the run that built it). The advisory data comes from ../shared/data (Debian 12
// OSV records and the Go vulnerability database); without it the benchmark
// is skipped with a message.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store/storetest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	vstore "github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

const sharedData = "../../../../shared/data"

type fleet struct {
	h          *harness
	eng        *rematch.Engine
	dbPath     string
	dbA, dbB   string        // advisory databases without / with the held-back records
	ingestTime time.Duration // images and containers
	imagesTime time.Duration // images only
	images     int
	containers int
	items      int
	hotCVE     string // the vulnerability hitting the most images
	typicalCVE string // one hitting about a tenth of the images
}

var (
	fleetMu sync.Mutex
	fleets  = map[string]*fleet{}
)

func benchScale() (hosts, containers, images int) {
	hosts, containers, images = 5000, 100000, 10000
	if s := os.Getenv("BULKHEAD_BENCH_SCALE"); s != "" {
		p := strings.Split(s, ",")
		if len(p) == 3 {
			hosts, _ = strconv.Atoi(p[0])
			containers, _ = strconv.Atoi(p[1])
			images, _ = strconv.Atoi(p[2])
		}
	}
	return
}

type upkg struct {
	name, src, version string
	typ                sbom.Type
}

// universe reads package names and fixed versions from the advisory data:
// each package exists in a vulnerable and a fixed version.
func universe(b *testing.B, debDir, goDir string) (deb, gomod []upkg, debAdvs, goAdvs []advisory.Advisory) {
	debAdvs, _ = advisory.ImportOSV(debDir)
	goAdvs, _ = advisory.ImportOSV(goDir)
	if len(debAdvs) == 0 || len(goAdvs) == 0 {
		b.Fatalf("no advisories read from %s / %s", debDir, goDir)
	}
	seen := map[string]bool{}
	for _, a := range debAdvs {
		for _, af := range a.Affected {
			for _, r := range af.Ranges {
				for _, ev := range r.Events {
					if ev.Fixed == "" || seen[af.Package] {
						continue
					}
					seen[af.Package] = true
					for i, bin := range []string{af.Package, "lib" + af.Package + "1", af.Package + "-common"} {
						_ = i
						deb = append(deb, upkg{name: bin, src: af.Package, version: ev.Fixed + "~old", typ: sbom.TypeDeb},
							upkg{name: bin, src: af.Package, version: ev.Fixed, typ: sbom.TypeDeb})
					}
				}
			}
		}
	}
	for _, a := range goAdvs {
		for _, af := range a.Affected {
			for _, r := range af.Ranges {
				for _, ev := range r.Events {
					if ev.Fixed == "" || seen[af.Package] || strings.HasPrefix(af.Package, "stdlib") || af.Package == "toolchain" {
						continue
					}
					seen[af.Package] = true
					gomod = append(gomod, upkg{name: af.Package, version: "v0.0.1", typ: sbom.TypeGo},
						upkg{name: af.Package, version: "v" + strings.TrimPrefix(ev.Fixed, "v"), typ: sbom.TypeGo})
				}
			}
		}
	}
	return
}

func writeDB(b *testing.B, path string, debAdvs, goAdvs []advisory.Advisory) {
	db, err := vstore.Open(path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Import("osv:Debian", "bench", debAdvs); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Import("osv:Go", "bench", goAdvs); err != nil {
		b.Fatal(err)
	}
}

func getFleet(b *testing.B, backend storetest.Backend) *fleet {
	fleetMu.Lock()
	defer fleetMu.Unlock()
	if f, ok := fleets[backend.Name]; ok {
		return f
	}
	debDir, goDir := filepath.Join(sharedData, "debian", "osv"), filepath.Join(sharedData, "vulndata", "osv-go")
	if _, err := os.Stat(debDir); err != nil {
		b.Skipf("advisory data missing (%v): the scale benchmark needs ../shared/data", err)
	}
	if _, err := os.Stat(goDir); err != nil {
		b.Skipf("advisory data missing (%v)", err)
	}
	if backend.Open == nil {
		testenv.Missing(b, "%s", backend.Skip)
	}
	nHosts, nContainers, nImages := benchScale()
	deb, gomod, debAdvs, goAdvs := universe(b, debDir, goDir)
	dir := b.TempDir()
	keep := os.Getenv("BULKHEAD_BENCH_DIR")
	marker := ""
	if keep != "" && backend.Name == "sqlite" {
		dir = keep
		os.MkdirAll(dir, 0o755)
		marker = filepath.Join(dir, fmt.Sprintf("complete-%d-%d-%d", nHosts, nContainers, nImages))
	}
	f := &fleet{dbPath: filepath.Join(dir, "vuln.db"), dbA: filepath.Join(dir, "a.db"), dbB: filepath.Join(dir, "b.db")}
	var st *store.SQL
	if marker != "" {
		if raw, err := os.ReadFile(marker); err == nil {
			var saved struct {
				Ingest     time.Duration
				Images     time.Duration
				NImages    int
				Containers int
				Items      int
			}
			if err := json.Unmarshal(raw, &saved); err == nil {
				copyFileB(b, f.dbA, f.dbPath)
				st, err = store.Open(context.Background(), filepath.Join(dir, "inventory.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				eng, err := rematch.New(st, rematch.Options{DBPath: f.dbPath})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { eng.Close() })
				f.eng, f.h = eng, newHarness(b, st, eng)
				f.ingestTime, f.containers, f.items = saved.Ingest, saved.Containers, saved.Items
				f.imagesTime, f.images = saved.Images, saved.NImages
				b.Logf("reusing the fleet in %s", dir)
				if err := st.Optimize(context.Background()); err != nil {
					b.Fatal(err)
				}
				f.hotCVE = hottest(b, f)
				fleets[backend.Name] = f
				return f
			}
		}
		os.Remove(filepath.Join(dir, "inventory.db"))
	}
	// Database A holds back a tenth of the Debian records; B has them all.
	writeDB(b, f.dbA, debAdvs[:len(debAdvs)*9/10], goAdvs)
	writeDB(b, f.dbB, debAdvs, goAdvs)
	copyFileB(b, f.dbA, f.dbPath)
	if marker != "" {
		var err error
		st, err = store.Open(context.Background(), filepath.Join(dir, "inventory.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
	} else {
		st = backend.Open(b)
	}
	eng, err := rematch.New(st, rematch.Options{DBPath: f.dbPath})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	f.eng = eng
	f.h = newHarness(b, st, eng)

	r := rand.New(rand.NewPCG(1, 2))
	// 40 Debian bases of 100–300 binary packages; images add 0–200 Go modules.
	type base struct{ pkgs []upkg }
	bases := make([]base, 40)
	for i := range bases {
		n := 100 + r.IntN(200)
		for _, j := range r.Perm(len(deb) / 2)[:min(n, len(deb)/2)] {
			v := deb[2*j+1]
			if i%3 == 0 && r.IntN(2) == 0 { // old bases keep pre-fix versions
				v = deb[2*j]
			}
			bases[i].pkgs = append(bases[i].pkgs, v)
		}
	}
	mkImage := func(i int) *api.Image {
		bs := bases[i%len(bases)]
		var pkgs []sbom.Package
		for _, p := range bs.pkgs {
			sp := sbom.Package{Name: p.name, Version: p.version, Type: p.typ, SourceName: p.src, SourceVersion: p.version,
				PURL: "pkg:deb/debian/" + p.name + "@" + p.version + "?distro=debian-12", Locations: []sbom.Location{{Path: "/var/lib/dpkg/status"}}}
			sbom.AssignID(&sp)
			pkgs = append(pkgs, sp)
		}
		for _, j := range r.Perm(len(gomod) / 2)[:r.IntN(min(200, len(gomod)/2))] {
			p := gomod[2*j+1]
			if r.IntN(4) == 0 {
				p = gomod[2*j]
			}
			sp := sbom.Package{Name: p.name, Version: p.version, Type: p.typ, PURL: "pkg:golang/" + p.name + "@" + p.version,
				Locations: []sbom.Location{{Path: fmt.Sprintf("/app/bin%d", i)}}}
			sbom.AssignID(&sp)
			pkgs = append(pkgs, sp)
		}
		id := fmt.Sprintf("sha256:%064x", 0xa0000000+i)
		return &api.Image{ID: id, RepoTags: []string{fmt.Sprintf("registry.local/team%d/app%d:%d", i%20, i, i%5)},
			Labels: map[string]string{"org.opencontainers.image.source": fmt.Sprintf("https://git.local/app%d", i)},
			Layers: []api.Layer{{DiffID: fmt.Sprintf("sha256:%064x", 0xb0000000+i%len(bases)), Size: 80 << 20}, {DiffID: fmt.Sprintf("sha256:%064x", 0xc0000000+i), Size: 10 << 20}},
			SBOM:   &sbom.SBOM{Schema: sbom.SchemaVersion, Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: pkgs}}
	}
	ctx := context.Background()
	start := time.Now()
	// Images first (as agents send them on first sight), 20 per batch, 4 at a time.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	next := make(chan int)
	var mu sync.Mutex
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq uint64
			for lo := range next {
				var items []api.Item
				for i := lo; i < min(lo+20, nImages); i++ {
					mu.Lock()
					im := mkImage(i)
					mu.Unlock()
					seq++
					items = append(items, api.Item{Seq: seq, Time: time.Now(), Type: api.ItemImage, Image: im})
				}
				if _, err := f.h.admin.Ingest(ctx, api.Batch{AgentID: fmt.Sprintf("loader-%d", w), Stream: "images", Host: "loader", Items: items}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for lo := 0; lo < nImages; lo += 20 {
		select {
		case next <- lo:
		case err := <-errs:
			b.Fatal(err, tail(f.h.logs.String()))
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	imagesDone := time.Since(start)
	f.imagesTime, f.images = imagesDone, nImages
	// Containers: each host's agent sends its containers in one batch.
	teams := []string{"payments", "search", "checkout", "identity", "platform", "data", "ml", "growth", "ads", "infra"}
	hostsCh := make(chan int)
	per := nContainers / max(nHosts, 1)
	for w := range 8 {
		_ = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hi := range hostsCh {
				host := fmt.Sprintf("node-%05d", hi)
				items := []api.Item{{Seq: 1, Time: time.Now(), Type: api.ItemHost, Host: &api.Host{Name: host, OS: "Debian GNU/Linux 12", Kernel: "6.1.0-27-amd64"}}}
				for k := range per {
					ci := hi*per + k
					img := (ci*7919 + hi) % nImages
					created := time.Now().Add(-time.Duration(ci%3600) * time.Second)
					state := api.StateRunning
					if ci%10 == 0 {
						state = api.StateExited
					}
					items = append(items, api.Item{Seq: uint64(k + 2), Time: time.Now(), Type: api.ItemContainer, Container: &api.Container{
						ID: fmt.Sprintf("%064x", 0xd000000000+ci), Name: fmt.Sprintf("app%d-%d", img, ci), ImageID: fmt.Sprintf("sha256:%064x", 0xa0000000+img),
						ImageRef: fmt.Sprintf("registry.local/team%d/app%d:%d", img%20, img, img%5), State: state, Created: &created, Started: &created,
						Labels: map[string]string{"app": fmt.Sprintf("app%d", img), "team": teams[img%len(teams)], "env": []string{"prod", "prod", "staging", "dev"}[ci%4],
							"tier": []string{"frontend", "backend", "worker"}[ci%3], "com.docker.compose.project": fmt.Sprintf("proj%d", hi%50)},
						Command: []string{"/app/bin", "--port", "8080"}, User: "app", Networks: []api.Network{{Name: "bridge", IP: "172.17.0.2"}},
						Ports: []api.Port{{ContainerPort: 8080, Protocol: "tcp"}}}})
				}
				b := api.Batch{AgentID: "loader-h", Stream: host, Host: host, Items: items}
				if _, err := f.h.admin.Ingest(ctx, b); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				f.items += len(items)
				f.containers += per
				mu.Unlock()
			}
		}()
	}
	for hi := range nHosts {
		select {
		case hostsCh <- hi:
		case err := <-errs:
			b.Fatal(err, tail(f.h.logs.String()))
		}
	}
	close(hostsCh)
	wg.Wait()
	f.ingestTime = time.Since(start)
	// As the server's maintenance loop does every 10 minutes.
	if err := st.Optimize(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: ingested %d images in %s, %d containers (%d items) in %s", backend.Name, nImages, imagesDone.Round(time.Millisecond),
		f.containers, f.items, (f.ingestTime - imagesDone).Round(time.Millisecond))
	f.hotCVE = hottest(b, f)
	if marker != "" {
		raw, _ := json.Marshal(map[string]any{"Ingest": f.ingestTime, "Images": f.imagesTime, "NImages": f.images, "Containers": f.containers, "Items": f.items})
		os.WriteFile(marker, raw, 0o644)
	}
	fleets[backend.Name] = f
	return f
}

// hottest picks the vulnerability on the most images, and one on about a
// tenth of them (a typical, narrower query).
func hottest(b *testing.B, f *fleet) string {
	reach, err := f.h.st.(*store.SQL).VulnReach(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ids := slices.Collect(func(yield func(string) bool) {
		for id := range reach {
			if !yield(id) {
				return
			}
		}
	})
	slices.SortFunc(ids, func(a, c string) int { return reach[c] - reach[a] })
	_, _, n := benchScale()
	f.typicalCVE = ids[0]
	for _, id := range ids {
		if reach[id] <= n/10 {
			f.typicalCVE = id
			break
		}
	}
	b.Logf("widest vulnerability %s affects %d images; typical %s affects %d", ids[0], reach[ids[0]], f.typicalCVE, reach[f.typicalCVE])
	return ids[0]
}

func copyFileB(b *testing.B, src, dst string) {
	raw, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		b.Fatal(err)
	}
}

// latencies runs fn b.N times and reports p50 and p99.
func latencies(b *testing.B, fn func() error) {
	var ds []time.Duration
	for b.Loop() {
		t := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[min(len(ds)-1, len(ds)*99/100)].Microseconds())/1000, "p99-ms")
}

func BenchmarkScale(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			f := getFleet(b, backend)
			ctx := context.Background()
			// `bulkhead server` loads the container index before it
			// reports ready and syncs it every 5 s while agents report;
			// bring it up to date the same way before timing queries.
			if l, ok := f.h.st.(interface {
				LoadIndex(context.Context) (int, error)
			}); ok {
				t := time.Now()
				n, err := l.LoadIndex(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("%s: container index synced (%d containers) in %s", backend.Name, n, time.Since(t).Round(time.Millisecond))
			}
			b.Run("ingest", func(b *testing.B) {
				for b.Loop() {
				}
				b.ReportMetric(float64(f.images)/f.imagesTime.Seconds(), "images/s")
				b.ReportMetric(float64(f.containers)/(f.ingestTime-f.imagesTime).Seconds(), "containers/s")
			})
			b.Run("impact-widest", func(b *testing.B) {
				latencies(b, func() error {
					_, err := f.h.admin.Impact(ctx, f.hotCVE, api.Filter{})
					return err
				})
			})
			b.Run("impact-typical", func(b *testing.B) {
				latencies(b, func() error {
					_, err := f.h.admin.Impact(ctx, f.typicalCVE, api.Filter{})
					return err
				})
			})
			b.Run("impact-selector", func(b *testing.B) {
				latencies(b, func() error {
					_, err := f.h.admin.Impact(ctx, f.hotCVE, api.Filter{Selector: "team=payments,env=prod"})
					return err
				})
			})
			i := 0
			b.Run("label-search", func(b *testing.B) {
				latencies(b, func() error {
					i++
					_, err := f.h.admin.Containers(ctx, api.Filter{Selector: fmt.Sprintf("app=app%d,env!=dev", i%1000), State: "running"})
					return err
				})
			})
			b.Run("label-search-broad", func(b *testing.B) {
				latencies(b, func() error {
					_, err := f.h.admin.Containers(ctx, api.Filter{Selector: "team in (payments,search),tier=frontend"})
					return err
				})
			})
			// Each iteration is one database change: B adds the held-back
			// Debian records (new findings), A removes them (resolved).
			b.Run("rematch", func(b *testing.B) {
				flip := false
				var last *api.Rematch
				for b.Loop() {
					b.StopTimer()
					flip = !flip
					src := f.dbA
					if flip {
						src = f.dbB
					}
					copyFileB(b, src, f.dbPath)
					b.StartTimer()
					if _, err := f.eng.Reload(); err != nil {
						b.Fatal(err)
					}
					r, err := f.eng.Rematch(ctx)
					if err != nil {
						b.Fatal(err)
					}
					last = r
				}
				if last != nil {
					b.ReportMetric(float64(last.Packages), "packages")
					b.ReportMetric(float64(last.New+last.Resolved), "changed")
					b.ReportMetric(float64(last.Open), "open-findings")
				}
			})
		})
	}
}

func tail(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "level=ERROR") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-3):], "\n")
}
