// Package fanotify is Bulkhead's in-kernel gate for exec and open: a
// fanotify group in the content class whose permission events
// (FAN_OPEN_EXEC_PERM, FAN_OPEN_PERM) hold the calling process inside the
// kernel until user space answers FAN_ALLOW or FAN_DENY.
//
// A Guard must answer every permission event it receives: an unanswered
// event leaves the process blocked (uninterruptibly on older kernels). The
// Guard therefore answers from one place, answers FAN_ALLOW when the
// decision function fails to return within the timeout, when the event's
// path cannot be resolved, when too many decisions are pending, and for
// every event still queued when it closes (closing the group makes the
// kernel allow the rest). Each such fallback is counted in Stats.
//
// A Guard in notify mode (Config.Notify) uses FAN_CLASS_NOTIF and
// FAN_OPEN_EXEC/FAN_OPEN only to observe: that is how learning records the
// files a container really executes.
//
// Allowed imports: the standard library and golang.org/x/sys/unix.
package fanotify

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event is one exec or open seen by the group.
type Event struct {
	// Path is the file's path as the kernel prints it for our event fd
	// (readlink /proc/self/fd/N): for a file reached through another mount
	// namespace this is the path from that namespace's root.
	Path string
	// PID is the thread group id of the process doing the exec or open.
	PID int32
	// Exec is true for an exec open (FAN_OPEN_EXEC[_PERM]).
	Exec bool
}

// Config configures New.
type Config struct {
	// Exec asks for exec opens, Open for every open (both may be set).
	Exec, Open bool
	// Notify makes the group observe only (no permission events): Decide
	// is still called, its answer ignored.
	Notify bool
	// Decide returns true to allow. It runs on the Guard's goroutines and
	// must not open files on a filesystem this Guard marks for open
	// permission events. Required.
	Decide func(Event) bool
	// Timeout bounds one decision; when it passes the event is allowed
	// and counted in Stats.TimedOut. Default 250ms.
	Timeout time.Duration
	// MaxPending bounds decisions abandoned by the timeout that are still
	// running; beyond it events are allowed without asking Decide and
	// counted in Stats.Overload. Default 64.
	MaxPending int
	// Logger receives one line per denial and per fallback.
	Logger *slog.Logger
}

// Stats are the Guard's counters.
type Stats struct {
	Events, Allowed, Denied uint64
	// TimedOut: decisions that took longer than Config.Timeout (allowed).
	TimedOut uint64
	// Overload: events allowed without a decision because MaxPending
	// decisions were stuck past the timeout.
	Overload uint64
	// Unresolved: events whose path could not be read (allowed).
	Unresolved uint64
	// Overflow: queue overflow notifications (notify mode only loses
	// events; permission events are never dropped by the kernel).
	Overflow uint64
	// WriteErrors: replies the kernel refused.
	WriteErrors uint64
	// HandleNanos is the total time from reading an event to answering it
	// (path resolution, decision, reply); HandleNanos/Events is the
	// guard's own share of the wait of a gated process (scheduling the
	// reader comes on top).
	HandleNanos uint64
}

// Guard is one fanotify group with its reader goroutine.
type Guard struct {
	cfg  Config
	f    *os.File
	log  *slog.Logger
	self int32
	cur  atomic.Pointer[inflight] // the decision in progress, if any
	gen  atomic.Uint64            // reader generation
	// stuck counts readers abandoned in a decision that overran the
	// timeout and has not returned yet.
	stuck   atomic.Int64
	wg      sync.WaitGroup
	done    chan struct{}
	closeMu sync.Once

	events, allowed, denied, timedOut, overload, unresolved, overflow, writeErrs, handleNanos atomic.Uint64
}

// ErrNotSupported says the kernel or our privileges do not allow the
// fanotify group (fanotify_init needs CAP_SYS_ADMIN; permission events
// need CONFIG_FANOTIFY_ACCESS_PERMISSIONS).
var ErrNotSupported = errors.New("fanotify permission events not available")

