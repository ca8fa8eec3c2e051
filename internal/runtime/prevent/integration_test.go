package prevent

// Real-kernel, real-Docker tests. They need root, a reachable Docker
// Engine and a static busybox ($BULKHEAD_TEST_BUSYBOX, from
// scripts/test-env.sh). Without them they skip with a message naming what
// is missing; with BULKHEAD_REQUIRE_INTEGRATION=1 (as .ci/run sets) they
// fail instead.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/profile"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// testEnv checks the prerequisites and returns a Docker client.
func testEnv(t *testing.T) *client.Client {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (fanotify permission events and kill need it)")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker Engine not reachable (docker info: %v)", err)
	}
	bb := os.Getenv("BULKHEAD_TEST_BUSYBOX")
	if bb == "" {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX (a static busybox) is not set")
	}
	if _, err := os.Stat(bb); err != nil {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX=%s: %v", bb, err)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func uniq() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newTool is a second copy of busybox in the test image that is never run
// while learning (a "new binary"); named busybox so that it still works as
// the multi-call binary ("newtool sleep 1" would look for an applet
// "newtool").
const newTool = "/usr/local/bin/busybox"

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageTag != "" {
		_ = exec.Command("docker", "rmi", "-f", imageTag).Run()
	}
	os.Exit(code)
}

// buildImage builds (once per test binary) a FROM scratch image holding
// static busybox with its applets as symlinks, plus newTool.
func buildImage(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() { imageTag, imageErr = doBuildImage() })
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageTag
}

