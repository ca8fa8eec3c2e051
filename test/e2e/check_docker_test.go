package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/testenv"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type checkResult struct {
	CheckID, Title, Severity, Benchmark, Status, Message string
	File, Kind, Name, ResourceID, Target, Evidence, Path string
	Layer                                                string
	Line                                                 int
	Deleted                                              bool
}

func checkJSON(t *testing.T, wantCode int, args ...string) []checkResult {
	t.Helper()
	out, errs, code := bulkhead(t, append(args, "-o", "json")...)
	if code != wantCode {
		t.Fatalf("bulkhead %s: exit %d, want %d: %s", strings.Join(args, " "), code, wantCode, errs)
	}
	var doc struct {
		Schema  string        `json:"schema"`
		Results []checkResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	return doc.Results
}

func randSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// busyboxImage builds a FROM scratch image with a static busybox, its
// applets, a non-root user and a HEALTHCHECK; removed at cleanup.
func busyboxImage(t *testing.T, tag string) string {
	t.Helper()
	bb := busybox(t)
	needDocker(t)
	ctx := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ctx, "busybox"), string(data), 0o755)
	writeFile(t, filepath.Join(ctx, "Dockerfile"), `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp /run && echo 'root:x:0:0::/root:/bin/sh' > /etc/passwd && echo 'app:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd
HEALTHCHECK --interval=5s CMD ["/bin/true"]
CMD ["/bin/sleep", "3600"]
`, 0o644)
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, ctx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

