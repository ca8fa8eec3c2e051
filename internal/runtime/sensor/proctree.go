package sensor

import (
	"bytes"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is one process as the tree knows it. A Process is immutable once
// published: exec and fork create new values, so events being evaluated on
// other goroutines keep a consistent view of their ancestry.
type Process struct {
	Pid, Ppid uint32
	Name      string // comm
	Exe       string // argv[0]
	ExePath   string // executable path as passed to exec (inside the container)
	Args      []string
	Uid, Gid  uint32
	Tty       uint32
	Start     time.Time
	ExeMemfd  bool
	CgroupID  uint64
	Parent    *Process
}

// Cmdline is Falco's proc.cmdline: name then arguments.
func (p *Process) Cmdline() string {
	if len(p.Args) == 0 {
		return p.Name
	}
	return p.Name + " " + strings.Join(p.Args, " ")
}

// Ancestor returns the n-th ancestor (0 is p itself), nil past the root.
func (p *Process) Ancestor(n int) *Process {
	for ; p != nil && n > 0; n-- {
		p = p.Parent
	}
	return p
}

// maxDepth bounds ancestry walks (and /proc reconstruction).
const maxDepth = 32

// ProcTree keeps processes by pid in user space, fed by exec, fork and exit
// events; processes started before the sensor are read from /proc when
// first seen.
type ProcTree struct {
	mu    sync.Mutex
	procs map[uint32]*Process
	proc  string // /proc, replaceable in tests

	// exited keeps the last maxExited processes that exited, for events
	// that reach the tree after the process's exit (the fallback's file
	// events come from another kernel channel than its exit).
	exited     map[uint32]*Process
	exitedRing []uint32
	exitedNext int
}

const maxExited = 1024

// NewProcTree returns an empty tree reading /proc for unknown pids.
func NewProcTree() *ProcTree {
	return &ProcTree{procs: map[uint32]*Process{}, proc: "/proc", exited: map[uint32]*Process{}}
}

// rememberExit keeps p in the bounded set of recently exited processes.
func (t *ProcTree) rememberExit(p *Process) {
	if len(t.exitedRing) < maxExited {
		t.exitedRing = append(t.exitedRing, p.Pid)
	} else {
		old := t.exitedRing[t.exitedNext]
		if q, ok := t.exited[old]; ok && q.Pid == old {
			delete(t.exited, old)
		}
		t.exitedRing[t.exitedNext] = p.Pid
		t.exitedNext = (t.exitedNext + 1) % maxExited
	}
	t.exited[p.Pid] = p
}

// Len is the number of processes held.
func (t *ProcTree) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.procs)
}

// Get returns the process for pid, reading /proc if it is unknown; nil if
// it does not exist.
func (t *ProcTree) Get(pid uint32) *Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.getLocked(pid, 0)
}

func (t *ProcTree) getLocked(pid uint32, depth int) *Process {
	if p, ok := t.procs[pid]; ok {
		return p
	}
	if pid == 0 || depth > maxDepth {
		return nil
	}
	p := t.readProc(pid)
	if p == nil {
		return nil
	}
	if p.Ppid != 0 && p.Ppid != pid {
		p.Parent = t.getLocked(p.Ppid, depth+1)
	}
	t.procs[pid] = p
	return p
}

