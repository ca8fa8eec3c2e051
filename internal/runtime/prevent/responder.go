package prevent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/fanotify"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/profile"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// DockerAPI is the part of the Docker Engine API the responder uses;
// *github.com/moby/moby/client.Client satisfies it.
type DockerAPI interface {
	ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerPause(ctx context.Context, id string, o client.ContainerPauseOptions) (client.ContainerPauseResult, error)
	ContainerStop(ctx context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error)
}

// Options configures NewResponder.
type Options struct {
	Logger *slog.Logger
	// Docker resolves containers (labels, image, init pid, mounts) and
	// carries out pause and stop. Without it selectors see only the
	// event's container fields, and pause, stop and in-kernel guards are
	// unavailable (each attempt is logged and recorded as failed).
	Docker DockerAPI
	// DryRun logs every action as "would …" and carries out none; in-kernel
	// guards only observe.
	DryRun bool
}

// ActionRecord is one action taken (or not) for an alert.
type ActionRecord struct {
	Time        time.Time
	Action      Action
	Rule        string
	ContainerID string
	PID         int64
	// Target is what the action was aimed at: "pid 1234 (/usr/bin/nc)",
	// "container web (3f2a…)", a path set.
	Target string
	// Result: "done", "would kill" (dry run), "skipped: …", "failed".
	Result string
	Err    error
}

// Responder applies a Policy to events and alerts. Its methods are safe for
// concurrent use.
type Responder struct {
	pol    *Policy
	opts   Options
	log    *slog.Logger
	store  profile.Store
	now    func() time.Time
	starts *startCache

	mu         sync.RWMutex
	containers map[string]*container
	lastFlush  atomic.Int64 // unix nanoseconds of the last sweep+flush
	ticks      atomic.Uint64
	closed     bool

	pendMu         sync.Mutex
	pending        []rules.Alert // guard denials not yet returned by Observe
	pendingDropped uint64
}

