package rules

import (
	"testing"
)

// benchEvents is a mix resembling a busy node: mostly file opens, execs
// and network calls that match nothing, plus two that alert.
func benchEvents(t testing.TB) []Event {
	raw := []map[string]any{
		{"evt.type": "openat", "evt.is_open_read": true, "fd.typechar": "f", "fd.num": 7, "fd.name": "/usr/lib/x86_64-linux-gnu/libc.so.6", "proc.name": "nginx", "proc.pname": "nginx", "container.id": "3ad7b26ded6d", "user.name": "www-data"},
		{"evt.type": "openat", "evt.is_open_read": true, "fd.typechar": "f", "fd.num": 9, "fd.name": "/etc/passwd", "proc.name": "sshd", "proc.pname": "sshd", "container.id": "host", "user.name": "root"},
		{"evt.type": "openat", "evt.is_open_write": true, "fd.typechar": "f", "fd.num": 4, "fd.name": "/var/log/app.log", "proc.name": "java", "proc.pname": "bash", "container.id": "9f1c", "user.name": "app"},
		{"evt.type": "execve", "proc.name": "ls", "proc.exepath": "/bin/ls", "proc.cmdline": "ls -la", "proc.pname": "bash", "proc.aname[2]": "sshd", "proc.tty": 34817, "container.id": "host", "user.name": "alice", "user.uid": 1000, "user.loginuid": 1000},
		{"evt.type": "execve", "proc.name": "bash", "proc.exepath": "/bin/bash", "proc.cmdline": "bash", "proc.pname": "runc:[1:CHILD]", "proc.tty": 34816, "container.id": "3ad7b26ded6d", "user.name": "root", "user.uid": 0, "user.loginuid": -1},
		{"evt.type": "connect", "fd.typechar": "4", "fd.type": "ipv4", "fd.sip": "10.96.0.1", "fd.sport": 443, "fd.l4proto": "tcp", "proc.name": "curl", "proc.pname": "sh", "container.id": "9f1c"},
		{"evt.type": "close", "fd.num": 4, "fd.name": "/var/log/app.log", "proc.name": "java", "container.id": "9f1c"},
		{"evt.type": "read", "fd.num": 5, "fd.name": "/proc/self/stat", "proc.name": "top", "container.id": "host"},
		{"evt.type": "openat", "evt.is_open_read": true, "fd.typechar": "f", "fd.num": 3, "fd.name": "/etc/shadow", "proc.name": "cat", "proc.cmdline": "cat /etc/shadow", "proc.pname": "bash", "container.id": "host"},
		{"evt.type": "execve", "proc.name": "python3", "proc.exepath": "/usr/bin/python3", "proc.cmdline": "python3 app.py", "proc.pname": "gunicorn", "proc.aname[2]": "gunicorn", "proc.tty": 0, "container.id": "77aa", "container.image.repository": "ghcr.io/acme/api", "proc.is_exe_upper_layer": false},
	}
	out := make([]Event, len(raw))
	for i, m := range raw {
		out[i] = mustEvent(t, m)
	}
	return out
}

func benchEngine(t testing.TB) *Engine {
	rs, err := LoadFiles([]string{"testdata/falco/falco_rules.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(rs)
}

// BenchmarkEvaluate replays the mix through every rule of
// falco_rules.yaml. Target: 115,000 events/s per core or better.
func BenchmarkEvaluate(b *testing.B) {
	eng := benchEngine(b)
	evs := benchEvents(b)
	alerts := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		alerts += len(eng.Evaluate(evs[i%len(evs)]))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if b.N >= len(evs) && alerts == 0 {
		b.Fatal("benchmark mix raised no alerts; events are unrealistic")
	}
}

// TestEvaluateNoAllocs checks that events matching no rule do not
// allocate.
func TestEvaluateNoAllocs(t *testing.T) {
	eng := benchEngine(t)
	for i, ev := range benchEvents(t) {
		if len(eng.Evaluate(ev)) > 0 {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { eng.Evaluate(ev) }); n != 0 {
			t.Errorf("event %d: %v allocs per Evaluate, want 0", i, n)
		}
	}
}
