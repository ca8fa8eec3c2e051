package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// FileWatcher is the file half of the reduced-coverage fallback: a
// notification-only fanotify group that reports file opens (FAN_OPEN) and
// files closed after writing (FAN_CLOSE_WRITE) on the host's root
// filesystem and on the root mount of every container it is told about
// (WatchProcessRoot). Each becomes an openat event carrying the path, the
// process's details read from /proc, and O_RDONLY or O_WRONLY.
//
// Coverage is reduced against the eBPF sensor: a write is reported when
// the file is closed, not when it is opened; an open for writing that
// writes nothing looks like a read; open flags other than the access mode
// are unknown; opens that fail are not seen; a container's opens before its
// first exec event reaches the sensor are missed; other host filesystems
// than the root's are not watched.
type FileWatcher struct {
	fd     int
	self   int32
	mask   uint64
	closed atomic.Bool
	rmu    sync.Mutex // held by Read around each read of fd, so Close never closes it under a reader
	buf    []byte
	queue  []RawEvent
	lost   atomic.Uint64

	mu     sync.Mutex
	marked map[[2]uint64]bool // (dev, ino) of root directories marked
	// rootCgroup maps the device of a container's root mount to the
	// container's cgroup key (as fillFromProc computes it), so that a file
	// event of a process gone before /proc could be read is still
	// attributed; 0 where two cgroups share a device.
	rootCgroup map[uint64]uint64
}

// OpenFileWatcher creates the group (CAP_SYS_ADMIN) and marks the root
// filesystem.
func OpenFileWatcher() (*FileWatcher, error) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	w := &FileWatcher{
		fd:         fd,
		self:       int32(os.Getpid()),
		mask:       unix.FAN_OPEN | unix.FAN_CLOSE_WRITE,
		buf:        make([]byte, 64<<10),
		marked:     map[[2]uint64]bool{},
		rootCgroup: map[uint64]uint64{},
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, w.mask, unix.AT_FDCWD, "/"); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fanotify_mark /: %w", err)
	}
	if st, err := os.Stat("/"); err == nil {
		if sys, ok := st.Sys().(*unix.Stat_t); ok {
			w.marked[[2]uint64{sys.Dev, sys.Ino}] = true
			w.rootCgroup[sys.Dev] = 0 // the host's: many cgroups
		}
	}
	return w, nil
}

// WatchProcessRoot marks the root mount of process pid when it differs
// from the sensor's own (a container's), once per distinct root. It is
// cheap to call on every exec.
func (w *FileWatcher) WatchProcessRoot(pid uint32) error {
	root := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/root"
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return err // the process is gone
	}
	key := [2]uint64{st.Dev, st.Ino}
	var probe RawEvent
	fillCgroupFromProc(&probe, pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	if cg, seen := w.rootCgroup[st.Dev]; !seen {
		w.rootCgroup[st.Dev] = probe.CgroupID
	} else if cg != probe.CgroupID {
		w.rootCgroup[st.Dev] = 0
	}
	if w.marked[key] {
		return nil
	}
	dfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	// The mount the process sees as "/": a filesystem mark would also
	// work for overlayfs but not every storage driver's filesystem
	// supports one; the mount mark does.
	if err := unix.FanotifyMark(w.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, w.mask, dfd, ""); err != nil {
		return fmt.Errorf("fanotify_mark %s: %w", root, err)
	}
	w.marked[key] = true
	return nil
}

// WatchExistingRoots marks the roots of processes already running (the
// containers started before the sensor).
func (w *FileWatcher) WatchExistingRoots() {
	des, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, de := range des {
		if pid, err := strconv.ParseUint(de.Name(), 10, 32); err == nil {
			_ = w.WatchProcessRoot(uint32(pid))
		}
	}
}

// Read returns the next file event; ErrConnectorClosed after Close.
func (w *FileWatcher) Read() (RawEvent, error) {
	for {
		if len(w.queue) > 0 {
			ev := w.queue[0]
			w.queue = w.queue[1:]
			return ev, nil
		}
		w.rmu.Lock()
		if w.closed.Load() {
			w.rmu.Unlock()
			return RawEvent{}, ErrConnectorClosed
		}
		n, err := unix.Read(w.fd, w.buf)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
				_, _ = unix.Poll(fds, 200) // wakes to notice Close
				w.rmu.Unlock()
				continue
			}
			w.rmu.Unlock()
			return RawEvent{}, fmt.Errorf("fanotify read: %w", err)
		}
		evs := w.parse(w.buf[:n])
		w.rmu.Unlock()
		w.queue = append(w.queue, evs...)
	}
}

// fanotify_event_metadata layout (linux/fanotify.h).
const (
	fanMetaLen  = 24
	fanMetaVers = 3
)

