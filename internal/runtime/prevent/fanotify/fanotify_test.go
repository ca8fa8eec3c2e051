package fanotify

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/testenv"
	"golang.org/x/sys/unix"
)

// scratchMount mounts a private tmpfs (a mount of its own, so the guard's
// mount mark touches nothing else on the machine) holding two copies of
// /bin/true and a data file.
func scratchMount(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (fanotify_init and mount need CAP_SYS_ADMIN)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	bin, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"allowed", "denied", "slow"} {
		if err := os.WriteFile(filepath.Join(dir, n), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func markDir(t *testing.T, g *Guard, dir string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := g.MarkMount(fd); err != nil {
		t.Fatal(err)
	}
}

// runChild execs path from a shell. The test process must never exec a
// guarded file itself: Go starts children with vfork, so the parent
// thread waits for the child's exec while holding its P; a garbage
// collection then cannot stop the world, the guard's reader never runs,
// and the child (which still holds a copy of the fanotify fd until its
// exec completes) waits forever. The shell is not guarded; it execs the
// file from a process that shares nothing with ours.
func runChild(path string) error {
	out, err := exec.Command("/bin/sh", "-c", `exec "$0"`, path).CombinedOutput()
	if err != nil && strings.Contains(string(out), "not permitted") {
		return fmt.Errorf("%w: %s", unix.EPERM, out)
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func TestGuardDeniesExecAndOpen(t *testing.T) {
	dir := scratchMount(t)
	var mu sync.Mutex
	var seen []Event
	g, err := New(Config{Exec: true, Open: true, Timeout: 50 * time.Millisecond, Decide: func(e Event) bool {
		mu.Lock()
		seen = append(seen, e)
		mu.Unlock()
		switch filepath.Base(e.Path) {
		case "denied":
			return !e.Exec
		case "secret":
			return e.Exec
		case "slow":
			time.Sleep(300 * time.Millisecond)
			return false
		}
		return true
	}})
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	markDir(t, g, dir)
	g.Start()
	defer g.Close()

	if err := runChild(filepath.Join(dir, "allowed")); err != nil {
		t.Errorf("allowed exec: %v", err)
	}
	err = runChild(filepath.Join(dir, "denied"))
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("denied exec: %v, want EPERM", err)
	}
	// A decision slower than the timeout is allowed and counted.
	if err := runChild(filepath.Join(dir, "slow")); err != nil {
		t.Errorf("slow decision: %v, want allowed by the timeout", err)
	}
	// Opens by another process: cat is outside the mount, the secret inside.
	out, err := exec.Command("cat", filepath.Join(dir, "secret")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("open of secret: %v %s", err, out)
	}
	// An exec raises two permission events here (FAN_OPEN_PERM and
	// FAN_OPEN_EXEC_PERM): both of "slow" time out.
	st := g.Stats()
	if st.Denied < 2 || st.TimedOut != 2 || st.Allowed == 0 || st.WriteErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	var sawExec bool
	for _, e := range seen {
		if e.Exec && e.Path == filepath.Join(dir, "denied") && e.PID > 0 {
			sawExec = true
		}
	}
	if !sawExec {
		t.Errorf("no exec event with path and pid for denied: %+v", seen)
	}
}

func TestGuardNotifyOnlyObserves(t *testing.T) {
	dir := scratchMount(t)
	paths := make(chan string, 16)
	g, err := New(Config{Exec: true, Notify: true, Decide: func(e Event) bool {
		paths <- e.Path
		return false // ignored in notify mode
	}})
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	markDir(t, g, dir)
	g.Start()
	defer g.Close()
	if err := runChild(filepath.Join(dir, "denied")); err != nil {
		t.Fatalf("notify group blocked an exec: %v", err)
	}
	select {
	case p := <-paths:
		if p != filepath.Join(dir, "denied") {
			t.Errorf("path %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

func TestGuardCloseReleases(t *testing.T) {
	dir := scratchMount(t)
	g, err := New(Config{Exec: true, Decide: func(Event) bool { return false }})
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	markDir(t, g, dir)
	g.Start()
	if err := runChild(filepath.Join(dir, "allowed")); !errors.Is(err, unix.EPERM) {
		t.Fatalf("exec under a deny-all guard: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := runChild(filepath.Join(dir, "allowed")); err != nil {
		t.Fatalf("exec after Close: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{Exec: true}); err == nil {
		t.Error("no Decide accepted")
	}
	if _, err := New(Config{Decide: func(Event) bool { return true }}); err == nil {
		t.Error("no event kind accepted")
	}
}

// BenchmarkExecGuarded compares fork+exec of a program with and without a
// guard answering every exec (the per-exec cost of protect mode). Use
// -benchtime as a multiple of 200 (e.g. 2000x).
func BenchmarkExecGuarded(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		b.Skip(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	bin, _ := os.ReadFile("/bin/true")
	p := filepath.Join(dir, "true")
	if err := os.WriteFile(p, bin, 0o755); err != nil {
		b.Fatal(err)
	}
	// One op is one fork+exec of the guarded file by a shell loop (see
	// runChild for why this process must not exec it itself).
	const perShell = 200
	run := func(b *testing.B) {
		script := `i=0; while [ $i -lt ` + fmt.Sprint(perShell) + ` ]; do "$0" || exit 1; i=$((i+1)); done`
		b.ResetTimer()
		for range (b.N + perShell - 1) / perShell {
			if out, err := exec.Command("/bin/sh", "-c", script, p).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	}
	b.Run("unguarded", run)
	b.Run("guarded", func(b *testing.B) {
		allow := map[string]bool{p: true}
		g, err := New(Config{Exec: true, Decide: func(e Event) bool { return allow[e.Path] }})
		if err != nil {
			b.Skip(err)
		}
		fd, _ := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err := g.MarkMount(fd); err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
		g.Start()
		defer g.Close()
		run(b)
		st := g.Stats()
		if st.Events > 0 {
			b.ReportMetric(float64(st.HandleNanos)/float64(st.Events), "handle-ns/event")
		}
	})
}

// A decision that never returns: its event is allowed at the timeout, the
// events behind it are still decided, and Close does not hang.
func TestGuardStuckDecisionDoesNotBlockOthers(t *testing.T) {
	dir := scratchMount(t)
	release := make(chan struct{})
	defer close(release)
	g, err := New(Config{Exec: true, Timeout: 100 * time.Millisecond, Decide: func(e Event) bool {
		switch filepath.Base(e.Path) {
		case "slow":
			<-release
			return false
		case "denied":
			return false
		}
		return true
	}})
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	markDir(t, g, dir)
	g.Start()
	begin := time.Now()
	if err := runChild(filepath.Join(dir, "slow")); err != nil {
		t.Fatalf("stuck decision not allowed at the timeout: %v", err)
	}
	if d := time.Since(begin); d < 100*time.Millisecond {
		t.Errorf("allowed after %v, before the timeout", d)
	}
	if err := runChild(filepath.Join(dir, "denied")); !errors.Is(err, unix.EPERM) {
		t.Errorf("event behind a stuck decision: %v, want EPERM", err)
	}
	if err := runChild(filepath.Join(dir, "allowed")); err != nil {
		t.Errorf("allowed exec behind a stuck decision: %v", err)
	}
	st := g.Stats()
	if st.TimedOut != 1 || st.Denied != 1 {
		t.Errorf("stats %+v", st)
	}
	done := make(chan error, 1)
	go func() { done <- g.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a stuck decision")
	}
}
