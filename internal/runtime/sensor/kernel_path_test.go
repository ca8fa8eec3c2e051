//go:build linux && amd64

package sensor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSensorResolvesRelativeOpens checks that the kernel program makes
// relative paths absolute (through the working directory, a directory fd,
// a mount point and a chroot) and applies the prefix filter to the result:
// a relative open outside the prefixes never reaches user space, one under
// them arrives with the absolute path, and one climbing with ".." is kept
// and cleaned by user space.
func TestSensorResolvesRelativeOpens(t *testing.T) {
	requireKernel(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	if err := os.MkdirAll(filepath.Join(mnt, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "sub", "kept"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dropped"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The sensor's own opens are ignored, so the opens come from a child
	// process: a shell that changes directory and opens relative paths.
	s, err := Open(Options{Syscalls: []string{"openat", "open"}, OpenPrefixes: []string{"/etc/", mnt + "/sub/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := "bulkhead-rel-" + strings.ReplaceAll(t.Name(), "/", "-")
	script := `exec 3<"$1"; cd "$2"; : < dropped; : < mnt/sub/kept; cd /etc; : < hostname; cd "$2"; : < ../../../../../../etc/passwd; exec 3<&-`
	cmd := exec.Command("/bin/sh", "-c", script, marker, "/etc/hostname", dir)
	var chroot *exec.Cmd
	if root := os.Getenv("BULKHEAD_TEST_ROOTFS"); root != "" {
		// In a chroot the path is the one the process sees, as in a container.
		chroot = exec.Command("/usr/sbin/chroot", root, "/bin/sh", "-c", "cd /etc && : < os-release # "+marker)
	}
	cmds := []*exec.Cmd{cmd}
	if chroot != nil {
		cmds = append(cmds, chroot)
	}
	opens, c := relativeOpens(t, s, marker, cmds...)
	seen := map[string]bool{}
	for _, o := range opens {
		if o.raw.Flags&flagPathResolved == 0 {
			t.Errorf("relative open %q not resolved in the kernel", o.raw.Str0)
		}
		seen[o.path] = true
	}
	want := []string{mnt + "/sub/kept", "/etc/hostname", "/etc/passwd"}
	if chroot != nil {
		want = append(want, "/etc/os-release")
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no open of %s reached user space (seen %v)", w, seen)
		}
	}
	if seen[filepath.Join(dir, "dropped")] {
		t.Errorf("relative open of %s/dropped passed the prefix filter", dir)
	}
	if c.Filtered == 0 {
		t.Error("no open counted as filtered")
	}
}

// TestDirCacheForgetsChangedPaths checks the kernel's directory cache: the
// second relative open in a directory outside the prefixes is dropped by a
// cache hit, and once the directory's parent is renamed, or the mount
// holding it is moved, below a watched prefix, the next relative open there
// is kept with its new path: the directory's own dentry did not change, so
// only the generation bumped by the rename and the mount tells.
func TestDirCacheForgetsChangedPaths(t *testing.T) {
	requireKernel(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	watched := filepath.Join(dir, "watched")
	m1 := filepath.Join(dir, "m1")
	for _, d := range []string{filepath.Join(dir, "p"), filepath.Join(dir, "p", "x"), watched, filepath.Join(watched, "m1"), m1} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", m1, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	// A moved mount cannot sit below a shared one.
	if err := unix.Mount("", m1, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(watched, "m1")
	defer unix.Unmount(moved, unix.MNT_DETACH)
	defer unix.Unmount(m1, unix.MNT_DETACH)
	if err := os.Mkdir(filepath.Join(m1, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "p", "x", "a"), filepath.Join(m1, "sub", "b")} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s, err := Open(Options{Syscalls: []string{"openat", "open"}, OpenPrefixes: []string{watched + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := "bulkhead-dircache-" + strings.ReplaceAll(t.Name(), "/", "-")
	// Each directory: three opens outside the prefix (the first walks and
	// caches, the next two hit), a rename of its parent or a move of its
	// mount by another process, then an open that must be kept.
	script := `cd "$1/p/x"; : < a; : < a; : < a; mv "$1/p" "$1/watched/p"; : < a
cd "$1/m1/sub"; : < b; : < b; : < b; mount --move "$1/m1" "$1/watched/m1"; : < b`
	opens, c := relativeOpens(t, s, marker, exec.Command("/bin/sh", "-c", script, marker, dir))
	seen := map[string]int{}
	for _, o := range opens {
		seen[o.path]++
	}
	for _, w := range []string{filepath.Join(watched, "p", "x", "a"), filepath.Join(watched, "m1", "sub", "b")} {
		if seen[w] != 1 {
			t.Errorf("open of %s after its directory moved below the prefix: seen %d times, want 1 (seen %v)", w, seen[w], seen)
		}
	}
	for _, w := range []string{filepath.Join(dir, "p", "x", "a"), filepath.Join(m1, "sub", "b")} {
		if seen[w] != 0 {
			t.Errorf("open of %s outside the prefix reached user space", w)
		}
	}
	if c.FilteredCached < 4 {
		t.Errorf("%d opens dropped by the directory cache, want at least 4 (2 per directory); filtered %d", c.FilteredCached, c.Filtered)
	}
}

// relOpen is a relative open seen by the sensor: its record and the path
// user space made of it.
type relOpen struct {
	raw  RawEvent
	path string
}

// relativeOpens runs cmds one after another while s traces, then closes s.
// It returns the relative opens of the processes whose argv carries marker
// and the kernel's counters read before closing.
func relativeOpens(t *testing.T, s *Sensor, marker string, cmds ...*exec.Cmd) ([]relOpen, Counters) {
	t.Helper()
	counters := make(chan Counters, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		for _, cmd := range cmds {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("workload %v: %v: %s", cmd.Args, err, out)
			}
		}
		time.Sleep(200 * time.Millisecond)
		c, _ := s.Counters()
		counters <- c
		s.Close()
	}()
	en := NewEnricher(nil, "test")
	pids := map[uint32]bool{}
	var opens []relOpen
	for {
		raw, err := s.Read()
		if err != nil {
			break
		}
		ev := en.Enrich(raw)
		if raw.Type == typeExec && ev.Proc != nil && strings.Contains(strings.Join(raw.Argv, " "), marker) {
			pids[raw.Pid] = true
			continue
		}
		if pids[raw.Pid] && ev.IsOpen() && !strings.HasPrefix(raw.Str0, "/") {
			opens = append(opens, relOpen{raw: raw, path: ev.FdName})
		}
	}
	return opens, <-counters
}
