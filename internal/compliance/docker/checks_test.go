package docker_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/docker"
)

// The testdata hosts were recorded on a real host with TestRecordFacts
// (three containers started with the settings e2e uses), trimmed, then
// edited: bad.json adds what that host happened to get right (daemon
// flags such as --debug and a TCP socket without TLS, file modes, audit
// rules in a file but not loaded); good.json is a hardened host running
// only fx-good; remote.json is good.json seen from a client that cannot
// see the daemon's process.

type checkCase struct {
	fixture, check, resource string
	status                   compliance.Status
	// evidence must appear in the result's evidence or message.
	evidence string
}

var (
	pass   = compliance.StatusPass
	fail   = compliance.StatusFail
	warn   = compliance.StatusWarn
	info   = compliance.StatusInfo
	manual = compliance.StatusManual
	na     = compliance.StatusNotApplicable
)

var checkCases = []checkCase{
	// 1.x host.
	{"bad", "DOCKER-1.1.1", "", fail, "/var/lib/docker is on /"},
	{"good", "DOCKER-1.1.1", "", pass, "/var/lib/docker is a mount point"},
	{"bad", "DOCKER-1.1.2", "", manual, "alice, mallory"},
	{"good", "DOCKER-1.1.2", "", pass, "no members"},
	{"bad", "DOCKER-1.1.3", "", manual, "docker.rules:1"}, // in a file, auditctl unavailable
	{"good", "DOCKER-1.1.3", "", pass, "loaded (auditctl -l)"},
	{"bad", "DOCKER-1.1.4", "", fail, "no rule for /run/containerd in /etc/audit/rules.d/docker.rules"},
	{"good", "DOCKER-1.1.4", "", pass, "docker.rules:2: -w /run/containerd"},
	{"bad", "DOCKER-1.1.5", "", fail, "no loaded audit rule watches /var/lib/docker"},
	{"good", "DOCKER-1.1.5", "", pass, "-w /var/lib/docker -k docker"},
	{"bad", "DOCKER-1.1.6", "", fail, "/etc/docker"},
	{"good", "DOCKER-1.1.6", "", pass, "/etc/docker"},
	{"bad", "DOCKER-1.1.7", "", fail, "docker.service"},
	{"good", "DOCKER-1.1.7", "", pass, "docker.service"},
	{"bad", "DOCKER-1.1.8", "", fail, "containerd.sock"},
	{"good", "DOCKER-1.1.8", "", pass, "containerd.sock"},
	{"bad", "DOCKER-1.1.9", "", fail, "docker.socket"},
	{"good", "DOCKER-1.1.9", "", pass, "docker.socket"},
	{"bad", "DOCKER-1.1.10", "", fail, "/etc/default/docker"},
	{"good", "DOCKER-1.1.10", "", pass, "/etc/default/docker"},
	{"bad", "DOCKER-1.1.11", "", fail, "daemon.json"},
	{"good", "DOCKER-1.1.11", "", pass, "daemon.json"},
	{"bad", "DOCKER-1.1.12", "", fail, "/etc/containerd/config.toml"},
	{"good", "DOCKER-1.1.12", "", pass, "/etc/containerd/config.toml"},
	{"bad", "DOCKER-1.1.13", "", fail, "/etc/sysconfig/docker"},
	{"good", "DOCKER-1.1.13", "", pass, "/etc/sysconfig/docker"},
	{"bad", "DOCKER-1.1.14", "", fail, "/usr/bin/containerd"},
	{"good", "DOCKER-1.1.14", "", pass, "/usr/bin/containerd"},
	{"bad", "DOCKER-1.1.15", "", fail, "containerd-shim"},
	{"good", "DOCKER-1.1.15", "", pass, "containerd-shim"},
	{"bad", "DOCKER-1.1.16", "", fail, "containerd-shim-runc-v1"},
	{"good", "DOCKER-1.1.16", "", pass, "containerd-shim-runc-v1"},
	{"bad", "DOCKER-1.1.17", "", fail, "containerd-shim-runc-v2"},
	{"good", "DOCKER-1.1.17", "", pass, "containerd-shim-runc-v2"},
	{"bad", "DOCKER-1.1.18", "", fail, "/usr/bin/runc"},
	{"good", "DOCKER-1.1.18", "", pass, "/usr/bin/runc"},
	{"bad", "DOCKER-4.5", "", fail, "DOCKER_CONTENT_TRUST is not set"},
	{"good", "DOCKER-4.5", "", pass, "DOCKER_CONTENT_TRUST=1"},
	{"bad", "DOCKER-6.1", "", info, "images=9 inUse=1"},
	{"good", "DOCKER-6.1", "", pass, "images=1"},
	{"bad", "DOCKER-6.2", "", info, "containers=7 running=3"},
	{"good", "DOCKER-6.2", "", pass, "running=1"},
	{"bad", "DOCKER-7.1", "", manual, "active"},
	{"good", "DOCKER-7.1", "", pass, "inactive"},
	// 2.x daemon.
	{"bad", "DOCKER-2.1", "", manual, "runs as root"},
	{"good", "DOCKER-2.1", "", pass, "rootless"},
	{"bad", "DOCKER-2.2", "", fail, "icc=true (default)"},
	{"good", "DOCKER-2.2", "", pass, "icc=false (flag --icc=false (dockerd pid 1434))"},
	{"remote", "DOCKER-2.2", "", manual, "not visible"},
	{"bad", "DOCKER-2.3", "", fail, "debug=true (flag --debug=true"},
	{"good", "DOCKER-2.3", "", pass, "log-level=info (flag --log-level=info"},
	{"bad", "DOCKER-2.4", "", fail, "iptables=false (flag --iptables=false"},
	{"good", "DOCKER-2.4", "", pass, "iptables=true (default)"},
	{"bad", "DOCKER-2.5", "", fail, "registry.local:5000"},
	{"good", "DOCKER-2.5", "", pass, "no insecure registries"},
	{"bad", "DOCKER-2.6", "", fail, "storage-driver=aufs (flag --storage-driver=aufs"},
	{"good", "DOCKER-2.6", "", pass, "storage-driver=fuse-overlayfs (docker info: Driver)"},
	{"bad", "DOCKER-2.7", "", fail, "tcp://0.0.0.0:2375"},
	{"good", "DOCKER-2.7", "", pass, "tcp://10.0.0.5:2376 with tlsverify"},
	{"remote", "DOCKER-2.7", "", manual, "not visible"},
	{"bad", "DOCKER-2.8", "", warn, "default-ulimits not set"},
	{"good", "DOCKER-2.8", "", pass, "nofile=1024:4096"},
	{"bad", "DOCKER-2.9", "", fail, "userns-remap not set"},
	{"good", "DOCKER-2.9", "", pass, "userns-remap=default"},
	{"remote", "DOCKER-2.9", "", pass, "docker info: SecurityOptions name=userns"},
	{"bad", "DOCKER-2.10", "", manual, "cgroup-parent=/custom"},
	{"good", "DOCKER-2.10", "", pass, "cgroup-parent not set"},
	{"bad", "DOCKER-2.11", "", warn, "dm.basesize=20G"},
	{"good", "DOCKER-2.11", "", pass, "dm.basesize not set"},
	{"bad", "DOCKER-2.12", "", fail, "authorization-plugins not set"},
	{"good", "DOCKER-2.12", "", pass, "authorization-plugins=opa"},
	{"bad", "DOCKER-2.13", "", fail, "log-driver=json-file (/etc/docker/daemon.json: \"log-driver\")"},
	{"good", "DOCKER-2.13", "", pass, "log-driver=syslog (flag"},
	{"bad", "DOCKER-2.14", "", fail, "no-new-privileges=false (default)"},
	{"good", "DOCKER-2.14", "", pass, "no-new-privileges=true (flag"},
	{"bad", "DOCKER-2.15", "", fail, "live-restore=false (docker info: LiveRestoreEnabled)"},
	{"good", "DOCKER-2.15", "", pass, "live-restore=true (flag"},
	{"bad", "DOCKER-2.16", "", fail, "userland-proxy=true (default)"},
	{"good", "DOCKER-2.16", "", pass, "userland-proxy=false (flag"},
	{"bad", "DOCKER-2.17", "", fail, "seccomp disabled"},
	{"good", "DOCKER-2.17", "", pass, "seccomp profile default"},
	{"bad", "DOCKER-2.18", "", fail, "experimental=true (flag --experimental=true"},
	{"good", "DOCKER-2.18", "", pass, "experimental=false"},
	// 3.x files: bad.json has every file owned by uid 1000 and 0777/0666.
	{"good", "DOCKER-3.1", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.1", "", fail, "owner app:root"},
	{"good", "DOCKER-3.2", "", pass, "mode 0644"},
	{"bad", "DOCKER-3.2", "", fail, "mode 0777"},
	{"good", "DOCKER-3.3", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.3", "", fail, "owner app:root"},
	{"good", "DOCKER-3.4", "", pass, "mode 0644"},
	{"bad", "DOCKER-3.4", "", fail, "mode 0777"},
	{"good", "DOCKER-3.5", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.5", "", fail, "owner app:root"},
	{"good", "DOCKER-3.6", "", pass, "mode 0755"},
	{"bad", "DOCKER-3.6", "", fail, "mode 0777"},
	{"good", "DOCKER-3.7", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.7", "", fail, "owner app:app"},
	{"good", "DOCKER-3.8", "", pass, "mode 0444"},
	{"bad", "DOCKER-3.8", "", fail, "mode 0644"},
	{"good", "DOCKER-3.9", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.9", "", fail, "owner app:root"},
	{"good", "DOCKER-3.10", "", pass, "mode 0444"},
	{"bad", "DOCKER-3.10", "", fail, "mode 0644"},
	{"good", "DOCKER-3.11", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.11", "", fail, "owner app:root"},
	{"good", "DOCKER-3.12", "", pass, "mode 0444"},
	{"bad", "DOCKER-3.12", "", fail, "mode 0644"},
	{"good", "DOCKER-3.13", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.13", "", fail, "owner app:root"},
	{"good", "DOCKER-3.14", "", pass, "mode 0400"},
	{"bad", "DOCKER-3.14", "", fail, "mode 0644"},
	{"good", "DOCKER-3.15", "", pass, "owner root:docker"},
	{"bad", "DOCKER-3.15", "", fail, "owner app:docker"},
	{"good", "DOCKER-3.16", "", pass, "mode 0660"},
	{"bad", "DOCKER-3.16", "", fail, "mode 0666"},
	{"good", "DOCKER-3.17", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.17", "", fail, "owner app:root"},
	{"good", "DOCKER-3.18", "", pass, "mode 0644"},
	{"bad", "DOCKER-3.18", "", fail, "mode 0777"},
	{"good", "DOCKER-3.19", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.19", "", fail, "owner app:root"},
	{"good", "DOCKER-3.20", "", pass, "mode 0644"},
	{"bad", "DOCKER-3.20", "", fail, "mode 0777"},
	{"good", "DOCKER-3.21", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.21", "", fail, "owner app:root"},
	{"good", "DOCKER-3.22", "", pass, "mode 0644"},
	{"bad", "DOCKER-3.22", "", fail, "mode 0666"},
	{"good", "DOCKER-3.23", "", pass, "owner root:root"},
	{"bad", "DOCKER-3.23", "", fail, "owner app:root"},
	{"good", "DOCKER-3.24", "", pass, "mode 0660"},
	{"bad", "DOCKER-3.24", "", fail, "mode 0666"},
	// 4.x images in use.
	{"bad", "DOCKER-4.6", "bulkhead-fixture/bb:1", fail, "Config.Healthcheck=null"},
	{"good", "DOCKER-4.6", "bulkhead-fixture/bb:1", pass, "/bin/true"},
	{"bad", "DOCKER-4.7", "bulkhead-fixture/bb:1", warn, "apt-get update"},
	{"good", "DOCKER-4.7", "bulkhead-fixture/bb:1", pass, ""},
	{"bad", "DOCKER-4.9", "bulkhead-fixture/bb:1", fail, "ADD https://example.com/app.tar.gz"},
	{"good", "DOCKER-4.9", "bulkhead-fixture/bb:1", pass, ""},
	// 5.x containers (and 4.1).
	{"bad", "DOCKER-4.1", "fx-bad", fail, `Config.User=""`},
	{"bad", "DOCKER-4.1", "fx-good", pass, `Config.User="1000:1000"`},
	{"bad", "DOCKER-5.1", "fx-bad", fail, `AppArmorProfile=""`},
	{"good", "DOCKER-5.1", "fx-good", pass, "AppArmorProfile=docker-default"},
	{"bad", "DOCKER-5.2", "fx-bad2", fail, "label=disable"},
	{"bad", "DOCKER-5.2", "fx-good", pass, ""},
	{"bad", "DOCKER-5.3", "fx-bad", fail, "HostConfig.CapAdd=[ALL]"},
	{"bad", "DOCKER-5.3", "fx-bad2", fail, "HostConfig.CapAdd=[CAP_SYS_ADMIN]"},
	{"bad", "DOCKER-5.3", "fx-good", pass, "HostConfig.CapAdd=[]"},
	{"bad", "DOCKER-5.4", "fx-good", pass, "HostConfig.Privileged=false"},
	{"bad", "DOCKER-5.4", "fx-bad2", fail, "HostConfig.Privileged=true"},
	{"bad", "DOCKER-5.5", "fx-bad", fail, "Mounts: /etc:/host-etc:ro"},
	{"bad", "DOCKER-5.5", "fx-good", pass, ""},
	{"bad", "DOCKER-5.6", "fx-bad2", fail, "sshd"},
	{"bad", "DOCKER-5.6", "fx-good", pass, "processes: sleep"},
	{"remote", "DOCKER-5.6", "fx-good", manual, "no processes visible"},
	{"bad", "DOCKER-5.7", "fx-bad2", fail, "NetworkSettings.Ports[8080/tcp]: 0.0.0.0:80"},
	{"bad", "DOCKER-5.7", "fx-good", pass, ""},
	{"bad", "DOCKER-5.8", "fx-bad2", manual, "8443/tcp->127.0.0.1:8443"},
	{"bad", "DOCKER-5.8", "fx-good", pass, "no published ports"},
	{"bad", "DOCKER-5.9", "fx-bad", fail, "HostConfig.NetworkMode=host"},
	{"bad", "DOCKER-5.9", "fx-good", pass, "HostConfig.NetworkMode=none"},
	{"bad", "DOCKER-5.10", "fx-bad", fail, "HostConfig.Memory=0"},
	{"bad", "DOCKER-5.10", "fx-good", pass, "HostConfig.Memory=67108864"},
	{"bad", "DOCKER-5.11", "fx-bad", fail, "NanoCpus=0"},
	{"bad", "DOCKER-5.11", "fx-good", pass, "NanoCpus=500000000"},
	{"bad", "DOCKER-5.12", "fx-bad", fail, "HostConfig.ReadonlyRootfs=false"},
	{"bad", "DOCKER-5.12", "fx-good", pass, "HostConfig.ReadonlyRootfs=true"},
	{"bad", "DOCKER-5.13", "fx-bad2", fail, "NetworkSettings.Ports[8080/tcp]: 0.0.0.0:80"},
	{"bad", "DOCKER-5.13", "fx-good", pass, ""},
	{"bad", "DOCKER-5.14", "fx-bad", fail, "HostConfig.RestartPolicy=always:0"},
	{"bad", "DOCKER-5.14", "fx-bad2", fail, "HostConfig.RestartPolicy=on-failure:10"},
	{"bad", "DOCKER-5.14", "fx-good", pass, "HostConfig.RestartPolicy=on-failure:5"},
	{"bad", "DOCKER-5.15", "fx-bad", fail, "HostConfig.PidMode=host"},
	{"bad", "DOCKER-5.15", "fx-good", pass, ""},
	{"bad", "DOCKER-5.16", "fx-bad", fail, "HostConfig.IpcMode=host"},
	{"bad", "DOCKER-5.16", "fx-good", pass, ""},
	{"bad", "DOCKER-5.17", "fx-bad", fail, "/dev/null:/dev/xnull:rwm"},
	{"bad", "DOCKER-5.17", "fx-good", pass, "HostConfig.Devices=[]"},
	{"bad", "DOCKER-5.18", "fx-bad", info, "nofile=1024:2048"},
	{"bad", "DOCKER-5.18", "fx-good", pass, ""},
	{"bad", "DOCKER-5.19", "fx-bad", fail, "Propagation=rshared"},
	{"bad", "DOCKER-5.19", "fx-good", pass, ""},
	{"bad", "DOCKER-5.20", "fx-bad", fail, "HostConfig.UTSMode=host"},
	{"bad", "DOCKER-5.20", "fx-good", pass, ""},
	{"bad", "DOCKER-5.21", "fx-bad", fail, "seccomp=unconfined"},
	{"bad", "DOCKER-5.21", "fx-good", pass, ""},
	{"bad", "DOCKER-5.24", "fx-bad", warn, "HostConfig.CgroupParent=/custom.slice"},
	{"bad", "DOCKER-5.24", "fx-good", pass, ""},
	{"bad", "DOCKER-5.25", "fx-bad", fail, "seccomp=unconfined"},
	{"bad", "DOCKER-5.25", "fx-good", pass, "no-new-privileges"},
	{"bad", "DOCKER-5.26", "fx-bad2", fail, "Config.Healthcheck=null"},
	{"bad", "DOCKER-5.26", "fx-good", pass, "health healthy"},
	{"bad", "DOCKER-5.28", "fx-bad", fail, "HostConfig.PidsLimit=null"},
	{"bad", "DOCKER-5.28", "fx-good", pass, "HostConfig.PidsLimit=50"},
	{"bad", "DOCKER-5.29", "fx-bad2", warn, "bridge"},
	{"bad", "DOCKER-5.29", "fx-good", pass, "networks: none"},
	{"bad", "DOCKER-5.30", "fx-good", pass, ""},
	{"bad", "DOCKER-5.30", "fx-bad2", fail, "HostConfig.UsernsMode=host"},
	{"bad", "DOCKER-5.31", "fx-bad", fail, "Mounts: /var/run/docker.sock:/var/run/docker.sock"},
	{"bad", "DOCKER-5.31", "fx-good", pass, "no docker.sock mount"},
}

func loadFacts(t testing.TB, name string) *docker.Facts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f docker.Facts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	// JSON numbers in the recorded documents decode as float64; Collect
	// produces int64. Re-decode the maps the way Collect does.
	if err := docker.Normalize(&f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestChecks(t *testing.T) {
	e, err := docker.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]compliance.Result{}
	for _, fx := range []string{"bad", "good", "remote"} {
		rs, err := docker.Evaluate(loadFacts(t, fx), e)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status == compliance.StatusError {
				t.Errorf("%s: %s on %s: %s", fx, r.CheckID, r.Name, r.Message)
			}
		}
		results[fx] = rs
	}
	for _, c := range checkCases {
		t.Run(c.fixture+"/"+c.check+"/"+c.resource, func(t *testing.T) {
			var got []compliance.Result
			for _, r := range results[c.fixture] {
				if r.CheckID == c.check && (c.resource == "" || r.Name == c.resource) {
					got = append(got, r)
				}
			}
			if len(got) == 0 {
				t.Fatalf("no result")
			}
			ok := false
			for _, r := range got {
				if r.Status == c.status && (strings.Contains(r.Evidence, c.evidence) || strings.Contains(r.Message, c.evidence)) {
					ok = true
				}
				// A check must not both pass and fail one resource.
				if (r.Status == pass) != (c.status == pass) && c.resource != "" {
					t.Errorf("also %s: %s (%s)", r.Status, r.Message, r.Evidence)
				}
			}
			if !ok {
				for _, r := range got {
					t.Logf("%s %s %s: %s (%s)", r.Status, r.Name, r.File, r.Message, r.Evidence)
				}
				t.Errorf("want %s with %q", c.status, c.evidence)
			}
		})
	}
}

// TestEveryCheckPassesAndFails walks the embedded checks: each one that
// is evaluated (has an expression) needs a case where it passes and one
// where it does not (fail, or its warn/info/manual verdict).
func TestEveryCheckPassesAndFails(t *testing.T) {
	cs, err := docker.BuiltinChecks()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Expr == "" {
			continue // manual by definition: reported, never evaluated
		}
		var p, f bool
		for _, cc := range checkCases {
			if cc.check != c.ID {
				continue
			}
			p = p || cc.status == pass
			f = f || slices.Contains([]compliance.Status{fail, warn, info, manual}, cc.status)
		}
		if !p || !f {
			t.Errorf("%s: passing case %v, failing case %v", c.ID, p, f)
		}
	}
}

func TestNotApplicable(t *testing.T) {
	e, err := docker.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	f := loadFacts(t, "good")
	f.Files = nil
	f.Daemon.Cmdline = []string{"dockerd"} // no TCP socket
	f.Info["SecurityOptions"] = []any{}    // no AppArmor, no SELinux
	rs, err := docker.Evaluate(f, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"DOCKER-3.1", "DOCKER-3.24", "DOCKER-2.7", "DOCKER-5.1", "DOCKER-5.2"} {
		i := slices.IndexFunc(rs, func(r compliance.Result) bool { return r.CheckID == id })
		if i < 0 || rs[i].Status != na {
			t.Errorf("%s: %+v; want not-applicable", id, rs[i])
		}
	}
}
