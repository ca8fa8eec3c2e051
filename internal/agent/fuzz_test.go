package agent

import (
	"testing"
)

// FuzzParseAlerts: whatever is POSTed to the alert listener is either
// rejected with an error or yields alerts with a bounded rule and output.
func FuzzParseAlerts(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-28T04:00:00Z","rule":"Terminal shell in container","priority":"Notice","output":"x","output_fields":{"container.id":"0123456789ab"}}`))
	f.Add([]byte("{\"rule\":\"a\"}\n{\"rule\":\"b\",\"output_fields\":{\"container.id\":\"host\"}}\n"))
	f.Add([]byte(`{"rule":""}`))
	f.Add([]byte("not json"))
	a := &Agent{containers: map[string]string{"0123456789ab" + "cdef0123456789abcdef0123456789abcdef0123456789abcdef": "sha256:x"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		alerts, err := a.parseAlerts(b)
		if err != nil {
			return
		}
		if len(alerts) == 0 {
			t.Fatal("no error and no alert")
		}
		for _, al := range alerts {
			if al.Rule == "" || len(al.Rule) > 512 || len(al.Output) > 8<<10 || al.Time.IsZero() {
				t.Fatalf("alert out of bounds: %+v", al)
			}
		}
	})
}
