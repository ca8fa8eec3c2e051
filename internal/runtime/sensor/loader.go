//go:build linux && amd64

package sensor

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// ErrUnavailable reports that the eBPF sensor cannot run here (no
// privileges, no BTF, an old kernel, no tracefs); the error wrapping it
// says which.
var ErrUnavailable = errors.New("eBPF sensor unavailable")

// Options configure Open.
type Options struct {
	// Syscalls to attach (names from the syscall table; see Interest).
	// Exec, fork and exit are always traced.
	Syscalls []string
	// OpenPrefixes keeps file opens whose path starts with one of these
	// (at most 16, each under 64 bytes); empty keeps every open.
	OpenPrefixes []string
	// DropRelativeOpens drops opens of relative paths when prefixes are
	// set. The kernel program does not know the working directory, so by
	// default a relative open passes the filter (cd /etc; cat shadow must
	// not escape the rules); dropping them is cheaper on builds.
	DropRelativeOpens bool
	// IncludeSelf traces the calling process too (benchmarks); normally
	// the sensor ignores its own syscalls so it never feeds on itself.
	IncludeSelf bool
}

// The kernel wakes no one (SUBMIT_FLAGS in the program): the reader looks at the ring itself, at once while records
// flow, then after minPoll, backing off to maxPoll while the machine is
// quiet. It waits on a Go timer, not in epoll_wait: a goroutine blocked in
// a raw syscall keeps the runtime's sysmon thread spinning and hands its P
// to another thread, which cost more CPU than the events themselves. A
// lone event after a quiet spell waits at most maxPoll.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// Values of the kernel's interest map (INTEREST_* in sensor.bpf.c).
const (
	interestEvent uint32 = 1 // a rule needs the syscall: make an event
	interestPaths uint32 = 2 // only bump the directory cache's generation
)

// pathSyscalls are the x86_64 syscalls that can give an existing directory
// another path or a task another view of the tree: rename, renameat,
// renameat2, pivot_root, chroot, mount, umount2, unshare, setns, open_tree,
// move_mount, fsmount, mount_setattr, open_tree_attr. Keep in step with
// changes_paths in bpf/paths.h.
var pathSyscalls = []uint32{82, 264, 316, 155, 161, 165, 166, 272, 308, 428, 429, 432, 442, 467}

// MaxOpenPrefixes is how many prefixes the kernel filter holds.
const MaxOpenPrefixes = 16

// Sensor is the loaded and attached eBPF programs and their ring buffer.
type Sensor struct {
	objs     sensorObjects
	links    []link.Link
	rd       *ringbuf.Reader
	attached []string
	missing  []string

	rec   ringbuf.Record // reused by Read: no allocation per record
	poll  time.Duration  // current poll interval
	timer *time.Timer
	done  chan struct{} // closed by Close

	mu     sync.Mutex // orders ring reads of positions against Close
	closed bool

	closeOnce sync.Once // Close may be called from several goroutines
	closeErr  error
}

// Open loads the programs, configures the in-kernel filters and attaches
// them. On failure the error wraps ErrUnavailable and names the cause.
func Open(opts Options) (*Sensor, error) {
	if len(opts.OpenPrefixes) > MaxOpenPrefixes {
		return nil, fmt.Errorf("%d open prefixes: at most %d", len(opts.OpenPrefixes), MaxOpenPrefixes)
	}
	for _, p := range opts.OpenPrefixes {
		if len(p) == 0 || len(p) >= 64 {
			return nil, fmt.Errorf("open prefix %q: want 1 to 63 bytes", p)
		}
	}
	if err := ensureTracefs(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	_ = rlimit.RemoveMemlock()
	s := &Sensor{}
	if err := loadSensorObjects(&s.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: verifier rejected the programs: %v", ErrUnavailable, ve)
		}
		return nil, fmt.Errorf("%w: loading programs: %v", ErrUnavailable, err)
	}
	cfg := sensorConfig{SelfTgid: uint32(os.Getpid())}
	if opts.IncludeSelf {
		cfg.SelfTgid = 0 // no task has tgid 0
	}
	if len(opts.OpenPrefixes) > 0 {
		cfg.OpenFilter = 1
		cfg.Nprefixes = uint32(len(opts.OpenPrefixes))
		if !opts.DropRelativeOpens {
			cfg.KeepRelative = 1
		}
		for i, p := range opts.OpenPrefixes {
			var v sensorPrefix
			v.Len = uint32(len(p))
			for j := 0; j < len(p); j++ {
				v.P[j] = int8(p[j])
			}
			if err := s.objs.Prefixes.Put(uint32(i), &v); err != nil {
				s.Close()
				return nil, fmt.Errorf("writing open prefix: %w", err)
			}
		}
	}
	if err := s.objs.ConfigMap.Put(uint32(0), &cfg); err != nil {
		s.Close()
		return nil, fmt.Errorf("writing sensor config: %w", err)
	}
	if err := s.attach(opts.Syscalls); err != nil {
		s.Close()
		return nil, err
	}
	rd, err := ringbuf.NewReader(s.objs.Events)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: ring buffer reader: %v", ErrUnavailable, err)
	}
	s.rd = rd
	s.done = make(chan struct{})
	return s, nil
}

