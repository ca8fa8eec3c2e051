package rules

import (
	"sort"
	"strings"
)

// FieldType is the declared type of a field; it decides how literals in a
// condition are parsed and which operators apply.
type FieldType uint8

// Field types. TypeIP and TypeIPNet are carried as strings in events;
// comparing a TypeIPNet field with "=" or "in" tests CIDR membership.
const (
	TypeString FieldType = iota + 1
	TypeInt
	TypeBool
	TypeList
	TypeIP
	TypeIPNet
)

func (t FieldType) String() string {
	return [...]string{"?", "string", "int", "bool", "list", "ipaddr", "ipnet"}[t]
}

// ArgMode says whether a field takes an argument in brackets.
type ArgMode uint8

// Argument modes.
const (
	ArgNone     ArgMode = iota // proc.name
	ArgOptional                // proc.aname, proc.aname[2]
	ArgRequired                // container.mount.dest[/proc*]
)

// FieldInfo describes one supported field.
type FieldInfo struct {
	Name string
	Type FieldType
	Arg  ArgMode
	// AnyWhenNoArg marks ancestor fields: without an index they test every
	// ancestor and match if any does (proc.aname = bash).
	AnyWhenNoArg bool
	Desc         string
}

// fieldTable lists every field Bulkhead's rule engine accepts. It is an
// explicit table rather than something each event source registers, so a
// rule that uses a field the sensor cannot produce is rejected at load time
// instead of silently never matching. TestFieldTableCoversRules keeps it in
// step with the Falco rules files.
var fieldTable = []FieldInfo{
	// evt
	{Name: "evt.type", Type: TypeString, Desc: "syscall/event name (open, execve, ...)"},
	{Name: "evt.dir", Type: TypeString, Desc: "event direction, > enter or < exit"},
	{Name: "evt.num", Type: TypeInt, Desc: "event sequence number"},
	{Name: "evt.time", Type: TypeString, Desc: "event timestamp as text"},
	{Name: "evt.rawtime", Type: TypeInt, Desc: "event timestamp, ns since epoch"},
	{Name: "evt.hostname", Type: TypeString, Desc: "host name"},
	{Name: "evt.res", Type: TypeString, Desc: "return value as text: SUCCESS or an errno name"},
	{Name: "evt.rawres", Type: TypeInt, Desc: "raw return value"},
	{Name: "evt.failed", Type: TypeBool, Desc: "the call returned an error"},
	{Name: "evt.args", Type: TypeString, Desc: "all arguments rendered as text"},
	{Name: "evt.buffer", Type: TypeString, Desc: "binary I/O buffer"},
	{Name: "evt.is_open_read", Type: TypeBool, Desc: "open for reading"},
	{Name: "evt.is_open_write", Type: TypeBool, Desc: "open for writing"},
	{Name: "evt.is_open_exec", Type: TypeBool, Desc: "open of an executable for writing/creation"},
	{Name: "evt.arg", Type: TypeString, Arg: ArgRequired, Desc: "argument by name or index; evt.arg.NAME is the same"},
	{Name: "evt.source", Type: TypeString, Desc: "event source (syscall)"},
	{Name: "syscall.type", Type: TypeString, Desc: "syscall name"},

	// proc / thread
	{Name: "proc.name", Type: TypeString, Desc: "process name (comm)"},
	{Name: "proc.exe", Type: TypeString, Desc: "first command-line argument (argv[0])"},
	{Name: "proc.exepath", Type: TypeString, Desc: "full executable path"},
	{Name: "proc.cmdline", Type: TypeString, Desc: "name and arguments"},
	{Name: "proc.args", Type: TypeString, Desc: "arguments joined by spaces"},
	{Name: "proc.env", Type: TypeString, Arg: ArgOptional, Desc: "environment, or one variable"},
	{Name: "proc.cwd", Type: TypeString, Desc: "working directory"},
	{Name: "proc.pid", Type: TypeInt},
	{Name: "proc.ppid", Type: TypeInt},
	{Name: "proc.vpid", Type: TypeInt, Desc: "pid inside the pid namespace"},
	{Name: "proc.sid", Type: TypeInt, Desc: "session id"},
	{Name: "proc.sname", Type: TypeString, Desc: "session leader name"},
	{Name: "proc.vpgid", Type: TypeInt},
	{Name: "proc.vpgid.name", Type: TypeString},
	{Name: "proc.vpgid.exe", Type: TypeString},
	{Name: "proc.is_vpgid_leader", Type: TypeBool},
	{Name: "proc.tty", Type: TypeInt, Desc: "controlling terminal, 0 if none"},
	{Name: "proc.pname", Type: TypeString, Desc: "parent name"},
	{Name: "proc.pexe", Type: TypeString},
	{Name: "proc.pexepath", Type: TypeString},
	{Name: "proc.pcmdline", Type: TypeString},
	{Name: "proc.aname", Type: TypeString, Arg: ArgOptional, AnyWhenNoArg: true, Desc: "ancestor name; [0] self, [1] parent, ..."},
	{Name: "proc.aexe", Type: TypeString, Arg: ArgOptional, AnyWhenNoArg: true},
	{Name: "proc.aexepath", Type: TypeString, Arg: ArgOptional, AnyWhenNoArg: true},
	{Name: "proc.apid", Type: TypeInt, Arg: ArgOptional},
	{Name: "proc.duration", Type: TypeInt, Desc: "ns since the process started"},
	{Name: "proc.ppid.duration", Type: TypeInt},
	{Name: "proc.is_exe_upper_layer", Type: TypeBool, Desc: "executable lives in the overlayfs upper layer"},
	{Name: "proc.is_exe_from_memfd", Type: TypeBool},
	{Name: "proc.is_exe_writable", Type: TypeBool},
	{Name: "proc.exe_ino", Type: TypeInt},
	{Name: "proc.exe_ino.ctime", Type: TypeInt},
	{Name: "proc.exe_ino.mtime", Type: TypeInt},
	{Name: "proc.exe_ino.ctime_duration_proc_start", Type: TypeInt},
	{Name: "thread.tid", Type: TypeInt},
	{Name: "thread.cap_permitted", Type: TypeString},
	{Name: "thread.cap_effective", Type: TypeString},
	{Name: "thread.cap_inheritable", Type: TypeString},

	// fd
	{Name: "fd.num", Type: TypeInt},
	{Name: "fd.type", Type: TypeString, Desc: "file, directory, ipv4, ipv6, unix, ..."},
	{Name: "fd.types", Type: TypeList, Desc: "types of all the process's fds"},
	{Name: "fd.typechar", Type: TypeString},
	{Name: "fd.name", Type: TypeString},
	{Name: "fd.nameraw", Type: TypeString},
	{Name: "fd.name_changed", Type: TypeBool},
	{Name: "fd.directory", Type: TypeString},
	{Name: "fd.filename", Type: TypeString},
	{Name: "fd.connected", Type: TypeBool},
	{Name: "fd.sockfamily", Type: TypeString},
	{Name: "fd.l4proto", Type: TypeString},
	{Name: "fd.ip", Type: TypeIP, Desc: "client or server address"},
	{Name: "fd.cip", Type: TypeIP},
	{Name: "fd.sip", Type: TypeIP},
	{Name: "fd.lip", Type: TypeIP},
	{Name: "fd.rip", Type: TypeIP},
	{Name: "fd.cip.name", Type: TypeString},
	{Name: "fd.sip.name", Type: TypeString},
	{Name: "fd.lip.name", Type: TypeString},
	{Name: "fd.rip.name", Type: TypeString},
	{Name: "fd.port", Type: TypeInt},
	{Name: "fd.cport", Type: TypeInt},
	{Name: "fd.sport", Type: TypeInt},
	{Name: "fd.lport", Type: TypeInt},
	{Name: "fd.rport", Type: TypeInt},
	{Name: "fd.net", Type: TypeIPNet, Desc: "compare with a CIDR: true if fd.ip is inside"},
	{Name: "fd.cnet", Type: TypeIPNet},
	{Name: "fd.snet", Type: TypeIPNet},
	{Name: "fd.lnet", Type: TypeIPNet},
	{Name: "fd.rnet", Type: TypeIPNet},

	// user / group
	{Name: "user.uid", Type: TypeInt},
	{Name: "user.name", Type: TypeString},
	{Name: "user.loginuid", Type: TypeInt, Desc: "audit login uid, -1 if unset"},
	{Name: "user.loginname", Type: TypeString},
	{Name: "group.gid", Type: TypeInt},
	{Name: "group.name", Type: TypeString},

	// container
	{Name: "container.id", Type: TypeString, Desc: "container id, \"host\" outside containers"},
	{Name: "container.name", Type: TypeString},
	{Name: "container.type", Type: TypeString},
	{Name: "container.image", Type: TypeString},
	{Name: "container.image.id", Type: TypeString},
	{Name: "container.image.repository", Type: TypeString},
	{Name: "container.image.tag", Type: TypeString},
	{Name: "container.image.digest", Type: TypeString},
	{Name: "container.privileged", Type: TypeBool},
	{Name: "container.mounts", Type: TypeString},
	{Name: "container.mount", Type: TypeString, Arg: ArgRequired},
	{Name: "container.mount.source", Type: TypeString, Arg: ArgRequired},
	{Name: "container.mount.dest", Type: TypeString, Arg: ArgRequired},
	{Name: "container.mount.mode", Type: TypeString, Arg: ArgRequired},
	{Name: "container.mount.rdwr", Type: TypeString, Arg: ArgRequired},
	{Name: "container.mount.propagation", Type: TypeString, Arg: ArgRequired},
	{Name: "container.start_ts", Type: TypeInt},
	{Name: "container.duration", Type: TypeInt},

	// k8s
	{Name: "k8s.ns.name", Type: TypeString},
	{Name: "k8s.pod.name", Type: TypeString},
	{Name: "k8s.pod.uid", Type: TypeString},
	{Name: "k8s.pod.label", Type: TypeString, Arg: ArgRequired},
	{Name: "k8s.pod.labels", Type: TypeString},
}

var fieldIndex = func() map[string]*FieldInfo {
	m := make(map[string]*FieldInfo, len(fieldTable))
	for i := range fieldTable {
		m[fieldTable[i].Name] = &fieldTable[i]
	}
	return m
}()

// lookupField finds a field by name. "evt.arg.NAME" resolves to evt.arg.
func lookupField(name string) (*FieldInfo, bool) {
	if f, ok := fieldIndex[name]; ok {
		return f, true
	}
	if strings.HasPrefix(name, "evt.arg.") && len(name) > len("evt.arg.") {
		return fieldIndex["evt.arg"], true
	}
	return nil, false
}

// Fields returns the supported fields sorted by name.
func Fields() []FieldInfo {
	out := append([]FieldInfo(nil), fieldTable...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
