package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Priority is a rule's severity, ordered from Emergency (most severe) to
// Debug.
type Priority int

// Priorities in Falco's order.
const (
	PriorityEmergency Priority = iota
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// ParsePriority accepts Falco's priority names, case-insensitively, plus
// INFO.
func ParsePriority(s string) (Priority, error) {
	s = strings.TrimSpace(s)
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), nil
		}
	}
	if strings.EqualFold(s, "info") {
		return PriorityInformational, nil
	}
	return 0, fmt.Errorf("unknown priority %q", s)
}

// Alert is one rule match.
type Alert struct {
	Rule         string
	Priority     Priority
	Output       string
	OutputFields map[string]string
	Tags         []string
	Time         time.Time
	Hostname     string
	Source       string
}

// MarshalJSON writes Falco's JSON alert format. As in Falco, "output" is
// prefixed with the event time and priority.
func (a Alert) MarshalJSON() ([]byte, error) {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	t := a.Time.UTC()
	return json.Marshal(struct {
		Hostname     string            `json:"hostname"`
		Output       string            `json:"output"`
		OutputFields map[string]string `json:"output_fields"`
		Priority     string            `json:"priority"`
		Rule         string            `json:"rule"`
		Source       string            `json:"source"`
		Tags         []string          `json:"tags"`
		Time         string            `json:"time"`
	}{
		Hostname:     a.Hostname,
		Output:       t.Format("15:04:05.000000000") + ": " + a.Priority.String() + " " + a.Output,
		OutputFields: a.OutputFields,
		Priority:     a.Priority.String(),
		Rule:         a.Rule,
		Source:       a.Source,
		Tags:         tags,
		Time:         t.Format("2006-01-02T15:04:05.000000000Z"),
	})
}

type engineOptions struct {
	hostname  string
	minPrio   Priority
	typeIndex bool
	now       func() time.Time
}

// EngineOption configures NewEngine.
type EngineOption func(*engineOptions)

// WithHostname sets the hostname reported in alerts.
func WithHostname(h string) EngineOption { return func(o *engineOptions) { o.hostname = h } }

// WithMinPriority drops rules less severe than p.
func WithMinPriority(p Priority) EngineOption { return func(o *engineOptions) { o.minPrio = p } }

// WithTypeIndex turns the per-event-type index on or off (on by default);
// off is useful to check that the index changes nothing.
func WithTypeIndex(on bool) EngineOption { return func(o *engineOptions) { o.typeIndex = on } }

// WithClock sets the time source used when an event carries no
// evt.rawtime.
func WithClock(now func() time.Time) EngineOption { return func(o *engineOptions) { o.now = now } }

// Engine evaluates events against the enabled rules of a Ruleset. It is
// safe for concurrent use: evaluation only reads it.
type Engine struct {
	opts    engineOptions
	all     []*Rule            // enabled rules, in file order
	byType  map[string][]*Rule // rules for a type: type-specific plus generic, in order
	generic []*Rule            // rules that must see every event type
}

// NewEngine builds an engine over rs's enabled rules.
func NewEngine(rs *Ruleset, opts ...EngineOption) *Engine {
	e := &Engine{opts: engineOptions{minPrio: PriorityDebug, typeIndex: true, now: time.Now}}
	for _, o := range opts {
		o(&e.opts)
	}
	for _, r := range rs.Rules {
		if r.Enabled && r.Priority <= e.opts.minPrio {
			e.all = append(e.all, r)
		}
	}
	if !e.opts.typeIndex {
		return e
	}
	e.byType = map[string][]*Rule{}
	for _, r := range e.all {
		if r.EventTypes == nil {
			e.generic = append(e.generic, r)
		}
		for _, t := range r.EventTypes {
			e.byType[t] = nil
		}
	}
	for t := range e.byType {
		var l []*Rule
		for _, r := range e.all {
			if r.EventTypes == nil || contains(r.EventTypes, t) {
				l = append(l, r)
			}
		}
		e.byType[t] = l
	}
	return e
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Rules returns the rules the engine evaluates.
func (e *Engine) Rules() []*Rule { return e.all }

// candidates returns the rules that can match an event.
func (e *Engine) candidates(ev Event) []*Rule {
	if e.byType == nil {
		return e.all
	}
	v, ok := ev.Field("evt.type", "")
	if !ok || v.kind != KindString {
		return e.generic
	}
	if l, ok := e.byType[v.s]; ok {
		return l
	}
	return e.generic
}

// Evaluate returns an alert for every enabled rule the event matches, in
// rule order. It allocates only when a rule matches.
func (e *Engine) Evaluate(ev Event) []Alert {
	var out []Alert
	for _, r := range e.candidates(ev) {
		if !r.match(ev) {
			continue
		}
		text, fields := r.output.render(ev)
		out = append(out, Alert{
			Rule: r.Name, Priority: r.Priority, Output: text, OutputFields: fields,
			Tags: r.Tags, Time: e.eventTime(ev), Hostname: e.opts.hostname, Source: r.Source,
		})
	}
	return out
}

func (e *Engine) eventTime(ev Event) time.Time {
	if v, ok := ev.Field("evt.rawtime", ""); ok && v.kind == KindInt {
		return time.Unix(0, v.i)
	}
	return e.opts.now()
}
