package queue

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Sink sends a batch of items to the server; nil means the server has
// stored every one of them (it may have seen some before: delivery is
// at-least-once and the server de-duplicates by sequence number).
type Sink interface {
	Send(ctx context.Context, items []Item) error
}

// ErrRejected is wrapped by a Sink's error when the server refused the
// content itself (a validation error), so sending it again unchanged cannot
// succeed. Any other error is retried with backoff until it goes through.
var ErrRejected = errors.New("rejected by the server")

// ErrServer is wrapped by a Sink's error when the server answered with a
// failure of its own (5xx). After splitAfter such answers in a row, the
// batch is sent in halves: a server that fails on one combination of items
// (a bug, a statement too large) still gets everything, in order. Items are
// never dropped for a server error.
var ErrServer = errors.New("server error")

// splitAfter is how many server errors in a row make a batch split.
const splitAfter = 3

// DeliverOptions tune delivery.
type DeliverOptions struct {
	// BatchItems and BatchBytes bound one batch (defaults 500 items, 4 MiB;
	// a single larger item is sent alone).
	BatchItems int
	BatchBytes int64
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 500 ms and 1 min); it doubles per failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// StopWhenEmpty makes Deliver return nil once the queue is empty
	// (shutdown flush) instead of waiting for more.
	StopWhenEmpty bool
	Logger        *slog.Logger
}

func (o *DeliverOptions) defaults() {
	if o.BatchItems <= 0 {
		o.BatchItems = 500
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// DeliveryStats count what Deliver did.
type DeliveryStats struct {
	Batches  int
	Items    int
	Failures int
	Rejected int
}

// Deliver sends queued items to sink in sequence order, oldest first, and
// acknowledges them once the sink returns nil. Failed batches are retried
// with exponential backoff; a batch the server rejects is split to find the
// offending items, which are dropped with an error log line. Deliver runs
// until ctx is done (returning its error), or with StopWhenEmpty until the
// queue is empty.
func (q *Queue) Deliver(ctx context.Context, sink Sink, opts DeliverOptions) (DeliveryStats, error) {
	opts.defaults()
	d := &deliverer{q: q, sink: sink, opts: opts, log: opts.Logger}
	for {
		items, err := q.Peek(opts.BatchItems, opts.BatchBytes)
		if err != nil {
			return d.st, err
		}
		if len(items) == 0 {
			if opts.StopWhenEmpty {
				return d.st, nil
			}
			select {
			case <-ctx.Done():
				return d.st, ctx.Err()
			case <-q.Ready():
				continue
			}
		}
		if err := d.send(ctx, items); err != nil {
			return d.st, err
		}
	}
}

type deliverer struct {
	q    *Queue
	sink Sink
	opts DeliverOptions
	log  *slog.Logger
	st   DeliveryStats

	failing   int // consecutive failed attempts
	failSince time.Time
}

// send delivers items, retrying until they are acknowledged or dropped as
// rejected; it fails only when ctx is done or the queue file fails.
func (d *deliverer) send(ctx context.Context, items []Item) error {
	serverErrs := 0
	for {
		err := d.sink.Send(ctx, items)
		if err == nil {
			if d.failing > 0 {
				d.log.Info("server reachable again: delivered queued items", "failed_attempts", d.failing,
					"outage", time.Since(d.failSince).Round(time.Millisecond).String())
				d.failing = 0
			}
			d.st.Batches++
			d.st.Items += len(items)
			seqs := make([]uint64, len(items))
			for i, it := range items {
				seqs[i] = it.Seq
			}
			return d.q.Ack(seqs...)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrRejected) {
			if len(items) == 1 {
				d.st.Rejected++
				return d.q.Drop(err.Error(), items[0])
			}
			// Find the offending items: halves in order, so the rest are
			// still delivered in sequence order.
			h := len(items) / 2
			if err := d.send(ctx, items[:h]); err != nil {
				return err
			}
			return d.send(ctx, items[h:])
		}
		d.st.Failures++
		if errors.Is(err, ErrServer) {
			serverErrs++
			if serverErrs >= splitAfter && len(items) > 1 {
				h := len(items) / 2
				d.log.Warn("the server keeps failing on this batch; sending it in halves", "err", err,
					"items", len(items), "first_seq", items[0].Seq, "last_seq", items[len(items)-1].Seq)
				if err := d.send(ctx, items[:h]); err != nil {
					return err
				}
				return d.send(ctx, items[h:])
			}
		}
		if d.failing == 0 {
			d.failSince = time.Now()
		}
		d.failing++
		wait := d.backoff()
		st := d.q.Stats()
		if d.failing == 1 || d.failing%10 == 0 {
			d.log.Warn("cannot deliver to the server; items stay queued on disk and are retried",
				"err", err, "attempt", d.failing, "retry_in", wait.Round(time.Millisecond).String(), "queued", st.Items, "queued_bytes", st.Bytes)
		} else {
			d.log.Debug("delivery failed", "err", err, "attempt", d.failing, "retry_in", wait.Round(time.Millisecond).String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		// The same batch again: an item dropped meanwhile is sent once
		// more, which is harmless, and order is kept.
	}
}

// backoff is MinBackoff·2^(failures-1), capped, with ±25 % jitter so many
// agents do not retry in step after a server restart.
func (d *deliverer) backoff() time.Duration {
	w := d.opts.MinBackoff
	for i := 1; i < d.failing && w < d.opts.MaxBackoff; i++ {
		w *= 2
	}
	w = min(w, d.opts.MaxBackoff)
	j := time.Duration(rand.Int64N(int64(w)/2+1)) - w/4
	return w + j
}
