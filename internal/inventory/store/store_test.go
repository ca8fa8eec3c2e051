package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store/storetest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func hexID(prefix string, n int) string {
	s := fmt.Sprintf("%s%x", prefix, n)
	return s + strings.Repeat("0", 64-len(s))
}

func imgID(n int) string        { return "sha256:" + hexID("a", n) }
func ctrID(n int) string        { return hexID("c", n) }
func layer(n int) string        { return "sha256:" + hexID("1", n) }
func at(min int) time.Time      { return t0.Add(time.Duration(min) * time.Minute) }
func tp(t time.Time) *time.Time { return &t }

func deb(name, ver, src string) sbom.Package {
	p := sbom.Package{Name: name, Version: ver, Type: sbom.TypeDeb, PURL: "pkg:deb/debian/" + name + "@" + ver, SourceName: src, SourceVersion: ver}
	sbom.AssignID(&p)
	return p
}

func npm(name, ver string) sbom.Package {
	p := sbom.Package{Name: name, Version: ver, Type: sbom.TypeNPM, PURL: "pkg:npm/" + name + "@" + ver}
	sbom.AssignID(&p)
	return p
}

// image returns an image with an SBOM of pkgs on Debian 12.
func image(n int, tags []string, layers []int, pkgs ...sbom.Package) *api.Image {
	im := &api.Image{ID: imgID(n), RepoTags: tags, Labels: map[string]string{"maintainer": "team" + fmt.Sprint(n)},
		SBOM: &sbom.SBOM{Schema: sbom.SchemaVersion, Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: pkgs}}
	for _, l := range layers {
		im.Layers = append(im.Layers, api.Layer{DiffID: layer(l), Size: int64(l * 100)})
	}
	return im
}

func ctr(n, img int, host, state string, labels map[string]string) *api.Container {
	return &api.Container{ID: ctrID(n), Name: fmt.Sprintf("c%d", n), Host: host, ImageID: imgID(img), State: state,
		Labels: labels, Created: tp(at(0)), ObservedAt: at(1)}
}

type batcher struct {
	agent, stream string
	seq           uint64
}

func (b *batcher) batch(host string, items ...api.Item) *api.Batch {
	for i := range items {
		b.seq++
		items[i].Seq = b.seq
		if items[i].Time.IsZero() {
			items[i].Time = at(int(b.seq))
		}
	}
	return &api.Batch{AgentID: b.agent, Stream: b.stream, Host: host, Items: items}
}

