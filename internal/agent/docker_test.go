package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

// TestRealEngineShortLived runs the agent against the local Docker Engine
// (with the fake server): a container that lives for a fraction of a second
// and is removed (--rm) is still recorded with its labels, image and every
// lifecycle step.
func TestRealEngineShortLived(t *testing.T) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker Engine not reachable (docker info: %v)", err)
	}
	bb := os.Getenv("BULKHEAD_TEST_BUSYBOX")
	if bb == "" {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX (a static busybox) is not set")
	}
	var rb [4]byte
	rand.Read(rb[:])
	u := hex.EncodeToString(rb[:])
	tag := "bulkhead-agent-test/busybox:" + u
	ctxDir := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctxDir, "busybox"), data, 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"true\"]\n"), 0o644)
	build := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, ctxDir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bulkhead.agent.test="+u).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		exec.Command("docker", "rmi", "-f", tag).Run()
	})
	imageID, _ := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", tag).Output()

	dc, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	srv := newServer(t)
	c, _ := api.NewClient(srv.srv.URL, "tok")
	sc := &fakeScanner{}
	a, err := New(Config{Server: c, Docker: dc, Scanner: sc, QueueDir: t.TempDir(), Version: "test", Hostname: "real-" + u,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(500 * time.Millisecond)

	out, err := exec.Command("docker", "run", "--rm", "--name", "short-"+u, "--label", "bulkhead.agent.test="+u, "--label", "team=blue",
		tag, "/bin/busybox", "sh", "-c", "exit 7").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("docker run: %v %s", err, out)
	}
	states := map[string]api.Container{}
	waitFor(t, "the short-lived container's lifecycle on the server", func() bool {
		for _, it := range srv.snapshot() {
			if it.Container != nil && it.Container.Name == "short-"+u {
				states[it.Container.State] = *it.Container
			}
		}
		return states[api.StateDestroyed].ID != ""
	})
	cancel()
	<-done
	for _, st := range []string{api.StateCreated, api.StateRunning, api.StateExited, api.StateDestroyed} {
		c, ok := states[st]
		if !ok {
			t.Errorf("no %s record: %v", st, states)
			continue
		}
		if c.Labels["team"] != "blue" || c.ImageID != strings.TrimSpace(string(imageID)) || c.Host != "real-"+u {
			t.Errorf("%s record: labels %v image %q host %q", st, c.Labels, c.ImageID, c.Host)
		}
	}
	d := states[api.StateDestroyed]
	if d.Created == nil || d.Started == nil || d.Finished == nil || d.Destroyed == nil || d.ExitCode == nil || *d.ExitCode != 7 {
		t.Errorf("final record lifecycle: %+v", d)
	}
	sc.mu.Lock()
	if n := sc.byID[strings.TrimSpace(string(imageID))]; n != 1 {
		t.Errorf("image scanned %d times, want 1", n)
	}
	sc.mu.Unlock()
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
