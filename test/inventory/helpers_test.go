// Package inventory runs the inventory server and the node agent end to
// end: the real `bulkhead` binary as server (SQLite, and PostgreSQL when
// BULKHEAD_TEST_POSTGRES is set) and as agent, real containers in the local
// Docker Engine (busybox FROM scratch, and the debootstrap bookworm rootfs
// imported with a dpkg status holding pre-fix versions), queried through
// the REST API.
//
// Prerequisites come from scripts/test-env.sh. Without them the tests skip
// with a message naming what is missing; with BULKHEAD_REQUIRE_INTEGRATION=1
// (as .ci/run sets) they fail instead.
package inventory

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

func needDocker(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker Engine not reachable (docker info: %v)", err)
	}
}

func busybox(t testing.TB) string {
	t.Helper()
	p := os.Getenv("BULKHEAD_TEST_BUSYBOX")
	if p == "" {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX (a static busybox from Debian's busybox-static) is not set")
	}
	return p
}

func rootfs(t testing.TB) string {
	t.Helper()
	p := os.Getenv("BULKHEAD_TEST_ROOTFS")
	if p == "" {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS (a debootstrap bookworm rootfs) is not set")
	}
	if _, err := os.Stat(filepath.Join(p, "var/lib/dpkg/status")); err != nil {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS=%s has no dpkg status: %v", p, err)
	}
	return p
}

// sharedDebian is ../shared/data/debian beside the checkout: Debian 12 OSV
// records and a dpkg status with versions from before their fixes.
func sharedDebian(t testing.TB) string {
	t.Helper()
	p, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "debian"))
	if _, err := os.Stat(filepath.Join(p, "vulnerable-rootfs", "var", "lib", "dpkg", "status")); err != nil {
		testenv.Missing(t, "shared test data (Debian advisories and vulnerable dpkg status) not at %s", p)
	}
	return p
}

func uniq() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds cmd/bulkhead once per test binary.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bulkhead-inv-bin-*")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "bulkhead")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/bulkhead")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running bulkhead process whose output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(t testing.TB, logPath string, env []string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			log := p.logText()
			if len(log) > 6000 {
				log = "…" + log[len(log)-6000:]
			}
			t.Logf("%s log (%s):\n%s", args[0], logPath, log)
		}
	})
	return p
}

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 20 s of SIGTERM", p.cmd.Args[1])
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

const adminToken = "bulkhead-e2e-admin-token-0123456789"

// server is a running `bulkhead server`.
type server struct {
	url   string
	store string
	dir   string
	p     *proc
	admin *api.Client
}

// startServer runs `bulkhead server` on store (a SQLite file path or a
// postgres:// URL), matching against the advisory database vulnDB ("" for
// none), and waits until it is ready.
func startServer(t testing.TB, dir, store, addr, vulnDB string) *server {
	t.Helper()
	if addr == "" {
		addr = freePort(t)
	}
	s := &server{url: "http://" + addr, store: store, dir: dir}
	s.p = startProc(t, filepath.Join(dir, "server.log"), []string{"BULKHEAD_ADMIN_TOKEN=" + adminToken},
		"-v", "server", "--listen", addr, "--store", store, "--db", vulnDB)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-s.p.done:
			t.Fatalf("server exited:\n%s", s.p.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 60 s:\n%s", s.p.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, err := api.NewClient(s.url, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	s.admin = c
	return s
}

// advisoryDB builds an advisory database from a directory of OSV records
// with `bulkhead db import`.
func advisoryDB(t testing.TB, dir, osvDir string) string {
	t.Helper()
	p := filepath.Join(dir, "vuln.db")
	out, err := exec.Command(binary(t), "db", "import", "--db", p, osvDir).CombinedOutput()
	if err != nil {
		t.Fatalf("db import: %v\n%s", err, out)
	}
	return p
}

func (s *server) agentToken(t testing.TB, name string) string {
	t.Helper()
	tok, err := s.admin.CreateToken(context.Background(), api.TokenRequest{Kind: api.TokenAgent, Name: name})
	if err != nil || tok.Secret == "" {
		t.Fatalf("create agent token: %v", err)
	}
	return tok.Secret
}

// startAgent runs `bulkhead agent` against s; the host root is the
// debootstrap rootfs (a small, known root filesystem) unless hostRoot is set.
func startAgent(t testing.TB, s *server, dir, token, host, hostRoot string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"agent", "-v", "--server", s.url, "--token", token,
		"--queue-dir", filepath.Join(dir, "agent-queue"), "--cache-dir", filepath.Join(dir, "agent-cache"),
		"--host-root", hostRoot, "--scan-interval", "0", "--hostname", host}, extra...)
	return startProc(t, filepath.Join(dir, "agent.log"), nil, args...)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// buildBusybox builds a one-layer image FROM scratch with the static
// busybox and its applet links.
func buildBusybox(t testing.TB, tag string) {
	t.Helper()
	bb := busybox(t)
	dir := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nLABEL org.example.kind=busybox\nCMD [\"/bin/sh\"]\n"), 0o644)
	// --no-cache: another test's cleanup may remove a cached step's image
	// while this build uses it ("failed to get digest").
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
}

// importDebian imports the debootstrap rootfs with the dpkg status of the
// shared vulnerable bookworm system over its own (packages at versions
// before their security fixes: the Debian advisories then apply).
func importDebian(t testing.TB, tag, vulnStatus string) {
	t.Helper()
	root := rootfs(t)
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "rootfs.tar")
	run(t, "tar", "-C", root, "--exclude=./.complete", "--exclude=./var/lib/dpkg/status", "-cf", tarPath, ".")
	stage := filepath.Join(dir, "stage")
	os.MkdirAll(filepath.Join(stage, "var/lib/dpkg"), 0o755)
	b, err := os.ReadFile(vulnStatus)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stage, "var/lib/dpkg/status"), b, 0o644)
	run(t, "tar", "-C", stage, "-rf", tarPath, "./var/lib/dpkg/status")
	run(t, "docker", "import", "--change", "LABEL org.example.kind=debian", "--change", `CMD ["/bin/sleep", "300"]`, tarPath, tag)
}

// cleanupDocker removes the test's containers (by label) and images.
func cleanupDocker(t testing.TB, label string, images ...string) {
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		for _, im := range images {
			exec.Command("docker", "rmi", "-f", im).Run()
		}
	})
}

func inspectField(t testing.TB, id, format string) string {
	t.Helper()
	return run(t, "docker", "inspect", "-f", format, id)
}