// NewResponder builds a responder. With a Docker client it attaches to the
// containers already running (found through /proc), so deny sets and
// protect mode are in force before the first event arrives.
func NewResponder(p *Policy, opts Options) (*Responder, error) {
	if p == nil {
		return nil, errors.New("prevent: nil policy")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Responder{
		pol: p, opts: opts, log: opts.Logger, now: time.Now,
		store:      profile.Store{Dir: p.Profiles, Collapse: p.CollapseThreshold},
		starts:     newStartCache(1 << 16),
		containers: map[string]*container{},
	}
	r.lastFlush.Store(r.now().UnixNano())
	if opts.Docker != nil && r.needsGuards() {
		ids, err := runningContainerIDs("/proc")
		if err != nil {
			r.log.Warn("prevent: cannot list running containers from /proc; they are attached on their first event", "err", err)
		}
		for _, id := range ids {
			r.container(context.Background(), id, nil)
		}
	}
	return r, nil
}

// needsGuards reports whether any container may get an in-kernel guard.
func (r *Responder) needsGuards() bool {
	if len(r.pol.Containers) > 0 {
		return true
	}
	for _, a := range r.pol.Actions {
		if a.Action == ActionDeny {
			return true
		}
	}
	return false
}

// container is the responder's state for one container.
type container struct {
	ready chan struct{}
	id    string // short (12) id
	info  ContainerInfo
	cp    *ContainerPolicy
	pid   int // init pid on the host, 0 if unknown
	// downgraded: monitor/protect asked but no profile existed, so the
	// container learns for this responder's lifetime.
	downgraded bool

	mu        sync.Mutex
	base      *profile.Baseline
	guard     *fanotify.Guard
	guardMode Mode
	guardErr  error
	alerted   map[string]bool
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func eventString(ev rules.Event, name string) string {
	if ev == nil {
		return ""
	}
	v, ok := ev.Field(name, "")
	if !ok {
		return ""
	}
	return v.String()
}

func eventInt(ev rules.Event, name string) (int64, bool) {
	if ev == nil {
		return 0, false
	}
	v, ok := ev.Field(name, "")
	if !ok {
		return 0, false
	}
	switch v.Kind() {
	case rules.KindInt:
		return v.Int(), true
	case rules.KindString:
		var n int64
		if _, err := fmt.Sscan(v.Str(), &n); err == nil {
			return n, true
		}
	}
	return 0, false
}

// eventContainerID returns the event's container id, or "" for the host.
func eventContainerID(ev rules.Event) string {
	id := eventString(ev, "container.id")
	if id == "" || id == "host" || id == "<NA>" {
		return ""
	}
	return id
}

// container returns the state for id, creating it (inspect, profile,
// guard) on first sight. ev may be nil.
func (r *Responder) container(ctx context.Context, id string, ev rules.Event) *container {
	sid := shortID(id)
	r.mu.RLock()
	c, ok := r.containers[sid]
	r.mu.RUnlock()
	if ok {
		<-c.ready
		return c
	}
	r.mu.Lock()
	if c, ok := r.containers[sid]; ok {
		r.mu.Unlock()
		<-c.ready
		return c
	}
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	c = &container{ready: make(chan struct{}), id: sid, alerted: map[string]bool{}}
	r.containers[sid] = c
	r.mu.Unlock()
	defer close(c.ready)
	r.initContainer(ctx, c, id, ev)
	return c
}

func (r *Responder) initContainer(ctx context.Context, c *container, id string, ev rules.Event) {
	c.info = ContainerInfo{ID: id, Name: eventString(ev, "container.name"), Image: eventString(ev, "container.image")}
	if c.info.Image == "" {
		repo, tag := eventString(ev, "container.image.repository"), eventString(ev, "container.image.tag")
		c.info.Image = repo
		if repo != "" && tag != "" {
			c.info.Image += ":" + tag
		}
	}
	var merged string
	if r.opts.Docker != nil {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := r.opts.Docker.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
		cancel()
		if err != nil {
			r.log.Warn("prevent: docker inspect failed; using the event's container fields", "container_id", id, "err", err)
		} else {
			ci := res.Container
			c.info.ID = ci.ID
			c.info.Name = strings.TrimPrefix(ci.Name, "/")
			if ci.Config != nil {
				c.info.Image = ci.Config.Image
				c.info.Labels = ci.Config.Labels
			}
			if ci.State != nil && ci.State.Running {
				c.pid = ci.State.Pid
			}
			if ci.GraphDriver != nil {
				merged = ci.GraphDriver.Data["MergedDir"]
			}
		}
	}
	if c.info.Labels == nil {
		c.info.Labels = r.eventLabels(ev)
	}
	c.cp = r.pol.containerPolicy(c.info)
	if c.cp != nil {
		key := profile.Key{Selector: c.cp.Name, Image: c.info.Image}
		b, err := r.store.Load(key)
		switch {
		case err == nil:
			c.base = b
		case errors.Is(err, fs.ErrNotExist):
			c.base = profile.New(key, r.pol.CollapseThreshold, r.now())
			if c.cp.Mode != ModeLearn {
				c.downgraded = true
				r.log.Warn("prevent: no baseline profile; the container learns instead", "container_id", c.id,
					"container_name", c.info.Name, "image", c.info.Image, "selector", c.cp.Name, "mode", c.cp.Mode,
					"profile", key.FileName())
			}
		default:
			// A broken profile must neither become an empty one that
			// denies everything nor be overwritten by a fresh one: the
			// container runs without a baseline until it is fixed.
			r.log.Error("prevent: baseline profile unreadable; no baseline for this container (monitor mode, nothing learnt or enforced from the profile)",
				"container_id", c.id, "err", err)
		}
	}
	mode := r.modeOf(c)
	r.log.Info("prevent: container attached", "container_id", c.id, "container_name", c.info.Name, "image", c.info.Image,
		"selector", selectorName(c.cp), "mode", mode, "merged_dir", merged)
	c.mu.Lock()
	r.ensureGuardLocked(c, mode)
	c.mu.Unlock()
}

func selectorName(cp *ContainerPolicy) string {
	if cp == nil {
		return ""
	}
	return cp.Name
}

// modeOf is the container's effective mode now.
func (r *Responder) modeOf(c *container) Mode {
	if c == nil || c.cp == nil {
		return r.pol.DefaultMode
	}
	if c.downgraded {
		return ModeLearn
	}
	if c.base == nil {
		return ModeMonitor
	}
	m := c.cp.Mode
	if m == ModeLearn && c.cp.LearnFor > 0 && c.base != nil && r.now().Sub(c.base.Created()) >= time.Duration(c.cp.LearnFor) {
		m = c.cp.Then
	}
	return m
}

// Observe feeds one event to the baseline of its container: learn records
// it, monitor and protect return an alert when it is outside the baseline.
// It also returns the alerts of in-kernel denials made since the last call
// (a denied exec never runs, so no event reports it).
func (r *Responder) Observe(ctx context.Context, ev rules.Event) []rules.Alert {
	denied := r.drainDenials()
	alerts := r.observe(ctx, ev)
	if denied != nil {
		return append(denied, alerts...)
	}
	return alerts
}

func (r *Responder) observe(ctx context.Context, ev rules.Event) []rules.Alert {
	typ := eventString(ev, "evt.type")
	if isExec(typ) {
		if pid, ok := eventInt(ev, "proc.pid"); ok {
			r.starts.record(int(pid))
		}
	}
	r.maybeFlush()
	id := eventContainerID(ev)
	if id == "" {
		return nil
	}
	c := r.container(ctx, id, ev)
	if c == nil || c.base == nil {
		return nil
	}
	mode := r.modeOf(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.guardMode != mode {
		r.ensureGuardLocked(c, mode)
	}
	if mode == ModeLearn {
		learn(c.base, typ, ev)
		return nil
	}
	return r.diff(c, mode, typ, ev)
}

func isExec(typ string) bool { return typ == "execve" || typ == "execveat" }

func isOpen(typ string) bool {
	return typ == "open" || typ == "openat" || typ == "openat2" || typ == "creat"
}

func isListen(typ string) bool {
	return typ == "bind" || typ == "listen" || typ == "accept" || typ == "accept4"
}

func learn(b *profile.Baseline, typ string, ev rules.Event) {
	if exe := eventString(ev, "proc.exepath"); exe != "" {
		b.AddExec(exe)
	}
	switch {
	case isOpen(typ):
		if f := eventString(ev, "fd.name"); strings.HasPrefix(f, "/") {
			b.AddFile(f)
		}
	case typ == "connect":
		if port, ok := eventInt(ev, "fd.sport"); ok {
			b.AddConnection(eventString(ev, "fd.sip"), port, eventString(ev, "fd.l4proto"))
		}
	case isListen(typ):
		if port, ok := listenPort(ev); ok {
			b.AddListen(port, eventString(ev, "fd.l4proto"))
		}
	}
}

func listenPort(ev rules.Event) (int64, bool) {
	if p, ok := eventInt(ev, "fd.sport"); ok {
		return p, true
	}
	return eventInt(ev, "fd.lport")
}

const (
	ruleProcess    = "Process outside baseline"
	ruleFile       = "File open outside baseline"
	ruleConnection = "Connection outside baseline"
	ruleListen     = "Listen outside baseline"
)

// Output templates of the baseline alerts, Falco style.
const (
	outCommon  = " (container_id=%container.id container_name=%container.name image=%container.image.repository proc_exepath=%proc.exepath cmdline=%proc.cmdline pid=%proc.pid"
	tmplProc   = "Process outside the container's baseline started" + outCommon + " profile=%profile mode=%mode)"
	tmplFile   = "File opened outside the container's baseline" + outCommon + " file=%fd.name profile=%profile mode=%mode)"
	tmplConn   = "Connection outside the container's baseline" + outCommon + " connection=%fd.name server=%fd.sip:%fd.sport proto=%fd.l4proto profile=%profile mode=%mode)"
	tmplListen = "Listening port outside the container's baseline" + outCommon + " connection=%fd.name port=%fd.sport proto=%fd.l4proto profile=%profile mode=%mode)"
)

// maxAlerted bounds the per-container set of items already alerted.
const maxAlerted = 4096

func (r *Responder) diff(c *container, mode Mode, typ string, ev rules.Event) []rules.Alert {
	var rule, tmpl, item string
	switch {
	case isExec(typ):
		exe := eventString(ev, "proc.exepath")
		if exe == "" || c.base.HasExec(exe) {
			return nil
		}
		rule, tmpl, item = ruleProcess, tmplProc, "exec:"+exe
	case isOpen(typ):
		f := eventString(ev, "fd.name")
		if !strings.HasPrefix(f, "/") || c.base.HasFile(f) {
			return nil
		}
		rule, tmpl, item = ruleFile, tmplFile, "file:"+profile.NormalizePath(f)
	case typ == "connect":
		port, ok := eventInt(ev, "fd.sport")
		ip, proto := eventString(ev, "fd.sip"), eventString(ev, "fd.l4proto")
		if !ok || c.base.HasConnection(ip, port, proto) {
			return nil
		}
		rule, tmpl, item = ruleConnection, tmplConn, "conn:"+profile.Endpoint(ip, port, proto)
	case isListen(typ):
		port, ok := listenPort(ev)
		proto := eventString(ev, "fd.l4proto")
		if !ok || c.base.HasListen(port, proto) {
			return nil
		}
		rule, tmpl, item = ruleListen, tmplListen, fmt.Sprintf("listen:%d/%s", port, proto)
	default:
		return nil
	}
	// One alert per container and item: a new process running in a loop
	// is one finding, not a flood.
	if c.alerted[item] {
		return nil
	}
	if len(c.alerted) < maxAlerted {
		c.alerted[item] = true
	}
	extra := map[string]string{"profile": c.base.Key().FileName(), "mode": string(mode)}
	// Fill the container fields the event lacks from what Docker said.
	for name, val := range map[string]string{"container.name": c.info.Name, "container.image.repository": imageRepo(c.info.Image)} {
		if _, ok := ev.Field(name, ""); !ok && val != "" {
			extra[name] = val
		}
	}
	text, fields := render(tmpl, ev, extra)
	t := r.now()
	if raw, ok := eventInt(ev, "evt.rawtime"); ok {
		t = time.Unix(0, raw)
	}
	return []rules.Alert{{
		Rule: rule, Priority: rules.PriorityWarning, Output: text, OutputFields: fields,
		Tags: []string{"baseline", "bulkhead", string(mode)}, Time: t, Source: "bulkhead",
	}}
}

// flushEvery is how often learnt profiles are written while learning.
const flushEvery = 30 * time.Second

func (r *Responder) maybeFlush() {
	// Reading the clock on every event costs more than the rest of a
	// baseline lookup: look every 256 events.
	if r.ticks.Add(1)%256 != 0 {
		return
	}
	last, now := r.lastFlush.Load(), r.now().UnixNano()
	if time.Duration(now-last) < flushEvery || !r.lastFlush.CompareAndSwap(last, now) {
		return
	}
	go func() {
		r.sweep()
		if err := r.flush(); err != nil {
			r.log.Error("prevent: saving baseline profiles failed", "err", err)
		}
	}()
}

// sweep forgets containers whose init process is gone (stopped, or
// restarted with a new one): their guard is closed (the kernel already
// dropped the marks with the mount namespace) and the next event of a
// restarted container attaches afresh.
func (r *Responder) sweep() {
	r.mu.RLock()
	var gone []*container
	for _, c := range r.containers {
		select {
		case <-c.ready:
		default:
			continue
		}
		if c.pid > 0 {
			if _, err := os.Stat("/proc/" + strconv.Itoa(c.pid)); err != nil {
				gone = append(gone, c)
			}
		}
	}
	r.mu.RUnlock()
	for _, c := range gone {
		if c.base != nil && c.base.Dirty() {
			if err := r.store.Save(c.base); err != nil {
				r.log.Error("prevent: saving baseline profile failed", "profile", c.base.Key().FileName(), "err", err)
			}
		}
		c.mu.Lock()
		if c.guard != nil {
			_ = c.guard.Close()
			c.guard = nil
		}
		c.mu.Unlock()
		r.mu.Lock()
		if r.containers[c.id] == c {
			delete(r.containers, c.id)
		}
		r.mu.Unlock()
		r.log.Info("prevent: container gone; detached", "container_id", c.id, "container_name", c.info.Name)
	}
}

// flush saves every dirty learnt profile.
func (r *Responder) flush() error {
	r.mu.Lock()
	cs := make([]*container, 0, len(r.containers))
	for _, c := range r.containers {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	var errs []error
	saved := map[profile.Key]bool{}
	for _, c := range cs {
		<-c.ready
		if c.base == nil || !c.base.Dirty() || saved[c.base.Key()] {
			continue
		}
		saved[c.base.Key()] = true
		if err := r.store.Save(c.base); err != nil {
			errs = append(errs, fmt.Errorf("save profile %s: %w", c.base.Key().FileName(), err))
			continue
		}
		r.log.Info("prevent: baseline profile saved", "profile", c.base.Key().FileName(), "dir", r.store.Dir,
			"executables", len(c.base.Executables()))
	}
	return errors.Join(errs...)
}

// Close stops every in-kernel guard (the kernel allows whatever they had
// pending) and saves learnt profiles.
func (r *Responder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	cs := make([]*container, 0, len(r.containers))
	for _, c := range r.containers {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	var errs []error
	for _, c := range cs {
		<-c.ready
		c.mu.Lock()
		if c.guard != nil {
			st := c.guard.Stats()
			if err := c.guard.Close(); err != nil {
				errs = append(errs, err)
			}
			r.log.Info("prevent: guard closed", "container_id", c.id, "mode", c.guardMode, "events", st.Events,
				"allowed", st.Allowed, "denied", st.Denied, "timed_out", st.TimedOut, "overload", st.Overload,
				"unresolved", st.Unresolved, "handle_ns_total", st.HandleNanos)
			c.guard = nil
		}
		c.mu.Unlock()
	}
	if err := r.flush(); err != nil {
		errs = append(errs, err)
	}
	r.pendMu.Lock()
	if r.pendingDropped > 0 {
		r.log.Warn("prevent: denial alerts dropped (queue full between events)", "dropped", r.pendingDropped)
	}
	r.pendMu.Unlock()
	return errors.Join(errs...)
}

// GuardStats returns the in-kernel guard counters of a container (by any
// id prefix of at least 12 characters), and false when it has no guard.
func (r *Responder) GuardStats(id string) (fanotify.Stats, bool) {
	r.mu.RLock()
	c, ok := r.containers[shortID(id)]
	r.mu.RUnlock()
	if !ok {
		return fanotify.Stats{}, false
	}
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.guard == nil {
		return fanotify.Stats{}, false
	}
	return c.guard.Stats(), true
}

// imageRepo strips the tag or digest from an image reference.
func imageRepo(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref = ref[:i]
	}
	return ref
}

// eventLabels reads the labels the policy's selectors name from the
// event's container.label[KEY] fields (used without a Docker client).
func (r *Responder) eventLabels(ev rules.Event) map[string]string {
	if ev == nil {
		return nil
	}
	var out map[string]string
	look := func(s *Selector) {
		if s == nil {
			return
		}
		for k := range s.Labels {
			if v, ok := ev.Field("container.label", k); ok {
				if out == nil {
					out = map[string]string{}
				}
				out[k] = v.String()
			}
		}
	}
	for i := range r.pol.Containers {
		look(&r.pol.Containers[i].Match)
	}
	for i := range r.pol.Actions {
		look(r.pol.Actions[i].Match)
	}
	return out
}