func ensureTracefs() error {
	for _, d := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(d); err == nil {
			return nil
		}
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: %w", err)
	}
	return nil
}

func (s *Sensor) attach(names []string) error {
	core := []struct {
		group, name string
		prog        *ebpf.Program
	}{
		{"sched", "sched_process_exec", s.objs.SchedExec},
		{"sched", "sched_process_exit", s.objs.SchedExit},
	}
	for _, c := range core {
		l, err := link.Tracepoint(c.group, c.name, c.prog, nil)
		if err != nil {
			return fmt.Errorf("%w: attaching %s/%s: %v", ErrUnavailable, c.group, c.name, err)
		}
		s.links = append(s.links, l)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: s.objs.SchedFork})
	if err != nil {
		return fmt.Errorf("%w: attaching tp_btf/sched_process_fork: %v", ErrUnavailable, err)
	}
	s.links = append(s.links, l)
	for _, n := range names {
		sc, ok := syscallByName[n]
		if !ok {
			return fmt.Errorf("unknown syscall %q", n)
		}
		if _, err := os.Stat("/sys/kernel/tracing/events/syscalls/sys_enter_" + n); err != nil && syscallTracepointsListed() {
			s.missing = append(s.missing, n) // not built into this kernel
			continue
		}
		if err := s.objs.Interest.Put(sc.nr, interestEvent); err != nil {
			return fmt.Errorf("writing interest set: %w", err)
		}
		s.attached = append(s.attached, n)
	}
	// The syscalls that can change a directory's path are looked at even
	// when no rule wants them, so the directory cache forgets what they
	// change (dircache in bpf/paths.h). They are rare; the hook is there
	// for every syscall anyway.
	for _, nr := range pathSyscalls {
		var v uint32
		if err := s.objs.Interest.Lookup(nr, &v); err != nil {
			return fmt.Errorf("reading interest set: %w", err)
		}
		if v == 0 {
			if err := s.objs.Interest.Put(nr, interestPaths); err != nil {
				return fmt.Errorf("writing interest set: %w", err)
			}
		}
	}
	if len(s.attached) > 0 {
		l, err := link.AttachTracing(link.TracingOptions{Program: s.objs.SysExit})
		if err != nil {
			return fmt.Errorf("%w: attaching tp_btf/sys_exit: %v", ErrUnavailable, err)
		}
		s.links = append(s.links, l)
	}
	sort.Strings(s.attached)
	return nil
}

// syscallTracepointsListed reports whether tracefs lists per-syscall
// events, which is how a syscall missing from the kernel is recognised.
func syscallTracepointsListed() bool {
	_, err := os.Stat("/sys/kernel/tracing/events/syscalls")
	return err == nil
}

// Attached returns the syscalls with programs attached; Missing those the
// kernel has no tracepoint for.
func (s *Sensor) Attached() []string { return s.attached }

// Missing returns requested syscalls this kernel has no tracepoint for.
func (s *Sensor) Missing() []string { return s.missing }

