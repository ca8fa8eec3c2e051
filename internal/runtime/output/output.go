// Package output sends runtime alerts where users want them: standard
// output as text or Falco's JSON alert format, a file, or an HTTP endpoint
// (the same JSON, so falcosidekick works unchanged). One type per output
// behind the Output interface; Multi fans out. It imports only the rule
// engine (for Alert).
package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

// Output receives alerts. Send must be safe for concurrent use.
type Output interface {
	Send(a rules.Alert) error
	Close() error
}

// Writer writes one alert per line to w, as text or JSON.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	c    io.Closer
	json bool
}

// NewText writes "time priority rule: output" lines.
func NewText(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// NewJSON writes Falco's JSON alert format, one object per line.
func NewJSON(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w), json: true} }

// NewFile appends JSON alerts to a file.
func NewFile(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Writer{w: bufio.NewWriter(f), c: f, json: true}, nil
}

// Send implements Output. Every line is flushed so a reader sees alerts as
// they happen.
func (w *Writer) Send(a rules.Alert) error {
	var line []byte
	if w.json {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		line = append(b, '\n')
	} else {
		line = fmt.Appendf(nil, "%s: %s %s: %s\n", a.Time.UTC().Format(time.RFC3339Nano), a.Priority, a.Rule, a.Output)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(line); err != nil {
		return err
	}
	return w.w.Flush()
}

// Close flushes and closes the file, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.w.Flush()
	if w.c != nil {
		err = errors.Join(err, w.c.Close())
	}
	return err
}

// HTTP posts each alert as JSON to a URL from a bounded queue, so a slow
// endpoint never blocks the sensor; alerts that do not fit are counted as
// dropped and logged.
type HTTP struct {
	url     string
	client  *http.Client
	queue   chan []byte
	done    chan struct{}
	log     *slog.Logger
	mu      sync.Mutex
	dropped uint64
	failed  uint64
}

// NewHTTP starts the sender.
func NewHTTP(url string, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &HTTP{url: url, client: &http.Client{Timeout: 5 * time.Second}, queue: make(chan []byte, 1024), done: make(chan struct{}), log: log}
	go h.run()
	return h
}

func (h *HTTP) run() {
	defer close(h.done)
	for b := range h.queue {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.url, bytes.NewReader(b))
		if err != nil {
			h.fail(err)
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.client.Do(req)
		if err != nil {
			h.fail(err)
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			h.fail(fmt.Errorf("%s: HTTP %s", h.url, resp.Status))
		}
	}
}

func (h *HTTP) fail(err error) {
	h.mu.Lock()
	h.failed++
	n := h.failed
	h.mu.Unlock()
	if n == 1 || n%100 == 0 {
		h.log.Warn("http output failed", "url", h.url, "failures", n, "err", err)
	}
}

// Send implements Output.
func (h *HTTP) Send(a rules.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	select {
	case h.queue <- b:
	default:
		h.mu.Lock()
		h.dropped++
		n := h.dropped
		h.mu.Unlock()
		if n == 1 || n%100 == 0 {
			h.log.Warn("http output queue full, alert dropped", "url", h.url, "dropped", n)
		}
	}
	return nil
}

// Close sends what is queued and stops.
func (h *HTTP) Close() error {
	close(h.queue)
	<-h.done
	return nil
}

// Multi sends to every output.
type Multi []Output

// Send implements Output; it tries every output and joins the errors.
func (m Multi) Send(a rules.Alert) error {
	var errs []error
	for _, o := range m {
		if err := o.Send(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every output.
func (m Multi) Close() error {
	var errs []error
	for _, o := range m {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}
