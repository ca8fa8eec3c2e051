package prevent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// Handle carries out the policy's actions for one alert and returns a
// record of each. An alert no entry matches gets the default action,
// alert. Enforcing actions (kill, pause, stop, deny) run only for a
// container (or host process) in mode protect; in learn and monitor they
// are recorded as skipped, and in a dry run as "would …".
func (r *Responder) Handle(ctx context.Context, a rules.Alert, ev rules.Event) []ActionRecord {
	id := eventContainerID(ev)
	var c *container
	if id != "" {
		c = r.container(ctx, id, ev)
	}
	info := ContainerInfo{}
	mode := r.pol.DefaultMode
	if c != nil {
		info = c.info
		mode = r.modeOf(c)
	}
	pid, _ := eventInt(ev, "proc.pid")
	base := ActionRecord{Time: r.now(), Rule: a.Rule, ContainerID: shortID(id), PID: pid}

	entries := r.pol.actionsFor(a.Rule, a.Tags, info, c != nil)
	seen := map[Action]bool{}
	var out []ActionRecord
	for _, e := range entries {
		if seen[e.Action] {
			continue
		}
		seen[e.Action] = true
		rec := base
		rec.Action = e.Action
		r.do(ctx, &rec, c, mode, a, ev)
		r.logAction(rec, c, a, ev)
		out = append(out, rec)
	}
	if len(out) == 0 {
		rec := base
		rec.Action, rec.Result = ActionAlert, "alerted"
		r.logAction(rec, c, a, ev)
		out = append(out, rec)
	}
	return out
}

func (r *Responder) do(ctx context.Context, rec *ActionRecord, c *container, mode Mode, a rules.Alert, ev rules.Event) {
	exe := eventString(ev, "proc.exepath")
	switch rec.Action {
	case ActionAlert:
		rec.Result = "alerted"
		return
	case ActionKill:
		rec.Target = fmt.Sprintf("pid %d (%s)", rec.PID, exe)
	case ActionPause, ActionStop:
		if c == nil {
			rec.Result, rec.Err = "failed", errors.New("the event carries no container id")
			return
		}
		rec.Target = fmt.Sprintf("container %s (%s)", c.info.Name, c.id)
	case ActionDeny:
		rec.Target = "exec/open path sets"
		if c == nil {
			rec.Result, rec.Err = "failed", errors.New("deny applies to containers; the event carries no container id")
			return
		}
	}
	if r.opts.DryRun {
		rec.Result = "would " + string(rec.Action)
		return
	}
	if mode != ModeProtect {
		rec.Result = "skipped: mode " + string(mode)
		return
	}
	switch rec.Action {
	case ActionKill:
		if rec.PID <= 0 {
			rec.Result, rec.Err = "failed", errors.New("the event carries no proc.pid")
			return
		}
		evTime := a.Time
		if raw, ok := eventInt(ev, "evt.rawtime"); ok {
			evTime = time.Unix(0, raw)
		}
		var cid string
		if c != nil {
			cid = c.id
		}
		rec.Result, rec.Err = r.kill(int(rec.PID), cid, evTime)
	case ActionPause:
		if r.opts.Docker == nil {
			rec.Result, rec.Err = "failed", errors.New("no Docker client")
			return
		}
		_, err := r.opts.Docker.ContainerPause(ctx, c.info.ID, client.ContainerPauseOptions{})
		rec.Result, rec.Err = result(err)
	case ActionStop:
		if r.opts.Docker == nil {
			rec.Result, rec.Err = "failed", errors.New("no Docker client")
			return
		}
		secs := int(time.Duration(r.pol.StopTimeout) / time.Second)
		_, err := r.opts.Docker.ContainerStop(ctx, c.info.ID, client.ContainerStopOptions{Timeout: &secs})
		rec.Result, rec.Err = result(err)
	case ActionDeny:
		c.mu.Lock()
		g, gerr := c.guard, c.guardErr
		c.mu.Unlock()
		switch {
		case g != nil:
			rec.Result = "enforced in kernel (fanotify guard active)"
		case gerr != nil:
			rec.Result, rec.Err = "failed", gerr
		default:
			rec.Result, rec.Err = "failed", errors.New("no in-kernel guard for this container")
		}
	}
}

func result(err error) (string, error) {
	if err != nil {
		return "failed", err
	}
	return "done", nil
}

func (r *Responder) logAction(rec ActionRecord, c *container, a rules.Alert, ev rules.Event) {
	name, image := eventString(ev, "container.name"), eventString(ev, "container.image.repository")
	if c != nil {
		name, image = c.info.Name, c.info.Image
	}
	attrs := []any{
		"action", rec.Action, "rule", rec.Rule, "priority", a.Priority.String(), "result", rec.Result,
		"target", rec.Target, "container_id", rec.ContainerID, "pid", rec.PID,
		"container_name", name, "image", image,
		"evt_type", eventString(ev, "evt.type"), "proc_exepath", eventString(ev, "proc.exepath"),
		"proc_cmdline", eventString(ev, "proc.cmdline"), "fd_name", eventString(ev, "fd.name"),
		"dry_run", r.opts.DryRun,
	}
	if rec.Err != nil {
		attrs = append(attrs, "err", rec.Err)
	}
	switch {
	case rec.Err != nil:
		r.log.Error("prevent: action failed", attrs...)
	case rec.Action == ActionAlert:
		r.log.Debug("prevent: alert", attrs...)
	default:
		r.log.Warn("prevent: action", attrs...)
	}
}

