// Package notify delivers inventory events (api.Event) to webhooks: one
// JSON body per event, signed with HMAC-SHA256 in the X-Bulkhead-Signature
// header ("sha256=" + hex), retried with exponential backoff.
//
// It imports the standard library and internal/inventory/api.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header value in constant time.
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// Options configure a Webhook.
type Options struct {
	URL    string
	Secret []byte
	// Client defaults to one with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// Attempts per event (default 6) and the first retry delay (default
	// 500 ms, doubled each time, at most 30 s).
	Attempts int
	Backoff  time.Duration
	// Queue is how many events may wait (default 10000); more are dropped
	// and counted.
	Queue int
	// OnResult, when set, is called after each event's final outcome.
	OnResult func(ev api.Event, err error)
}

// Webhook sends events in the background, in order.
type Webhook struct {
	o       Options
	q       chan api.Event
	wg      sync.WaitGroup
	mu      sync.Mutex
	dropped int
	closed  bool
}

// New starts a webhook sender; Close stops it after draining the queue.
func New(o Options) *Webhook {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 10000
	}
	w := &Webhook{o: o, q: make(chan api.Event, o.Queue)}
	w.wg.Add(1)
	go w.run()
	return w
}

// Send queues events without blocking; it returns how many were dropped
// because the queue was full.
func (w *Webhook) Send(evs ...api.Event) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.dropped += len(evs)
		return len(evs)
	}
	dropped := 0
	for _, ev := range evs {
		select {
		case w.q <- ev:
		default:
			dropped++
		}
	}
	if dropped > 0 {
		w.dropped += dropped
		w.o.Logger.Warn("webhook queue full: events dropped", "dropped", dropped, "url", w.o.URL)
	}
	return dropped
}

// Dropped is the number of events dropped so far.
func (w *Webhook) Dropped() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Close stops accepting events and waits for the queue to drain or ctx
// to end.
func (w *Webhook) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Webhook) run() {
	defer w.wg.Done()
	for ev := range w.q {
		err := w.deliver(ev)
		if err != nil {
			w.o.Logger.Error("webhook delivery failed", "event", ev.ID, "type", ev.Type, "url", w.o.URL, "err", err)
		}
		if w.o.OnResult != nil {
			w.o.OnResult(ev, err)
		}
	}
}

func (w *Webhook) deliver(ev api.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	sig := Sign(w.o.Secret, body)
	delay := w.o.Backoff
	var last error
	for attempt := 1; attempt <= w.o.Attempts; attempt++ {
		if attempt > 1 {
			time.Sleep(delay)
			delay = min(delay*2, 30*time.Second)
		}
		req, err := http.NewRequest(http.MethodPost, w.o.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(api.SignatureHeader, sig)
		req.Header.Set("X-Bulkhead-Event", ev.Type)
		req.Header.Set("X-Bulkhead-Delivery", ev.ID)
		resp, err := w.o.Client.Do(req)
		if err != nil {
			last = err
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("answered %s", resp.Status)
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return last // the receiver refuses it; retrying will not help
		}
	}
	return fmt.Errorf("after %d attempts: %w", w.o.Attempts, last)
}
