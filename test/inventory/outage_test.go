package inventory

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// TestOutageChurn stops the server while containers churn (many short
// containers start, exit and are removed; long ones are stopped and
// removed), restarts it on the same store and address, and compares the
// engine's own event history with the server's records: every container is
// there once, in its final state, with its lifecycle times.
func TestOutageChurn(t *testing.T) {
	needDocker(t)
	u := uniq()
	label := "bulkhead.test.run=" + u
	bbTag := "bulkhead-inv-outage/busybox:" + u
	cleanupDocker(t, label, bbTag)
	buildBusybox(t, bbTag)
	dir := t.TempDir()
	store := filepath.Join(dir, "inventory.db")
	addr := freePort(t)
	srv := startServer(t, dir, store, addr, "")
	host := "outage-" + u
	agent := startAgent(t, srv, dir, srv.agentToken(t, "agent-"+u), host, rootfs(t), "--retry-max", "2s")
	ev := watchEvents(t, label)
	ctx := context.Background()

	var long []string
	for i := range 5 {
		long = append(long, run(t, "docker", "run", "-d", "--name", fmt.Sprintf("long-%d-%s", i, u), "--label", label, bbTag, "sleep", "300"))
	}
	eventually(t, 2*time.Minute, "the long-running containers on the server", func() (bool, string) {
		l, err := srv.admin.Containers(ctx, api.Filter{Host: host, Selector: label, State: api.StateRunning})
		if err != nil {
			return false, err.Error()
		}
		return l.Total == len(long), fmt.Sprintf("%d running", l.Total)
	})

	srv.p.stop(t)
	// Churn while the server is down: 48 short containers (half removed
	// on exit), 2 long ones removed, 1 stopped.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, 64)
	for i := range 48 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			args := []string{"run", "--name", fmt.Sprintf("churn-%d-%s", i, u), "--label", label, "--label", fmt.Sprintf("churn=%d", i)}
			if i%2 == 0 {
				args = append(args, "--rm")
			}
			args = append(args, bbTag, "sh", "-c", fmt.Sprintf("sleep 0.%d; exit %d", i%5, i%3))
			if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil && !strings.Contains(string(out), "exit") {
				// Non-zero exit codes are expected; other failures are not.
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 2 {
					errs <- fmt.Errorf("docker %v: %v %s", args, err, out)
				}
			}
		}()
	}
	run(t, "docker", "rm", "-f", long[0], long[1])
	run(t, "docker", "stop", "-t", "1", long[2])
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	time.Sleep(3 * time.Second) // the agent sees the last events while the server is still down
	if !strings.Contains(agent.logText(), "cannot deliver to the server") {
		t.Errorf("agent did not notice the outage:\n%s", tail(agent.logText()))
	}

	srv = startServer(t, dir, store, addr, "")
	history := ev.byContainer()
	want := map[string]string{} // id → final state from the engine's events
	for id, e := range history {
		if len(e["create"]) == 0 {
			continue
		}
		switch {
		case len(e["destroy"]) > 0:
			want[id] = api.StateDestroyed
		case len(e["die"]) > 0 && last(e["die"]).After(last(e["start"])):
			want[id] = api.StateExited
		default:
			want[id] = api.StateRunning
		}
	}
	if len(want) != 53 {
		t.Fatalf("docker event history has %d containers, want 53", len(want))
	}
	var got map[string]api.Container
	eventually(t, 2*time.Minute, "every container of the event history on the server", func() (bool, string) {
		// The engine is shared: select the test's containers by label.
		l, err := srv.admin.Containers(ctx, api.Filter{Host: host, Selector: label, Limit: 1000})
		if err != nil {
			return false, err.Error()
		}
		got = map[string]api.Container{}
		for _, c := range l.Items {
			got[c.ID] = c
		}
		var wrong []string
		for id, st := range want {
			if got[id].State != st {
				wrong = append(wrong, fmt.Sprintf("%.12s:%q≠%q", id, got[id].State, st))
			}
		}
		sort.Strings(wrong)
		return len(wrong) == 0 && l.Total == len(want), fmt.Sprintf("%d on the server (total %d), %d wrong: %v", len(l.Items), l.Total, len(wrong), wrong)
	})
	for id, c := range got {
		e := history[id]
		if e == nil {
			t.Errorf("server has container %.12s the engine never reported", id)
			continue
		}
		if !near(c.Created, e["create"][0], time.Second) || !near(c.Started, e["start"][0], time.Second) {
			t.Errorf("%s: created %v started %v; events %v", c.Name, c.Created, c.Started, e)
		}
		if d := e["destroy"]; len(d) > 0 && !near(c.Destroyed, d[0], 10*time.Millisecond) {
			t.Errorf("%s: destroyed %v, event %v", c.Name, c.Destroyed, d)
		}
		if d := e["die"]; len(d) > 0 && !near(c.Finished, last(d), time.Second) {
			t.Errorf("%s: finished %v, die event %v", c.Name, c.Finished, d)
		}
		if strings.HasPrefix(c.Name, "churn-") && c.Labels["churn"] == "" {
			t.Errorf("%s lost its labels: %v", c.Name, c.Labels)
		}
	}
	log := agent.logText()
	if !strings.Contains(log, "server reachable again") {
		t.Errorf("agent did not report recovery:\n%s", tail(log))
	}
	if strings.Contains(log, "dropped item") {
		t.Errorf("agent dropped queued items:\n%s", tail(log))
	}
	t.Logf("%d containers (%d destroyed during the outage) recorded across the outage", len(got), countState(got, api.StateDestroyed))
}

func last(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	return ts[len(ts)-1]
}

func countState(m map[string]api.Container, st string) int {
	n := 0
	for _, c := range m {
		if c.State == st {
			n++
		}
	}
	return n
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