// parse decodes the event metadata in b, resolving each event's file
// descriptor to its path and closing it.
func (w *FileWatcher) parse(b []byte) []RawEvent {
	var out []RawEvent
	le := binary.LittleEndian
	for len(b) >= fanMetaLen {
		l := int(le.Uint32(b))
		if l < fanMetaLen || l > len(b) || b[4] != fanMetaVers {
			break
		}
		mask := le.Uint64(b[8:])
		fd := int32(le.Uint32(b[16:]))
		pid := int32(le.Uint32(b[20:]))
		b = b[l:]
		if mask&unix.FAN_Q_OVERFLOW != 0 {
			w.lost.Add(1)
		}
		if fd < 0 {
			continue
		}
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
		var st unix.Stat_t
		statErr := unix.Fstat(int(fd), &st)
		unix.Close(int(fd))
		if err != nil || pid == w.self || pid <= 0 {
			continue
		}
		p = strings.TrimSuffix(p, " (deleted)")
		acc := uint64(oRdonly)
		if mask&unix.FAN_CLOSE_WRITE != 0 {
			acc = oWronly
		} else if mask&unix.FAN_OPEN == 0 {
			continue
		}
		e := RawEvent{Type: syscallByName["openat"].nr, Pid: uint32(pid), Tid: uint32(pid), BootNS: bootNow(), Ret: 3, Str0: p}
		dirfd := int64(atFdcwd)
		e.Args[0] = uint64(dirfd) // as the kernel records carry it
		e.Args[2] = acc
		fillFromProc(&e, uint32(pid))
		if e.CgroupID == 0 && statErr == nil {
			// The process is gone: the container whose root the file
			// is on.
			w.mu.Lock()
			e.CgroupID = w.rootCgroup[st.Dev]
			w.mu.Unlock()
		}
		out = append(out, e)
	}
	return out
}

// Overflows counts fanotify queue overflows (each lost one or more events).
func (w *FileWatcher) Overflows() uint64 { return w.lost.Load() }

// Close stops reading.
func (w *FileWatcher) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	w.rmu.Lock() // a reader in poll lets go within 200ms
	defer w.rmu.Unlock()
	return unix.Close(w.fd)
}

// Fallback merges the proc connector (exec, fork, exit) and, when it
// could be opened, the FileWatcher (file opens): the sensor's source when
// eBPF cannot load. Every exec marks the process's root mount, so a
// container's files are watched from its first process on.
type Fallback struct {
	pc     *ProcConnector
	fw     *FileWatcher // nil: exec, fork and exit only
	events chan RawEvent
	errs   chan error
	done   chan struct{}
	once   sync.Once
}

// OpenFallback opens the proc connector and tries the file watcher; a
// file watcher that cannot be opened is reported in fwErr (the fallback
// still runs, with exec, fork and exit only).
func OpenFallback() (f *Fallback, fwErr error, err error) {
	pc, err := OpenProcConnector()
	if err != nil {
		return nil, nil, err
	}
	fw, fwErr := OpenFileWatcher()
	f = &Fallback{pc: pc, events: make(chan RawEvent, 4096), errs: make(chan error, 2), done: make(chan struct{})}
	if fwErr == nil {
		f.fw = fw
		fw.WatchExistingRoots()
		go f.pump(func() (RawEvent, error) {
			ev, err := fw.Read()
			if err == nil {
				// The process's exec reaches us through the proc
				// connector; give it a head start so the tree knows the
				// process when its file events are evaluated.
				if d := fileEventDelay - time.Since(time.Unix(0, int64(ev.BootNS)+bootOffsetNS)); d > 0 {
					time.Sleep(d)
				}
			}
			return ev, err
		})
	}
	go f.pump(func() (RawEvent, error) {
		ev, err := pc.Read()
		if err == nil && ev.Type == typeExec && f.fw != nil {
			_ = f.fw.WatchProcessRoot(ev.Pid)
		}
		return ev, err
	})
	return f, fwErr, nil
}

// fileEventDelay is how long a file event waits before it is handed on.
const fileEventDelay = 250 * time.Millisecond

var bootOffsetNS = bootOffset()

// FileEvents reports whether file opens are watched.
func (f *Fallback) FileEvents() bool { return f.fw != nil }

func (f *Fallback) pump(read func() (RawEvent, error)) {
	for {
		ev, err := read()
		if err != nil {
			select {
			case f.errs <- err:
			default:
			}
			return
		}
		select {
		case f.events <- ev:
		case <-f.done:
			return
		}
	}
}

// Read returns the next event from either source.
func (f *Fallback) Read() (RawEvent, error) {
	select {
	case ev := <-f.events:
		return ev, nil
	case err := <-f.errs:
		return RawEvent{}, err
	case <-f.done:
		return RawEvent{}, ErrConnectorClosed
	}
}

// Overflows counts events lost by either source.
func (f *Fallback) Overflows() uint64 {
	n := f.pc.Overflows()
	if f.fw != nil {
		n += f.fw.Overflows()
	}
	return n
}

// Close stops both sources.
func (f *Fallback) Close() error {
	var err error
	f.once.Do(func() {
		close(f.done)
		err = f.pc.Close()
		if f.fw != nil {
			if e := f.fw.Close(); err == nil {
				err = e
			}
		}
	})
	return err
}
