package inventory

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// knownCVE is fixed in util-linux 2.38.1-5+deb12u1; the vulnerable dpkg
// status holds 2.38.1-5 (bsdutils, mount, util-linux, libblkid1, …).
const knownCVE = "CVE-2024-28085"

func TestEndToEndSQLite(t *testing.T) {
	dir := t.TempDir()
	endToEnd(t, dir, filepath.Join(dir, "inventory.db"))
}

func TestEndToEndPostgres(t *testing.T) {
	endToEnd(t, t.TempDir(), postgresStore(t))
}

// postgresStore creates a fresh database on the test server and returns
// its URL; it is dropped when the test ends.
func postgresStore(t *testing.T) string {
	t.Helper()
	base := os.Getenv("BULKHEAD_TEST_POSTGRES")
	if base == "" {
		testenv.Missing(t, "BULKHEAD_TEST_POSTGRES (a PostgreSQL URL with a role allowed to create databases) is not set")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Missing(t, "PostgreSQL at BULKHEAD_TEST_POSTGRES not reachable: %v", err)
	}
	name := "bulkhead_inv_" + uniq()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// dockerEvents records the engine's container events for one label from now
// on, as an independent witness of what happened.
type dockerEvents struct {
	mu     sync.Mutex
	events []dockerEvent
	cmd    *exec.Cmd
}

type dockerEvent struct {
	ID       string `json:"id"`
	Action   string `json:"Action"`
	TimeNano int64  `json:"timeNano"`
	Actor    struct {
		Attributes map[string]string
	}
}

func watchEvents(t *testing.T, label string) *dockerEvents {
	t.Helper()
	d := &dockerEvents{cmd: exec.Command("docker", "events", "--filter", "type=container", "--filter", "label="+label, "--format", "{{json .}}")}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev dockerEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				d.mu.Lock()
				d.events = append(d.events, ev)
				d.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	time.Sleep(300 * time.Millisecond) // subscribed before the test acts
	return d
}

// byContainer returns action → event time for each container id.
func (d *dockerEvents) byContainer() map[string]map[string][]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string][]time.Time{}
	for _, ev := range d.events {
		if out[ev.ID] == nil {
			out[ev.ID] = map[string][]time.Time{}
		}
		out[ev.ID][ev.Action] = append(out[ev.ID][ev.Action], time.Unix(0, ev.TimeNano).UTC())
	}
	return out
}

func near(a *time.Time, b time.Time, tol time.Duration) bool {
	if a == nil {
		return false
	}
	d := a.Sub(b)
	return d <= tol && d >= -tol
}

func parseDockerTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("docker time %q: %v", s, err)
	}
	return v.UTC()
}