// New creates the group. Call Mark* to choose what it watches and Start to
// begin answering.
func New(cfg Config) (*Guard, error) {
	if cfg.Decide == nil {
		return nil, errors.New("fanotify: Config.Decide is required")
	}
	if !cfg.Exec && !cfg.Open {
		return nil, errors.New("fanotify: neither Exec nor Open requested")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	class := uint(unix.FAN_CLASS_CONTENT)
	if cfg.Notify {
		class = unix.FAN_CLASS_NOTIF
	}
	fd, err := unix.FanotifyInit(class|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%w: fanotify_init: %w", ErrNotSupported, err)
	}
	// A non-blocking fd registers with Go's poller, so Close wakes the
	// reader instead of leaving it in read(2).
	f := os.NewFile(uintptr(fd), "fanotify")
	return &Guard{cfg: cfg, f: f, log: cfg.Logger, self: int32(os.Getpid()), done: make(chan struct{})}, nil
}

func (g *Guard) mask() uint64 {
	var m uint64
	if g.cfg.Notify {
		if g.cfg.Exec {
			m |= unix.FAN_OPEN_EXEC
		}
		if g.cfg.Open {
			m |= unix.FAN_OPEN
		}
		return m
	}
	if g.cfg.Exec {
		m |= unix.FAN_OPEN_EXEC_PERM
	}
	if g.cfg.Open {
		m |= unix.FAN_OPEN_PERM
	}
	return m
}

// MarkMount watches every file reached through the mount that holds the
// directory open at dirfd (an O_PATH descriptor is enough). A mount mark applies
// to that mount instance only: the copy of a filesystem a container sees
// in its own mount namespace is marked separately from the host's.
func (g *Guard) MarkMount(dirfd int) error {
	// "." relative to dirfd: fanotify_mark with a NULL path refuses O_PATH
	// descriptors (EBADF).
	return g.mark(unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, dirfd, ".")
}

// MarkFilesystem watches every file of the filesystem that holds path,
// through any mount of it.
func (g *Guard) MarkFilesystem(path string) error {
	return g.mark(unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, unix.AT_FDCWD, path)
}

func (g *Guard) mark(flags uint, dirfd int, path string) error {
	rc, err := g.f.SyscallConn()
	if err != nil {
		return err
	}
	var merr error
	if err := rc.Control(func(fan uintptr) {
		merr = unix.FanotifyMark(int(fan), flags, g.mask(), dirfd, path)
	}); err != nil {
		return err
	}
	if merr != nil {
		what := path
		if dirfd != unix.AT_FDCWD {
			what = "fd " + strconv.Itoa(dirfd) + "/" + path
		}
		return fmt.Errorf("fanotify_mark %s: %w", what, merr)
	}
	return nil
}

// Start begins reading and answering events.
func (g *Guard) Start() {
	g.wg.Add(2)
	go g.loop(g.gen.Load())
	go g.watchdog()
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	return Stats{
		Events: g.events.Load(), Allowed: g.allowed.Load(), Denied: g.denied.Load(),
		TimedOut: g.timedOut.Load(), Overload: g.overload.Load(), Unresolved: g.unresolved.Load(),
		Overflow: g.overflow.Load(), WriteErrors: g.writeErrs.Load(), HandleNanos: g.handleNanos.Load(),
	}
}

// Close stops the reader and releases the group. The kernel allows every
// permission event that was still unanswered.
func (g *Guard) Close() error {
	var err error
	g.closeMu.Do(func() {
		close(g.done)
		err = g.f.Close()
		// A reader inside a decision finishes it first; one that does not
		// within twice the timeout is left behind (its replies fail on
		// the closed group, whose events the kernel has allowed).
		waited := make(chan struct{})
		go func() { g.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(2 * g.cfg.Timeout):
			g.log.Warn("fanotify: closed with a decision still running")
		}
	})
	return err
}

const metaSize = int(unsafe.Sizeof(unix.FanotifyEventMetadata{}))

// inflight is the permission event a reader is deciding.
type inflight struct {
	fd      int32
	path    string
	pid     int32
	started int64 // unix nanoseconds
	// answered is set by whoever replies first: the reader with its
	// decision, or the watchdog with FAN_ALLOW after the timeout.
	answered atomic.Bool
}

// loop reads and answers events one at a time. Decisions run inline (no
// goroutine hand-off per event); the watchdog answers for a decision that
// overruns the timeout and starts a new reader, so one stuck decision
// never holds up the events behind it.
func (g *Guard) loop(gen uint64) {
	// Permission and open events carry no info records: one event is
	// exactly metaSize bytes, and reading one at a time means a reader
	// abandoned by the watchdog holds no unread events.
	var buf [metaSize]byte
	for {
		n, err := g.f.Read(buf[:])
		if err != nil {
			select {
			case <-g.done:
				g.wg.Done()
				return
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				g.wg.Done()
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			g.log.Error("fanotify read failed; guard stops (the kernel allows pending events)", "err", err)
			g.wg.Done()
			return
		}
		if n < metaSize {
			continue
		}
		m := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[0]))
		if m.Vers != unix.FANOTIFY_METADATA_VERSION {
			g.log.Error("fanotify metadata version mismatch", "got", m.Vers, "want", unix.FANOTIFY_METADATA_VERSION)
			if m.Fd >= 0 {
				g.reply(m.Fd, true)
				_ = unix.Close(int(m.Fd))
			}
			continue
		}
		if m.Mask&unix.FAN_Q_OVERFLOW != 0 || m.Fd == unix.FAN_NOFD {
			g.overflow.Add(1)
			continue
		}
		if abandoned := g.handle(m.Fd, m.Pid, m.Mask); abandoned {
			// The watchdog answered this event and started a new reader
			// (and released this one from the wait group).
			g.stuck.Add(-1)
			return
		}
	}
}

