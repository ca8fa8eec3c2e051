package fleet

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
)

// naive answers a query by looking at every container: the reference the
// bitmap evaluation is checked against.
func naive(cs map[string]Container, q Query) []Container {
	var out []Container
	for _, c := range cs {
		if !q.Selector.Matches(c.Labels) {
			continue
		}
		if q.Images != nil && !q.Images[c.ImageID] {
			continue
		}
		if q.Host != "" && c.Host != q.Host {
			continue
		}
		if len(q.States) > 0 && !slices.Contains(q.States, c.State) {
			continue
		}
		born := c.Created
		if born == 0 {
			born = c.FirstSeen
		}
		if q.Until != 0 && born > q.Until {
			continue
		}
		if q.Since != 0 && c.Destroyed != 0 && c.Destroyed < q.Since {
			continue
		}
		out = append(out, c)
	}
	return out
}

var (
	states    = []string{"created", "running", "paused", "exited", "destroyed"}
	selectors = []string{
		"", "team=a", "team!=a", "team in (a,b)", "team notin (a,b)", "env", "!env", "team=a,env=prod",
		"team=a,env!=dev", "env=prod,tier in (web,db),!canary", "team=zzz", "nokey", "!nokey", "team notin (zzz)",
		"env in (prod,dev),team!=c", "canary,env=dev",
	}
)

func randomContainer(r *rand.Rand, i int) Container {
	c := Container{
		ID: fmt.Sprintf("%064x", r.Uint64()), Name: fmt.Sprintf("c%d", i), Host: fmt.Sprintf("h%d", r.IntN(7)),
		ImageID: fmt.Sprintf("sha256:%02d", r.IntN(12)), State: states[r.IntN(len(states))],
		Created: int64(r.IntN(100)), FirstSeen: int64(1 + r.IntN(100)), Labels: map[string]string{},
	}
	c.ImageRef = "img" + c.ImageID[7:]
	if r.IntN(4) > 0 {
		c.Labels["team"] = string(rune('a' + r.IntN(4)))
	}
	if r.IntN(3) > 0 {
		c.Labels["env"] = []string{"prod", "dev", "stage"}[r.IntN(3)]
	}
	if r.IntN(2) > 0 {
		c.Labels["tier"] = []string{"web", "db", "cache"}[r.IntN(3)]
	}
	if r.IntN(5) == 0 {
		c.Labels["canary"] = "1"
	}
	if c.State == "destroyed" {
		c.Destroyed = c.FirstSeen + int64(r.IntN(50))
	}
	return c
}

func randomQuery(t *testing.T, r *rand.Rand) Query {
	sel, err := selector.Parse(selectors[r.IntN(len(selectors))])
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Selector: sel}
	if r.IntN(3) == 0 {
		q.Images = map[string]bool{}
		for range r.IntN(4) {
			q.Images[fmt.Sprintf("sha256:%02d", r.IntN(14))] = true
		}
	}
	if r.IntN(4) == 0 {
		q.Host = fmt.Sprintf("h%d", r.IntN(8))
	}
	if r.IntN(2) == 0 {
		q.States = []string{states[r.IntN(len(states))]}
		if r.IntN(2) == 0 {
			q.States = append(q.States, "nosuchstate", states[r.IntN(len(states))])
		}
	}
	if r.IntN(4) == 0 {
		q.Until = int64(r.IntN(120))
	}
	if r.IntN(4) == 0 {
		q.Since = int64(r.IntN(150))
	}
	return q
}