func chkContainer(t *testing.T, name string, args ...string) string {
	t.Helper()
	full := append([]string{"run", "-d", "--name", name, "--label", "bulkhead-e2e=check-docker"}, args...)
	out, err := exec.Command("docker", full...).CombinedOutput()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCheckDockerContainers starts containers with deliberately bad and
// good runtime settings and checks each CIS 5.x verdict per container.
func TestCheckDockerContainers(t *testing.T) {
	sfx := randSuffix()
	img := busyboxImage(t, "bulkhead-e2e/check-docker:"+sfx)
	// A shared mount, so that one container can use rshared propagation.
	shared := t.TempDir()
	if out, err := exec.Command("sh", "-c", "mount --bind "+shared+" "+shared+" && mount --make-shared "+shared).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot make a shared mount (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", shared).Run() })

	near := "chk-near-" + sfx
	admin := "chk-admin-" + sfx
	good := "chk-good-" + sfx
	// --privileged is refused on this machine: near-privileged is every
	// capability but one, without seccomp.
	nearID := chkContainer(t, near, "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
		"-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", "/etc:/host-etc:ro",
		"--network", "host", "--pid", "host", "--ipc", "host", "--uts", "host",
		"--device", "/dev/null:/dev/xnull", "--ulimit", "nofile=1024:2048", "--restart", "always",
		"--mount", "type=bind,source="+shared+",target=/shared,bind-propagation=rshared", img)
	adminID := chkContainer(t, admin, "--cap-add", "SYS_ADMIN", "--userns", "host", "-p", "981:8080", "-p", "127.0.0.1::8443",
		"--restart", "on-failure:10", "--cgroup-parent", "/bulkhead-e2e",
		img, "sh", "-c", `printf '#!/bin/sh\nsleep 3600\n' > /run/sshd && chmod +x /run/sshd && exec /run/sshd`)
	goodID := chkContainer(t, good, "--read-only", "--user", "1000:1000", "--memory", "64m", "--cpus", "0.5",
		"--pids-limit", "50", "--security-opt", "no-new-privileges", "--restart", "on-failure:5", "--network", "none", img)
	// Wait until the admin container has exec'd its "sshd".
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _ := exec.Command("docker", "exec", admin, "cat", "/proc/1/comm").Output()
		if strings.TrimSpace(string(out)) == "sshd" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not start its sshd stand-in (comm %q)", admin, out)
		}
	}

	results := checkJSON(t, 0, "check", "docker")
	type want struct {
		status   string
		evidence string
	}
	P := func(ev string) want { return want{"pass", ev} }
	F := func(ev string) want { return want{"fail", ev} }
	W := func(ev string) want { return want{"warn", ev} }
	I := func(ev string) want { return want{"info", ev} }
	M := func(ev string) want { return want{"manual", ev} }
	tests := []struct {
		check           string
		near, admin, gd want
	}{
		{"DOCKER-4.1", F(`Config.User=""`), F(`Config.User=""`), P(`Config.User="1000:1000"`)},
		{"DOCKER-5.3", F("HostConfig.CapAdd=[ALL]"), F("SYS_ADMIN"), P("HostConfig.CapAdd=[]")},
		{"DOCKER-5.4", P("HostConfig.Privileged=false"), P("HostConfig.Privileged=false"), P("HostConfig.Privileged=false")},
		{"DOCKER-5.5", F("Mounts: /etc:/host-etc:ro"), P(""), P("")},
		{"DOCKER-5.6", P("sleep"), F("sshd"), P("sleep")},
		{"DOCKER-5.7", P(""), F(":981"), P("")},
		{"DOCKER-5.8", P("no published ports"), M("8080/tcp->0.0.0.0:981"), P("no published ports")},
		{"DOCKER-5.9", F("HostConfig.NetworkMode=host"), P("HostConfig.NetworkMode=default"), P("HostConfig.NetworkMode=none")},
		{"DOCKER-5.10", F("HostConfig.Memory=0"), F("HostConfig.Memory=0"), P("HostConfig.Memory=67108864")},
		{"DOCKER-5.11", F("NanoCpus=0"), F("NanoCpus=0"), P("NanoCpus=500000000")},
		{"DOCKER-5.12", F("ReadonlyRootfs=false"), F("ReadonlyRootfs=false"), P("ReadonlyRootfs=true")},
		{"DOCKER-5.13", P(""), F(":981"), P("")},
		{"DOCKER-5.14", F("RestartPolicy=always"), F("RestartPolicy=on-failure:10"), P("RestartPolicy=on-failure:5")},
		{"DOCKER-5.15", F("PidMode=host"), P(""), P("")},
		{"DOCKER-5.16", F("IpcMode=host"), P(""), P("")},
		{"DOCKER-5.17", F("/dev/null:/dev/xnull"), P("Devices=[]"), P("Devices=[]")},
		{"DOCKER-5.18", I("nofile=1024:2048"), P(""), P("")},
		{"DOCKER-5.19", F("Propagation=rshared"), P(""), P("")},
		{"DOCKER-5.20", F("UTSMode=host"), P(""), P("")},
		{"DOCKER-5.21", F("seccomp=unconfined"), P(""), P("")},
		{"DOCKER-5.24", P(""), W("CgroupParent=/bulkhead-e2e"), P("")},
		{"DOCKER-5.25", F(""), F(""), P("no-new-privileges")},
		{"DOCKER-5.26", P("health"), P("health"), P("health")},
		{"DOCKER-5.28", F("PidsLimit"), F("PidsLimit"), P("PidsLimit=50")},
		{"DOCKER-5.29", P("networks: host"), W("bridge"), P("networks: none")},
		{"DOCKER-5.30", P(""), F("UsernsMode=host"), P("")},
		{"DOCKER-5.31", F("Mounts: /var/run/docker.sock:/var/run/docker.sock"), P("no docker.sock mount"), P("no docker.sock mount")},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name, id string
			w        want
		}{{near, nearID, tt.near}, {admin, adminID, tt.admin}, {good, goodID, tt.gd}} {
			t.Run(tt.check+"/"+c.name, func(t *testing.T) {
				var got []checkResult
				for _, r := range results {
					if r.CheckID == tt.check && r.Name == c.name {
						got = append(got, r)
					}
				}
				if len(got) == 0 {
					t.Fatal("no result")
				}
				for _, r := range got {
					if r.Kind != "Container" || r.ResourceID != c.id || r.Target != "docker:unix:///var/run/docker.sock" {
						t.Errorf("resource: %s %s %s %s", r.Kind, r.Name, r.ResourceID, r.Target)
					}
					if r.Status != c.w.status || !strings.Contains(r.Evidence+" "+r.Message, c.w.evidence) {
						t.Errorf("%s (%s | %s); want %s with %q", r.Status, r.Message, r.Evidence, c.w.status, c.w.evidence)
					}
				}
			})
		}
	}
	// The images in use: HEALTHCHECK is set (4.6 passes on ours).
	found := false
	for _, r := range results {
		if r.CheckID == "DOCKER-4.6" && r.Name == img {
			found = true
			if r.Status != "pass" {
				t.Errorf("4.6 on %s: %s %s", img, r.Status, r.Evidence)
			}
		}
	}
	if !found {
		t.Errorf("no DOCKER-4.6 result for image %s", img)
	}

	// The gate: the near-privileged container fails critical checks.
	_, _, code := bulkhead(t, "check", "docker", "--fail-on", "critical", "-o", "json", "--hide-passed")
	if code != 2 {
		t.Errorf("--fail-on critical: exit %d, want 2", code)
	}

	// A custom policy directory and a config that disables a built-in
	// check and re-rates another.
	pol := t.TempDir()
	writeFile(t, filepath.Join(pol, "team.yaml"), `checks:
  - id: TEAM-D-001
    title: Containers must carry an owner label
    severity: low
    benchmark: "Team policy"
    appliesTo: [DockerContainer]
    expr: |
      "owner" in object.Config.Labels ? [] : [{"path": "Config.Labels", "message": "no owner label on " + name, "evidence": "labels: " + object.Config.Labels.transformList(k, v, k).join(",")}]
`, 0o644)
	cfg := filepath.Join(t.TempDir(), "cfg.yaml")
	writeFile(t, cfg, "disable: [DOCKER-5.29, K8S-HRD-001]\nseverity: {DOCKER-5.10: critical}\n", 0o644)
	results = checkJSON(t, 0, "check", "docker", "--policy", pol, "--config", cfg)
	team, disabled, rerated := false, false, false
	for _, r := range results {
		if r.CheckID == "TEAM-D-001" && r.Name == good && r.Status == "fail" && strings.Contains(r.Evidence, "bulkhead-e2e") {
			team = true
		}
		if r.CheckID == "DOCKER-5.29" {
			disabled = true
		}
		if r.CheckID == "DOCKER-5.10" && r.Name == near && r.Severity == "critical" {
			rerated = true
		}
	}
	if !team || disabled || !rerated {
		t.Errorf("custom check reported: %v; disabled check still reported: %v; re-rated: %v", team, disabled, rerated)
	}

	// SARIF: failures are error/warning results naming the container in
	// message and properties; each rule carries its benchmark.
	out, errs, code := bulkhead(t, "check", "docker", "-o", "sarif")
	if code != 0 {
		t.Fatalf("sarif: exit %d %s", code, errs)
	}
	validSARIF(t, out)
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string
						Properties map[string]any
					}
				}
			}
			Results []struct {
				RuleID     string
				Kind       string
				Level      string
				Message    struct{ Text string }
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if !strings.HasPrefix(fmt.Sprint(r.Properties["benchmark"]), "CIS-Docker ") {
			t.Errorf("rule %s: benchmark %v", r.ID, r.Properties["benchmark"])
		}
	}
	seen := map[string]bool{}
	for _, r := range log.Runs[0].Results {
		if r.RuleID == "DOCKER-5.31" && r.Properties["resourceID"] == nearID {
			seen["fail"] = r.Kind == "fail" && r.Level == "error" && strings.Contains(r.Message.Text, "container "+near+" ("+nearID[:12]+")")
		}
		if r.RuleID == "DOCKER-5.31" && r.Properties["resourceID"] == goodID {
			seen["pass"] = r.Kind == "pass" && r.Level == "none"
		}
	}
	if !seen["fail"] || !seen["pass"] {
		t.Errorf("SARIF results for DOCKER-5.31: %v", seen)
	}
	out, _, _ = bulkhead(t, "check", "docker", "-o", "sarif", "--hide-passed")
	if strings.Contains(out, `"kind": "pass"`) {
		t.Error("--hide-passed left passes in the SARIF log")
	}
	out, _, _ = bulkhead(t, "check", "docker", "-o", "junit")
	if !strings.Contains(out, `<testsuite name="container `+near+" ("+nearID[:12]+`)"`) || !strings.Contains(out, "<failure") {
		t.Errorf("JUnit output lacks the container suite or failures")
	}
}