func ingest(t *testing.T, s store.Store, b *api.Batch, m store.MatchFunc) api.IngestResponse {
	t.Helper()
	if err := b.Validate(); err != nil {
		t.Fatalf("invalid test batch: %v", err)
	}
	r, err := s.Ingest(context.Background(), b, at(100), m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeMatch flags openssl < 3.0.14 with CVE-2024-0001 (alias GHSA-aaaa)
// and lodash 4.17.20 with CVE-2021-23337 (fixable, KEV).
func fakeMatch(pkgs []store.Pkg) (map[string][]sbom.Finding, error) {
	out := map[string][]sbom.Finding{}
	for _, p := range pkgs {
		out[p.Key] = nil
		switch {
		case p.SourceName == "openssl" && p.Version < "3.0.14":
			out[p.Key] = append(out[p.Key], sbom.Finding{ID: "CVE-2024-0001", Aliases: []string{"GHSA-aaaa-bbbb-cccc"}, Kind: "vulnerability",
				PackageID: p.Key, PackageName: p.Name, PackageType: p.Type, PURL: p.PURL, InstalledVersion: p.Version,
				FixedVersions: []string{"3.0.14-1"}, Severity: "high"})
		case p.Name == "lodash" && p.Version == "4.17.20":
			out[p.Key] = append(out[p.Key], sbom.Finding{ID: "CVE-2021-23337", Kind: "vulnerability", PackageID: p.Key, PackageName: p.Name,
				PackageType: p.Type, InstalledVersion: p.Version, FixedVersions: []string{"4.17.21"}, Severity: "critical", KEV: true})
		}
	}
	return out, nil
}

// fixture: host-a runs web (img 1, old openssl, app=web) and db (img 2,
// fixed openssl); host-b runs web2 (img 1, exited) and api (img 3, lodash).
func fixture(t *testing.T, s store.Store) {
	t.Helper()
	b := &batcher{agent: "agent-a", stream: "s1"}
	img1 := image(1, []string{"shop/web:1.0", "shop/web:latest"}, []int{1, 2}, deb("libssl3", "3.0.11-1", "openssl"), deb("bash", "5.2-1", "bash"))
	img2 := image(2, []string{"shop/db:1"}, []int{1, 3}, deb("libssl3", "3.0.15-1", "openssl"), deb("bash", "5.2-1", "bash"))
	img3 := image(3, []string{"shop/api:2"}, []int{4}, npm("lodash", "4.17.20"), npm("express", "4.18.2"))
	ingest(t, s, b.batch("host-a",
		api.Item{Type: api.ItemHost, Host: &api.Host{Name: "host-a", OS: "Debian 12", Kernel: "6.1.0", Labels: map[string]string{"zone": "eu"}}},
		api.Item{Type: api.ItemImage, Image: img1},
		api.Item{Type: api.ItemImage, Image: img2},
		api.Item{Type: api.ItemContainer, Container: ctr(1, 1, "", api.StateRunning, map[string]string{"app": "web", "tier": "front"})},
		api.Item{Type: api.ItemContainer, Container: ctr(2, 2, "", api.StateRunning, map[string]string{"app": "db", "tier": "back"})},
	), fakeMatch)
	b2 := &batcher{agent: "agent-b", stream: "s1"}
	exited := ctr(3, 1, "", api.StateExited, map[string]string{"app": "web", "tier": "front", "canary": "true"})
	exited.Finished, exited.ExitCode = tp(at(2)), new(int)
	ingest(t, s, b2.batch("host-b",
		api.Item{Type: api.ItemImage, Image: img3},
		api.Item{Type: api.ItemImage, Image: img1},
		api.Item{Type: api.ItemContainer, Container: exited},
		api.Item{Type: api.ItemContainer, Container: ctr(4, 3, "", api.StateRunning, map[string]string{"app": "api"})},
		api.Item{Type: api.ItemHostSBOM, HostSBOM: &sbom.SBOM{Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: []sbom.Package{deb("openssl", "3.0.11-1", "openssl")}}},
	), fakeMatch)
}

func ids[T any](items []T, id func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	slices.Sort(out)
	return out
}

func containerIDs(l *api.ContainerList) []string {
	return ids(l.Items, func(c api.Container) string { return c.Name })
}

func TestIngestIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		b := &batcher{agent: "a1", stream: "s1"}
		batch := b.batch("h1",
			api.Item{Type: api.ItemContainer, Container: ctr(1, 1, "", api.StateRunning, map[string]string{"app": "web"})},
			api.Item{Type: api.ItemImage, Image: image(1, []string{"x:1"}, []int{1}, deb("bash", "5.2-1", "bash"))},
		)
		r := ingest(t, s, batch, nil)
		if r.AckSeq != 2 || r.Accepted != 2 || r.Duplicates != 0 {
			t.Fatalf("first delivery: %+v", r)
		}
		r = ingest(t, s, batch, nil)
		if r.AckSeq != 2 || r.Accepted != 0 || r.Duplicates != 2 {
			t.Fatalf("redelivery: %+v", r)
		}
		// The same observations on a new stream are upserts by natural key.
		again := *batch
		again.Stream = "s2"
		r = ingest(t, s, &again, nil)
		if r.AckSeq != 2 || r.Accepted != 2 {
			t.Fatalf("new stream: %+v", r)
		}
		cl, err := s.Containers(context.Background(), store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		il, err := s.Images(context.Background(), store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := s.ImagePackages(context.Background(), imgID(1))
		if err != nil {
			t.Fatal(err)
		}
		if cl.Total != 1 || il.Total != 1 || pl.Total != 1 {
			t.Fatalf("duplicates stored: %d containers, %d images, %d packages", cl.Total, il.Total, pl.Total)
		}
	})
}

func TestContainerLifecycleOutOfOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		b := &batcher{agent: "a1", stream: "s1"}
		destroyed := ctr(1, 1, "h1", api.StateExited, nil)
		destroyed.Started, destroyed.Finished, destroyed.Destroyed, destroyed.ObservedAt = tp(at(1)), tp(at(2)), tp(at(3)), at(3)
		destroyed.ExitCode = new(int)
		*destroyed.ExitCode = 137
		running := ctr(1, 1, "h1", api.StateRunning, map[string]string{"app": "web"})
		running.Started, running.ObservedAt = tp(at(1)), at(1)
		created := ctr(1, 1, "h1", api.StateCreated, nil)
		created.Created, created.ObservedAt = tp(at(0)), at(0)
		created.Created = tp(at(0))
		// Delivered newest first.
		for _, c := range []*api.Container{destroyed, running, created} {
			ingest(t, s, b.batch("h1", api.Item{Type: api.ItemContainer, Container: c}), nil)
		}
		got, err := s.Container(ctx, ctrID(1))
		if err != nil {
			t.Fatal(err)
		}
		if got.State != api.StateDestroyed || got.ExitCode == nil || *got.ExitCode != 137 {
			t.Fatalf("state %s exit %v, want destroyed 137", got.State, got.ExitCode)
		}
		for name, pair := range map[string][2]*time.Time{"created": {got.Created, tp(at(0))}, "started": {got.Started, tp(at(1))},
			"finished": {got.Finished, tp(at(2))}, "destroyed": {got.Destroyed, tp(at(3))}} {
			if pair[0] == nil || !pair[0].Equal(*pair[1]) {
				t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
			}
		}
		if got.Labels["app"] != "web" {
			t.Errorf("labels %v", got.Labels)
		}
		// Retention removes it.
		n, err := s.PruneContainers(ctx, at(4))
		if err != nil || n != 1 {
			t.Fatalf("prune: %d, %v", n, err)
		}
		if _, err := s.Container(ctx, ctrID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after prune: %v", err)
		}
	})
}

