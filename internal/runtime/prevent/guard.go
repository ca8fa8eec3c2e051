package prevent

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/fanotify"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// guardPlan is what a container's in-kernel guard enforces.
type guardPlan struct {
	learn     bool            // notify only: record exec paths into the baseline
	baseline  map[string]bool // protect: the only executables allowed (nil: no baseline check)
	denyExec  []denySet
	denyOpen  []denySet
	notifyRun bool // dry run: observe and log "would deny"
}

type denySet struct {
	rule  string // the policy entry's rule or tag, for logs
	paths []string
}

func (d denySet) match(p string) bool {
	for _, s := range d.paths {
		if strings.HasSuffix(s, "/") {
			if strings.HasPrefix(p, s) {
				return true
			}
		} else if p == s {
			return true
		}
	}
	return false
}

func (g *guardPlan) empty() bool {
	return !g.learn && g.baseline == nil && len(g.denyExec) == 0 && len(g.denyOpen) == 0
}

// plan computes the guard a container needs in a mode.
func (r *Responder) plan(c *container, mode Mode) *guardPlan {
	g := &guardPlan{notifyRun: r.opts.DryRun}
	switch mode {
	case ModeLearn:
		g.learn = c.base != nil
		return g
	case ModeMonitor:
		return g
	}
	if c.base != nil && c.cp != nil {
		g.baseline = map[string]bool{}
		for _, e := range c.base.Executables() {
			g.baseline[e] = true
		}
	}
	for i := range r.pol.Actions {
		a := &r.pol.Actions[i]
		if a.Action != ActionDeny || (a.Match != nil && !a.Match.Matches(c.info)) {
			continue
		}
		name := a.Rule
		if name == "" {
			name = "tag:" + a.Tag
		}
		if len(a.Exec) > 0 {
			g.denyExec = append(g.denyExec, denySet{rule: name, paths: a.Exec})
		}
		if len(a.Open) > 0 {
			g.denyOpen = append(g.denyOpen, denySet{rule: name, paths: a.Open})
		}
	}
	return g
}

// ensureGuardLocked replaces the container's guard with the one its mode
// needs. c.mu is held.
func (r *Responder) ensureGuardLocked(c *container, mode Mode) {
	if c.guard != nil {
		_ = c.guard.Close()
		c.guard = nil
	}
	c.guardMode = mode
	c.guardErr = nil
	p := r.plan(c, mode)
	if p.empty() {
		return
	}
	if c.pid <= 0 {
		c.guardErr = errors.New("no in-kernel guard: the container's init pid is unknown (no Docker client, or the container is not running)")
		r.log.Warn("prevent: "+c.guardErr.Error(), "container_id", c.id, "mode", mode)
		return
	}
	g, err := r.startGuard(c, p)
	if err != nil {
		c.guardErr = err
		r.log.Error("prevent: in-kernel guard failed; exec/open are not enforced for this container", "container_id", c.id, "mode", mode, "err", err)
		return
	}
	c.guard = g
	r.log.Info("prevent: in-kernel guard active", "container_id", c.id, "container_name", c.info.Name, "mode", mode,
		"learn", p.learn, "baseline_executables", len(p.baseline), "deny_exec_sets", len(p.denyExec),
		"deny_open_sets", len(p.denyOpen), "dry_run", p.notifyRun)
}

