package agent

import (
	"context"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// CheckReport is one configuration check run: failures (findings of kind
// "misconfig") per subject. Every container and image checked has an entry,
// empty when it passed, so resolved failures are recorded as resolved.
type CheckReport struct {
	Host       []sbom.Finding
	Containers map[string][]sbom.Finding
	Images     map[string][]sbom.Finding
}

// minCheckGap is the least time between two check runs triggered by
// container starts (a run inspects every container).
const minCheckGap = 5 * time.Second

// wantCheck asks for a check run because a container started.
func (a *Agent) wantCheck(string) {
	if a.cfg.Checker == nil {
		return
	}
	a.initChecks()
	select {
	case a.checkQ <- struct{}{}:
	default: // a run is already due
	}
}

func (a *Agent) initChecks() {
	a.checkInit.Do(func() { a.checkQ = make(chan struct{}, 1) })
}

// checkLoop runs the checks on start, every ScanInterval, and after
// container starts (at most once per minCheckGap).
func (a *Agent) checkLoop(ctx context.Context) error {
	a.initChecks()
	interval := a.cfg.ScanInterval
	if interval <= 0 {
		interval = 6 * time.Hour
	}
	tick := time.NewTimer(0)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			tick.Reset(interval)
		case <-a.checkQ:
			if wait := minCheckGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		a.runChecks(ctx)
	}
}

func (a *Agent) runChecks(ctx context.Context) {
	rep, err := a.cfg.Checker.Check(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("configuration checks failed", "err", err)
		}
		return
	}
	now := time.Now().UTC()
	var items []api.Item
	var keys []string
	add := func(kind, id string, fs []sbom.Finding) {
		items = append(items, api.Item{Time: now, Type: api.ItemFindings, Findings: &api.FindingsReport{
			SubjectKind: kind, SubjectID: id, Kind: api.KindMisconfig, Findings: nonNil(fs), Complete: true}})
		keys = append(keys, "misconfig/"+kind+"/"+id)
	}
	add(api.SubjectHost, a.host.Name, rep.Host)
	failed := len(rep.Host)
	for id, fs := range rep.Containers {
		if api.ValidContainerID(id) {
			add(api.SubjectContainer, id, fs)
			failed += len(fs)
		}
	}
	for id, fs := range rep.Images {
		if api.ValidImageID(id) {
			add(api.SubjectImage, id, fs)
			failed += len(fs)
		}
	}
	classes := make([]queue.Class, len(items))
	for i := range classes {
		classes[i] = queue.ClassState
	}
	if err := a.enqueue(items, classes, keys, nil); err != nil {
		a.log.Warn("cannot queue configuration findings", "err", err)
		return
	}
	a.mu.Lock()
	a.checkRuns++
	a.mu.Unlock()
	a.log.Info("configuration checked", "containers", len(rep.Containers), "images", len(rep.Images), "failures", failed)
}
