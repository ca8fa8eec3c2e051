//go:build linux && amd64

package sensor

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// requireKernel skips (or fails under BULKHEAD_REQUIRE_INTEGRATION=1) when
// the eBPF sensor cannot run, naming why.
func requireKernel(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "root"
	} else if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		why = "kernel BTF (/sys/kernel/btf/vmlinux)"
	}
	if why != "" {
		testenv.Missing(t, "the eBPF sensor test needs %s", why)
	}
}

func TestSensorSeesHostExecAndOpen(t *testing.T) {
	requireKernel(t)
	s, err := Open(Options{Syscalls: []string{"openat", "connect"}, OpenPrefixes: []string{"/etc/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	marker := dir + "/bulkhead-marker"
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = exec.Command("/bin/cat", "/etc/hostname", marker).Run()
	}()
	var sawExec, sawOpen bool
	var execPid uint32
	deadline := time.AfterFunc(5*time.Second, func() { s.Close() })
	defer deadline.Stop()
	for !(sawExec && sawOpen) {
		ev, err := s.Read()
		if err != nil {
			if IsClosed(err) || errors.Is(err, os.ErrClosed) {
				break
			}
			t.Fatal(err)
		}
		switch {
		case ev.Type == typeExec && len(ev.Argv) == 3 && ev.Argv[2] == marker:
			sawExec, execPid = true, ev.Pid
			if ev.Str0 != "/bin/cat" || ev.Argv[1] != "/etc/hostname" || ev.Comm != "cat" {
				t.Errorf("exec event: %+v", ev)
			}
		case ev.Type == 257 && ev.Pid == execPid && ev.Str0 == "/etc/hostname":
			sawOpen = true
			if ev.Ret < 0 {
				t.Errorf("openat returned %d", ev.Ret)
			}
		case ev.Type == 257 && ev.Str0 == marker:
			t.Errorf("open of %s passed the /etc/ prefix filter", marker)
		}
	}
	if !sawExec || !sawOpen {
		t.Fatalf("exec seen %v, open seen %v", sawExec, sawOpen)
	}
	c, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.Filtered == 0 || c.Events == 0 {
		t.Errorf("counters %+v: want events and filtered opens counted", c)
	}
	t.Logf("attached %v, counters %+v", s.Attached(), c)
}

// TestProcConnectorFallback checks the reduced-coverage source used when
// eBPF cannot load: exec events with argv and parent from /proc.
func TestProcConnectorFallback(t *testing.T) {
	requireKernel(t)
	p, err := OpenProcConnector()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	marker := "bulkhead-procconn-" + t.Name()
	// Other processes on the machine run sleep too: the one to check is
	// the shell started here, which execs sleep in the same process.
	pid := make(chan uint32, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		cmd := exec.Command("/bin/sh", "-c", "exec /bin/sleep 0.5 # "+marker)
		if cmd.Start() == nil {
			pid <- uint32(cmd.Process.Pid)
			cmd.Wait()
		}
	}()
	deadline := time.AfterFunc(5*time.Second, func() { p.Close() })
	defer deadline.Stop()
	en := NewEnricher(nil, "test")
	var want uint32
	for {
		raw, err := p.Read()
		if err != nil {
			t.Fatalf("no exec event seen: %v", err)
		}
		if want == 0 && raw.Type == typeExec {
			select { // the shell's pid is sent right after it started
			case want = <-pid:
			case <-time.After(time.Second):
			}
		}
		ev := en.Enrich(raw)
		if ev.TypeName() == "execve" && ev.Proc != nil && ev.Proc.Name == "sleep" && ev.Proc.Parent != nil && want != 0 && raw.Pid == want {
			if ev.Proc.ExePath != "/bin/sleep" && ev.Proc.ExePath != "/usr/bin/sleep" {
				t.Errorf("exepath %q", ev.Proc.ExePath)
			}
			if len(ev.Proc.Args) != 1 || ev.Proc.Args[0] != "0.5" {
				t.Errorf("args %q", ev.Proc.Args)
			}
			return
		}
	}
}
