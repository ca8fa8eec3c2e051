package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// deliver enrolls with the server (retrying until it answers) and then
// sends the queue until ctx is done.
func (a *Agent) deliver(ctx context.Context) error {
	if err := a.enroll(ctx); err != nil {
		return err
	}
	st, err := a.q.Deliver(ctx, a.sink(), a.deliverOptions())
	a.mu.Lock()
	a.deliverSt.Batches += st.Batches
	a.deliverSt.Items += st.Items
	a.deliverSt.Failures += st.Failures
	a.deliverSt.Rejected += st.Rejected
	a.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (a *Agent) deliverOptions() queue.DeliverOptions {
	o := queue.DeliverOptions{Logger: a.log, MinBackoff: a.cfg.MinBackoff, MaxBackoff: a.cfg.MaxBackoff}
	if m := a.maxBatch.Load(); m > 0 {
		o.BatchBytes = m
	}
	return o
}

// enroll registers the agent, retrying with backoff while the server is
// unreachable or refuses (a wrong token is logged as an error every time).
func (a *Agent) enroll(ctx context.Context) error {
	wait := max(a.cfg.MinBackoff, 500*time.Millisecond)
	maxWait := a.cfg.MaxBackoff
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	for attempt := 1; ; attempt++ {
		res, err := a.cfg.Server.Enroll(ctx, api.EnrollRequest{AgentID: a.agentID, Hostname: a.host.Name, Version: a.cfg.Version})
		if err == nil && api.ValidName(res.AgentID) {
			if res.AgentID != a.agentID {
				if err := a.q.Set(stateAgentID, []byte(res.AgentID)); err != nil {
					return err
				}
				a.agentID = res.AgentID
			}
			if res.HasAdvisoryDB {
				a.serverDB.Store(1)
			} else {
				a.serverDB.Store(2)
			}
			if res.MaxBatchBytes > 0 {
				// Leave room for JSON framing of the batch.
				a.maxBatch.Store(min(res.MaxBatchBytes/2, 16<<20))
			}
			a.log.Info("enrolled with the server", "agent_id", a.agentID, "server_version", res.ServerVersion,
				"server_matches", res.HasAdvisoryDB, "attempts", attempt)
			close(a.enrolled)
			return nil
		}
		if err == nil {
			err = fmt.Errorf("server returned an invalid agent id %q", res.AgentID)
		}
		var se *api.StatusError
		if errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden) {
			a.log.Error("the server refused the agent token; items stay queued until a valid token is given", "err", err)
		} else if attempt == 1 || attempt%10 == 0 {
			a.log.Warn("cannot enroll with the server; retrying (items are queued on disk meanwhile)", "err", err, "attempt", attempt)
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)/2+1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		wait = min(wait*2, maxWait)
	}
}

// sink turns queued items into ingest batches.
func (a *Agent) sink() queue.Sink { return &sink{a: a} }

type sink struct{ a *Agent }

func (s *sink) Send(ctx context.Context, items []queue.Item) error {
	a := s.a
	b := api.Batch{AgentID: a.agentID, Stream: a.stream, Host: a.host.Name, Items: make([]api.Item, 0, len(items))}
	for _, it := range items {
		var ai api.Item
		if err := json.Unmarshal(it.Payload, &ai); err != nil {
			return fmt.Errorf("queued item %d unreadable: %v: %w", it.Seq, err, queue.ErrRejected)
		}
		ai.Seq = it.Seq
		b.Items = append(b.Items, ai)
	}
	res, err := a.cfg.Server.Ingest(ctx, b)
	if err != nil {
		var se *api.StatusError
		if errors.As(err, &se) {
			switch {
			case se.Code == http.StatusBadRequest, se.Code == http.StatusRequestEntityTooLarge, se.Code == http.StatusUnprocessableEntity:
				return fmt.Errorf("%w: %w", err, queue.ErrRejected)
			case se.Code >= 500 && se.Code != http.StatusServiceUnavailable:
				return fmt.Errorf("%w: %w", err, queue.ErrServer)
			}
		}
		return err
	}
	last := items[len(items)-1].Seq
	if res.AckSeq < last {
		return fmt.Errorf("server acknowledged up to seq %d of a batch ending at %d", res.AckSeq, last)
	}
	return nil
}