// secondDaemon starts a dockerd with its own socket, data root, exec root
// and pidfile, in its own network namespace (so that its iptables and
// bridge setup cannot touch the host's daemon), and stops it at cleanup.
func secondDaemon(t *testing.T, config string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		testenv.Missing(t, "dockerd not on PATH")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Missing(t, "unshare not on PATH")
	}
	dir, err := os.MkdirTemp("", "bh-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	cfg := filepath.Join(dir, "daemon.json")
	writeFile(t, cfg, config, 0o644)
	args := append([]string{"--net", "--fork", "dockerd", "--host", "unix://" + sock,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--config-file", cfg, "--storage-driver", "vfs"}, flags...)
	cmd := exec.Command("unshare", args...)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "docker.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		cmd.Wait()
		exec.Command("umount", "-l", filepath.Join(dir, "data")).Run()
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exec.Command("docker", "-H", "unix://"+sock, "info").Run() == nil {
			return "unix://" + sock
		}
		time.Sleep(300 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("second dockerd did not come up:\n%s", log)
	return ""
}

// TestCheckDockerDaemon starts two extra daemons, one hardened and one
// lax, each with its own flags and config file, and checks that the 2.x
// verdicts follow what each was started with.
func TestCheckDockerDaemon(t *testing.T) {
	needDocker(t)
	hard := secondDaemon(t, `{"log-level": "info", "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 4096, "Soft": 1024}}}`,
		"--icc=false", "--userland-proxy=false", "--live-restore", "--no-new-privileges", "--bridge=none")
	lax := secondDaemon(t, `{"insecure-registries": ["registry.bulkhead.test:5000"], "experimental": true}`,
		"--debug", "--iptables=false", "--bridge=none", "--cgroup-parent", "/bulkhead-e2e",
		"-H", "tcp://127.0.0.1:2375")
	tests := []struct {
		check         string
		hard, lax     string
		hardEv, laxEv string
	}{
		{"DOCKER-2.2", "pass", "fail", "icc=false (flag --icc=false", "icc=true (default)"},
		{"DOCKER-2.3", "pass", "fail", `log-level=info (`, "debug=true (flag --debug=true"},
		{"DOCKER-2.4", "pass", "fail", "iptables=true (default)", "iptables=false (flag --iptables=false"},
		{"DOCKER-2.5", "pass", "fail", "no insecure registries", "registry.bulkhead.test:5000"},
		{"DOCKER-2.6", "pass", "pass", "storage-driver=vfs (flag --storage-driver=vfs", "storage-driver=vfs"},
		{"DOCKER-2.7", "not-applicable", "fail", "", "tcp://127.0.0.1:2375"},
		{"DOCKER-2.8", "pass", "warn", `default-ulimits=nofile (`, "default-ulimits not set"},
		{"DOCKER-2.10", "pass", "manual", "cgroup-parent not set", "cgroup-parent=/bulkhead-e2e (flag"},
		{"DOCKER-2.14", "pass", "fail", "no-new-privileges=true (flag --no-new-privileges=true", "no-new-privileges=false (default)"},
		{"DOCKER-2.15", "pass", "fail", "live-restore=true (flag --live-restore=true", "live-restore=false"},
		{"DOCKER-2.16", "pass", "fail", "userland-proxy=false (flag --userland-proxy=false", "userland-proxy=true (default)"},
		{"DOCKER-2.17", "pass", "pass", "seccomp profile default", "seccomp profile default"},
		{"DOCKER-2.18", "pass", "fail", "experimental=false", `experimental=true (`},
		{"DOCKER-3.17", "pass", "pass", "owner root:root", "owner root:root"},
		{"DOCKER-3.18", "pass", "pass", "mode 0644", "mode 0644"},
	}
	// The default daemon: the opposite of the hardened one for every
	// option it leaves at its default. What it was started with is read
	// here independently (pidfile, /proc cmdline, daemon.json).
	defaults := map[string]string{"icc": "DOCKER-2.2", "userland-proxy": "DOCKER-2.16", "no-new-privileges": "DOCKER-2.14"}
	cmdline, _ := os.ReadFile("/proc/" + strings.TrimSpace(readOr("/var/run/docker.pid")) + "/cmdline")
	cfgJSON := map[string]any{}
	if b, err := os.ReadFile("/etc/docker/daemon.json"); err == nil {
		json.Unmarshal(b, &cfgJSON)
	}
	results := checkJSON(t, 0, "check", "docker")
	checked := 0
	for opt, id := range defaults {
		if len(cmdline) == 0 || strings.Contains(string(cmdline), "--"+opt) || cfgJSON[opt] != nil {
			continue // set explicitly on this host: nothing to assert about defaults
		}
		checked++
		for _, r := range results {
			if r.CheckID == id && (r.Status != "fail" || !strings.Contains(r.Evidence, "(default)")) {
				t.Errorf("default daemon %s: %s %s; want fail from the default", id, r.Status, r.Evidence)
			}
		}
	}
	t.Logf("default daemon: %d options at their default checked", checked)
	for _, d := range []struct{ name, host string }{{"hardened", hard}, {"lax", lax}} {
		results := checkJSON(t, 0, "check", "docker", "--docker-host", d.host)
		for _, tt := range tests {
			want, ev := tt.hard, tt.hardEv
			if d.name == "lax" {
				want, ev = tt.lax, tt.laxEv
			}
			t.Run(d.name+"/"+tt.check, func(t *testing.T) {
				n := 0
				for _, r := range results {
					if r.CheckID != tt.check {
						continue
					}
					n++
					if r.Status != want || !strings.Contains(r.Evidence, ev) {
						t.Errorf("%s (%s | %s); want %s with %q", r.Status, r.Message, r.Evidence, want, ev)
					}
					if r.Status != "not-applicable" && r.Kind == "Daemon" && r.Name != d.host {
						t.Errorf("resource %s %s; want the daemon %s", r.Kind, r.Name, d.host)
					}
				}
				if n == 0 {
					t.Error("no result")
				}
			})
		}
		// The daemon's config file is the one it was started with.
		for _, r := range results {
			if r.CheckID == "DOCKER-3.18" && !strings.HasSuffix(r.File, "/daemon.json") {
				t.Errorf("3.18 looked at %s", r.File)
			}
		}
	}
}

// TestCheckConfigOutputs: the shared outputs work for check config too.
func TestCheckConfigOutputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: app:1\n      securityContext:\n        privileged: true\n", 0o644)
	out, errs, code := bulkhead(t, "check", "config", dir, "-o", "sarif", "--fail-on", "critical")
	if code != 2 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var log struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID, Kind, Level string
				Message             struct{ Text string }
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	validSARIF(t, out)
	if err := json.Unmarshal([]byte(out), &log); err != nil || log.Version != "2.1.0" {
		t.Fatalf("%v %q", err, log.Version)
	}
	ok := false
	for _, r := range log.Runs[0].Results {
		if r.RuleID == "K8S-PSS-003" && r.Kind == "fail" && r.Level == "error" && strings.Contains(r.Message.Text, "Pod p") &&
			r.Locations[0].PhysicalLocation.Region.StartLine == 10 {
			ok = true
		}
	}
	if !ok {
		t.Errorf("privileged pod not an error result at line 10:\n%.3000s", out)
	}
	out, _, _ = bulkhead(t, "check", "config", dir, "-o", "junit", "--hide-passed")
	if !strings.Contains(out, "<testsuites") || !strings.Contains(out, "K8S-PSS-003") || strings.Contains(out, "not-applicable:") {
		t.Errorf("junit:\n%.2000s", out)
	}
}

func readOr(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

type offlineSchemas struct{}

func (offlineSchemas) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not vendored", url)
}

// validSARIF validates a log against the SARIF 2.1.0 schema vendored in
// internal/report/testdata.
func validSARIF(t *testing.T, doc string) {
	t.Helper()
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	f, err := os.Open(filepath.Join("..", "..", "internal", "report", "testdata", "schema", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.UseLoader(offlineSchemas{})
	if err := c.AddResource(id, schema); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("not valid SARIF 2.1.0: %v", err)
	}
}
