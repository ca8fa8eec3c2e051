package sensor

import (
	"testing"
	"time"
)

// TestProcTreeKeepsExitedForLateEvents: a file event that reaches the tree
// after its process's exit (the fallback's two kernel channels are not
// ordered) and carries no details of its own is attributed to the exited
// process, including its cgroup; one with details keeps them.
func TestProcTreeKeepsExitedForLateEvents(t *testing.T) {
	tree := NewProcTree()
	tree.proc = t.TempDir() // no /proc entries: everything comes from events
	now := time.Now()
	openat := syscallByName["openat"].nr
	tree.Update(&RawEvent{Type: typeExec, Pid: 4242, Ppid: 1, Comm: "cat", Str0: "/bin/cat", CgroupID: 77, Argv: []string{"cat", "/etc/shadow"}}, now)
	tree.Update(&RawEvent{Type: typeExit, Pid: 4242}, now)

	p := tree.Update(&RawEvent{Type: openat, Pid: 4242, Str0: "/etc/shadow"}, now)
	if p == nil || p.Name != "cat" || p.CgroupID != 77 || p.Cmdline() != "cat /etc/shadow" {
		t.Fatalf("late event after exit: got %+v, want the exited cat", p)
	}
	p = tree.Update(&RawEvent{Type: openat, Pid: 4243, Comm: "sh", CgroupID: 5}, now)
	if p == nil || p.Name != "sh" || p.CgroupID != 5 {
		t.Fatalf("unknown pid with details: got %+v", p)
	}
	// The set of exited processes is bounded.
	for pid := uint32(10000); pid < 10000+2*maxExited; pid++ {
		tree.Update(&RawEvent{Type: typeExec, Pid: pid, Comm: "x"}, now)
		tree.Update(&RawEvent{Type: typeExit, Pid: pid}, now)
	}
	if len(tree.exited) > maxExited {
		t.Fatalf("exited set holds %d, bound %d", len(tree.exited), maxExited)
	}
	if _, ok := tree.exited[4242]; ok {
		t.Fatal("oldest exited process not evicted")
	}
}
