package sensor

import (
	"context"
	"errors"
	"os"
	"path"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// Enricher turns kernel records into Events: it keeps the process tree,
// attributes containers and resolves file names. It is used from one
// goroutine (the reader), so the order of exec/fork/exit is preserved.
type Enricher struct {
	Tree       *ProcTree
	Containers *Containers
	Users      *Users
	Hostname   string
	bootOffset int64
	num        uint64
}

// NewEnricher returns an enricher; containers may be nil (no attribution).
func NewEnricher(containers *Containers, hostname string) *Enricher {
	if containers == nil {
		containers = NewContainers(nil, nil)
	}
	return &Enricher{Tree: NewProcTree(), Containers: containers, Users: NewUsers(), Hostname: hostname, bootOffset: bootOffset()}
}

// Enrich builds the Event for a record.
func (en *Enricher) Enrich(raw RawEvent) *Event {
	en.num++
	at := time.Unix(0, int64(raw.BootNS)+en.bootOffset)
	ev := &Event{Raw: raw, Time: at, Num: en.num, Hostname: en.Hostname, users: en.Users}
	ev.Proc = en.Tree.Update(&ev.Raw, at)
	cg := raw.CgroupID
	if cg == 0 && ev.Proc != nil {
		// A fallback event whose process was gone before its cgroup
		// could be read: the process's as the tree knows it.
		cg = ev.Proc.CgroupID
	}
	ev.Container = en.Containers.Lookup(cg, raw.Pid)
	switch t := ev.TypeName(); {
	case ev.IsOpen() || t == "unlink" || t == "unlinkat" || t == "rmdir" || t == "mkdir" || t == "mkdirat" || t == "chmod" || t == "fchmodat" || t == "fchmodat2":
		if raw.Flags&flagPathResolved != 0 {
			ev.FdName = path.Clean(raw.Str1)
		} else {
			ev.FdName = en.resolve(raw.Pid, dirfdOf(t, raw.Args), raw.Str0)
		}
	case t == "rename" || t == "renameat" || t == "renameat2" || t == "link" || t == "linkat" || t == "symlink" || t == "symlinkat":
		ev.FdName = raw.Str0
	case t == "memfd_create":
		ev.FdName = "memfd:" + raw.Str0
	case t == "connect" || t == "accept" || t == "accept4" || t == "bind":
		if a, ok := parseSockaddr([]byte(raw.Str1)); ok {
			ev.Addr, ev.HasAddr = a, true
			ev.FdName = addrText(a)
			if t == "connect" && a.Family == "ip" {
				ev.FdName = "->" + ev.FdName
			}
		}
	}
	return ev
}

func dirfdOf(t string, args [6]uint64) int32 {
	switch t {
	case "openat", "openat2", "unlinkat", "mkdirat", "fchmodat", "fchmodat2":
		return int32(args[0])
	}
	return atFdcwd
}

// resolve makes a relative path absolute with the process's working
// directory or the directory fd, read from /proc while the process lives.
// The kernel program resolves relative paths itself (flagPathResolved);
// this is for records it could not resolve and for the fallback sources.
func (en *Enricher) resolve(pid uint32, dirfd int32, p string) string {
	if p == "" || path.IsAbs(p) {
		return p
	}
	base := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	link := base + "/cwd"
	if dirfd != atFdcwd {
		link = base + "/fd/" + strconv.Itoa(int(dirfd))
	}
	dir, err := os.Readlink(link)
	if err != nil {
		return p
	}
	return path.Join(dir, p)
}

// Source is where records come from: the eBPF Sensor, or a recording.
type Source interface {
	Read() (RawEvent, error)
}

// pendingSource is a Source that can tell whether a Read would return at
// once; Run uses it to hand records to the workers in batches.
type pendingSource interface {
	Pending() bool
}

// Handler receives every event with the alerts it raised (often none). It
// is called from several goroutines at once.
type Handler func(ev *Event, alerts []rules.Alert)

// Stats are the pipeline's counters.
type Stats struct {
	Events, Alerts atomic.Uint64
}

// maxBatch bounds how many events go to a worker at once; from a source
// that reports pending records (the eBPF sensor), batches of up to
// inlineBatch are evaluated on the reading goroutine when no batch is
// waiting for a worker. Other sources (the fallback) hand every event to a
// worker.
const (
	maxBatch    = 256
	inlineBatch = 32
)

// Run reads records from src until ctx ends or src fails, enriches them in
// order and evaluates them against eng on workers goroutines (0: one per
// CPU). A closed source ends Run without error.
//
// Events go to the workers in batches of what the source has ready (up to
// maxBatch): waking a parked worker thread costs tens of microseconds, far
// more than evaluating an event, so one wake-up per batch instead of per
// event is what keeps the sensor's CPU low at ordinary rates and lets it
// keep up at high ones. Within a batch events are evaluated in order.
func Run(ctx context.Context, src Source, en *Enricher, eng *rules.Engine, workers int, h Handler, st *Stats) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if st == nil {
		st = &Stats{}
	}
	evaluate := func(ev *Event) {
		alerts := eng.Evaluate(ev)
		st.Events.Add(1)
		st.Alerts.Add(uint64(len(alerts)))
		if h != nil {
			h(ev, alerts)
		}
	}
	work := make(chan []*Event, 64)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range work {
				for _, ev := range batch {
					evaluate(ev)
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(work)
	ps, _ := src.(pendingSource)
	var batch []*Event
	for {
		raw, err := src.Read()
		if err != nil {
			for _, ev := range batch { // read before the source closed
				evaluate(ev)
			}
			if IsClosed(err) || errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		batch = append(batch, en.Enrich(raw))
		if ps != nil && len(batch) < maxBatch && ps.Pending() {
			continue
		}
		if ps != nil && len(batch) <= inlineBatch && len(work) == 0 {
			// A few events and no backlog: evaluating them here costs
			// less than waking a worker thread.
			for _, ev := range batch {
				evaluate(ev)
			}
			batch = batch[:0]
			continue
		}
		select {
		case work <- batch:
		case <-ctx.Done():
			return nil
		}
		batch = make([]*Event, 0, min(2*len(batch), maxBatch))
	}
}
