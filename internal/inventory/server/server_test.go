package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/notify"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/server"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store/storetest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

const adminSecret = "admin-secret-0123456789abcdef"

type harness struct {
	srv   *httptest.Server
	st    store.Store
	admin *api.Client
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, st store.Store, eng *rematch.Engine, opts ...func(*server.Options)) *harness {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := server.SeedAdminToken(context.Background(), st, adminSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	o := server.Options{Store: st, Engine: eng, Logger: log, Version: "test"}
	for _, f := range opts {
		f(&o)
	}
	s, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	c, err := api.NewClient(hs.URL, adminSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{srv: hs, st: st, admin: c, logs: logs}
}

func (h *harness) agentClient(t *testing.T, name string) (*api.Client, string) {
	t.Helper()
	tok, err := h.admin.CreateToken(context.Background(), api.TokenRequest{Kind: api.TokenAgent, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(h.srv.URL, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return c, tok.Secret
}

func sqliteStore(t *testing.T) *store.SQL {
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "inv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hexID(prefix string, n int) string {
	s := fmt.Sprintf("%s%x", prefix, n)
	return s + strings.Repeat("0", 64-len(s))
}

func do(t *testing.T, method, url, token string, body io.Reader) (*http.Response, api.Error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &e)
	return resp, e
}

// concrete fills a route pattern's wildcards with valid values.
func concrete(path string) string {
	r := strings.NewReplacer("{id}", "x", "{diffID}", "sha256:"+hexID("1", 1), "{name}", "host-a")
	p := r.Replace(path)
	switch {
	case strings.HasPrefix(path, api.Prefix+"/images/{id}"):
		p = strings.Replace(path, "{id}", "sha256:"+hexID("a", 1), 1)
	case strings.HasPrefix(path, api.Prefix+"/containers/{id}"):
		p = strings.Replace(path, "{id}", hexID("c", 1), 1)
	case strings.HasPrefix(path, api.Prefix+"/vulnerabilities/{id}"):
		p = strings.Replace(path, "{id}", "CVE-2024-0001", 1)
	case strings.HasPrefix(path, api.Prefix+"/tokens/{id}"):
		p = strings.Replace(path, "{id}", "nosuchtoken", 1)
	}
	return p
}

// TestEveryRouteRequiresAuth walks the router: every non-public route
// rejects a missing and an invalid token (401), agent tokens on admin
// routes (403), and lets the right token through.
func TestEveryRouteRequiresAuth(t *testing.T) {
	st := sqliteStore(t)
	h := newHarness(t, st, nil)
	s, _ := server.New(server.Options{Store: st})
	_, agentSecret := h.agentClient(t, "node-1")
	revoked, err := h.admin.CreateToken(context.Background(), api.TokenRequest{Kind: api.TokenAdmin, Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.admin.RevokeToken(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	public := 0
	for _, rt := range s.Routes() {
		url := h.srv.URL + concrete(rt.Path)
		name := rt.Method + " " + rt.Path
		t.Run(name, func(t *testing.T) {
			if rt.Access == server.Public {
				public++
				if resp, _ := do(t, rt.Method, url, "", nil); resp.StatusCode != 200 {
					t.Fatalf("public route: %d", resp.StatusCode)
				}
				return
			}
			for _, tc := range []struct {
				name, token string
				want        int
			}{
				{"missing", "", 401},
				{"invalid", "bh_not-a-real-token", 401},
				{"revoked", revoked.Secret, 401},
			} {
				resp, e := do(t, rt.Method, url, tc.token, strings.NewReader("{}"))
				if resp.StatusCode != tc.want || e.Error == "" && rt.Path != "/metrics" {
					t.Errorf("%s token: %d %q, want %d with a JSON error", tc.name, resp.StatusCode, e.Error, tc.want)
				}
			}
			resp, _ := do(t, rt.Method, url, agentSecret, strings.NewReader("{}"))
			if rt.Access == server.Admin && resp.StatusCode != 403 {
				t.Errorf("agent token on admin route: %d, want 403", resp.StatusCode)
			}
			if rt.Access == server.Agent && (resp.StatusCode == 401 || resp.StatusCode == 403) {
				t.Errorf("agent token on agent route: %d", resp.StatusCode)
			}
			resp, _ = do(t, rt.Method, url, adminSecret, strings.NewReader("{}"))
			if resp.StatusCode == 401 || resp.StatusCode == 403 {
				t.Errorf("admin token: %d", resp.StatusCode)
			}
		})
	}
	if public != 2 {
		t.Fatalf("%d public routes, want exactly /healthz and /readyz", public)
	}
	// Unknown routes need a token too.
	if resp, _ := do(t, "GET", h.srv.URL+"/api/v1/nope", "", nil); resp.StatusCode != 401 {
		t.Fatalf("unknown route without token: %d", resp.StatusCode)
	}
}

// TestOpenAPIMatchesRoutes checks every registered route is documented
// and every documented route is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented, registered []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	s, _ := server.New(server.Options{Store: sqliteStore(t)})
	for _, rt := range s.Routes() {
		registered = append(registered, rt.Method+" "+rt.Path)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("OpenAPI and router differ:\ndocumented %v\nregistered %v", documented, registered)
	}
}

func batchOf(agent, stream string, items ...api.Item) api.Batch {
	for i := range items {
		items[i].Seq = uint64(i + 1)
		items[i].Time = time.Now()
	}
	return api.Batch{AgentID: agent, Stream: stream, Host: "host-a", Items: items}
}

func npmImage(n int, pkgs ...sbom.Package) *api.Image {
	for i := range pkgs {
		sbom.AssignID(&pkgs[i])
	}
	return &api.Image{ID: "sha256:" + hexID("a", n), RepoTags: []string{fmt.Sprintf("app%d:1", n)},
		Layers: []api.Layer{{DiffID: "sha256:" + hexID("1", n), Size: 10}},
		SBOM:   &sbom.SBOM{Schema: sbom.SchemaVersion, Packages: pkgs}}
}

func TestIngestQueryAndValidation(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Open == nil {
				testenv.Missing(t, "%s", b.Skip)
			}
			st := b.Open(t)
			h := newHarness(t, st, nil, func(o *server.Options) { o.MaxBodyBytes = 64 << 10 })
			ctx := context.Background()
			agent, _ := h.agentClient(t, "node-1")
			other, _ := h.agentClient(t, "node-2")
			batch := batchOf("node-1", "s1",
				api.Item{Type: api.ItemImage, Image: npmImage(1, sbom.Package{Name: "lodash", Version: "4.17.20", Type: sbom.TypeNPM})},
				api.Item{Type: api.ItemContainer, Container: &api.Container{ID: hexID("c", 1), Name: "web", ImageID: "sha256:" + hexID("a", 1), State: "running", Labels: map[string]string{"app": "web"}}},
			)
			// Not enrolled yet.
			if _, err := agent.Ingest(ctx, batch); !isStatus(err, 403) {
				t.Fatalf("ingest before enroll: %v", err)
			}
			er, err := agent.Enroll(ctx, api.EnrollRequest{Hostname: "node-1", Version: "test"})
			if err != nil || er.AgentID != "node-1" || er.HasAdvisoryDB {
				t.Fatalf("enroll: %+v %v", er, err)
			}
			if has, err := agent.HasImage(ctx, batch.Items[0].Image.ID); err != nil || has {
				t.Fatalf("HasImage before ingest: %v %v", has, err)
			}
			r, err := agent.Ingest(ctx, batch)
			if err != nil || r.AckSeq != 2 || r.Accepted != 2 {
				t.Fatalf("ingest: %+v %v", r, err)
			}
			if has, err := agent.HasImage(ctx, batch.Items[0].Image.ID); err != nil || !has {
				t.Fatalf("HasImage after ingest: %v %v", has, err)
			}
			// An image known without its SBOM is still to be scanned.
			bare := batchOf("node-1", "s-bare", api.Item{Type: api.ItemImage, Image: &api.Image{ID: "sha256:" + hexID("a", 9)}})
			if _, err := agent.Ingest(ctx, bare); err != nil {
				t.Fatal(err)
			}
			if has, err := agent.HasImage(ctx, "sha256:"+hexID("a", 9)); err != nil || has {
				t.Fatalf("HasImage of an image without SBOM: %v %v", has, err)
			}
			// Another agent's token may not write as node-1.
			if _, err := other.Ingest(ctx, batch); !isStatus(err, 403) {
				t.Fatalf("ingest as another agent: %v", err)
			}
			// Agents cannot query.
			if _, err := agent.Containers(ctx, api.Filter{}); !isStatus(err, 403) {
				t.Fatalf("agent query: %v", err)
			}
			cl, err := h.admin.Containers(ctx, api.Filter{Selector: "app=web"})
			if err != nil || cl.Total != 1 || cl.Items[0].Host != "host-a" {
				t.Fatalf("containers: %+v %v", cl, err)
			}
			im, err := h.admin.Image(ctx, batch.Items[0].Image.ID)
			if err != nil || len(im.Layers) != 1 || im.Packages != 1 {
				t.Fatalf("image: %+v %v", im, err)
			}
			// Validation errors name the field.
			bad := batch
			bad.Items = slices.Clone(batch.Items)
			c := *bad.Items[1].Container
			c.State = "zombie"
			bad.Items[1].Container = &c
			_, err = agent.Ingest(ctx, bad)
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != 400 || se.Field != "items[1].container.state" {
				t.Fatalf("invalid state: %v", err)
			}
			if _, err := h.admin.Containers(ctx, api.Filter{Selector: "a in (b"}); !isField(err, 400, "selector") {
				t.Fatalf("bad selector: %v", err)
			}
			if _, err := h.admin.Containers(ctx, api.Filter{Severity: "urgent"}); !isField(err, 400, "severity") {
				t.Fatalf("bad severity: %v", err)
			}
			if _, err := h.admin.Containers(ctx, api.Filter{Version: "<1"}); !isField(err, 400, "version") {
				t.Fatalf("version without package: %v", err)
			}
			if _, err := h.admin.Container(ctx, "xyz"); !isField(err, 400, "id") {
				t.Fatalf("bad container id: %v", err)
			}
			if _, err := h.admin.Container(ctx, hexID("d", 9)); !isStatus(err, 404) {
				t.Fatalf("missing container: %v", err)
			}
			// Body size limit.
			big := batchOf("node-1", "s2", api.Item{Type: api.ItemHost, Host: &api.Host{Name: "host-a", OS: strings.Repeat("x", 70<<10)}})
			if _, err := agent.Ingest(ctx, big); !isStatus(err, 413) {
				t.Fatalf("oversized body: %v", err)
			}
			resp, e := do(t, "POST", h.srv.URL+"/api/v1/ingest", adminSecret, strings.NewReader(`{"agentID":"node-1","stream":"s","items":[{"seq":"x"}]}`))
			if resp.StatusCode != 400 || !strings.Contains(e.Error, "items.seq") {
				t.Fatalf("type error: %d %q", resp.StatusCode, e.Error)
			}
			// Writes are audited.
			log, err := h.admin.Audit(ctx, 50)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, a := range log {
				actions = append(actions, a.Action+" "+a.Target)
			}
			for _, want := range []string{"ingest node-1", "agent.enroll node-1", "token.seed bootstrap"} {
				if !slices.Contains(actions, want) {
					t.Errorf("audit log lacks %q: %v", want, actions)
				}
			}
		})
	}
}

func isStatus(err error, code int) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == code
}

func isField(err error, code int, field string) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == code && se.Field == field
}

// TestSecretsNeverLogged runs token creation, use and rejection with debug
// logging and checks no secret appears in the log.
func TestSecretsNeverLogged(t *testing.T) {
	h := newHarness(t, sqliteStore(t), nil)
	ctx := context.Background()
	agent, agentSecret := h.agentClient(t, "node-1")
	if _, err := agent.Enroll(ctx, api.EnrollRequest{Hostname: "node-1"}); err != nil {
		t.Fatal(err)
	}
	do(t, "GET", h.srv.URL+"/api/v1/containers", "bh_wrong-secret-value", nil)
	do(t, "GET", h.srv.URL+"/api/v1/containers", agentSecret, nil)
	if _, err := h.admin.Tokens(ctx); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "request") {
		t.Fatalf("no request logs captured: %q", logs)
	}
	for _, s := range []string{adminSecret, agentSecret, "bh_wrong-secret-value", server.HashToken(agentSecret)} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %q found in logs", s[:8])
		}
	}
	toks, _ := h.admin.Tokens(ctx)
	// Listing writes pending uses first: the agent's token was used.
	used := 0
	for _, tk := range toks {
		if tk.Name == "node-1" {
			if tk.LastUsed == nil || tk.LastUsed.Before(tk.Created) {
				t.Fatalf("agent token lastUsed = %v, created %v", tk.LastUsed, tk.Created)
			}
			used++
		}
	}
	if used != 1 {
		t.Fatalf("found %d tokens named node-1, want 1", used)
	}
	raw, _ := json.Marshal(toks)
	if strings.Contains(string(raw), agentSecret) || regexp.MustCompile(`"secret"`).Match(raw) {
		t.Fatal("token list exposes secrets")
	}
}