// Read blocks for the next record. After Close it returns an error
// wrapping ringbuf.ErrClosed (see IsClosed). It is not safe for concurrent
// use.
func (s *Sensor) Read() (RawEvent, error) {
	for {
		if n, open := s.available(); !open {
			return RawEvent{}, fmt.Errorf("sensor: %w", ringbuf.ErrClosed)
		} else if n == 0 {
			if s.poll == 0 {
				s.poll = minPoll
			}
			if s.timer == nil {
				s.timer = time.NewTimer(s.poll)
			} else {
				s.timer.Reset(s.poll)
			}
			select {
			case <-s.done:
				return RawEvent{}, fmt.Errorf("sensor: %w", ringbuf.ErrClosed)
			case <-s.timer.C:
			}
			if n, open := s.available(); open && n == 0 {
				s.poll = min(2*s.poll, maxPoll)
				continue
			}
			s.poll = minPoll
		}
		// Records are there: a deadline in the past makes the reader check
		// epoll without blocking, then read them.
		s.rd.SetDeadline(pastDeadline)
		err := s.rd.ReadInto(&s.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return RawEvent{}, err
		}
		ev, err := DecodeRecord(s.rec.RawSample)
		if err != nil {
			continue // cannot happen with matching objects; never crash on it
		}
		return ev, nil
	}
}

var pastDeadline = time.Unix(1, 0)

// Pending reports whether records are waiting in the ring buffer, so the
// next Read returns without blocking.
func (s *Sensor) Pending() bool {
	n, _ := s.available()
	return n > 0
}

// available returns the bytes waiting in the ring, and false once the
// sensor is closed (the ring is unmapped then).
func (s *Sensor) available() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rd == nil {
		return 0, false
	}
	return s.rd.AvailableBytes(), true
}

// IsClosed reports whether err means the sensor was closed.
func IsClosed(err error) bool {
	return errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed)
}

// Counters are the kernel-side counters, summed over CPUs.
type Counters struct {
	Events   uint64 // records produced
	Filtered uint64 // opens dropped by the prefix filter
	// FilteredCached counts the Filtered opens dropped on a directory
	// cache hit, without walking the directory's path.
	FilteredCached uint64
	Lost           uint64 // records the ring buffer had no room for
}

// Counters reads the kernel counters.
func (s *Sensor) Counters() (Counters, error) {
	var c Counters
	sum := func(m *ebpf.Map, key uint32) (uint64, error) {
		var per []uint64
		if err := m.Lookup(key, &per); err != nil {
			return 0, err
		}
		var t uint64
		for _, v := range per {
			t += v
		}
		return t, nil
	}
	var err error
	if c.Events, err = sum(s.objs.Counters, 0); err != nil {
		return c, err
	}
	if c.Filtered, err = sum(s.objs.Counters, 1); err != nil {
		return c, err
	}
	if c.FilteredCached, err = sum(s.objs.Counters, 2); err != nil {
		return c, err
	}
	c.Lost, err = sum(s.objs.Lost, 0)
	return c, err
}

// Close detaches and unloads everything. It may be called more than once,
// and concurrently with Read, which it ends.
func (s *Sensor) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if s.done != nil {
			close(s.done)
		}
		s.closed = true
		s.mu.Unlock()
		if s.rd != nil {
			s.rd.Close()
		}
		for _, l := range s.links {
			l.Close()
		}
		s.links = nil
		s.closeErr = s.objs.Close()
	})
	return s.closeErr
}

// ProgramStats is the kernel's accounting of one program (it needs
// ebpf.EnableStats(unix.BPF_STATS_RUN_TIME) to be on).
type ProgramStats struct {
	Name    string
	Runs    uint64
	Runtime time.Duration
}

// ProgramStats returns run counts and accumulated run time per program.
func (s *Sensor) ProgramStats() ([]ProgramStats, error) {
	var out []ProgramStats
	for _, p := range []struct {
		name string
		prog *ebpf.Program
	}{{"sys_exit", s.objs.SysExit}, {"sched_exec", s.objs.SchedExec}, {"sched_fork", s.objs.SchedFork}, {"sched_exit", s.objs.SchedExit}} {
		st, err := p.prog.Stats()
		if err != nil {
			return nil, err
		}
		out = append(out, ProgramStats{Name: p.name, Runs: st.RunCount, Runtime: st.Runtime})
	}
	return out, nil
}

// bootOffset converts CLOCK_BOOTTIME to wall-clock nanoseconds.
func bootOffset() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Now().UnixNano() - ts.Nano()
}