func TestTopology(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		fixture(t, s)
		im, err := s.Image(ctx, imgID(1), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Layers) != 2 || im.Layers[0].DiffID != layer(1) || im.Packages != 2 {
			t.Fatalf("image: %+v", im)
		}
		l, err := s.Layer(ctx, layer(1))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Images, []string{imgID(1), imgID(2)}) {
			t.Fatalf("shared layer images %v", l.Images)
		}
		pl, err := s.Packages(ctx, store.Query{Filter: api.Filter{Package: "bash"}})
		if err != nil {
			t.Fatal(err)
		}
		// bash 5.2-1 in two images is one record.
		if pl.Total != 1 || !slices.Equal(pl.Items[0].Images, []string{imgID(1), imgID(2)}) {
			t.Fatalf("bash: %+v", pl)
		}
		raw, err := s.ImageSBOM(ctx, imgID(3))
		if err != nil {
			t.Fatal(err)
		}
		var doc sbom.SBOM
		if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Packages) != 2 {
			t.Fatalf("sbom: %v %d", err, len(doc.Packages))
		}
		hc, err := s.Containers(ctx, store.Query{Filter: api.Filter{Host: "host-b"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := containerIDs(hc); !slices.Equal(got, []string{"c3", "c4"}) {
			t.Fatalf("host-b containers %v", got)
		}
		hp, err := s.HostPackages(ctx, "host-b")
		if err != nil || hp.Total != 1 {
			t.Fatalf("host packages: %+v %v", hp, err)
		}
		raw, err = s.HostSBOM(ctx, "host-b")
		if err != nil || json.Unmarshal(raw, &doc) != nil || len(doc.Packages) != 1 || doc.Packages[0].Name != "openssl" {
			t.Fatalf("host sbom: %v %s", err, raw)
		}
		if _, err := s.HostSBOM(ctx, "host-a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("host without sbom: %v", err)
		}
		ims, hs, err := s.PackageUsers(ctx, hp.Items[0].Key, 10)
		if err != nil || len(ims) != 0 || !slices.Equal(hs, []string{"host-b"}) {
			t.Fatalf("package users: %v %v %v", ims, hs, err)
		}
		h, err := s.Host(ctx, "host-a")
		if err != nil || h.Kernel != "6.1.0" || h.Labels["zone"] != "eu" {
			t.Fatalf("host: %+v %v", h, err)
		}
		if _, err := s.Image(ctx, imgID(9), false); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing image: %v", err)
		}
	})
}

func TestContainerSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		fixture(t, s)
		vr, err := store.ParseVersionRange(">=3.0,<3.0.14")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    api.Filter
			vm   func(store.Pkg) bool
			want []string
		}{
			{"all", api.Filter{}, nil, []string{"c1", "c2", "c3", "c4"}},
			{"selector eq", api.Filter{Selector: "app=web"}, nil, []string{"c1", "c3"}},
			{"selector ne and exists", api.Filter{Selector: "tier,tier!=back"}, nil, []string{"c1", "c3"}},
			{"selector notin and not exists", api.Filter{Selector: "app notin (db),!canary"}, nil, []string{"c1", "c4"}},
			{"selector in", api.Filter{Selector: "app in (api,db)"}, nil, []string{"c2", "c4"}},
			{"state", api.Filter{State: "running"}, nil, []string{"c1", "c2", "c4"}},
			{"active", api.Filter{State: "active"}, nil, []string{"c1", "c2", "c4"}},
			{"host", api.Filter{Host: "host-a"}, nil, []string{"c1", "c2"}},
			{"tag", api.Filter{Tag: "shop/web:1.0"}, nil, []string{"c1", "c3"}},
			{"repo", api.Filter{Tag: "shop/db"}, nil, []string{"c2"}},
			{"image id", api.Filter{Image: imgID(3)}, nil, []string{"c4"}},
			{"image prefix", api.Filter{Image: imgID(2)[:19]}, nil, []string{"c2"}},
			{"image by tag", api.Filter{Image: "shop/api:2"}, nil, []string{"c4"}},
			{"package", api.Filter{Package: "libssl3"}, nil, []string{"c1", "c2", "c3"}},
			{"package version range", api.Filter{Package: "libssl3"}, vr, []string{"c1", "c3"}},
			{"severity critical", api.Filter{Severity: "critical"}, nil, []string{"c4"}},
			{"severity high", api.Filter{Severity: "high"}, nil, []string{"c1", "c3", "c4"}},
			{"time range excludes", api.Filter{Until: at(-1)}, nil, nil},
			{"combined", api.Filter{Selector: "app=web", State: "running", Host: "host-a"}, nil, []string{"c1"}},
			{"unknown package", api.Filter{Package: "nope"}, nil, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sel, err := selector.Parse(tt.f.Selector)
				if err != nil {
					t.Fatal(err)
				}
				l, err := s.Containers(context.Background(), store.Query{Filter: tt.f, Selector: sel, VersionMatch: tt.vm})
				if err != nil {
					t.Fatal(err)
				}
				if got := containerIDs(l); !slices.Equal(got, tt.want) || l.Total != len(tt.want) {
					t.Fatalf("got %v (total %d), want %v", got, l.Total, tt.want)
				}
			})
		}
		// Pagination.
		l, err := s.Containers(context.Background(), store.Query{Filter: api.Filter{Limit: 2, Offset: 1}})
		if err != nil || l.Total != 4 || len(l.Items) != 2 || l.Items[0].Name != "c2" {
			t.Fatalf("page: %+v %v", l, err)
		}
		il, err := s.Images(context.Background(), store.Query{Filter: api.Filter{Host: "host-b", State: "running"}})
		if err != nil || len(il.Items) != 1 || il.Items[0].ID != imgID(3) {
			t.Fatalf("images by host/state: %+v %v", il, err)
		}
		isel, _ := selector.Parse("maintainer=team2")
		il, err = s.Images(context.Background(), store.Query{Selector: isel})
		if err != nil || len(il.Items) != 1 || il.Items[0].ID != imgID(2) {
			t.Fatalf("images by label: %+v %v", il, err)
		}
		hl, err := s.Hosts(context.Background(), store.Query{Filter: api.Filter{Package: "openssl"}})
		if err != nil || len(hl.Items) != 1 || hl.Items[0].Name != "host-b" {
			t.Fatalf("hosts by own package: %+v %v", hl, err)
		}
		// Hosts running such containers: shop/web runs on host-a and
		// (exited) on host-b; running, only on host-a.
		for _, tt := range []struct {
			f    api.Filter
			want []string
		}{
			{api.Filter{Image: "shop/web"}, []string{"host-a", "host-b"}},
			{api.Filter{Image: "shop/web", State: api.StateRunning}, []string{"host-a"}},
			{api.Filter{Tag: "shop/api:2"}, []string{"host-b"}},
			{api.Filter{Severity: "critical"}, []string{"host-b"}},
			{api.Filter{State: api.StatePaused}, nil},
		} {
			hl, err := s.Hosts(context.Background(), store.Query{Filter: tt.f})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(hl.Items, func(h api.Host) string { return h.Name }); !slices.Equal(got, tt.want) || hl.Total != len(tt.want) {
				t.Fatalf("hosts %+v: %v (total %d), want %v", tt.f, got, hl.Total, tt.want)
			}
		}
	})
}

func TestImpact(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		fixture(t, s)
		testImpact(t, s)
	})
}

