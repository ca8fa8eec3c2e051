package sensor

import (
	"slices"
	"sort"
)

// Event types that are not syscalls.
const (
	typeExec uint32 = 1000
	typeFork uint32 = 1001
	typeExit uint32 = 1002
)

// syscallInfo is one traced syscall (x86_64 numbering).
type syscallInfo struct {
	nr   uint32
	name string // tracepoint name and Falco's evt.type
	// argNames are Falco's names for the arguments, by index, so
	// evt.arg.NAME and evt.arg[N] resolve.
	argNames []string
}

// syscalls is the explicit list of syscalls the sensor can trace. Rules
// decide which are attached: a syscall no enabled rule needs costs nothing.
var syscalls = []syscallInfo{
	{nr: 2, name: "open", argNames: []string{"name", "flags", "mode"}},
	{nr: 85, name: "creat", argNames: []string{"name", "mode"}},
	{nr: 257, name: "openat", argNames: []string{"dirfd", "name", "flags", "mode"}},
	{nr: 437, name: "openat2", argNames: []string{"dirfd", "name", "flags"}},
	{nr: 87, name: "unlink", argNames: []string{"path"}},
	{nr: 263, name: "unlinkat", argNames: []string{"dirfd", "name", "flags"}},
	{nr: 82, name: "rename", argNames: []string{"oldpath", "newpath"}},
	{nr: 264, name: "renameat", argNames: []string{"olddirfd", "oldpath", "newdirfd", "newpath"}},
	{nr: 316, name: "renameat2", argNames: []string{"olddirfd", "oldpath", "newdirfd", "newpath", "flags"}},
	{nr: 86, name: "link", argNames: []string{"oldpath", "newpath"}},
	{nr: 265, name: "linkat", argNames: []string{"olddir", "oldpath", "newdir", "newpath", "flags"}},
	{nr: 88, name: "symlink", argNames: []string{"target", "linkpath"}},
	{nr: 266, name: "symlinkat", argNames: []string{"target", "linkdirfd", "linkpath"}},
	{nr: 90, name: "chmod", argNames: []string{"filename", "mode"}},
	{nr: 268, name: "fchmodat", argNames: []string{"dirfd", "filename", "mode"}},
	{nr: 452, name: "fchmodat2", argNames: []string{"dirfd", "filename", "mode", "flags"}},
	{nr: 84, name: "rmdir", argNames: []string{"path"}},
	{nr: 91, name: "fchmod", argNames: []string{"fd", "mode"}},
	{nr: 321, name: "bpf", argNames: []string{"cmd", "attr", "size"}},
	{nr: 323, name: "userfaultfd", argNames: []string{"flags"}},
	{nr: 83, name: "mkdir", argNames: []string{"path", "mode"}},
	{nr: 258, name: "mkdirat", argNames: []string{"dirfd", "path", "mode"}},
	{nr: 42, name: "connect", argNames: []string{"fd", "addr", "addrlen"}},
	{nr: 43, name: "accept", argNames: []string{"fd", "addr", "addrlen"}},
	{nr: 288, name: "accept4", argNames: []string{"fd", "addr", "addrlen", "flags"}},
	{nr: 49, name: "bind", argNames: []string{"fd", "addr", "addrlen"}},
	{nr: 50, name: "listen", argNames: []string{"fd", "backlog"}},
	{nr: 105, name: "setuid", argNames: []string{"uid"}},
	{nr: 106, name: "setgid", argNames: []string{"gid"}},
	{nr: 113, name: "setreuid", argNames: []string{"ruid", "euid"}},
	{nr: 114, name: "setregid", argNames: []string{"rgid", "egid"}},
	{nr: 117, name: "setresuid", argNames: []string{"ruid", "euid", "suid"}},
	{nr: 119, name: "setresgid", argNames: []string{"rgid", "egid", "sgid"}},
	{nr: 101, name: "ptrace", argNames: []string{"request", "pid", "addr", "data"}},
	{nr: 165, name: "mount", argNames: []string{"dev", "dir", "type", "flags"}},
	{nr: 166, name: "umount2", argNames: []string{"name", "flags"}},
	{nr: 272, name: "unshare", argNames: []string{"flags"}},
	{nr: 308, name: "setns", argNames: []string{"fd", "nstype"}},
	{nr: 319, name: "memfd_create", argNames: []string{"name", "flags"}},
	{nr: 175, name: "init_module", argNames: []string{"img", "length", "uargs"}},
	{nr: 313, name: "finit_module", argNames: []string{"fd", "uargs", "flags"}},
}

var (
	syscallByNr   = map[uint32]*syscallInfo{}
	syscallByName = map[string]*syscallInfo{}
)

func init() {
	for i := range syscalls {
		s := &syscalls[i]
		syscallByNr[s.nr] = s
		syscallByName[s.name] = s
	}
}

// typeName is Falco's evt.type for an event type.
func typeName(t uint32) string {
	switch t {
	case typeExec:
		return "execve"
	case typeFork:
		return "clone"
	case typeExit:
		return "procexit"
	}
	if s, ok := syscallByNr[t]; ok {
		return s.name
	}
	return "unknown"
}

// openSyscalls are the syscalls the in-kernel path-prefix filter applies to.
var openSyscalls = map[string]bool{"open": true, "creat": true, "openat": true, "openat2": true}

// Interest computes which syscalls to attach for rules needing the given
// event types. all is true when some rule has no event-type restriction;
// then every syscall the sensor knows is attached. Event types the sensor
// cannot produce are returned in unsupported.
func Interest(eventTypes []string, all bool) (attach []string, unsupported []string) {
	set := map[string]bool{}
	if all {
		for _, s := range syscalls {
			set[s.name] = true
		}
	}
	for _, t := range eventTypes {
		switch t {
		case "execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit":
			continue // always traced through sched tracepoints
		case "umount":
			t = "umount2"
		}
		if _, ok := syscallByName[t]; ok {
			set[t] = true
		} else if !slices.Contains(unsupported, t) {
			unsupported = append(unsupported, t)
		}
	}
	for n := range set {
		attach = append(attach, n)
	}
	sort.Strings(attach)
	sort.Strings(unsupported)
	return attach, unsupported
}
