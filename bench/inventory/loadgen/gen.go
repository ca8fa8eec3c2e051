package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// world is the synthetic fleet: deterministic for a seed.
type world struct {
	u      *universe
	seed   uint64
	bases  []base
	images []imageSpec
	// containers[i] runs images[containers[i].image] on agent containers[i].agent.
	containers []containerSpec
	agents     int
	start      time.Time
}

// base is a Debian base image: one version of each of a subset of the
// Debian packages (some bases "old", holding pre-fix versions).
type base struct {
	layer string
	pkgs  []pkg
}

type imageSpec struct {
	id     string
	base   int
	nbase  int // how many of the base's packages the image keeps
	app    []pkg
	appEco sbom.Type
	layers []string
	tags   []string
}

type containerSpec struct {
	agent, image int
	exited       bool
}

func digest(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return "sha256:" + hex.EncodeToString(h[:])
}

var (
	teams  = []string{"payments", "search", "checkout", "identity", "platform", "data", "ml", "growth", "ads", "mobile", "infra", "billing", "support", "risk", "catalog", "media", "edge", "sre", "security", "labs"}
	envs   = []string{"prod", "prod", "prod", "staging", "dev"}
	tiers  = []string{"frontend", "backend", "worker", "batch", "cache"}
	appPfx = []string{"api", "web", "worker", "cron", "gateway", "indexer", "exporter", "proxy", "scheduler", "consumer"}
)

// newWorld lays out bases, images and containers.
func newWorld(u *universe, seed uint64, agents, containers, images, minPkgs, maxPkgs int) *world {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &world{u: u, seed: seed, agents: agents, start: time.Now().UTC().Add(-time.Hour)}
	byName := map[string][]pkg{}
	var names []string
	for _, p := range u.deb {
		if _, ok := byName[p.Name]; !ok {
			names = append(names, p.Name)
		}
		byName[p.Name] = append(byName[p.Name], p)
	}
	// 40 bases of 80–min(len,300) Debian packages.
	nb := 40
	for b := range nb {
		n := min(len(names), 80+r.IntN(220))
		perm := r.Perm(len(names))[:n]
		old := b%3 == 0
		var ps []pkg
		for _, i := range perm {
			vs := byName[names[i]]
			v := vs[0]
			if len(vs) > 1 && (old || r.IntN(4) == 0) {
				v = vs[r.IntN(len(vs))]
			}
			ps = append(ps, v)
		}
		w.bases = append(w.bases, base{layer: digest("base", seed, b), pkgs: ps})
	}
	var ecos []sbom.Type
	for t := range u.lang {
		ecos = append(ecos, t)
	}
	sortTypes(ecos)
	for i := range images {
		b := r.IntN(nb)
		im := imageSpec{id: digest("image", seed, i), base: b}
		target := minPkgs + r.IntN(maxPkgs-minPkgs+1)
		have := len(w.bases[b].pkgs)
		if have > target {
			// A slimmer image on the same base: trim to the target.
			have = target
		}
		im.nbase = have
		im.layers = []string{w.bases[b].layer, digest("app", seed, i)}
		if len(ecos) > 0 && target > have {
			im.appEco = ecos[r.IntN(len(ecos))]
			pool := u.lang[im.appEco]
			n := min(target-have, len(pool))
			for _, j := range r.Perm(len(pool))[:n] {
				im.app = append(im.app, pool[j])
			}
		}
		name := appPfx[r.IntN(len(appPfx))] + "-" + teams[r.IntN(len(teams))]
		im.tags = []string{fmt.Sprintf("registry.example.com/%s:%d.%d.%d", name, 1+r.IntN(3), r.IntN(20), i)}
		w.images = append(w.images, im)
	}
	// Every image runs somewhere; the rest follow a Zipf popularity.
	z := rand.NewZipf(r, 1.1, 4, uint64(images-1))
	perm := r.Perm(images)
	for i := range containers {
		img := 0
		if i < images {
			img = perm[i]
		} else {
			img = perm[z.Uint64()]
		}
		w.containers = append(w.containers, containerSpec{agent: i % agents, image: img, exited: r.IntN(10) == 0})
	}
	return w
}

func sortTypes(t []sbom.Type) {
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j] < t[j-1]; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
}

// imageSBOM is image i's SBOM: its base's Debian packages (trimmed to the
// image's size) and its application's packages.
func (w *world) imageSBOM(i int) *sbom.SBOM {
	im := &w.images[i]
	b := &w.bases[im.base]
	doc := &sbom.SBOM{
		Schema:     sbom.SchemaVersion,
		Descriptor: sbom.Descriptor{Name: "bulkhead-loadgen", Version: "1"},
		Created:    w.start,
		Source:     sbom.Source{Kind: "docker", Input: im.tags[0], ImageID: im.id, RepoTags: im.tags, Architecture: "amd64", OS: "linux"},
		Distro:     &sbom.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm", Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
	}
	for _, l := range im.layers {
		doc.Source.Layers = append(doc.Source.Layers, sbom.Layer{DiffID: l})
	}
	for _, p := range b.pkgs[:im.nbase] {
		doc.Packages = append(doc.Packages, sbomPkg(p, b.layer, "/var/lib/dpkg/status"))
	}
	for _, p := range im.app {
		doc.Packages = append(doc.Packages, sbomPkg(p, im.layers[1], appPath(im.appEco)))
	}
	return doc
}