func (r *Responder) startGuard(c *container, p *guardPlan) (*fanotify.Guard, error) {
	root, err := unix.Open("/proc/"+strconv.Itoa(c.pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open container root: %w", err)
	}
	defer unix.Close(root)
	if p.baseline != nil {
		// The kernel reports the resolved path of what is executed, and
		// dynamically linked programs exec-open their ELF interpreter too.
		var extra []string
		for exe := range p.baseline {
			if real := canonical(root, exe); real != "" {
				extra = append(extra, real)
			}
			if in := elfInterp(root, exe); in != "" {
				extra = append(extra, in)
				if real := canonical(root, in); real != "" {
					extra = append(extra, real)
				}
			}
		}
		for _, e := range extra {
			p.baseline[e] = true
		}
	}
	wantOpen := len(p.denyOpen) > 0
	cfg := fanotify.Config{
		Exec:    true,
		Open:    wantOpen,
		Notify:  p.learn || p.notifyRun,
		Timeout: decisionTimeout(r.pol),
		Logger:  r.log,
		Decide:  r.decider(c, p),
	}
	if p.learn {
		cfg.Open = false
	}
	g, err := fanotify.New(cfg)
	if err != nil {
		return nil, err
	}
	mounts, err := containerMounts(c.pid)
	if err != nil {
		g.Close()
		return nil, err
	}
	marked := 0
	for _, m := range mounts {
		if pseudoFS[m.fstype] || (m.noexec && !cfg.Open) {
			continue
		}
		fd, err := unix.Openat2(root, m.point, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			if m.point == "/" {
				g.Close()
				return nil, fmt.Errorf("open container root mount: %w", err)
			}
			// File bind mounts (/etc/hosts) and paths replaced by symlinks
			// are not marked.
			continue
		}
		err = g.MarkMount(fd)
		unix.Close(fd)
		if err != nil {
			if m.point == "/" {
				g.Close()
				return nil, fmt.Errorf("mark container root mount: %w", err)
			}
			r.log.Warn("prevent: mount not guarded", "container_id", c.id, "mount", m.point, "fstype", m.fstype, "err", err)
			continue
		}
		marked++
	}
	if marked == 0 {
		g.Close()
		return nil, errors.New("no mount of the container could be marked")
	}
	g.Start()
	return g, nil
}

func decisionTimeout(p *Policy) time.Duration { return time.Duration(p.DecisionTimeout) }

// decider returns the guard's decision function.
func (r *Responder) decider(c *container, p *guardPlan) func(fanotify.Event) bool {
	verb := "denied"
	if p.notifyRun {
		verb = "would deny"
	}
	deny := func(e fanotify.Event, what, reason string) bool {
		r.log.Warn("prevent: "+verb+" "+what, "action", ActionDeny, "container_id", c.id, "container_name", c.info.Name,
			"image", c.info.Image, "pid", e.PID, "path", e.Path, "reason", reason, "dry_run", p.notifyRun)
		r.queueDenial(c, e, what, reason, verb)
		return false
	}
	return func(e fanotify.Event) bool {
		if p.learn {
			if e.Exec && !strings.HasSuffix(e.Path, " (deleted)") {
				c.base.AddExec(e.Path)
			}
			return true
		}
		if e.Exec {
			for _, d := range p.denyExec {
				if d.match(e.Path) {
					return deny(e, "exec", "deny rule "+d.rule)
				}
			}
			if p.baseline != nil && !p.baseline[e.Path] {
				return deny(e, "exec", "outside baseline "+c.base.Key().FileName())
			}
			return true
		}
		for _, d := range p.denyOpen {
			if d.match(e.Path) {
				return deny(e, "open", "deny rule "+d.rule)
			}
		}
		return true
	}
}

// pseudoFS are filesystems nothing is executed or denied on.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "cgroup": true, "cgroup2": true, "devpts": true, "mqueue": true,
	"securityfs": true, "debugfs": true, "tracefs": true, "bpf": true, "fusectl": true, "configfs": true,
	"pstore": true, "autofs": true, "binfmt_misc": true, "hugetlbfs": true, "nsfs": true,
}

type mountInfo struct {
	point, fstype string
	noexec        bool
}

// containerMounts parses /proc/PID/mountinfo.
func containerMounts(pid int) ([]mountInfo, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountInfo(io.LimitReader(f, 4<<20))
}

func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 6 || len(g) < 1 {
			continue
		}
		m := mountInfo{point: unescapeOctal(f[4]), fstype: g[0]}
		for _, o := range strings.Split(f[5], ",") {
			if o == "noexec" {
				m.noexec = true
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// elfInterp returns the PT_INTERP of exe inside the container root, or "".
// The file is opened non-blocking (a FIFO planted at a learnt path must not
// hang us) and must be a regular file.
func elfInterp(root int, exe string) string {
	fd, err := unix.Openat2(root, exe, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), exe)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP || p.Filesz > 4096 {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return ""
		}
		s := string(bytes.TrimRight(b, "\x00"))
		if strings.HasPrefix(s, "/") {
			return path.Clean(s)
		}
	}
	return ""
}

// canonical resolves p inside the container root to the path the kernel
// prints for it (symlinks followed inside the root), or "".
func canonical(root int, p string) string {
	fd, err := unix.Openat2(root, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	s, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(s, "/") {
		return ""
	}
	return s
}

// Rules of the alerts raised for the guard's denials.
const (
	ruleDeniedBaseline = "Exec outside baseline denied"
	ruleDeniedPolicy   = "Denied by policy"
	tmplDenied         = "%verb %what of %fd.name in container (container_id=%container.id container_name=%container.name image=%container.image.repository pid=%proc.pid reason=%reason)"
	maxPendingAlerts   = 1024
)

// queueDenial turns a guard denial into an alert that the next Observe
// call returns: the denied exec never happens, so the sensor sees no event
// for it.
func (r *Responder) queueDenial(c *container, e fanotify.Event, what, reason, verb string) {
	rule, prio := ruleDeniedPolicy, rules.PriorityCritical
	if strings.HasPrefix(reason, "outside baseline") {
		rule, prio = ruleDeniedBaseline, rules.PriorityWarning
	}
	fields := map[string]any{"fd.name": e.Path, "proc.pid": int64(e.PID), "container.id": c.id}
	if e.Exec {
		fields["proc.exepath"] = e.Path
	}
	ev, err := rules.NewMapEvent(fields)
	if err != nil {
		return
	}
	extra := map[string]string{"verb": verb, "what": what, "reason": reason,
		"container.name": c.info.Name, "container.image.repository": imageRepo(c.info.Image)}
	text, out := render(tmplDenied, ev, extra)
	a := rules.Alert{Rule: rule, Priority: prio, Output: text, OutputFields: out,
		Tags: []string{"bulkhead", "prevention", string(ActionDeny)}, Time: r.now(), Source: "bulkhead"}
	r.pendMu.Lock()
	defer r.pendMu.Unlock()
	if len(r.pending) >= maxPendingAlerts {
		r.pendingDropped++
		return
	}
	r.pending = append(r.pending, a)
}

// drainDenials returns the queued denial alerts.
func (r *Responder) drainDenials() []rules.Alert {
	r.pendMu.Lock()
	defer r.pendMu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	out := r.pending
	r.pending = nil
	return out
}
