package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// TestAgentSensor runs `bulkhead agent --sensor --policy --metrics-addr`
// against a real server and the real kernel: a process on the host that a
// rule matches is killed by the policy, becomes a runtime finding of the
// host on the server, and is counted in the sensor's metrics.
func TestAgentSensor(t *testing.T) {
	why := ""
	if os.Geteuid() != 0 {
		why = "root"
	} else if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		why = "kernel BTF (/sys/kernel/btf/vmlinux)"
	} else if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		why = "a Docker Engine (/var/run/docker.sock)"
	}
	if why != "" {
		testenv.Missing(t, "the agent sensor test needs %s", why)
	}
	dir := t.TempDir()
	const admin = "cli-test-admin-token-4567"
	t.Setenv("BULKHEAD_ADMIN_TOKEN", admin)
	t.Setenv("BULKHEAD_SERVER", "")
	t.Setenv("BULKHEAD_TOKEN", "")
	t.Setenv("BULKHEAD_AGENT_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, _, _ := startTestServer(t, ctx, dir)
	var out, errb bytes.Buffer
	if code := Run(ctx, []string{"token", "create", "--kind", "agent", "--name", "sensor-node", "--server", url, "--token", admin}, nil, &out, &errb); code != 0 {
		t.Fatalf("token create: %d %s", code, errb.String())
	}
	secret := strings.TrimSpace(out.String())

	const marker = "bulkhead-agent-sensor-marker"
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(`- rule: Agent sensor marker
  desc: a process whose command line carries the test's marker
  condition: evt.type = execve and proc.cmdline contains "`+marker+`"
  output: marker process started (command=%proc.cmdline)
  priority: WARNING
  tags: [test]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	hostRoot := filepath.Join(dir, "hostroot") // a tiny host to scan
	if err := os.MkdirAll(filepath.Join(hostRoot, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The policy kills the marker process: prevention runs in the agent as
	// in `bulkhead sensor --policy`.
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`version: 1
profiles: `+filepath.Join(dir, "profiles")+`
actions:
  - rule: Agent sensor marker
    action: kill
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port for the sensor's metrics.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	var aerr lockedBuffer
	adone := make(chan int, 1)
	go func() {
		adone <- Run(actx, []string{"agent", "--server", url, "--token", secret, "--sensor", "--rules", rulesFile,
			"--policy", policyFile, "--metrics-addr", metricsAddr,
			"--queue-dir", filepath.Join(dir, "queue"), "--host-root", hostRoot, "--scan-interval", "0", "--no-checks",
			"--hostname", "sensor-node", "--cache-dir", filepath.Join(dir, "cache")}, nil, &bytes.Buffer{}, &aerr)
	}()
	for i := 0; i < 200 && !strings.Contains(aerr.String(), "alerts go to the server"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(aerr.String(), "sensor: tracing") {
		t.Fatalf("agent sensor did not start: %s", aerr.String())
	}
	// The marker process would sleep 10 s; the kill action ends it first.
	start := time.Now()
	err = exec.Command("/bin/sh", "-c", "sleep 10 # "+marker).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("marker process ended with %v after %v, want killed by the policy", err, time.Since(start))
	} else if d := time.Since(start); d > 5*time.Second {
		t.Errorf("marker process killed only after %v", d)
	}

	c, err := api.NewClient(url, admin)
	if err != nil {
		t.Fatal(err)
	}
	var found *api.StoredFinding
	for i := 0; i < 150 && found == nil; i++ {
		time.Sleep(100 * time.Millisecond)
		fl, err := c.HostFindings(ctx, "sensor-node", true)
		if err != nil {
			continue
		}
		for j := range fl.Items {
			if fl.Items[j].Kind == api.KindRuntime && fl.Items[j].ID == "Agent sensor marker" {
				found = &fl.Items[j]
			}
		}
	}
	if found == nil {
		t.Fatalf("no runtime finding on the server; agent stderr:\n%s", aerr.String())
	}
	if !strings.Contains(found.Summary, marker) || found.Severity != "warning" {
		t.Errorf("finding %+v", *found)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("sensor metrics: %v", err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^bulkhead_sensor_alerts_total [1-9]`).Match(metrics) {
		t.Errorf("sensor metrics without the alert:\n%s", metrics)
	}
	acancel()
	select {
	case code := <-adone:
		if code != 0 {
			t.Errorf("agent exit %d: %s", code, aerr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop")
	}
	if !regexp.MustCompile(`prevent: action.*action=kill.*rule="Agent sensor marker".*result=`).MatchString(aerr.String()) {
		t.Errorf("no log line of the kill action: %s", aerr.String())
	}
	summary := regexp.MustCompile(`sensor: \d+ events, [1-9]\d* alerts[^\n]*`).FindString(aerr.String())
	if summary == "" {
		t.Errorf("no sensor summary with alerts: %s", aerr.String())
	}
	t.Logf("finding %q (count %d); %s", found.Summary, found.Count, summary)
}