// watchdog answers FAN_ALLOW for a decision older than the timeout and
// replaces the reader stuck in it.
func (g *Guard) watchdog() {
	defer g.wg.Done()
	tick := g.cfg.Timeout / 4
	if tick < time.Millisecond {
		tick = time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		st := g.cur.Load()
		if st == nil || time.Now().UnixNano()-st.started < int64(g.cfg.Timeout) {
			continue
		}
		if !st.answered.CompareAndSwap(false, true) {
			continue
		}
		g.cur.CompareAndSwap(st, nil)
		g.reply(st.fd, true)
		g.timedOut.Add(1)
		g.allowed.Add(1)
		g.stuck.Add(1)
		g.log.Warn("fanotify: decision timed out; allowed", "path", st.path, "pid", st.pid, "timeout", g.cfg.Timeout)
		// The stuck reader leaves the wait group now (Close must not wait
		// for a decision that may never return) and exits when it does.
		g.wg.Add(1)
		go g.loop(g.gen.Add(1))
		g.wg.Done()
	}
}

// handle answers one event; it always replies (in permission mode) and
// always closes the event fd. It reports whether the watchdog answered
// instead (the decision overran the timeout).
func (g *Guard) handle(fd, pid int32, mask uint64) (abandoned bool) {
	start := time.Now()
	defer func() { g.handleNanos.Add(uint64(time.Since(start))) }()
	g.events.Add(1)
	ev := Event{PID: pid, Exec: mask&(unix.FAN_OPEN_EXEC_PERM|unix.FAN_OPEN_EXEC) != 0}
	perm := mask&(unix.FAN_OPEN_EXEC_PERM|unix.FAN_OPEN_PERM) != 0
	finish := func(allow bool) {
		if perm {
			g.reply(fd, allow)
		}
		_ = unix.Close(int(fd))
	}
	if pid == g.self {
		g.allowed.Add(1)
		finish(true)
		return false
	}
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
	if err != nil {
		g.unresolved.Add(1)
		g.allowed.Add(1)
		g.log.Warn("fanotify: cannot resolve event path; allowed", "pid", pid, "err", err)
		finish(true)
		return false
	}
	ev.Path = p
	if !perm {
		g.cfg.Decide(ev)
		finish(true)
		return false
	}
	if g.stuck.Load() >= int64(g.cfg.MaxPending) {
		g.overload.Add(1)
		g.allowed.Add(1)
		finish(true)
		return false
	}
	st := &inflight{fd: fd, path: p, pid: pid, started: start.UnixNano()}
	g.cur.Store(st)
	allow := g.cfg.Decide(ev)
	g.cur.CompareAndSwap(st, nil)
	if !st.answered.CompareAndSwap(false, true) {
		// The watchdog allowed it already.
		_ = unix.Close(int(fd))
		return true
	}
	if allow {
		g.allowed.Add(1)
	} else {
		g.denied.Add(1)
	}
	finish(allow)
	return false
}

func (g *Guard) reply(fd int32, allow bool) {
	r := unix.FanotifyResponse{Fd: fd, Response: unix.FAN_ALLOW}
	if !allow {
		r.Response = unix.FAN_DENY
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
	if _, err := g.f.Write(b); err != nil {
		select {
		case <-g.done:
			return // closing: the kernel allows what is pending
		default:
		}
		g.writeErrs.Add(1)
		g.log.Error("fanotify: reply failed", "fd", fd, "err", err)
	}
}
