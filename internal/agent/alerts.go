package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
		alerts, err := a.parseAlerts(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		items := make([]api.Item, len(alerts))
		classes := make([]queue.Class, len(alerts))
		keys := make([]string, len(alerts))
		for i := range alerts {
			items[i] = api.Item{Time: alerts[i].Time, Type: api.ItemAlert, Alert: &alerts[i]}
			classes[i] = queue.ClassEvent
		}
		if err := a.enqueue(items, classes, keys, nil); err != nil {
			http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		a.mu.Lock()
		a.alertsTaken += len(alerts)
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
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