// TestIndexFollowsWriters: container search and impact run on each
// store's in-memory index; a second store on the same database (a second
// server) must see every write of the first — new containers, state
// changes, prunes — including batches committed concurrently.
func TestIndexFollowsWriters(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, a, b *store.SQL) {
		ctx := context.Background()
		count := func(s *store.SQL, state, sel string) int {
			t.Helper()
			q := store.Query{Filter: api.Filter{State: state}}
			if sel != "" {
				var err error
				if q.Selector, err = selector.Parse(sel); err != nil {
					t.Fatal(err)
				}
			}
			l, err := s.Containers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Items) != min(l.Total, 100) {
				t.Fatalf("%d items for a total of %d", len(l.Items), l.Total)
			}
			return l.Total
		}
		fixture(t, a)
		// b loads its index now, before the writes below.
		if n := count(b, "all", ""); n != 4 {
			t.Fatalf("b sees %d containers, want 4", n)
		}
		bt := &batcher{agent: "agent-a", stream: "s2"}
		destroyed := ctr(1, 1, "host-a", api.StateExited, nil)
		destroyed.Destroyed, destroyed.ObservedAt = tp(at(50)), at(50)
		ingest(t, a, bt.batch("host-a",
			api.Item{Type: api.ItemContainer, Container: ctr(10, 2, "host-a", api.StateRunning, map[string]string{"app": "new"})},
			api.Item{Type: api.ItemContainer, Container: destroyed},
		), fakeMatch)
		// A new image with lodash and a container of it, and a host's own
		// packages, after b loaded its index.
		bc := &batcher{agent: "agent-c", stream: "s1"}
		ingest(t, a, bc.batch("host-c",
			api.Item{Type: api.ItemImage, Image: image(5, []string{"shop/api:3"}, []int{5}, npm("lodash", "4.17.20"))},
			api.Item{Type: api.ItemContainer, Container: ctr(11, 5, "", api.StateRunning, nil)},
			api.Item{Type: api.ItemHostSBOM, HostSBOM: &sbom.SBOM{Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: []sbom.Package{deb("openssl", "3.0.11-1", "openssl")}}},
		), fakeMatch)
		imp, err := b.Impact(ctx, "CVE-2021-23337", store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if imp.TotalContainers != 2 || imp.TotalImages != 2 || ids(imp.Images, func(i api.ImpactImage) string { return i.ID })[1] != imgID(5) {
			t.Fatalf("b's impact after a new image: %d containers, images %+v", imp.TotalContainers, imp.Images)
		}
		// A new tag on a stored image reaches b's answers too.
		ingest(t, a, bc.batch("host-c", api.Item{Type: api.ItemImage, Image: &api.Image{ID: imgID(5), RepoTags: []string{"shop/api:3", "shop/api:stable"}}}), fakeMatch)
		if imp, err = b.Impact(ctx, "CVE-2021-23337", store.Query{}); err != nil {
			t.Fatal(err)
		}
		if tags := imp.Images[1].RepoTags; !slices.Equal(tags, []string{"shop/api:3", "shop/api:stable"}) {
			t.Fatalf("b's impact after a retag: tags %v", tags)
		}
		if imp, err = b.Impact(ctx, "CVE-2024-0001", store.Query{}); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids(imp.Hosts, func(h api.ImpactHost) string { return h.Name }), "host-c") {
			t.Fatalf("b's impact misses host-c's own openssl: %+v", imp.Hosts)
		}
		if n := count(b, "all", ""); n != 6 {
			t.Fatalf("after ingest b sees %d containers, want 6", n)
		}
		if n := count(b, api.StateDestroyed, ""); n != 1 {
			t.Fatalf("b sees %d destroyed containers, want 1", n)
		}
		if n := count(b, api.StateRunning, "app=new"); n != 1 {
			t.Fatalf("b sees %d running app=new containers, want 1", n)
		}
		pruned, err := a.PruneContainers(ctx, at(60))
		if err != nil || pruned != 1 {
			t.Fatalf("prune: %d, %v", pruned, err)
		}
		if n := count(b, "all", ""); n != 5 {
			t.Fatalf("after prune b sees %d containers, want 5", n)
		}
		if _, err := b.Container(ctx, ctrID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pruned container still readable: %v", err)
		}
		// Concurrent writers (on PostgreSQL their transactions commit out
		// of order) while b keeps reading.
		const writers, per = 4, 25
		var wg sync.WaitGroup
		stop := make(chan struct{})
		readErr := make(chan error, 1)
		go func() {
			defer close(readErr)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := b.Containers(ctx, store.Query{Filter: api.Filter{State: "all"}}); err != nil {
					readErr <- err
					return
				}
			}
		}()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wb := &batcher{agent: fmt.Sprintf("agent-w%d", w), stream: "s"}
				for i := range per {
					n := 2*(1000+w*per+i) + 1 // odd: hexID pads with zeros, so an even n could collide with a smaller one
					if _, err := a.Ingest(ctx, wb.batch(fmt.Sprintf("host-w%d", w),
						api.Item{Type: api.ItemContainer, Container: ctr(n, 3, "", api.StateRunning, map[string]string{"writer": fmt.Sprint(w)})},
					), at(100), fakeMatch); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}
		if n := count(b, "all", "writer"); n != writers*per {
			t.Fatalf("b sees %d containers of the concurrent writers, want %d", n, writers*per)
		}
		if n := count(b, "all", "writer=2"); n != per {
			t.Fatalf("b sees %d containers of writer 2, want %d", n, per)
		}
		if imp, err = b.Impact(ctx, "CVE-2021-23337", store.Query{}); err != nil {
			t.Fatal(err)
		}
		if imp.TotalContainers != 2+writers*per {
			t.Fatalf("impact of the lodash CVE: %d running containers, want %d", imp.TotalContainers, 2+writers*per)
		}
	})
}