// TestRematchOnImport: an advisory imported through the API turns up as a
// finding on a stored image without any re-scan, and a signed webhook
// arrives.
func TestRematchOnImport(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Open == nil {
				testenv.Missing(t, "%s", b.Skip)
			}
			st := b.Open(t)
			testRematch(t, st)
		})
	}
}

func testRematch(t *testing.T, st store.Store) {
	ctx := context.Background()
	secret := []byte("hook-secret")
	events := make(chan api.Event, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.Verify(secret, body, r.Header.Get(api.SignatureHeader)) {
			t.Errorf("webhook signature does not verify")
			w.WriteHeader(401)
			return
		}
		var ev api.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Error(err)
		}
		events <- ev
	}))
	defer hook.Close()
	wh := notify.New(notify.Options{URL: hook.URL, Secret: secret, Backoff: 10 * time.Millisecond})
	defer wh.Close(ctx)
	dbPath := filepath.Join(t.TempDir(), "vuln.db")
	eng, err := rematch.New(st, rematch.Options{DBPath: dbPath, Notify: func(evs []api.Event) { wh.Send(evs...) }})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if eng.Loaded() {
		t.Fatal("engine loaded without a database file")
	}
	h := newHarness(t, st, eng)
	img := npmImage(1, sbom.Package{Name: "lodash", Version: "4.17.20", Type: sbom.TypeNPM, PURL: "pkg:npm/lodash@4.17.20"})
	deb := sbom.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: sbom.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2"}
	sbom.AssignID(&deb)
	debImg := &api.Image{ID: "sha256:" + hexID("a", 2), SBOM: &sbom.SBOM{Distro: &sbom.Distro{ID: "debian", VersionID: "12"}, Packages: []sbom.Package{deb}}}
	b := batchOf("node-1", "s1",
		api.Item{Type: api.ItemImage, Image: img},
		api.Item{Type: api.ItemImage, Image: debImg},
		api.Item{Type: api.ItemContainer, Container: &api.Container{ID: hexID("c", 1), ImageID: img.ID, State: "running"}},
		api.Item{Type: api.ItemContainer, Container: &api.Container{ID: hexID("c", 2), ImageID: debImg.ID, State: "running"}},
	)
	if _, err := h.admin.Ingest(ctx, b); err != nil {
		t.Fatal(err)
	}
	if imp, err := h.admin.Impact(ctx, "CVE-2021-23337", api.Filter{}); err != nil || len(imp.Images) != 0 {
		t.Fatalf("impact before import: %+v %v", imp, err)
	}
	for _, f := range []string{"GHSA-test-lodash.json", "DEBIAN-CVE-test-openssl.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.admin.ImportDB(ctx, "", bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
		if res.Format != "osv" || res.Added != 1 || res.Rematch == nil || res.Rematch.New != 1 {
			t.Fatalf("import %s: %+v rematch %+v", f, res, res.Rematch)
		}
	}
	for _, tc := range []struct{ id, alias, image, ctr string }{
		{"CVE-2021-23337", "GHSA-35jh-r3h4-6jhm", img.ID, hexID("c", 1)},
		{"CVE-2024-5535", "DEBIAN-CVE-2024-5535", debImg.ID, hexID("c", 2)},
	} {
		for _, q := range []string{tc.id, tc.alias} {
			imp, err := h.admin.Impact(ctx, q, api.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(imp.Images) != 1 || imp.Images[0].ID != tc.image || len(imp.Containers) != 1 || imp.Containers[0].ID != tc.ctr {
				t.Fatalf("impact %s: %+v", q, imp)
			}
		}
	}
	fl, err := h.admin.ImageFindings(ctx, img.ID, false)
	if err != nil || fl.Total != 1 || fl.Items[0].FixedVersions[0] != "4.17.21" {
		t.Fatalf("findings: %+v %v", fl, err)
	}
	got := map[string]api.Event{}
	deadline := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case ev := <-events:
			got[ev.Finding.ID] = ev
		case <-deadline:
			t.Fatalf("webhooks received: %v", got)
		}
	}
	if ev := got["CVE-2021-23337"]; ev.Type != api.EventFindingNew || !slices.Equal(ev.Images, []string{img.ID}) {
		t.Fatalf("lodash event %+v", ev)
	}
	// New image ingested after the import is matched at ingest.
	img3 := npmImage(3, sbom.Package{Name: "lodash", Version: "4.17.15", Type: sbom.TypeNPM})
	b3 := batchOf("node-1", "s2", api.Item{Type: api.ItemImage, Image: img3})
	if _, err := h.admin.Ingest(ctx, b3); err != nil {
		t.Fatal(err)
	}
	if p, err := h.admin.ImagePosture(ctx, img3.ID); err != nil || p.Total != 1 || p.Fixable != 1 {
		t.Fatalf("posture of a new image: %+v %v", p, err)
	}
	st2, err := h.admin.DBStatus(ctx)
	if err != nil || !st2.Loaded || st2.LastRematch == nil {
		t.Fatalf("db status %+v %v", st2, err)
	}
	// A garbage upload is a 400 naming the body.
	if _, err := h.admin.ImportDB(ctx, "", strings.NewReader("hello")); !isField(err, 400, "body") {
		t.Fatalf("garbage upload: %v", err)
	}
}
