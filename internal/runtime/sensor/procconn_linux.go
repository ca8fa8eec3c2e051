package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ProcConnector is the reduced-coverage fallback used when eBPF cannot
// load: the kernel's process-events connector (netlink) reports fork, exec
// and exit; everything else an exec event carries is read from /proc, so a
// process that exits within microseconds may be reported with its pid only.
// No file, network or other syscall events are produced.
type ProcConnector struct {
	fd     int
	closed atomic.Bool
	buf    []byte
	queue  []RawEvent
	lost   atomic.Uint64
}

const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procEventFork      = 0x00000001
	procEventExec      = 0x00000002
	procEventExit      = 0x80000000
	nlmsgHdrLen        = 16
	cnMsgLen           = 20
	procEventHeaderLen = 16
)

// OpenProcConnector subscribes to process events (needs CAP_NET_ADMIN).
func OpenProcConnector() (*ProcConnector, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: uint32(os.Getpid())}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector bind: %w", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector listen: %w", err)
	}
	// A receive timeout lets Read notice Close.
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	return &ProcConnector{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// ErrConnectorClosed is returned by Read after Close.
var ErrConnectorClosed = errors.New("proc connector closed")

// Read returns the next fork, exec or exit event.
func (p *ProcConnector) Read() (RawEvent, error) {
	for {
		if len(p.queue) > 0 {
			ev := p.queue[0]
			p.queue = p.queue[1:]
			return ev, nil
		}
		if p.closed.Load() {
			return RawEvent{}, ErrConnectorClosed
		}
		n, _, err := unix.Recvfrom(p.fd, p.buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ENOBUFS) {
				p.lost.Add(1) // the socket overflowed: events were dropped
				continue
			}
			if p.closed.Load() {
				return RawEvent{}, ErrConnectorClosed
			}
			return RawEvent{}, err
		}
		p.queue = append(p.queue, parseProcEvents(p.buf[:n])...)
	}
}

// Overflows counts receive-buffer overflows (each lost one or more events).
func (p *ProcConnector) Overflows() uint64 { return p.lost.Load() }

// Close stops reading.
func (p *ProcConnector) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return unix.Close(p.fd)
}

// parseProcEvents decodes the netlink messages in b.
func parseProcEvents(b []byte) []RawEvent {
	var out []RawEvent
	le := binary.LittleEndian
	for len(b) >= nlmsgHdrLen {
		l := int(le.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		m := b[nlmsgHdrLen:l]
		b = b[(l+3)&^3:]
		if len(m) < cnMsgLen+procEventHeaderLen {
			continue
		}
		ev := m[cnMsgLen:]
		what := le.Uint32(ev)
		d := ev[procEventHeaderLen:]
		switch what {
		case procEventExec:
			if len(d) >= 8 {
				pid, tgid := le.Uint32(d), le.Uint32(d[4:])
				if pid == tgid {
					out = append(out, execFromProc(tgid))
				}
			}
		case procEventFork:
			if len(d) >= 16 {
				ptgid, cpid, ctgid := le.Uint32(d[4:]), le.Uint32(d[8:]), le.Uint32(d[12:])
				if cpid == ctgid { // a process, not a thread
					e := RawEvent{Type: typeFork, Pid: ptgid, Tid: ptgid, Ret: int64(ctgid), BootNS: bootNow()}
					fillFromProc(&e, ptgid)
					out = append(out, e)
				}
			}
		case procEventExit:
			if len(d) >= 8 {
				pid, tgid := le.Uint32(d), le.Uint32(d[4:])
				if pid == tgid {
					out = append(out, RawEvent{Type: typeExit, Pid: tgid, Tid: tgid, BootNS: bootNow()})
				}
			}
		}
	}
	return out
}

func bootNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// execFromProc builds an exec event from /proc/PID.
func execFromProc(pid uint32) RawEvent {
	e := RawEvent{Type: typeExec, Pid: pid, Tid: pid, BootNS: bootNow()}
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	fillFromProc(&e, pid)
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		e.Argv = splitArgv(cl)
	}
	if exe, err := os.Readlink(dir + "/exe"); err == nil {
		e.Str0 = strings.TrimSuffix(exe, " (deleted)")
		if strings.HasPrefix(e.Str0, "/memfd:") {
			e.Flags |= flagExeMemfd
			e.Str1 = strings.TrimPrefix(e.Str0, "/")
		}
	}
	return e
}

// fillFromProc sets comm, ppid, uid/gid, tty and a cgroup key from /proc.
func fillFromProc(e *RawEvent, pid uint32) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	if c, err := os.ReadFile(dir + "/comm"); err == nil {
		e.Comm = strings.TrimSpace(string(c))
	}
	if st, err := os.ReadFile(dir + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(st), ')'); i > 0 {
			f := strings.Fields(string(st[i+1:]))
			if len(f) > 5 {
				pp, _ := strconv.ParseUint(f[1], 10, 32)
				tty, _ := strconv.ParseUint(f[4], 10, 32)
				e.Ppid, e.Tty = uint32(pp), uint32(tty)
			}
		}
	}
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) > 1 {
					u, _ := strconv.ParseUint(fs[1], 10, 32)
					e.Uid = uint32(u)
				}
			} else if v, ok := strings.CutPrefix(line, "Gid:"); ok {
				if fs := strings.Fields(v); len(fs) > 1 {
					g, _ := strconv.ParseUint(fs[1], 10, 32)
					e.Gid = uint32(g)
				}
			}
		}
	}
	fillCgroupFromProc(e, pid)
}

// fillCgroupFromProc sets e.CgroupID: without the kernel's cgroup id, the
// container cache is keyed by a hash of the cgroup path, which Containers
// resolves through /proc/PID/cgroup.
func fillCgroupFromProc(e *RawEvent, pid uint32) {
	if cg, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup"); err == nil {
		h := fnv.New64a()
		h.Write(cg)
		e.CgroupID = h.Sum64()
	}
}