func ids(cs []Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// TestIndexAgainstNaive applies random inserts, updates and deletes and
// checks every query shape against a scan of the same containers.
func TestIndexAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := New()
	live := map[string]Container{}
	images, hosts := pkgs{}, pkgs{}
	var order []string
	for step := range 3000 {
		if step%100 == 0 {
			// Packages of some images (including ones no container runs
			// yet) and hosts, replaced now and then.
			var is, hs []string
			for range 5 {
				is = append(is, fmt.Sprintf("sha256:%02d", r.IntN(14)))
				hs = append(hs, fmt.Sprintf("h%d", r.IntN(8)))
			}
			randomPackages(r, is, ix.SetImagePackages, images)
			randomPackages(r, hs, ix.SetHostPackages, hosts)
		}
		switch op := r.IntN(10); {
		case op < 6 || len(order) == 0:
			c := randomContainer(r, step)
			ix.Upsert(c)
			live[c.ID] = c
			order = append(order, c.ID)
		case op < 9:
			// Update an existing container: new state, labels, host.
			id := order[r.IntN(len(order))]
			if _, ok := live[id]; !ok {
				continue
			}
			c := randomContainer(r, step)
			c.ID = id
			ix.Upsert(c)
			live[id] = c
		default:
			id := order[r.IntN(len(order))]
			ix.Delete(id, "unknown-id")
			delete(live, id)
		}
		if step%50 != 0 {
			continue
		}
		if ix.Len() != len(live) {
			t.Fatalf("step %d: Len %d, want %d", step, ix.Len(), len(live))
		}
		for i := range 20 {
			// Both ways of applying an image set: merged bitmaps and
			// a per-candidate check.
			manyImages = []int{64, 1}[i%2]
			q := randomQuery(t, r)
			want := naive(live, q)
			slices.SortFunc(want, func(a, b Container) int { return strings.Compare(a.ID, b.ID) })
			if got := ix.Count(q); got != len(want) {
				t.Fatalf("step %d: Count(%+v) = %d, want %d", step, q, got, len(want))
			}
			off, lim := r.IntN(5), 1+r.IntN(20)
			total, page := ix.Page(q, off, lim)
			wantPage := ids(want)[min(off, len(want)):min(off+lim, len(want))]
			if total != len(want) || !slices.Equal(page, wantPage) {
				t.Fatalf("step %d: Page(%+v, %d, %d) = %d %v, want %d %v", step, q, off, lim, total, page, len(want), wantPage)
			}
			checkImpact(t, ix, live, images, hosts, q, r, lim)
			wantHosts := map[string]bool{}
			for _, c := range want {
				wantHosts[c.Host] = true
			}
			if got := ix.HostsRunning(q); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(maps.Keys(wantHosts))) {
				t.Fatalf("step %d: HostsRunning(%+v) = %v, want %v", step, q, got, wantHosts)
			}
		}
	}
}

// pkgs is the package side of the naive model: owner → keys.
type pkgs map[string][]string

