package drift

// Integration test on the real Docker Engine: it builds a small FROM
// scratch image around the static busybox at $BULKHEAD_TEST_BUSYBOX, scans
// it through the docker source and the inspect engine, and checks the
// index against a running container. It skips when Docker or busybox is
// missing, and fails instead under BULKHEAD_REQUIRE_INTEGRATION=1.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inspect"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func buildBusybox(t *testing.T) (tag, imageID string) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker Engine not reachable (docker info: %v)", err)
	}
	bb := os.Getenv("BULKHEAD_TEST_BUSYBOX")
	if bb == "" {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX (a static busybox) is not set")
	}
	body, err := os.ReadFile(bb)
	if err != nil {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX=%s: %v", bb, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busybox"), body, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\n" +
		"RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
		"RUN [\"/bin/busybox\", \"sh\", \"-c\", \"mkdir -p /tmp /opt/old /etc && cp /bin/busybox /opt/old/tool && echo x > /etc/motd\"]\n" +
		"RUN [\"/bin/busybox\", \"rm\", \"-rf\", \"/opt/old\"]\n" +
		"CMD [\"/bin/sleep\", \"600\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tag = "bulkhead-drift-test:" + hex.EncodeToString(b)
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag, docker(t, "image", "inspect", "-f", "{{.Id}}", tag)
}

func TestDockerImageDrift(t *testing.T) {
	tag, imageID := buildBusybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cache, err := inspect.NewDirCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	scanner := DockerScanner{Options: []inspect.Option{inspect.WithCache(cache)}}
	p, err := NewProvider(WithScanner(scanner))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := p.Index(ctx, imageID)
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Known() || ix.ImageID() != imageID {
		t.Fatalf("index of %s: known %v (%s), image %s", tag, ix.Known(), ix.Reason(), ix.ImageID())
	}
	for _, tc := range []struct {
		path           string
		present, drift bool
	}{
		{"/bin/busybox", true, false},
		{"/bin/sh", true, false}, // applet symlink → /bin/busybox
		{"/bin/ls", true, false},
		{"/tmp/dropped", false, true},
		{"/opt/old/tool", false, true}, // deleted by a later layer (whiteout)
		{"/etc/motd", false, true},     // in the image but not executable: not listed by default
	} {
		present, known := ix.InImage(tc.path)
		drift, dknown, err := p.Drift(ctx, imageID, tc.path)
		if present != tc.present || !known || drift != tc.drift || !dknown || err != nil {
			t.Errorf("%s: present %v drift %v known %v/%v err %v; want present %v drift %v", tc.path, present, drift, known, dknown, err, tc.present, tc.drift)
		}
	}

	// A container that drops and runs a copy of busybox: the index says
	// drift for it, and, on overlay2, the writable layer agrees.
	cid := docker(t, "run", "-d", tag)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", cid).Run() })
	docker(t, "exec", cid, "/bin/busybox", "cp", "/bin/busybox", "/tmp/dropped")
	// busybox picks its applet by argv[0]
	if out := docker(t, "exec", cid, "/bin/sh", "-c", "exec -a echo /tmp/dropped ran"); out != "ran" {
		t.Fatalf("dropped binary printed %q", out)
	}
	var ins []struct {
		Image       string
		GraphDriver struct {
			Name string
			Data map[string]string
		}
	}
	if err := json.Unmarshal([]byte(docker(t, "inspect", cid)), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("docker inspect: %v", err)
	}
	if ins[0].Image != imageID {
		t.Fatalf("container image %s, scanned %s", ins[0].Image, imageID)
	}
	if drift, known, err := p.Drift(ctx, ins[0].Image, "/tmp/dropped"); !drift || !known || err != nil {
		t.Errorf("container's /tmp/dropped: drift %v known %v err %v", drift, known, err)
	}
	if upper := ins[0].GraphDriver.Data["UpperDir"]; upper != "" {
		if _, err := os.Lstat(filepath.Join(upper, "tmp", "dropped")); err != nil {
			t.Errorf("overlay upper layer lacks the dropped file: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(upper, "bin", "busybox")); err == nil {
			t.Error("overlay upper layer holds /bin/busybox, which the index says is the image's")
		}
	} else {
		t.Logf("storage driver %q exposes no upper layer: only the index can tell", ins[0].GraphDriver.Name)
	}

	// A second scan of the same image reads no layer: the listing is in
	// the layer cache.
	doc, err := scanner.Scan(ctx, imageID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range doc.Source.Layers {
		if !l.Cached {
			t.Errorf("layer %s not served from the cache on a second scan", l.DiffID)
		}
	}
	again := NewIndex(doc)
	if !reflect.DeepEqual(again.files, ix.files) {
		t.Error("the cached scan lists other files")
	}
}