func appPath(t sbom.Type) string {
	switch t {
	case sbom.TypeNPM:
		return "/app/package-lock.json"
	case sbom.TypePython:
		return "/app/poetry.lock"
	case sbom.TypeGem:
		return "/app/Gemfile.lock"
	}
	return "/app/lockfile"
}

func sbomPkg(p pkg, layer, path string) sbom.Package {
	sp := sbom.Package{Name: p.Name, Version: p.Version, Type: p.Type, Layer: layer, Locations: []sbom.Location{{Path: path, Layer: layer}}}
	switch p.Type {
	case sbom.TypeDeb:
		sp.FoundBy, sp.Arch = "dpkg", "amd64"
		sp.SourceName, sp.SourceVersion = p.SourceName, p.SourceVersion
		sp.PURL = "pkg:deb/debian/" + url.PathEscape(p.Name) + "@" + url.PathEscape(p.Version) + "?arch=amd64&distro=debian-12"
		if p.SourceName != "" && p.SourceName != p.Name {
			sp.PURL += "&upstream=" + url.QueryEscape(p.SourceName)
		}
	case sbom.TypeNPM:
		sp.FoundBy, sp.Language = "javascript", "javascript"
		sp.PURL = "pkg:npm/" + strings.ReplaceAll(url.PathEscape(p.Name), "%2F", "/") + "@" + p.Version
	case sbom.TypePython:
		sp.FoundBy, sp.Language = "python", "python"
		sp.PURL = "pkg:pypi/" + strings.ToLower(p.Name) + "@" + p.Version
	case sbom.TypeGem:
		sp.FoundBy, sp.Language = "ruby", "ruby"
		sp.PURL = "pkg:gem/" + p.Name + "@" + p.Version
	default:
		sp.FoundBy = string(p.Type)
	}
	id := sha256.Sum256([]byte(string(p.Type) + "/" + p.Name + "@" + p.Version + path))
	sp.ID = hex.EncodeToString(id[:8])
	return sp
}

// containerID is container i's 64-hex id.
func (w *world) containerID(i int) string {
	return strings.TrimPrefix(digest("container", w.seed, i), "sha256:")
}

// containerItems are the lifecycle observations of container i: create and
// start, and die for the ones that exited.
func (w *world) containerItems(i int, host string) []api.Item {
	cs := w.containers[i]
	im := &w.images[cs.image]
	r := rand.New(rand.NewPCG(w.seed, uint64(i)))
	app := strings.SplitN(strings.TrimPrefix(im.tags[0], "registry.example.com/"), ":", 2)[0]
	labels := map[string]string{
		"app":                             app,
		"team":                            teams[r.IntN(len(teams))],
		"env":                             envs[r.IntN(len(envs))],
		"tier":                            tiers[r.IntN(len(tiers))],
		"version":                         strings.SplitN(im.tags[0], ":", 2)[1],
		"com.docker.compose.project":      app,
		"com.docker.compose.service":      app + "-" + fmt.Sprint(r.IntN(4)),
		"org.opencontainers.image.source": "https://git.example.com/" + app,
	}
	created := w.start.Add(time.Duration(i) * 20 * time.Millisecond)
	started := created.Add(150 * time.Millisecond)
	c := api.Container{
		ID: w.containerID(i), Name: fmt.Sprintf("%s-%d", app, i), Host: host, ImageID: im.id, ImageRef: im.tags[0], RepoTags: im.tags,
		Labels: labels, Command: []string{"/usr/local/bin/" + app, "--port", "8080"}, User: "1000",
		CapDrop: []string{"ALL"}, Mounts: []api.Mount{{Type: "volume", Source: "/var/lib/docker/volumes/" + app + "/_data", Destination: "/data", RW: true}},
		Networks: []api.Network{{Name: "bridge", IP: fmt.Sprintf("172.17.%d.%d", (i/250)%250, 2+i%250)}},
		Ports:    []api.Port{{ContainerPort: 8080, Protocol: "tcp"}},
	}
	create := c
	create.State, create.Created, create.ObservedAt = api.StateCreated, &created, created
	start := c
	start.State, start.Created, start.Started, start.ObservedAt = api.StateRunning, &created, &started, started
	out := []api.Item{
		{Time: created, Type: api.ItemContainer, Container: &create},
		{Time: started, Type: api.ItemContainer, Container: &start},
	}
	if cs.exited {
		fin := started.Add(time.Duration(1+r.IntN(600)) * time.Second)
		code := r.IntN(2)
		die := start
		die.State, die.Finished, die.ExitCode, die.ObservedAt = api.StateExited, &fin, &code, fin
		out = append(out, api.Item{Time: fin, Type: api.ItemContainer, Container: &die})
	}
	return out
}

// hostSBOM is agent a's own root filesystem: a Debian base.
func (w *world) hostSBOM(a int, name string) *sbom.SBOM {
	b := &w.bases[a%len(w.bases)]
	doc := &sbom.SBOM{Schema: sbom.SchemaVersion, Descriptor: sbom.Descriptor{Name: "bulkhead-loadgen", Version: "1"}, Created: w.start,
		Source: sbom.Source{Kind: "host", Input: name},
		Distro: &sbom.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}}
	for _, p := range b.pkgs {
		sp := sbomPkg(p, "", "/var/lib/dpkg/status")
		sp.Layer, sp.Locations[0].Layer = "", ""
		doc.Packages = append(doc.Packages, sp)
	}
	return doc
}
