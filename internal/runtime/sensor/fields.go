package sensor

import (
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// Event is an enriched sensor event: the kernel record plus its process,
// container and resolved file name. It implements rules.Event.
type Event struct {
	Raw       RawEvent
	Time      time.Time
	Num       uint64
	Proc      *Process
	Container *Container // nil on the host
	// FdName is the file name for file events (absolute when it could be
	// resolved), or "client->server" for connected sockets.
	FdName   string
	Addr     SockAddr
	HasAddr  bool
	Hostname string
	users    *Users
}

// TypeName is the event's evt.type.
func (e *Event) TypeName() string { return typeName(e.Raw.Type) }

// ContainerID is container.id: the 12-character short id, or "host".
func (e *Event) ContainerID() string {
	if e.Container == nil {
		return "host"
	}
	return e.Container.ID[:12]
}

// IsOpen reports whether the event is a file open.
func (e *Event) IsOpen() bool { return openSyscalls[e.TypeName()] }

func (e *Event) openFlags() uint64 {
	switch e.TypeName() {
	case "open":
		return e.Raw.Args[1]
	case "openat", "openat2":
		return e.Raw.Args[2]
	case "creat":
		return oCreat | oWronly | oTrunc
	}
	return 0
}

func (e *Event) openMode() uint64 {
	switch e.TypeName() {
	case "open":
		return e.Raw.Args[2]
	case "openat":
		return e.Raw.Args[3]
	case "creat":
		return e.Raw.Args[1]
	}
	return 0
}

// Linux x86_64 open flags (the values the kernel records carry, whatever
// platform decodes them).
const (
	oAccMode   = 0o3
	oRdonly    = 0o0
	oWronly    = 0o1
	oRdwr      = 0o2
	oCreat     = 0o100
	oExcl      = 0o200
	oTrunc     = 0o1000
	oAppend    = 0o2000
	oNonblock  = 0o4000
	oDsync     = 0o10000
	oDirect    = 0o40000
	oDirectory = 0o200000
	oNofollow  = 0o400000
	oCloexec   = 0o2000000
	oPath      = 0o10000000
	oTmpfile   = 0o20000000 // without O_DIRECTORY
	atFdcwd    = -100
)

var openFlagNames = []struct {
	bit  uint64
	name string
}{
	{oAppend, "O_APPEND"}, {oCreat, "O_CREAT"}, {oTrunc, "O_TRUNC"}, {oExcl, "O_EXCL"},
	{oNonblock, "O_NONBLOCK"}, {oDsync, "O_DSYNC"}, {oDirect, "O_DIRECT"},
	{oDirectory, "O_DIRECTORY"}, {oNofollow, "O_NOFOLLOW"}, {oCloexec, "O_CLOEXEC"},
	{oTmpfile, "O_TMPFILE"}, {oPath, "O_PATH"},
}

// flagsText renders open flags as Falco does ("O_RDWR|O_CREAT").
func flagsText(f uint64) string {
	var parts []string
	switch f & oAccMode {
	case oRdonly:
		parts = append(parts, "O_RDONLY")
	case oWronly:
		parts = append(parts, "O_WRONLY")
	case oRdwr:
		parts = append(parts, "O_RDWR")
	}
	for _, n := range openFlagNames {
		if f&n.bit == n.bit && n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

var ptraceRequests = map[uint64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR",
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT",
	8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
	16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 24: "PTRACE_SYSCALL", 0x4206: "PTRACE_SEIZE",
	0x4207: "PTRACE_INTERRUPT",
}

func errnoName(ret int64) string {
	if ret >= 0 {
		return "SUCCESS"
	}
	if n := unix.ErrnoName(syscall.Errno(-ret)); n != "" {
		return n
	}
	return strconv.FormatInt(ret, 10)
}

func str(s string) (rules.Value, bool) { return rules.StringValue(s), true }
func num(i int64) (rules.Value, bool)  { return rules.IntValue(i), true }
func boolean(b bool) (rules.Value, bool) {
	return rules.BoolValue(b), true
}

var none = rules.Value{}

// Field implements rules.Event.
func (e *Event) Field(name, arg string) (rules.Value, bool) {
	p := e.Proc
	switch name {
	case "evt.type", "syscall.type":
		return str(e.TypeName())
	case "evt.dir":
		return str("<")
	case "evt.num":
		return num(int64(e.Num))
	case "evt.time":
		return str(e.Time.UTC().Format("15:04:05.000000000"))
	case "evt.rawtime":
		return num(e.Time.UnixNano())
	case "evt.hostname":
		return str(e.Hostname)
	case "evt.source":
		return str("syscall")
	case "evt.res":
		return str(errnoName(e.Raw.Ret))
	case "evt.rawres":
		return num(e.Raw.Ret)
	case "evt.failed":
		return boolean(e.Raw.Ret < 0)
	case "evt.is_open_read":
		if !e.IsOpen() {
			return none, false
		}
		acc := e.openFlags() & oAccMode
		return boolean(acc == oRdonly || acc == oRdwr)
	case "evt.is_open_write":
		if !e.IsOpen() {
			return none, false
		}
		acc := e.openFlags() & oAccMode
		return boolean(acc == oWronly || acc == oRdwr)
	case "evt.is_open_exec":
		if !e.IsOpen() {
			return none, false
		}
		return boolean(e.openFlags()&oCreat != 0 && e.openMode()&0o111 != 0)
	case "evt.arg":
		return e.arg(arg)
	case "evt.args":
		return str(e.argsText())
	}
	if strings.HasPrefix(name, "evt.arg.") {
		return e.arg(strings.TrimPrefix(name, "evt.arg."))
	}
	if strings.HasPrefix(name, "proc.") || strings.HasPrefix(name, "thread.") {
		return e.procField(p, name, arg)
	}
	if strings.HasPrefix(name, "fd.") {
		return e.fdField(name)
	}
	if strings.HasPrefix(name, "container.") || strings.HasPrefix(name, "k8s.") {
		return e.containerField(name, arg)
	}
	switch name {
	case "user.uid":
		return num(int64(e.Raw.Uid))
	case "user.name":
		return str(e.users.name(e, e.Raw.Uid, false))
	case "user.loginuid":
		return num(e.loginUID())
	case "user.loginname":
		l := e.loginUID()
		if l < 0 {
			return none, false
		}
		return str(e.users.name(e, uint32(l), false))
	case "group.gid":
		return num(int64(e.Raw.Gid))
	case "group.name":
		return str(e.users.name(e, e.Raw.Gid, true))
	}
	return none, false
}

func (e *Event) loginUID() int64 {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(e.Raw.Pid), 10) + "/loginuid")
	if err != nil {
		return -1
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || v == 4294967295 {
		return -1
	}
	return int64(v)
}

// argIndex maps Falco's argument names to the syscall argument they name.
func (e *Event) arg(a string) (rules.Value, bool) {
	t := e.TypeName()
	switch a {
	case "res":
		return num(e.Raw.Ret)
	case "flags":
		if e.IsOpen() {
			return str(flagsText(e.openFlags()))
		}
		if e.Raw.Type == typeExec {
			return str(e.exeFlags())
		}
	case "request":
		if t == "ptrace" {
			if n, ok := ptraceRequests[e.Raw.Args[0]]; ok {
				return str(n)
			}
			return str(strconv.FormatUint(e.Raw.Args[0], 10))
		}
	case "name", "path", "filename", "pathname":
		if e.FdName != "" {
			return str(e.FdName)
		}
		if e.Raw.Str0 != "" {
			return str(e.Raw.Str0)
		}
	case "oldpath", "target", "dev":
		if e.Raw.Str0 != "" {
			return str(e.Raw.Str0)
		}
	case "newpath", "linkpath", "dir":
		if e.Raw.Str1 != "" {
			return str(e.Raw.Str1)
		}
	case "fd":
		if fd, ok := e.fdNum(); ok {
			return num(fd)
		}
	case "addr", "tuple":
		if e.HasAddr {
			return str(e.FdName)
		}
	}
	if s, ok := syscallByNr[e.Raw.Type]; ok {
		for i, n := range s.argNames {
			if n == a || strconv.Itoa(i) == a {
				return num(int64(e.Raw.Args[i]))
			}
		}
	}
	return none, false
}

func (e *Event) exeFlags() string {
	var f []string
	if e.Proc != nil && e.Proc.ExeMemfd {
		f = append(f, "EXE_FROM_MEMFD")
	}
	if in, _ := e.upperLayer(); in {
		f = append(f, "EXE_UPPER_LAYER")
	}
	if len(f) == 0 {
		return "0"
	}
	return strings.Join(f, "|")
}

func (e *Event) argsText() string {
	var b strings.Builder
	if s, ok := syscallByNr[e.Raw.Type]; ok {
		for i, n := range s.argNames {
			v, _ := e.arg(n)
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n + "=" + v.String())
		}
	}
	return b.String()
}

func (e *Event) upperLayer() (bool, bool) {
	if e.Container == nil || e.Proc == nil {
		return false, false
	}
	return e.Container.InUpperLayer(e.Proc.ExePath)
}

func (e *Event) procField(p *Process, name, arg string) (rules.Value, bool) {
	if p == nil {
		return none, false
	}
	switch name {
	case "proc.name":
		return str(p.Name)
	case "proc.exe":
		return str(p.Exe)
	case "proc.exepath":
		return str(p.ExePath)
	case "proc.cmdline":
		return str(p.Cmdline())
	case "proc.args":
		return str(strings.Join(p.Args, " "))
	case "proc.pid":
		return num(int64(p.Pid))
	case "thread.tid":
		return num(int64(e.Raw.Tid))
	case "proc.ppid":
		return num(int64(p.Ppid))
	case "proc.tty":
		return num(int64(p.Tty))
	case "proc.duration":
		if p.Start.IsZero() {
			return none, false
		}
		return num(e.Time.Sub(p.Start).Nanoseconds())
	case "proc.is_exe_from_memfd":
		return boolean(p.ExeMemfd)
	case "proc.is_exe_upper_layer":
		in, known := e.upperLayer()
		if !known && e.Container != nil {
			return none, false
		}
		return boolean(in)
	case "proc.cwd":
		cwd, err := os.Readlink("/proc/" + strconv.FormatUint(uint64(p.Pid), 10) + "/cwd")
		if err != nil {
			return none, false
		}
		return str(cwd)
	case "proc.pname", "proc.pexe", "proc.pexepath", "proc.pcmdline":
		pp := p.Parent
		if pp == nil {
			return none, false
		}
		return e.procField(pp, "proc."+strings.TrimPrefix(name, "proc.p"), "")
	case "proc.aname", "proc.aexe", "proc.aexepath", "proc.apid":
		field := "proc." + strings.TrimPrefix(name, "proc.a")
		if arg == "" {
			var l []string
			for a, i := p.Parent, 1; a != nil && i <= maxDepth; a, i = a.Parent, i+1 {
				v, _ := e.procField(a, field, "")
				l = append(l, v.String())
			}
			if l == nil {
				return none, false
			}
			return rules.ListValue(l), true
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > maxDepth {
			return none, false
		}
		a := p.Ancestor(n)
		if a == nil {
			return none, false
		}
		return e.procField(a, field, "")
	}
	return none, false
}

func (e *Event) fdNum() (int64, bool) {
	switch e.TypeName() {
	case "open", "openat", "openat2", "creat", "accept", "accept4", "memfd_create":
		return e.Raw.Ret, true
	case "connect", "bind", "listen":
		return int64(int32(e.Raw.Args[0])), true
	}
	return 0, false
}

func (e *Event) fdField(name string) (rules.Value, bool) {
	t := e.TypeName()
	isFile := e.IsOpen() || t == "memfd_create"
	switch name {
	case "fd.num":
		if fd, ok := e.fdNum(); ok {
			return num(fd)
		}
		return none, false
	case "fd.name", "fd.nameraw":
		if e.FdName == "" {
			return none, false
		}
		return str(e.FdName)
	case "fd.directory", "fd.filename":
		if !isFile || !strings.HasPrefix(e.FdName, "/") {
			return none, false
		}
		if name == "fd.directory" {
			return str(path.Dir(e.FdName))
		}
		return str(path.Base(e.FdName))
	case "fd.typechar", "fd.type":
		var c, ty string
		switch {
		case isFile:
			c, ty = "f", "file"
		case e.HasAddr && e.Addr.Family == "unix":
			c, ty = "u", "unix"
		case e.HasAddr && e.Addr.Addr.Is4():
			c, ty = "4", "ipv4"
		case e.HasAddr:
			c, ty = "6", "ipv6"
		default:
			return none, false
		}
		if name == "fd.type" {
			return str(ty)
		}
		return str(c)
	case "fd.sockfamily":
		if !e.HasAddr {
			return none, false
		}
		return str(e.Addr.Family)
	case "fd.connected":
		if !e.HasAddr {
			return none, false
		}
		return boolean((t == "connect" && e.Raw.Ret >= 0) || t == "accept" || t == "accept4")
	}
	if !e.HasAddr || e.Addr.Family != "ip" {
		return none, false
	}
	// The one address the event carries is the remote end for connect
	// (the server) and accept (the client), the local end for bind.
	var role string // which of s/c the address is
	switch t {
	case "connect":
		role = "s"
	case "accept", "accept4":
		role = "c"
	case "bind":
		role = "s"
	default:
		return none, false
	}
	remote := t != "bind"
	ip := e.Addr.Addr.String()
	port := int64(e.Addr.Port)
	switch name {
	case "fd.ip", "fd.net":
		return str(ip)
	case "fd.port":
		return num(port)
	case "fd.sip", "fd.snet", "fd.sip.name":
		if role == "s" {
			return str(ip)
		}
	case "fd.cip", "fd.cnet", "fd.cip.name":
		if role == "c" {
			return str(ip)
		}
	case "fd.rip", "fd.rnet", "fd.rip.name":
		if remote {
			return str(ip)
		}
	case "fd.lip", "fd.lnet", "fd.lip.name":
		if !remote {
			return str(ip)
		}
	case "fd.sport":
		if role == "s" {
			return num(port)
		}
	case "fd.cport":
		if role == "c" {
			return num(port)
		}
	case "fd.rport":
		if remote {
			return num(port)
		}
	case "fd.lport":
		if !remote {
			return num(port)
		}
	}
	return none, false
}

func (e *Event) containerField(name, arg string) (rules.Value, bool) {
	c := e.Container
	if name == "container.id" {
		return str(e.ContainerID())
	}
	if c == nil {
		switch name {
		case "container.name":
			return str("host")
		case "container.type":
			return str("host")
		case "container.privileged":
			return boolean(false)
		}
		return none, false
	}
	switch name {
	case "container.name":
		return str(c.Name)
	case "container.type":
		return str(c.Type)
	case "container.image":
		return str(c.Image)
	case "container.image.id":
		return str(strings.TrimPrefix(c.ImageID, "sha256:"))
	case "container.image.repository":
		return str(c.ImageRepo)
	case "container.image.tag":
		return str(c.ImageTag)
	case "container.image.digest":
		return str(c.ImageDigest)
	case "container.privileged":
		return boolean(c.Privileged)
	case "container.start_ts":
		return num(c.Started.UnixNano())
	case "container.duration":
		return num(e.Time.Sub(c.Started).Nanoseconds())
	case "container.mounts":
		var l []string
		for _, m := range c.Mounts {
			l = append(l, m.Source+":"+m.Dest+":"+m.Mode+":"+strconv.FormatBool(m.RW)+":"+m.Propagation)
		}
		return str(strings.Join(l, ","))
	case "container.mount", "container.mount.source", "container.mount.dest", "container.mount.mode", "container.mount.rdwr", "container.mount.propagation":
		for i, m := range c.Mounts {
			if arg != strconv.Itoa(i) && !globMatch(arg, m.Dest) && !globMatch(arg, m.Source) {
				continue
			}
			switch name {
			case "container.mount":
				return str(m.Source + ":" + m.Dest + ":" + m.Mode + ":" + strconv.FormatBool(m.RW) + ":" + m.Propagation)
			case "container.mount.source":
				return str(m.Source)
			case "container.mount.dest":
				return str(m.Dest)
			case "container.mount.mode":
				return str(m.Mode)
			case "container.mount.rdwr":
				return str(strconv.FormatBool(m.RW))
			case "container.mount.propagation":
				return str(m.Propagation)
			}
		}
		return none, false
	case "k8s.ns.name":
		return label(c, "io.kubernetes.pod.namespace")
	case "k8s.pod.name":
		return label(c, "io.kubernetes.pod.name")
	case "k8s.pod.uid":
		return label(c, "io.kubernetes.pod.uid")
	case "k8s.pod.label":
		return label(c, arg)
	case "k8s.pod.labels":
		var l []string
		for k, v := range c.Labels {
			l = append(l, k+":"+v)
		}
		return str(strings.Join(l, ", "))
	}
	return none, false
}

func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func label(c *Container, k string) (rules.Value, bool) {
	v, ok := c.Labels[k]
	if !ok {
		return none, false
	}
	return str(v)
}

// Users resolves uids and gids to names from the passwd and group files
// of the root the process sees (the container's, through /proc/PID/root),
// cached per container.
type Users struct {
	mu    sync.Mutex
	cache map[string]map[uint32]string // key: container id + ":u"/":g"
}

// NewUsers returns an empty cache.
func NewUsers() *Users { return &Users{cache: map[string]map[uint32]string{}} }

func (u *Users) name(e *Event, id uint32, group bool) string {
	if u == nil {
		return strconv.FormatUint(uint64(id), 10)
	}
	key := e.ContainerID() + ":u"
	file := "/etc/passwd"
	if group {
		key, file = e.ContainerID()+":g", "/etc/group"
	}
	u.mu.Lock()
	m, ok := u.cache[key]
	u.mu.Unlock()
	if !ok {
		m = map[uint32]string{}
		root := "/"
		if e.Container != nil {
			root = "/proc/" + strconv.FormatUint(uint64(e.Raw.Pid), 10) + "/root"
		}
		if r, err := os.OpenRoot(root); err == nil {
			if b, err := r.ReadFile(strings.TrimPrefix(file, "/")); err == nil && len(b) < 4<<20 {
				for _, line := range strings.Split(string(b), "\n") {
					f := strings.Split(line, ":")
					if len(f) >= 3 {
						if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
							m[uint32(n)] = f[0]
						}
					}
				}
				u.mu.Lock()
				u.cache[key] = m
				u.mu.Unlock()
			}
			r.Close()
		}
	}
	if n, ok := m[id]; ok {
		return n
	}
	if id == 0 {
		return "root"
	}
	return "<NA>"
}

// addrText renders "ip:port" with brackets for IPv6.
func addrText(a SockAddr) string {
	if a.Family == "unix" {
		return a.Path
	}
	return netip.AddrPortFrom(a.Addr, a.Port).String()
}