func doBuildImage() (string, error) {
	dir, err := os.MkdirTemp("", "bulkhead-prevent-image")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bb, err := os.ReadFile(os.Getenv("BULKHEAD_TEST_BUSYBOX"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
		return "", err
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\n" +
		"RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
		"RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/usr/local/bin\"]\n" +
		"RUN [\"/bin/busybox\", \"cp\", \"/bin/busybox\", \"/usr/local/bin/busybox\"]\n" +
		"RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/opt/tools\"]\n" +
		"RUN [\"/bin/busybox\", \"cp\", \"/bin/busybox\", \"/opt/tools/busybox\"]\n" +
		"RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/etc\", \"/tmp\"]\n" +
		"RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo root:x:0:0::/:/bin/sh > /etc/passwd; echo secret > /etc/shadow\"]\n" +
		"CMD [\"/bin/sleep\", \"600\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	tag := "bulkhead-prevent-test:" + uniq()
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return tag, nil
}

// runContainer starts a container and returns its full id.
func runContainer(t *testing.T, image string, labels ...string) string {
	t.Helper()
	args := []string{"run", "-d", "--name", "bulkhead-prevent-" + uniq()}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	args = append(args, image)
	id := docker(t, args...)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	return id
}

// findPID waits for a process of the container whose executable is exe
// (as the container sees it) and, if argv1 is not empty, whose first
// argument is argv1.
func findPID(t *testing.T, cid, exe, argv1 string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cg, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
			if err != nil || !bytes.Contains(cg, []byte(cid)) {
				continue
			}
			if x, _ := os.Readlink("/proc/" + e.Name() + "/exe"); x != exe {
				continue
			}
			if argv1 != "" {
				cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				args := strings.Split(string(cmdline), "\x00")
				if len(args) < 2 || args[1] != argv1 {
					continue
				}
			}
			return pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no process %s %s in container %.12s", exe, argv1, cid)
	return 0
}

// procEvent builds the exec event a sensor would report for a real
// process: host pid, executable as the container sees it, command line.
func procEvent(t *testing.T, cid string, pid int) *rules.MapEvent {
	t.Helper()
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	e, err := rules.NewMapEvent(map[string]any{
		"evt.type": "execve", "evt.rawtime": time.Now().UnixNano(),
		"proc.pid": pid, "proc.exepath": exe, "proc.name": filepath.Base(args[0]),
		"proc.cmdline": strings.Join(args, " "), "container.id": cid[:12],
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func waitGone(pid int) bool {
	for range 100 {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func testLogger(t *testing.T) (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestIntegrationDenyExecInContainer(t *testing.T) {
	cli := testEnv(t)
	img := buildImage(t)
	label := "bulkhead.test=" + uniq()
	cid := runContainer(t, img, label)
	p, err := ParsePolicy(strings.NewReader(`
actions:
  - rule: Drop and execute new binary in container
    action: deny
    exec: [/usr/local/bin/busybox]
    open: [/etc/shadow]
    match: {labels: {` + strings.Replace(label, "=", ": ", 1) + `}}
`))
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	r, err := NewResponder(p, Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// NewResponder attached to the running container through /proc.
	if _, ok := r.GuardStats(cid); !ok {
		t.Fatalf("no guard on the running container; logs:\n%s", logs)
	}
	out, err := exec.Command("docker", "exec", cid, newTool, "true").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "operation not permitted") {
		t.Errorf("exec of newTool: err=%v out=%q, want operation not permitted", err, out)
	}
	out, err = exec.Command("docker", "exec", cid, "/bin/cat", "/etc/shadow").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "operation not permitted") {
		t.Errorf("open of /etc/shadow: err=%v out=%q, want operation not permitted", err, out)
	}
	if out := docker(t, "exec", cid, "/bin/cat", "/etc/passwd"); !strings.Contains(out, "root:x:0:0") {
		t.Errorf("allowed open: %q", out)
	}
	if out := docker(t, "exec", cid, "/bin/ls", newTool); out != newTool {
		t.Errorf("allowed exec: %q", out)
	}
	st, _ := r.GuardStats(cid)
	if st.Denied < 2 || st.Allowed == 0 || st.TimedOut != 0 {
		t.Errorf("guard stats %+v", st)
	}
	// Both denials come back as alerts with the next event observed.
	var denials []string
	for _, a := range r.Observe(context.Background(), mustMapEvent(t, map[string]any{"evt.type": "openat", "container.id": "host"})) {
		if a.Rule == ruleDeniedPolicy && a.Priority == rules.PriorityCritical {
			denials = append(denials, a.OutputFields["fd.name"])
		}
	}
	if strings.Join(denials, ",") != newTool+",/etc/shadow" {
		t.Errorf("denial alerts for %v", denials)
	}
	// Handle reports the deny as enforced in the kernel.
	recs := r.Handle(context.Background(), rules.Alert{Rule: "Drop and execute new binary in container"},
		mustMapEvent(t, map[string]any{"container.id": cid[:12], "proc.exepath": newTool}))
	if len(recs) != 1 || recs[0].Action != ActionDeny || !strings.HasPrefix(recs[0].Result, "enforced in kernel") {
		t.Errorf("records %+v", recs)
	}
	if !strings.Contains(logs.String(), `"path":"`+newTool+`"`) || !strings.Contains(logs.String(), `"reason":"deny rule Drop and execute new binary in container"`) {
		t.Errorf("denial not logged:\n%s", logs)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing releases the gate.
	if out := docker(t, "exec", cid, newTool, "echo", "free"); out != "free" {
		t.Errorf("after Close: %q", out)
	}
}

func mustMapEvent(t *testing.T, f map[string]any) *rules.MapEvent {
	t.Helper()
	e, err := rules.NewMapEvent(f)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestIntegrationKillPauseStop(t *testing.T) {
	cli := testEnv(t)
	img := buildImage(t)
	ctx := context.Background()
	p, err := ParsePolicy(strings.NewReader(`
stop_timeout: 1s
actions:
  - {rule: Kill it, action: kill}
  - {rule: Pause it, action: pause}
  - {rule: Stop it, action: stop}
`))
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	r, err := NewResponder(p, Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	a := runContainer(t, img)
	b := runContainer(t, img)
	docker(t, "exec", "-d", a, "/bin/sleep", "1001")
	victim := findPID(t, a, "/bin/busybox", "1001")
	ev := procEvent(t, a, victim)
	r.Observe(ctx, ev)

	// The same pid claimed by another container's event: refused.
	wrong := procEvent(t, a, victim)
	_ = wrong.Set("container.id", b[:12])
	recs := r.Handle(ctx, rules.Alert{Rule: "Kill it"}, wrong)
	if len(recs) != 1 || !errors.Is(recs[0].Err, ErrPIDReused) || !alive(victim) {
		t.Fatalf("wrong-container kill: %+v alive=%v", recs, alive(victim))
	}
	// An event from before the process existed: refused.
	stale := procEvent(t, a, victim)
	_ = stale.Set("evt.rawtime", time.Now().Add(-time.Hour).UnixNano())
	r2, _ := NewResponder(p, Options{Docker: cli}) // no recorded exec start
	defer r2.Close()
	if recs := r2.Handle(ctx, rules.Alert{Rule: "Kill it"}, stale); len(recs) != 1 || !errors.Is(recs[0].Err, ErrPIDReused) || !alive(victim) {
		t.Fatalf("stale kill: %+v", recs)
	}

	recs = r.Handle(ctx, rules.Alert{Rule: "Kill it"}, ev)
	if len(recs) != 1 || recs[0].Result != "done" || recs[0].PID != int64(victim) {
		t.Fatalf("kill records %+v", recs)
	}
	if !waitGone(victim) {
		t.Fatal("process still alive after kill")
	}
	if ci, err := cli.ContainerInspect(ctx, a, client.ContainerInspectOptions{}); err != nil || !ci.Container.State.Running {
		t.Errorf("container a should still run after a process kill: %v", err)
	}
	if !strings.Contains(logs.String(), `"action":"kill"`) || !strings.Contains(logs.String(), `"proc_cmdline":"/bin/sleep 1001"`) {
		t.Errorf("kill not logged with the event:\n%s", logs)
	}

	recs = r.Handle(ctx, rules.Alert{Rule: "Pause it"}, mustMapEvent(t, map[string]any{"container.id": a[:12]}))
	if len(recs) != 1 || recs[0].Result != "done" {
		t.Fatalf("pause records %+v", recs)
	}
	ci, err := cli.ContainerInspect(ctx, a, client.ContainerInspectOptions{})
	if err != nil || !ci.Container.State.Paused {
		t.Errorf("container a not paused: %v", err)
	}
	docker(t, "unpause", a)

	recs = r.Handle(ctx, rules.Alert{Rule: "Stop it"}, mustMapEvent(t, map[string]any{"container.id": b[:12]}))
	if len(recs) != 1 || recs[0].Result != "done" {
		t.Fatalf("stop records %+v", recs)
	}
	ci, err = cli.ContainerInspect(ctx, b, client.ContainerInspectOptions{})
	if err != nil || ci.Container.State.Running {
		t.Errorf("container b still running: %v", err)
	}
}

func TestIntegrationLearnMonitorProtect(t *testing.T) {
	cli := testEnv(t)
	img := buildImage(t)
	ctx := context.Background()
	dir := t.TempDir()
	tag := uniq()
	cid := runContainer(t, img, "bulkhead.lmp="+tag)
	policy := func(mode string) *Policy {
		p, err := ParsePolicy(strings.NewReader(fmt.Sprintf(`
profiles: %s
containers:
  - name: lmp
    match: {labels: {bulkhead.lmp: %q}}
    mode: %s
`, dir, tag, mode)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Learn: the processes the container normally runs.
	log, logs := testLogger(t)
	r, err := NewResponder(policy("learn"), Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r.Observe(ctx, procEvent(t, cid, findPID(t, cid, "/bin/busybox", "600")))
	// /opt/tools/busybox is run but never reported as an event: only the
	// kernel-side learning (a FAN_OPEN_EXEC notification group) sees it.
	for _, args := range [][]string{{"/bin/ls", "/"}, {"/bin/cat", "/etc/passwd"}, {"/bin/sh", "-c", "echo hi"}, {"/opt/tools/busybox", "true"}} {
		docker(t, append([]string{"exec", cid}, args...)...)
	}
	docker(t, "exec", "-d", cid, "/bin/sleep", "2002")
	r.Observe(ctx, procEvent(t, cid, findPID(t, cid, "/bin/busybox", "2002")))
	r.Observe(ctx, mustMapEvent(t, map[string]any{"evt.type": "openat", "container.id": cid[:12], "proc.exepath": "/bin/busybox", "fd.name": "/etc/passwd"}))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var key profile.Key
	{
		ci, err := cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		key = profile.Key{Selector: "lmp", Image: ci.Container.Config.Image}
	}
	b, err := profile.Store{Dir: dir}.Load(key)
	if err != nil {
		t.Fatalf("profile not saved: %v\n%s", err, logs)
	}
	if !b.HasExec("/bin/busybox") || !b.HasExec("/opt/tools/busybox") || b.HasExec(newTool) || !b.HasFile("/etc/passwd") {
		t.Fatalf("learnt profile %+v", b.File())
	}

	// Monitor: a new program is alerted, nothing is blocked.
	r, err = NewResponder(policy("monitor"), Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	docker(t, "exec", "-d", cid, newTool, "sleep", "3003")
	newPID := findPID(t, cid, newTool, "sleep")
	alerts := r.Observe(ctx, procEvent(t, cid, newPID))
	if len(alerts) != 1 || alerts[0].Rule != ruleProcess || alerts[0].OutputFields["proc.exepath"] != newTool {
		t.Fatalf("monitor alerts %+v", alerts)
	}
	t.Logf("monitor alert: %s", alerts[0].Output)
	if !strings.Contains(alerts[0].Output, "image=bulkhead-prevent-test ") {
		t.Errorf("container fields not filled from Docker: %s", alerts[0].Output)
	}
	docker(t, "exec", "-d", cid, "/bin/sleep", "3004")
	if a := r.Observe(ctx, procEvent(t, cid, findPID(t, cid, "/bin/busybox", "3004"))); a != nil {
		t.Errorf("baseline process alerted: %+v", a)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Protect: the new program's exec is denied in the kernel; baseline
	// programs still run, and the running processes are untouched.
	r, err = NewResponder(policy("protect"), Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := exec.Command("docker", "exec", cid, newTool, "echo", "should not run").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "operation not permitted") {
		t.Fatalf("protect: exec of %s: err=%v out=%q, want operation not permitted\n%s", newTool, err, out, logs)
	}
	t.Logf("protect: docker exec %s: %v: %s", newTool, err, strings.TrimSpace(string(out)))
	if out := docker(t, "exec", cid, "/bin/sh", "-c", "echo still; ls "+newTool); out != "still\n"+newTool {
		t.Errorf("baseline programs in protect: %q", out)
	}
	if out := docker(t, "exec", cid, "/opt/tools/busybox", "echo", "learnt in kernel"); out != "learnt in kernel" {
		t.Errorf("baseline programs in protect: %q", out)
	}
	if !alive(newPID) {
		t.Error("protect must not kill processes that already run")
	}
	// The denial comes back as an alert with the next event observed.
	baseline := mustMapEvent(t, map[string]any{"evt.type": "execve", "container.id": cid[:12], "proc.exepath": "/bin/busybox", "proc.pid": 1})
	a := r.Observe(ctx, baseline)
	if len(a) != 1 || a[0].Rule != ruleDeniedBaseline || a[0].OutputFields["fd.name"] != newTool {
		t.Fatalf("protect denial alerts %+v", a)
	}
	t.Logf("denial alert: %s", a[0].Output)
	// An exec event outside the baseline (a sensor reporting an attempt)
	// is alerted as in monitor.
	attempt := mustMapEvent(t, map[string]any{"evt.type": "execve", "container.id": cid[:12], "proc.exepath": newTool, "proc.pid": 1})
	if a := r.Observe(ctx, attempt); len(a) != 1 || !strings.Contains(a[0].Output, "mode=protect") {
		t.Errorf("protect alerts %+v", a)
	}
	st, ok := r.GuardStats(cid)
	if !ok || st.Denied == 0 || st.TimedOut != 0 || st.WriteErrors != 0 {
		t.Errorf("guard stats %+v ok=%v", st, ok)
	}
	t.Logf("guard stats %+v", st)
}

// TestIntegrationDryRunGuardOnlyObserves checks that a dry run's guard
// logs "would deny" and lets the exec through.
func TestIntegrationDryRunGuardOnlyObserves(t *testing.T) {
	cli := testEnv(t)
	img := buildImage(t)
	label := uniq()
	cid := runContainer(t, img, "bulkhead.dry="+label)
	p, err := ParsePolicy(strings.NewReader(`
actions:
  - {rule: r, action: deny, exec: [/usr/local/bin/busybox], match: {labels: {bulkhead.dry: "` + label + `"}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	r, err := NewResponder(p, Options{Docker: cli, Logger: log, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := docker(t, "exec", cid, newTool, "echo", "ran"); out != "ran" {
		t.Errorf("dry run blocked: %q", out)
	}
	r.Close()
	if !strings.Contains(logs.String(), "would deny exec") || !strings.Contains(logs.String(), `"path":"`+newTool+`"`) {
		t.Errorf("no would-deny log:\n%s", logs)
	}
}

// TestIntegrationProtectDynamicBinaries: a Debian container (the
// debootstrap rootfs, docker import'ed). The profile holds only what the
// events reported (/usr/bin/sleep, the entrypoint, started before any
// guard existed), so protect must allow its ELF interpreter by reading
// PT_INTERP from the container's filesystem; an unlearnt dynamic program
// is denied.
func TestIntegrationProtectDynamicBinaries(t *testing.T) {
	cli := testEnv(t)
	rootfs := os.Getenv("BULKHEAD_TEST_ROOTFS")
	if rootfs == "" {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS (a debootstrap bookworm rootfs) is not set")
	}
	if _, err := os.Stat(filepath.Join(rootfs, "usr/bin/sleep")); err != nil {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS=%s has no usr/bin/sleep: %v", rootfs, err)
	}
	img := "bulkhead-prevent-deb:" + uniq()
	imp := exec.Command("sh", "-c", `tar -C "$0" -c . | docker import - "$1"`, rootfs, img)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", img).Run() })
	tag := uniq()
	id := docker(t, "run", "-d", "--label", "bulkhead.dyn="+tag, "--name", "bulkhead-prevent-"+tag, img, "/usr/bin/sleep", "600")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	ctx := context.Background()
	dir := t.TempDir()
	policy := func(mode string) *Policy {
		p, err := ParsePolicy(strings.NewReader(fmt.Sprintf("profiles: %s\ncontainers:\n  - {name: dyn, match: {labels: {bulkhead.dyn: %q}}, mode: %s}\n", dir, tag, mode)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	log, logs := testLogger(t)
	r, err := NewResponder(policy("learn"), Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r.Observe(ctx, procEvent(t, id, findPID(t, id, "/usr/bin/sleep", "600")))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, err = NewResponder(policy("protect"), Options{Docker: cli, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if out, err := exec.Command("docker", "exec", id, "/bin/sleep", "0").CombinedOutput(); err != nil {
		t.Fatalf("learnt dynamic program (via the /bin symlink) denied: %v %s\n%s", err, out, logs)
	}
	out, err := exec.Command("docker", "exec", id, "/usr/bin/id").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "operation not permitted") {
		t.Errorf("unlearnt /usr/bin/id: err=%v out=%q", err, out)
	}
	st, _ := r.GuardStats(id)
	if st.Denied != 1 || st.TimedOut != 0 {
		t.Errorf("guard stats %+v", st)
	}
}
