package agent

import (
	"context"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/agent/watcher"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// watch follows the engine's containers, resuming from the persisted
// event cursor.
func (a *Agent) watch(ctx context.Context) error {
	raw, err := a.q.Get(stateCursor)
	if err != nil {
		return err
	}
	cur, err := watcher.ParseCursor(raw)
	if err != nil {
		a.log.Warn("stored docker event cursor unreadable; starting from now", "err", err)
		cur = watcher.Cursor{}
	}
	var known []string
	err = a.q.ForEachState(prefixLive, func(k string, v []byte) error {
		id := strings.TrimPrefix(k, prefixLive)
		known = append(known, id)
		a.mu.Lock()
		a.containers[id] = string(v)
		a.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	w := watcher.New(a.cfg.Docker, watcher.Options{Host: a.host.Name, Cursor: cur, Known: known, Logger: a.log})
	err = w.Run(ctx, a.record)
	st := w.Stats()
	a.log.Info("docker watcher stopped", "events", st.Events, "inspects", st.Inspects, "gone_before_inspect", st.InspectGone,
		"reconnects", st.Reconnects, "duplicate_events", st.Duplicates)
	return err
}

// record queues container observations together with the event cursor and
// the live-container set, in one transaction: a crash either keeps both or
// neither, and the restarted watcher replays from the cursor.
func (a *Agent) record(obs []watcher.Observation, cur watcher.Cursor, live map[string]bool) error {
	items := make([]api.Item, 0, len(obs))
	classes := make([]queue.Class, 0, len(obs))
	keys := make([]string, 0, len(obs))
	images := map[string]string{}
	var started []string
	for i := range obs {
		c := obs[i].Container
		class, key := queue.ClassEvent, ""
		if obs[i].Action == "list" {
			// A listing is current state: a newer listing supersedes it.
			class, key = queue.ClassState, c.ID
		}
		items = append(items, api.Item{Time: c.ObservedAt, Type: api.ItemContainer, Container: &c})
		classes = append(classes, class)
		keys = append(keys, key)
		if c.ImageID != "" {
			images[c.ID] = c.ImageID
		}
		if obs[i].Action == "start" || obs[i].Action == "list" && c.State == api.StateRunning {
			started = append(started, c.ID)
		}
	}
	state := map[string][]byte{stateCursor: cur.Marshal()}
	for id, alive := range live {
		if alive {
			state[prefixLive+id] = []byte(images[id])
		} else {
			state[prefixLive+id] = nil
		}
	}
	if err := a.enqueue(items, classes, keys, state); err != nil {
		return err
	}
	a.mu.Lock()
	for id, alive := range live {
		if alive {
			a.containers[id] = images[id]
		} else {
			delete(a.containers, id)
		}
	}
	a.mu.Unlock()
	for _, img := range images {
		a.wantImage(img)
	}
	for _, id := range started {
		a.wantCheck(id)
	}
	return nil
}

// containerByPrefix resolves a short container id (Falco prints 12 hex
// digits) to a live container's full id.
func (a *Agent) containerByPrefix(short string) string {
	if api.ValidContainerID(short) {
		return short
	}
	if len(short) < 12 {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	found := ""
	for id := range a.containers {
		if strings.HasPrefix(id, short) {
			if found != "" {
				return "" // ambiguous
			}
			found = id
		}
	}
	return found
}