func testImpact(t *testing.T, s *store.SQL) {
	{
		ctx := context.Background()
		for _, id := range []string{"CVE-2024-0001", "GHSA-aaaa-bbbb-cccc"} {
			imp, err := s.Impact(ctx, id, store.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if imp.ID != "CVE-2024-0001" || !slices.Contains(imp.Aliases, "GHSA-aaaa-bbbb-cccc") || imp.Severity != "high" {
				t.Fatalf("%s: header %+v", id, imp)
			}
			if len(imp.Images) != 1 || imp.TotalImages != 1 || imp.TotalHosts != 2 || imp.Images[0].ID != imgID(1) || imp.Images[0].Containers != 1 {
				t.Fatalf("%s: images %+v", id, imp.Images)
			}
			if tags := imp.Images[0].RepoTags; !slices.Equal(tags, []string{"shop/web:1.0", "shop/web:latest"}) {
				t.Fatalf("%s: image tags %v", id, tags)
			}
			p := imp.Images[0].Packages[0]
			if p.Name != "libssl3" || p.InstalledVersion != "3.0.11-1" || !slices.Equal(p.FixedVersions, []string{"3.0.14-1"}) {
				t.Fatalf("%s: package %+v", id, p)
			}
			// Running containers only by default: c3 has exited.
			if got := ids(imp.Containers, func(c api.ImpactContainer) string { return c.Name }); !slices.Equal(got, []string{"c1"}) || imp.TotalContainers != 1 {
				t.Fatalf("%s: containers %v", id, got)
			}
			// host-a runs c1; host-b's own openssl is affected.
			if len(imp.Hosts) != 2 || imp.Hosts[0].Name != "host-a" || imp.Hosts[0].Containers != 1 ||
				imp.Hosts[1].Name != "host-b" || len(imp.Hosts[1].Packages) != 1 {
				t.Fatalf("%s: hosts %+v", id, imp.Hosts)
			}
		}
		all, err := s.Impact(ctx, "CVE-2024-0001", store.Query{Filter: api.Filter{State: "all"}})
		if err != nil || all.TotalContainers != 2 {
			t.Fatalf("all states: %+v %v", all, err)
		}
		sel, _ := selector.Parse("canary=true")
		can, err := s.Impact(ctx, "CVE-2024-0001", store.Query{Filter: api.Filter{State: "all"}, Selector: sel})
		if err != nil || can.TotalContainers != 1 || can.Containers[0].Name != "c3" {
			t.Fatalf("selector: %+v %v", can, err)
		}
		none, err := s.Impact(ctx, "CVE-2024-0001", store.Query{Filter: api.Filter{Host: "host-b"}})
		if err != nil || none.TotalContainers != 0 || len(none.Images) != 0 {
			t.Fatalf("host filter: %+v %v", none, err)
		}
		unknown, err := s.Impact(ctx, "CVE-1999-9999", store.Query{})
		if err != nil || len(unknown.Images)+len(unknown.Containers)+len(unknown.Hosts) != 0 {
			t.Fatalf("unknown: %+v %v", unknown, err)
		}
	}
}

func TestPostureAndFindings(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		fixture(t, s)
		p, err := s.Posture(ctx, api.SubjectImage, imgID(3))
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 1 || p.BySeverity["critical"] != 1 || p.Fixable != 1 || p.KEV != 1 || p.Packages != 2 {
			t.Fatalf("image posture %+v", p)
		}
		hp, err := s.Posture(ctx, api.SubjectHost, "host-b")
		if err != nil {
			t.Fatal(err)
		}
		// lodash (api image), libssl3 (exited web2's image), host openssl.
		if hp.Total != 3 || hp.BySeverity["high"] != 2 || hp.Containers != 2 || hp.Images != 2 {
			t.Fatalf("host posture %+v", hp)
		}
		fl, err := s.Findings(ctx, api.SubjectImage, imgID(1), false)
		if err != nil || fl.Total != 1 || fl.Items[0].ID != "CVE-2024-0001" || fl.Items[0].FirstSeen.IsZero() {
			t.Fatalf("findings %+v %v", fl, err)
		}
		// Misconfig report then a complete report without it resolves it;
		// an alert redelivered is counted once.
		b := &batcher{agent: "x", stream: "y"}
		rep := &api.FindingsReport{SubjectKind: api.SubjectImage, SubjectID: imgID(1), Kind: api.KindMisconfig, Complete: true,
			Findings: []sbom.Finding{{ID: "DKR-001", Severity: "medium"}, {ID: "DKR-002", Severity: "low"}}}
		ingest(t, s, b.batch("host-a", api.Item{Type: api.ItemFindings, Findings: rep}), nil)
		rep2 := *rep
		rep2.Findings = rep.Findings[:1]
		if _, err := s.Ingest(ctx, b.batch("host-a", api.Item{Type: api.ItemFindings, Findings: &rep2}), at(200), nil); err != nil {
			t.Fatal(err)
		}
		alert := api.Item{Type: api.ItemAlert, Alert: &api.Alert{Time: at(5), Rule: "Terminal shell in container", Priority: "Notice", ContainerID: ctrID(1)}}
		ingest(t, s, b.batch("host-a", alert), nil)
		ingest(t, &streamless{s}, b.batch("host-a", alert), nil) // other stream, same alert
		fl, err = s.Findings(ctx, api.SubjectImage, imgID(1), true)
		if err != nil {
			t.Fatal(err)
		}
		var open, resolved []string
		for _, f := range fl.Items {
			if f.Resolved == nil {
				open = append(open, f.ID)
			} else {
				resolved = append(resolved, f.ID)
			}
		}
		if !slices.Equal(open, []string{"CVE-2024-0001", "DKR-001"}) || !slices.Equal(resolved, []string{"DKR-002"}) {
			t.Fatalf("open %v resolved %v", open, resolved)
		}
		cf, err := s.Findings(ctx, api.SubjectContainer, ctrID(1), false)
		if err != nil || cf.Total != 1 || cf.Items[0].Count != 1 || cf.Items[0].Kind != api.KindRuntime {
			t.Fatalf("container findings %+v %v", cf, err)
		}
	})
}

