package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// maxAlertBody bounds one POST of alerts.
const maxAlertBody = 4 << 20

// falcoAlert is Falco's JSON alert (also what `bulkhead sensor -o json` and
// its --http-output send).
type falcoAlert struct {
	Time         time.Time      `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Hostname     string         `json:"hostname"`
	OutputFields map[string]any `json:"output_fields"`
}

// AlertHandler accepts runtime alerts in Falco's JSON format, one object
// or several newline-delimited, POSTed by a sensor (falcosidekick-style
// HTTP output), and queues them for the server as runtime alerts of the
// container they name. It answers 204 once they are on disk.
func (a *Agent) AlertHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST Falco JSON alerts here", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertBody))
		if err != nil {
			http.Error(w, fmt.Sprintf("alert body: %v (limit %d bytes)", err, maxAlertBody), http.StatusRequestEntityTooLarge)
			return
		}
		if _, err := a.TakeAlerts(body); err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, errBadAlerts) {
				code = http.StatusBadRequest
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// errBadAlerts marks a body that is not Falco JSON alerts.
var errBadAlerts = errors.New("bad alerts")

// TakeAlerts queues runtime alerts given in Falco's JSON format (one object
// per line) for the server, as the HTTP handler does, and returns how many
// it took. It returns once they are on disk.
func (a *Agent) TakeAlerts(body []byte) (int, error) {
	alerts, err := a.parseAlerts(body)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errBadAlerts, err)
	}
	items := make([]api.Item, len(alerts))
	classes := make([]queue.Class, len(alerts))
	keys := make([]string, len(alerts))
	for i := range alerts {
		items[i] = api.Item{Time: alerts[i].Time, Type: api.ItemAlert, Alert: &alerts[i]}
		classes[i] = queue.ClassEvent
	}
	if err := a.enqueue(items, classes, keys, nil); err != nil {
		return 0, fmt.Errorf("queue: %w", err)
	}
	a.mu.Lock()
	a.alertsTaken += len(alerts)
	a.mu.Unlock()
	return len(alerts), nil
}

// AlertWriter returns a writer that takes Falco JSON alert lines (what
// the sensor's JSON output writes) and queues each complete line with
// TakeAlerts: an in-process sensor uses the same path as one posting to
// AlertHandler. It is safe for concurrent use.
func (a *Agent) AlertWriter() io.Writer { return &alertWriter{a: a} }

type alertWriter struct {
	a    *Agent
	mu   sync.Mutex
	part []byte // a line not yet complete
}

func (w *alertWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	i := bytes.LastIndexByte(w.part, '\n')
	if i < 0 {
		if len(w.part) > maxAlertBody {
			w.part = w.part[:0]
			return 0, fmt.Errorf("%w: line longer than %d bytes", errBadAlerts, maxAlertBody)
		}
		return len(p), nil
	}
	lines := w.part[:i+1]
	_, err := w.a.TakeAlerts(lines)
	w.part = append(w.part[:0], w.part[i+1:]...)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (a *Agent) parseAlerts(body []byte) ([]api.Alert, error) {
	var out []api.Alert
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxAlertBody)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var fa falcoAlert
		if err := json.Unmarshal(b, &fa); err != nil {
			return nil, fmt.Errorf("alert on line %d: %v", line, err)
		}
		if fa.Rule == "" || len(fa.Rule) > 512 {
			return nil, fmt.Errorf("alert on line %d: rule must be 1-512 bytes", line)
		}
		if fa.Time.IsZero() {
			fa.Time = time.Now().UTC()
		}
		if len(fa.Output) > 8<<10 {
			fa.Output = fa.Output[:8<<10]
		}
		al := api.Alert{Time: fa.Time, Rule: fa.Rule, Priority: fa.Priority, Output: fa.Output, Source: fa.Source, Tags: fa.Tags, Fields: fa.OutputFields}
		if id, ok := fa.OutputFields["container.id"].(string); ok && id != "" && id != "host" {
			al.ContainerID = a.containerByPrefix(id)
		}
		out = append(out, al)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no alert in the body")
	}
	return out, nil
}