func holds(m pkgs, owner string, keys []string) []string {
	var out []string
	for _, k := range m[owner] {
		if slices.Contains(keys, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func checkImpact(t *testing.T, ix *Index, live map[string]Container, images, hosts pkgs, q Query, r *rand.Rand, limit int) {
	t.Helper()
	iq := ImpactQuery{Query: q, ImagesWithContainers: r.IntN(2) == 0, HostPackages: r.IntN(2) == 0, Limit: limit}
	for range r.IntN(4) {
		iq.Keys = append(iq.Keys, fmt.Sprintf("k%d", r.IntN(12)))
	}
	got := ix.Impact(iq)

	affected := map[string]bool{}
	for id := range images {
		if len(holds(images, id, iq.Keys)) > 0 && (q.Images == nil || q.Images[id]) {
			affected[id] = true
		}
	}
	cq := q
	cq.Images = affected
	want := naive(live, cq)
	perImage, perHost := map[string]int{}, map[string]int{}
	for _, c := range want {
		perImage[c.ImageID]++
		perHost[c.Host]++
	}
	slices.SortFunc(want, func(a, b Container) int {
		if c := strings.Compare(a.ImageID, b.ImageID); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var wantImages []ImageHit
	for _, id := range slices.Sorted(maps.Keys(affected)) {
		if iq.ImagesWithContainers && perImage[id] == 0 {
			continue
		}
		wantImages = append(wantImages, ImageHit{ID: id, Containers: perImage[id], Keys: holds(images, id, iq.Keys)})
	}
	hostSet := map[string]bool{}
	for h := range perHost {
		hostSet[h] = true
	}
	if iq.HostPackages {
		for h := range hosts {
			if len(holds(hosts, h, iq.Keys)) > 0 && (q.Host == "" || q.Host == h) {
				hostSet[h] = true
			}
		}
	}
	var wantHosts []HostHit
	for _, h := range slices.Sorted(maps.Keys(hostSet)) {
		hh := HostHit{Name: h, Containers: perHost[h]}
		if iq.HostPackages {
			hh.Keys = holds(hosts, h, iq.Keys)
		}
		wantHosts = append(wantHosts, hh)
	}
	if got.Total != len(want) || got.Images != len(wantImages) || got.Hosts != len(wantHosts) {
		t.Fatalf("Impact(%+v): totals %d/%d/%d, want %d/%d/%d", iq, got.Total, got.Images, got.Hosts, len(want), len(wantImages), len(wantHosts))
	}
	if g, w := fmt.Sprint(got.Containers), fmt.Sprint(want[:min(limit, len(want))]); g != w {
		t.Fatalf("Impact(%+v) containers\n got %s\nwant %s", iq, g, w)
	}
	if g, w := fmt.Sprint(got.ImageHits), fmt.Sprint(wantImages[:min(limit, len(wantImages))]); g != w {
		t.Fatalf("Impact(%+v) images\n got %s\nwant %s", iq, g, w)
	}
	if g, w := fmt.Sprint(got.HostHits), fmt.Sprint(wantHosts[:min(limit, len(wantHosts))]); g != w {
		t.Fatalf("Impact(%+v) hosts\n got %s\nwant %s", iq, g, w)
	}
}

// randomPackages gives owners random keys, in the index and the model.
func randomPackages(r *rand.Rand, owners []string, set func(map[string][]string), model pkgs) {
	m := map[string][]string{}
	for _, o := range owners {
		var keys []string
		for range r.IntN(4) {
			keys = append(keys, fmt.Sprintf("k%d", r.IntN(10)))
		}
		m[o] = keys
		model[o] = keys
	}
	set(m)
}

func TestEmptyIndex(t *testing.T) {
	ix := New()
	sel, _ := selector.Parse("!team")
	if n := ix.Count(Query{Selector: sel}); n != 0 {
		t.Fatalf("Count on an empty index = %d", n)
	}
	total, page := ix.Page(Query{}, 0, 10)
	if total != 0 || len(page) != 0 {
		t.Fatalf("Page on an empty index = %d %v", total, page)
	}
	if im := ix.Impact(ImpactQuery{Keys: []string{"k"}, Limit: 10}); im.Total != 0 || len(im.Containers) != 0 || im.Images != 0 || im.Hosts != 0 {
		t.Fatalf("Impact on an empty index = %+v", im)
	}
}

// BenchmarkFleet measures the index at the size: 100,000
// containers on 5,000 hosts over 10,000 images, 8 labels each.
func BenchmarkFleet(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ix := New()
	cs := make([]Container, 100000)
	teams := []string{"payments", "search", "ml", "ads", "infra", "web", "data", "core"}
	for i := range cs {
		img := int(r.ExpFloat64()*800) % 10000
		cs[i] = Container{
			ID: fmt.Sprintf("%064x", r.Uint64()), Name: fmt.Sprintf("c%d", i), Host: fmt.Sprintf("host-%04d", i%5000),
			ImageID: fmt.Sprintf("sha256:%064d", img), State: "running",
			Labels: map[string]string{
				"team": teams[r.IntN(len(teams))], "env": []string{"prod", "stage", "dev"}[r.IntN(3)],
				"tier": []string{"frontend", "backend", "worker", "db"}[r.IntN(4)], "app": fmt.Sprintf("app-%d", r.IntN(500)),
				"compose.project": fmt.Sprintf("p%d", r.IntN(2000)), "compose.service": fmt.Sprintf("s%d", r.IntN(20)),
				"version": fmt.Sprintf("v%d", r.IntN(50)), "owner": fmt.Sprintf("o%d", r.IntN(100)),
			},
		}
		if i%10 == 0 {
			cs[i].State = "exited"
		}
	}
	ix.Upsert(cs...)
	// One package record in 9,000 of the images; every image holds 200
	// others.
	imagePkgs := map[string][]string{}
	for i := range 10000 {
		var keys []string
		for j := range 200 {
			keys = append(keys, fmt.Sprintf("pkg-%d", (i+j)%3000))
		}
		if i < 9000 {
			keys = append(keys, "vulnerable")
		}
		imagePkgs[fmt.Sprintf("sha256:%064d", i)] = keys
	}
	ix.SetImagePackages(imagePkgs)
	for _, bc := range []struct{ name, sel string }{
		{"label-narrow", "app=app-7,env!=dev"},
		{"label-broad", "env=prod,tier in (frontend,backend)"},
		{"label-negative", "team notin (ml,ads),tier=worker"},
	} {
		sel, err := selector.Parse(bc.sel)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				ix.Page(Query{Selector: sel, States: []string{"running"}}, 0, 100)
			}
		})
	}
	b.Run("impact-fleet-wide", func(b *testing.B) {
		for b.Loop() {
			ix.Impact(ImpactQuery{Query: Query{States: []string{"running"}}, Keys: []string{"vulnerable"}, HostPackages: true, Limit: 100})
		}
	})
}
