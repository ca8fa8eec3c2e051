package output

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

var alert = rules.Alert{
	Rule: "Read sensitive file untrusted", Priority: rules.PriorityWarning,
	Output: "Sensitive file opened (file=/etc/shadow)", OutputFields: map[string]string{"fd.name": "/etc/shadow"},
	Tags: []string{"filesystem"}, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Hostname: "h", Source: "syscall",
}

func checkFalcoJSON(t *testing.T, line []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for _, k := range []string{"output", "priority", "rule", "time", "output_fields", "tags", "hostname", "source"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %q in %s", k, line)
		}
	}
	if m["rule"] != alert.Rule || m["priority"] != "Warning" || m["time"] != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("got %s", line)
	}
}

func TestJSONAndText(t *testing.T) {
	var b bytes.Buffer
	w := NewJSON(&b)
	if err := w.Send(alert); err != nil {
		t.Fatal(err)
	}
	checkFalcoJSON(t, bytes.TrimSpace(b.Bytes()))
	b.Reset()
	w = NewText(&b)
	w.Send(alert)
	if got := b.String(); got != "2026-01-02T03:04:05.000000006Z: Warning Read sensitive file untrusted: Sensitive file opened (file=/etc/shadow)\n" {
		t.Errorf("text: %q", got)
	}
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.json")
	f, err := NewFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Send(alert)
	f.Send(alert)
	f.Close()
	b, _ := os.ReadFile(p)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	checkFalcoJSON(t, []byte(lines[1]))
}

func TestHTTP(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	defer srv.Close()
	h := NewHTTP(srv.URL, nil)
	Multi{h}.Send(alert)
	h.Close()
	if len(got) != 1 {
		t.Fatalf("%d posts", len(got))
	}
	checkFalcoJSON(t, got[0])
}