// readProc builds a Process from /proc/PID.
func (t *ProcTree) readProc(pid uint32) *Process {
	dir := t.proc + "/" + strconv.FormatUint(uint64(pid), 10)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil
	}
	// comm is in parentheses and may contain spaces or parentheses.
	open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return nil
	}
	p := &Process{Pid: pid, Name: string(stat[open+1 : closing])}
	f := strings.Fields(string(stat[closing+1:]))
	if len(f) > 5 {
		ppid, _ := strconv.ParseUint(f[1], 10, 32)
		tty, _ := strconv.ParseUint(f[4], 10, 32)
		p.Ppid, p.Tty = uint32(ppid), uint32(tty)
	}
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		argv := splitArgv(cl)
		if len(argv) > 0 {
			p.Exe, p.Args = argv[0], argv[1:]
		}
	}
	if exe, err := os.Readlink(dir + "/exe"); err == nil {
		p.ExePath = strings.TrimSuffix(exe, " (deleted)")
		p.ExeMemfd = strings.HasPrefix(path.Base(exe), "memfd:")
	}
	if st, err := os.Stat(dir); err == nil {
		p.Start = st.ModTime()
	}
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) > 1 {
					u, _ := strconv.ParseUint(fs[1], 10, 32)
					p.Uid = uint32(u)
				}
			} else if v, ok := strings.CutPrefix(line, "Gid:"); ok {
				if fs := strings.Fields(v); len(fs) > 1 {
					g, _ := strconv.ParseUint(fs[1], 10, 32)
					p.Gid = uint32(g)
				}
			}
		}
	}
	return p
}

// Update applies a life-cycle event and returns the process the event
// belongs to (after an exec, the new image).
func (t *ProcTree) Update(ev *RawEvent, at time.Time) *Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Type {
	case typeExec:
		p := &Process{
			Pid: ev.Pid, Ppid: ev.Ppid, Name: ev.Comm, ExePath: ev.Str0,
			Uid: ev.Uid, Gid: ev.Gid, Tty: ev.Tty, Start: at, CgroupID: ev.CgroupID,
			ExeMemfd: ev.Flags&flagExeMemfd != 0,
		}
		if old, ok := t.procs[ev.Pid]; ok {
			p.Start = old.Start
		}
		if len(ev.Argv) > 0 {
			p.Exe, p.Args = ev.Argv[0], ev.Argv[1:]
		}
		if p.ExeMemfd || (p.ExePath != "" && (!strings.HasPrefix(p.ExePath, "/") ||
			strings.HasPrefix(p.ExePath, "/proc/") || strings.HasPrefix(p.ExePath, "/dev/fd/"))) {
			// A relative or fd path (fexecve, memfd): keep what the
			// kernel resolved the file to.
			if p.ExeMemfd {
				p.ExePath = ev.Str1
			} else if exe, err := os.Readlink(t.proc + "/" + strconv.FormatUint(uint64(ev.Pid), 10) + "/exe"); err == nil {
				p.ExePath = exe
			}
		}
		p.Parent = t.getLocked(ev.Ppid, 0)
		t.procs[ev.Pid] = p
		return p
	case typeFork:
		child := uint32(ev.Ret)
		parent := t.getLocked(ev.Pid, 0)
		c := &Process{Pid: child, Ppid: ev.Pid, Name: ev.Comm, Uid: ev.Uid, Gid: ev.Gid, Tty: ev.Tty, Start: at, CgroupID: ev.CgroupID, Parent: parent}
		if parent != nil {
			c.Exe, c.ExePath, c.Args, c.ExeMemfd = parent.Exe, parent.ExePath, parent.Args, parent.ExeMemfd
		}
		t.procs[child] = c
		return c
	case typeExit:
		p := t.procs[ev.Pid]
		delete(t.procs, ev.Pid)
		if p != nil {
			t.rememberExit(p)
		}
		return p
	}
	p := t.getLocked(ev.Pid, 0)
	if p == nil {
		p = t.exited[ev.Pid]
	}
	if p == nil {
		// Gone before we could read /proc: keep what the event says.
		p = &Process{Pid: ev.Pid, Ppid: ev.Ppid, Name: ev.Comm, Uid: ev.Uid, Gid: ev.Gid, Tty: ev.Tty, CgroupID: ev.CgroupID}
	} else if ev.Comm == "" {
		// The event carries no process details (a fallback event whose
		// process was gone before /proc could be read): the tree's are
		// the best known.
	} else if p.Uid != ev.Uid || p.Gid != ev.Gid || p.Name != ev.Comm {
		// Credentials or comm changed since exec (setuid, prctl): the
		// event's values are the truth.
		q := *p
		q.Uid, q.Gid, q.Name = ev.Uid, ev.Gid, ev.Comm
		p = &q
		t.procs[ev.Pid] = p
	}
	return p
}
