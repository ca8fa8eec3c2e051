package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServerTokenQueryCommands runs `bulkhead server` on a free port, then
// issues a token, ingests through the API client and queries with
// `bulkhead query`.
func TestServerTokenQueryCommands(t *testing.T) {
	dir := t.TempDir()
	const admin = "cli-test-admin-token-0123"
	t.Setenv("BULKHEAD_ADMIN_TOKEN", admin)
	t.Setenv("BULKHEAD_SERVER", "")
	t.Setenv("BULKHEAD_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done, serr := startTestServer(t, ctx, dir)
	if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append(args, "--server", url, "--token", admin), nil, &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := run("token", "create", "--kind", "agent", "--name", "node-1")
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "bh_") || strings.Contains(errs, secret) {
		t.Fatalf("token create: %d %q %q", code, out, errs)
	}
	c, _ := api.NewClient(url, secret)
	if _, err := c.Enroll(ctx, api.EnrollRequest{Hostname: "node-1"}); err != nil {
		t.Fatal(err)
	}
	cid := strings.Repeat("c", 64)
	_, err := c.Ingest(ctx, api.Batch{AgentID: "node-1", Stream: "s", Host: "node-1", Items: []api.Item{
		{Seq: 1, Type: api.ItemContainer, Container: &api.Container{ID: cid, Name: "web", ImageID: "sha256:" + strings.Repeat("a", 64), State: "running", Labels: map[string]string{"app": "web"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code = run("query", "containers", "-l", "app=web", "-o", "json")
	var cl api.ContainerList
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil || cl.Total != 1 || cl.Items[0].ID != cid {
		t.Fatalf("query containers: %d %q %q", code, out, errs)
	}
	out, _, code = run("query", "containers", "--state", "running")
	if code != 0 || !strings.Contains(out, "web") || !strings.Contains(out, "(1 of 1)") {
		t.Fatalf("query containers table: %d %q", code, out)
	}
	if _, errs, code = run("query", "containers", "-l", "a in (b"); code == 0 || !strings.Contains(errs, "selector") {
		t.Fatalf("bad selector: %d %q", code, errs)
	}
	out, _, code = run("query", "impact", "CVE-2024-0001", "-o", "json")
	if code != 0 || !strings.Contains(out, `"totalContainers": 0`) {
		t.Fatalf("query impact: %d %q", code, out)
	}
	out, _, code = run("token", "list")
	if code != 0 || !strings.Contains(out, "node-1") || strings.Contains(out, secret) {
		t.Fatalf("token list: %d %q", code, out)
	}
	out, _, code = run("query", "audit")
	if code != 0 || !strings.Contains(out, "token.create") {
		t.Fatalf("query audit: %d %q", code, out)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("server exit %d: %s", code, serr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
}

// startTestServer runs `bulkhead server` on a free port with a SQLite
// store in dir until ctx ends; it returns the server's URL, its exit code
// channel and its standard error.
func startTestServer(t *testing.T, ctx context.Context, dir string) (string, <-chan int, *lockedBuffer) {
	t.Helper()
	serr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"server", "--listen", "127.0.0.1:0", "--store", "sqlite://" + filepath.Join(dir, "inv.db"), "--db", ""}, nil, &bytes.Buffer{}, serr)
	}()
	var url string
	for i := 0; i < 100 && url == ""; i++ {
		time.Sleep(50 * time.Millisecond)
		url = regexp.MustCompile(`http://[0-9.:]+`).FindString(serr.String())
	}
	if url == "" {
		t.Fatalf("server did not start: %s", serr.String())
	}
	return url, done, serr
}