// ErrPIDReused is returned when the process now holding an alert's pid is
// not the one the alert is about.
var ErrPIDReused = errors.New("pid reused: the process is not the one the event came from")

// startSlack absorbs the rounding of start times (clock ticks) and of
// event timestamps.
const startSlack = 500 * time.Millisecond

// kill SIGKILLs pid after checking it is the event's process. A pidfd pins
// the process between the checks and the signal, so a pid recycled after
// the checks cannot be hit.
func (r *Responder) kill(pid int, containerID string, evTime time.Time) (string, error) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return "failed", fmt.Errorf("process %d already gone: %w", pid, err)
		}
		return "failed", fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pfd)
	start, err := procStart(pid)
	if err != nil {
		return "failed", err
	}
	if want, ok := r.starts.get(pid); ok && want != start.ticks {
		return "refused", fmt.Errorf("%w (pid %d started at tick %d, the event's process at tick %d)", ErrPIDReused, pid, start.ticks, want)
	}
	if !evTime.IsZero() && start.wall.After(evTime.Add(startSlack)) {
		return "refused", fmt.Errorf("%w (pid %d started %s, after the event at %s)", ErrPIDReused, pid,
			start.wall.UTC().Format(time.RFC3339Nano), evTime.UTC().Format(time.RFC3339Nano))
	}
	if containerID != "" {
		cg, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			return "failed", err
		}
		if !bytes.Contains(cg, []byte(containerID)) {
			return "refused", fmt.Errorf("%w (pid %d is not in container %s)", ErrPIDReused, pid, containerID)
		}
	}
	if err := unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0); err != nil {
		return "failed", fmt.Errorf("pidfd_send_signal %d: %w", pid, err)
	}
	return "done", nil
}

type startTime struct {
	ticks uint64
	wall  time.Time
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStart reads a process's start time (field 22 of /proc/PID/stat,
// clock ticks since boot) and converts it to wall time through
// CLOCK_BOOTTIME.
func procStart(pid int) (startTime, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return startTime{}, err
	}
	ticks, err := parseStatStart(b)
	if err != nil {
		return startTime{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return startTime{}, err
	}
	now := time.Now()
	sinceBoot := time.Duration(ts.Nano())
	startSinceBoot := time.Duration(ticks) * (time.Second / clockTicks)
	return startTime{ticks: ticks, wall: now.Add(startSinceBoot - sinceBoot)}, nil
}

// parseStatStart returns field 22 of a /proc/PID/stat line. The command
// name (field 2) may hold spaces and parentheses, so fields are counted
// after its last ')'.
func parseStatStart(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' in stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, errors.New("short stat line")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// startCache remembers the start tick of processes seen exec'ing, so a
// kill can tell the event's process from a later one with the same pid.
type startCache struct {
	mu  sync.Mutex
	max int
	m   map[int]uint64
}

func newStartCache(max int) *startCache { return &startCache{max: max, m: map[int]uint64{}} }

func (s *startCache) record(pid int) {
	st, err := procStart(pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		clear(s.m)
	}
	s.m[pid] = st.ticks
}

func (s *startCache) get(pid int) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[pid]
	return v, ok
}

var containerIDRe = regexp.MustCompile(`(?:docker[-/])([0-9a-f]{64})`)

// runningContainerIDs finds Docker container ids in the cgroups of the
// processes under procRoot.
func runningContainerIDs(procRoot string) ([]string, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(procRoot + "/" + e.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for _, m := range containerIDRe.FindAllSubmatch(b, -1) {
			id := string(m[1])
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// render substitutes %field references (Falco's output syntax) with the
// event's values, <NA> when absent; extra supplies fields the event does
// not carry (%profile, %mode). It returns the text and output_fields.
func render(tmpl string, ev rules.Event, extra map[string]string) (string, map[string]string) {
	var b strings.Builder
	fields := map[string]string{}
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch != '%' {
			b.WriteByte(ch)
			continue
		}
		j := i + 1
		for j < len(tmpl) && (isIdent(tmpl[j])) {
			j++
		}
		for j > i+1 && tmpl[j-1] == '.' {
			j--
		}
		name := tmpl[i+1 : j]
		if name == "" {
			b.WriteByte('%')
			continue
		}
		val, ok := extra[name]
		if ok {
			fields[name] = val
		} else {
			val = "<NA>"
			if v, found := ev.Field(name, ""); found {
				val = v.String()
			}
			fields[name] = val
		}
		b.WriteString(val)
		i = j - 1
	}
	return b.String(), fields
}

func isIdent(c byte) bool {
	return c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// MarshalJSON writes the record with Err as a string ("error", omitted
// when nil).
func (a ActionRecord) MarshalJSON() ([]byte, error) {
	var e string
	if a.Err != nil {
		e = a.Err.Error()
	}
	return json.Marshal(struct {
		Time        time.Time `json:"time"`
		Action      Action    `json:"action"`
		Rule        string    `json:"rule"`
		ContainerID string    `json:"container_id,omitempty"`
		PID         int64     `json:"pid,omitempty"`
		Target      string    `json:"target,omitempty"`
		Result      string    `json:"result"`
		Err         string    `json:"error,omitempty"`
	}{a.Time.UTC(), a.Action, a.Rule, a.ContainerID, a.PID, a.Target, a.Result, e})
}