// streamless re-sends a batch under another stream id.
type streamless struct{ store.Store }

func (s *streamless) Ingest(ctx context.Context, b *api.Batch, now time.Time, m store.MatchFunc) (api.IngestResponse, error) {
	c := *b
	c.Stream += "-other"
	return s.Store.Ingest(ctx, &c, now, m)
}

func TestApplyMatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		fixture(t, s)
		// A new database: lodash fixed upstream advisory withdrawn, a new
		// bash advisory.
		found := map[string][]sbom.Finding{}
		var bashKey string
		err := s.AllPackages(ctx, func(p store.Pkg) error {
			found[p.Key] = nil
			if p.Name == "bash" {
				bashKey = p.Key
				found[p.Key] = []sbom.Finding{{ID: "CVE-2026-1111", Kind: "vulnerability", PackageID: p.Key, PackageName: p.Name, PackageType: p.Type, InstalledVersion: p.Version, Severity: "medium"}}
			}
			if p.SourceName == "openssl" && p.Version < "3.0.14" {
				fs, _ := fakeMatch([]store.Pkg{p})
				found[p.Key] = fs[p.Key]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.ApplyMatch(ctx, found, at(300))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.New) != 1 || d.New[0].ID != "CVE-2026-1111" || d.New[0].PackageID != bashKey ||
			len(d.Resolved) != 1 || d.Resolved[0].ID != "CVE-2021-23337" || d.Open != 3 {
			t.Fatalf("diff new %+v resolved %+v open %d", d.New, d.Resolved, d.Open)
		}
		imp, err := s.Impact(ctx, "CVE-2026-1111", store.Query{})
		if err != nil || len(imp.Images) != 2 || imp.TotalContainers != 2 {
			t.Fatalf("impact of the new advisory: %+v %v", imp, err)
		}
		fl, err := s.Findings(ctx, api.SubjectImage, imgID(3), true)
		if err != nil || fl.Total != 1 || fl.Items[0].Resolved == nil || !fl.Items[0].Resolved.Equal(at(300)) {
			t.Fatalf("resolved finding: %+v %v", fl, err)
		}
		// Applying the same result again changes nothing.
		d, err = s.ApplyMatch(ctx, found, at(301))
		if err != nil || len(d.New)+len(d.Resolved) != 0 {
			t.Fatalf("second apply: %+v %v", d, err)
		}
	})
}