func endToEnd(t *testing.T, dir, store string) {
	needDocker(t)
	deb := sharedDebian(t)
	u := uniq()
	label := "bulkhead.test.run=" + u
	bbTag := "bulkhead-inv-e2e/busybox:" + u
	debTag := "bulkhead-inv-e2e/bookworm:" + u
	cleanupDocker(t, label, bbTag, debTag)
	buildBusybox(t, bbTag)
	importDebian(t, debTag, filepath.Join(deb, "vulnerable-rootfs/var/lib/dpkg/status"))
	bbImage := run(t, "docker", "image", "inspect", "-f", "{{.Id}}", bbTag)
	debImage := run(t, "docker", "image", "inspect", "-f", "{{.Id}}", debTag)

	srv := startServer(t, dir, store, "", advisoryDB(t, dir, filepath.Join(deb, "osv")))
	host := "e2e-" + u
	alertsAddr := freePort(t)
	agent := startAgent(t, srv, dir, srv.agentToken(t, "agent-"+u), host, rootfs(t), "--alerts-listen", alertsAddr)
	ev := watchEvents(t, label)
	ctx := context.Background()

	// Containers: long-running, one that exits within a second, one that
	// lives half a second and is removed (--rm), Debian ones with
	// capabilities, ports, a bind mount and a user; pause, unpause, rename.
	vol := t.TempDir()
	names := map[string]string{}
	docker := func(name string, args ...string) string {
		full := name + "-" + u
		a := append([]string{"run", "--name", full, "--label", label}, args...)
		out := run(t, "docker", a...)
		names[name] = full
		return out
	}
	ids := map[string]string{}
	ids["bb-long"] = docker("bb-long", "-d", "--label", "app=bb", "--label", "tier=web", bbTag, "sleep", "300")
	names["bb-exit"] = "bb-exit-" + u
	if out, err := exec.Command("docker", "run", "--name", names["bb-exit"], "--label", label, "--label", "app=bb-exit", bbTag, "sh", "-c", "sleep 0.3; exit 3").CombinedOutput(); err == nil {
		t.Fatalf("bb-exit exited 0: %s", out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("bb-exit: %v %s", err, out)
	}
	ids["bb-exit"] = inspectField(t, names["bb-exit"], "{{.Id}}")
	rmOut := run(t, "docker", "run", "-d", "--rm", "--name", "bb-rm-"+u, "--label", label, "--label", "app=bb-rm", bbTag, "sh", "-c", "sleep 0.5")
	ids["bb-rm"] = rmOut
	ids["deb-a"] = docker("deb-a", "-d", "--label", "app=deb", "--label", "team=payments", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
		"-p", "127.0.0.1::8080", "-v", vol+":/data:ro", "--user", "1000", debTag, "sleep", "300")
	ids["deb-b"] = docker("deb-b", "-d", "--label", "app=deb", "--label", "team=search", debTag, "sleep", "300")
	docker("deb-exit", "--label", "app=deb-exit", debTag, "true")
	ids["deb-exit"] = inspectField(t, names["deb-exit"], "{{.Id}}")
	run(t, "docker", "pause", ids["deb-b"])
	run(t, "docker", "unpause", ids["deb-b"])
	run(t, "docker", "rename", names["deb-b"], "deb-b-renamed-"+u)

	wantState := map[string]string{
		"bb-long": api.StateRunning, "bb-exit": api.StateExited, "bb-rm": api.StateDestroyed,
		"deb-a": api.StateRunning, "deb-b": api.StateRunning, "deb-exit": api.StateExited,
	}
	got := map[string]api.Container{}
	eventually(t, 3*time.Minute, "all containers on the server in their final state", func() (bool, string) {
		l, err := srv.admin.Containers(ctx, api.Filter{Host: host, Selector: label, Limit: 100})
		if err != nil {
			return false, err.Error()
		}
		byID := map[string]api.Container{}
		for _, c := range l.Items {
			byID[c.ID] = c
		}
		var wrong []string
		for n, id := range ids {
			c, ok := byID[id]
			if !ok || c.State != wantState[n] || (n == "deb-b" && !strings.HasPrefix(c.Name, "deb-b-renamed")) {
				wrong = append(wrong, fmt.Sprintf("%s=%q", n, c.State))
			}
			got[n] = c
		}
		return len(wrong) == 0, fmt.Sprintf("%d containers, not yet right: %v", len(l.Items), wrong)
	})

	// Exactly the test's containers, no duplicates. (The engine is shared:
	// other containers on it are on the server too, under the same host.)
	l, err := srv.admin.Containers(ctx, api.Filter{Host: host, Selector: label, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != len(ids) {
		t.Errorf("server has %d containers for %s, want %d", l.Total, host, len(ids))
	}

	evs := ev.byContainer()
	for n, id := range ids {
		c := got[n]
		t.Run("container/"+n, func(t *testing.T) {
			if c.Host != host || c.ID != id {
				t.Errorf("host %q id %q", c.Host, c.ID)
			}
			wantImage := bbImage
			if strings.HasPrefix(n, "deb") {
				wantImage = debImage
			}
			if c.ImageID != wantImage {
				t.Errorf("image %q, want %q", c.ImageID, wantImage)
			}
			if c.Labels["bulkhead.test.run"] != u {
				t.Errorf("labels %v", c.Labels)
			}
			if c.Created == nil || c.Started == nil {
				t.Errorf("lifecycle: created %v started %v", c.Created, c.Started)
			}
			e := evs[id]
			if len(e["create"]) != 1 || len(e["start"]) != 1 {
				t.Fatalf("docker events for %s: %v", n, e)
			}
			// The engine's own record, when the container still exists.
			if wantState[n] != api.StateDestroyed {
				if want := parseDockerTime(t, inspectField(t, id, "{{.Created}}")); !near(c.Created, want, 10*time.Millisecond) {
					t.Errorf("created %v, docker says %v", c.Created, want)
				}
				if want := parseDockerTime(t, inspectField(t, id, "{{.State.StartedAt}}")); !near(c.Started, want, 10*time.Millisecond) {
					t.Errorf("started %v, docker says %v", c.Started, want)
				}
			} else {
				if !near(c.Created, e["create"][0], time.Second) || !near(c.Started, e["start"][0], time.Second) {
					t.Errorf("created %v started %v; docker events %v", c.Created, c.Started, e)
				}
			}
			switch wantState[n] {
			case api.StateExited:
				want := parseDockerTime(t, inspectField(t, id, "{{.State.FinishedAt}}"))
				if !near(c.Finished, want, 10*time.Millisecond) {
					t.Errorf("finished %v, docker says %v", c.Finished, want)
				}
				code := 0
				if n == "bb-exit" {
					code = 3
				}
				if c.ExitCode == nil || *c.ExitCode != code {
					t.Errorf("exit code %v, want %d", c.ExitCode, code)
				}
				if c.Finished.Sub(*c.Started) > 5*time.Second {
					t.Errorf("ran %v: not a short-lived container?", c.Finished.Sub(*c.Started))
				}
			case api.StateDestroyed:
				if len(e["destroy"]) != 1 || !near(c.Destroyed, e["destroy"][0], 10*time.Millisecond) {
					t.Errorf("destroyed %v, docker event %v", c.Destroyed, e["destroy"])
				}
				if !near(c.Finished, e["die"][0], time.Second) || c.ExitCode == nil || *c.ExitCode != 0 {
					t.Errorf("finished %v exit %v; die event %v", c.Finished, c.ExitCode, e["die"])
				}
				if c.Labels["app"] != "bb-rm" || c.Name != "bb-rm-"+u {
					t.Errorf("removed container lost its attributes: name %q labels %v", c.Name, c.Labels)
				}
			case api.StateRunning:
				if c.Finished != nil && c.Finished.After(*c.Started) {
					t.Errorf("running but finished %v", c.Finished)
				}
			}
		})
	}
	a := got["deb-a"]
	// Docker 20.10 reports capabilities with the CAP_ prefix.
	if !hasCap(a.CapAdd, "NET_ADMIN") || !hasCap(a.CapDrop, "MKNOD") || a.User != "1000" || a.Privileged ||
		strings.Join(a.Command, " ") != "sleep 300" || a.Labels["team"] != "payments" || a.ImageRef != debTag {
		t.Errorf("deb-a attributes: %+v", a)
	}
	if len(a.Ports) != 1 || a.Ports[0].ContainerPort != 8080 || a.Ports[0].HostPort == 0 || a.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("deb-a ports %+v", a.Ports)
	}
	if len(a.Mounts) != 1 || a.Mounts[0].Source != vol || a.Mounts[0].Destination != "/data" || a.Mounts[0].RW {
		t.Errorf("deb-a mounts %+v", a.Mounts)
	}
	if len(a.Networks) != 1 || a.Networks[0].Name != "bridge" || a.Networks[0].IP == "" {
		t.Errorf("deb-a networks %+v", a.Networks)
	}

	// Images: SBOMs and findings.
	var debSBOMPkgs int
	eventually(t, 3*time.Minute, "both images with SBOMs", func() (bool, string) {
		for _, id := range []string{bbImage, debImage} {
			// The busybox image holds no package (a static binary with no
			// package metadata): its SBOM is stored, and empty.
			doc, err := srv.admin.ImageSBOM(ctx, id)
			if err != nil || doc.Source.ImageID != id || (id == debImage && len(doc.Packages) == 0) {
				return false, fmt.Sprintf("%s: %v", id, err)
			}
			if id == debImage {
				debSBOMPkgs = len(doc.Packages)
			}
		}
		return true, ""
	})
	wantDeb := countInstalled(t, filepath.Join(deb, "vulnerable-rootfs/var/lib/dpkg/status"))
	if pk, err := srv.admin.ImagePackages(ctx, debImage); err != nil || countType(pk, "deb") != wantDeb {
		t.Errorf("Debian image: %d deb packages stored (SBOM %d), dpkg status has %d installed (err %v)", countType(pk, "deb"), debSBOMPkgs, wantDeb, err)
	}
	fl, err := srv.admin.ImageFindings(ctx, debImage, false)
	if err != nil {
		t.Fatal(err)
	}
	cves := map[string]bool{}
	for _, f := range fl.Items {
		cves[f.ID] = true
	}
	if !cves[knownCVE] || len(cves) < 50 {
		t.Errorf("Debian image findings: %d distinct ids, %s present: %v", len(cves), knownCVE, cves[knownCVE])
	}
	// The busybox image has no vulnerability (no packages); the agent's
	// CIS Docker checks report its configuration (no HEALTHCHECK).
	// The check run that sees the image comes after its container starts,
	// at most every 5 s (internal/agent/checks.go): wait for it.
	var kinds map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		bl, err := srv.admin.ImageFindings(ctx, bbImage, false)
		if err != nil {
			t.Fatal(err)
		}
		kinds = map[string]int{}
		for _, f := range bl.Items {
			kinds[f.Kind]++
		}
		if kinds[api.KindMisconfig] > 0 || time.Now().After(deadline) {
			break
		}
	}
	if kinds[api.KindVulnerability] != 0 || kinds[api.KindMisconfig] == 0 {
		t.Errorf("busybox image findings by kind %v", kinds)
	}

	// Impact: exactly the containers running the Debian image (the query
	// defaults to running containers; state=exited finds the one that ran).
	gotIDs := func(im *api.Impact) []string {
		var out []string
		for _, c := range im.Containers {
			out = append(out, c.ID)
		}
		sort.Strings(out)
		return out
	}
	im, err := srv.admin.Impact(ctx, knownCVE, api.Filter{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ids["deb-a"], ids["deb-b"]}
	sort.Strings(want)
	if g := gotIDs(im); !slices.Equal(g, want) || im.TotalContainers != 2 {
		t.Errorf("impact of %s on %s: containers %v (total %d), want the running Debian ones %v", knownCVE, host, g, im.TotalContainers, want)
	}
	if len(im.Images) != 1 || im.Images[0].ID != debImage || len(im.Images[0].Packages) == 0 {
		t.Errorf("impact images %+v", im.Images)
	}
	exited, err := srv.admin.Impact(ctx, knownCVE, api.Filter{Host: host, State: api.StateExited})
	if err != nil {
		t.Fatal(err)
	}
	if g := gotIDs(exited); !slices.Equal(g, []string{ids["deb-exit"]}) {
		t.Errorf("impact of %s, exited only: %v, want %v", knownCVE, g, ids["deb-exit"])
	}
	sel, err := srv.admin.Impact(ctx, knownCVE, api.Filter{Host: host, Selector: "team=payments"})
	if err != nil || len(sel.Containers) != 1 || sel.Containers[0].ID != ids["deb-a"] {
		t.Errorf("impact with label selector team=payments: %+v %v", sel, err)
	}

	// A runtime alert (Falco JSON, 12-digit container id, as a sensor's
	// HTTP output posts it) becomes a runtime finding of that container.
	alert := `{"time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","rule":"Terminal shell in container","priority":"Notice",` +
		`"output":"A shell was spawned in a container","source":"syscall","tags":["container","shell"],"output_fields":{"container.id":"` + ids["deb-a"][:12] + `"}}`
	resp, err := http.Post("http://"+alertsAddr+"/", "application/json", strings.NewReader(alert))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("post alert to the agent: %v %v", err, resp)
	}
	eventually(t, time.Minute, "the runtime alert on deb-a", func() (bool, string) {
		fl, err := srv.admin.ContainerFindings(ctx, ids["deb-a"], false)
		if err != nil {
			return false, err.Error()
		}
		for _, f := range fl.Items {
			if f.Kind == api.KindRuntime && f.ID == "Terminal shell in container" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d findings", len(fl.Items))
	})

	// The host and its own root filesystem.
	h, err := srv.admin.Host(ctx, host)
	if err != nil || h.AgentVersion == "" || !strings.HasPrefix(h.Engine, "docker ") || h.Kernel == "" || h.OS == "" {
		t.Errorf("host %+v %v", h, err)
	}
	eventually(t, 2*time.Minute, "host packages", func() (bool, string) {
		hp, err := srv.admin.HostPackages(ctx, host)
		if err != nil {
			return false, err.Error()
		}
		return countType(hp, "deb") == countInstalled(t, filepath.Join(rootfs(t), "var/lib/dpkg/status")), fmt.Sprintf("%d packages", len(hp.Items))
	})
	agent.stop(t)
	if log := agent.logText(); strings.Contains(log, "level=ERROR") {
		t.Errorf("agent logged errors:\n%s", log)
	}
}

func hasCap(caps []string, c string) bool {
	return slices.Contains(caps, c) || slices.Contains(caps, "CAP_"+c)
}

func countType(l *api.PackageList, typ string) int {
	if l == nil {
		return -1
	}
	n := 0
	for _, p := range l.Items {
		if string(p.Type) == typ {
			n++
		}
	}
	return n
}

// countInstalled counts the installed packages of a dpkg status file.
func countInstalled(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range strings.Split(string(b), "\n\n") {
		for _, l := range strings.Split(rec, "\n") {
			if strings.HasPrefix(l, "Status: ") && strings.HasSuffix(l, " installed") {
				n++
			}
		}
	}
	return n
}