func TestTokensAgentsAudit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		tok := store.TokenRecord{ID: "t1", Kind: api.TokenAgent, Name: "node-1", Hash: strings.Repeat("ab", 32), Created: at(0), CreatedBy: "token:admin"}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, store.TokenRecord{ID: "t2", Kind: api.TokenAgent, Name: "node-2", Hash: strings.Repeat("cd", 32), Created: at(1)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(ctx, tok.Hash)
		if err != nil || got.ID != "t1" || got.Name != "node-1" || got.Revoked != nil {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := s.TokenByHash(ctx, "00"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}
		if n, err := s.CountTokens(ctx, api.TokenAgent); err != nil || n != 2 {
			t.Fatalf("count %d %v", n, err)
		}
		a, err := s.Enroll(ctx, "t1", api.EnrollRequest{Hostname: "node-1", Version: "v1"}, at(2))
		if err != nil || a.ID != "node-1" {
			t.Fatalf("enroll: %+v %v", a, err)
		}
		if _, err := s.Enroll(ctx, "t2", api.EnrollRequest{AgentID: "node-1", Hostname: "node-1"}, at(3)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("enroll with another live token: %v", err)
		}
		if err := s.RevokeToken(ctx, "t1", at(4)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "t1", at(4)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		if _, err := s.Enroll(ctx, "t2", api.EnrollRequest{AgentID: "node-1", Hostname: "node-1"}, at(5)); err != nil {
			t.Fatalf("re-enroll after revocation: %v", err)
		}
		if tid, err := s.AgentToken(ctx, "node-1"); err != nil || tid != "t2" {
			t.Fatalf("agent token %q %v", tid, err)
		}
		agents, err := s.Agents(ctx)
		if err != nil || len(agents) != 1 || agents[0].TokenName != "node-2" {
			t.Fatalf("agents %+v %v", agents, err)
		}
		toks, err := s.Tokens(ctx)
		if err != nil || len(toks) != 2 || toks[0].Revoked == nil {
			t.Fatalf("tokens %+v %v", toks, err)
		}
		for i := range 3 {
			if err := s.Audit(ctx, api.AuditEntry{Time: at(i), Actor: "token:admin", Action: "token.create", Target: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := s.AuditLog(ctx, 2, 0)
		if err != nil || len(log) != 2 || log[0].Target != "2" || log[1].Target != "1" {
			t.Fatalf("audit %+v %v", log, err)
		}
		older, err := s.AuditLog(ctx, 10, log[1].ID)
		if err != nil || len(older) != 1 || older[0].Target != "0" {
			t.Fatalf("audit page %+v %v", older, err)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+dir+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	fixture(t, s)
	s.Close()
	s, err = store.Open(ctx, dir+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Containers(ctx, store.Query{})
	if err != nil || l.Total != 4 {
		t.Fatalf("after reopen: %v %v", l, err)
	}
	if err := s.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, "mysql://x"); err == nil {
		t.Fatal("mysql accepted")
	}
}

func TestVersionRange(t *testing.T) {
	tests := []struct {
		expr string
		p    store.Pkg
		want bool
	}{
		{">=1.2.0,<1.3", store.Pkg{Type: sbom.TypeNPM, Version: "1.2.5"}, true},
		{">=1.2.0,<1.3", store.Pkg{Type: sbom.TypeNPM, Version: "1.10.0"}, false},
		{"<3.0.14", store.Pkg{Type: sbom.TypeDeb, Version: "3.0.11-1"}, true},
		{"<3.0.14", store.Pkg{Type: sbom.TypeDeb, Version: "1:3.0.11-1"}, false},
		{"=4.17.20", store.Pkg{Type: sbom.TypeNPM, Version: "4.17.20"}, true},
		{"!=4.17.20", store.Pkg{Type: sbom.TypeNPM, Version: "4.17.20"}, false},
		{">2", store.Pkg{Type: sbom.TypeNPM, Version: "not-a-version"}, false},
	}
	for _, tt := range tests {
		m, err := store.ParseVersionRange(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := m(tt.p); got != tt.want {
			t.Errorf("%s on %s %s = %v", tt.expr, tt.p.Type, tt.p.Version, got)
		}
	}
	for _, bad := range []string{"", ">=", "1,,2"} {
		if _, err := store.ParseVersionRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestIngestSameContainerTwiceAndRacingImages: a batch holding two records
// of one container (create, then start: what every agent sends) stores its
// labels once, and agents racing to send the same new image all succeed —
// on PostgreSQL too, which refuses an upsert touching one row twice.
func TestIngestSameContainerTwiceAndRacingImages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.SQL) {
		b := &batcher{agent: "a1", stream: "s1"}
		created := ctr(7, 1, "", api.StateCreated, map[string]string{"app": "web", "team": "pay"})
		started := ctr(7, 1, "", api.StateRunning, map[string]string{"app": "web", "team": "pay"})
		started.ObservedAt = at(2)
		r := ingest(t, s, b.batch("h1",
			api.Item{Type: api.ItemContainer, Container: created},
			api.Item{Type: api.ItemContainer, Container: started},
		), nil)
		if r.Accepted != 2 {
			t.Fatalf("two records of one container: %+v", r)
		}
		cl, err := s.Containers(context.Background(), store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if cl.Total != 1 {
			t.Fatalf("%d containers stored, want 1", cl.Total)
		}

		// Eight agents send the same new image at once.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ab := &batcher{agent: fmt.Sprintf("racer%d", i), stream: "s"}
				batch := ab.batch(fmt.Sprintf("h%d", i), api.Item{Type: api.ItemImage, Image: image(9, []string{"race:1"}, []int{1, 2}, deb("bash", "5.2-1", "bash"))})
				if _, err := s.Ingest(context.Background(), batch, at(100), nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("racing image ingest: %v", err)
		}
		il, err := s.Images(context.Background(), store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if il.Total != 1 {
			t.Fatalf("%d images stored, want 1", il.Total)
		}
	})
}
