package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestFlagValues(t *testing.T) {
	args := []string{"/usr/sbin/dockerd", "-H", "fd://", "--host=tcp://0.0.0.0:2376", "--icc=false", "--live-restore",
		"-l", "debug", "--insecure-registry", "a:5000", "--insecure-registry=b:5000", "-Dsomething", "--tlsverify", "--config-file", "/x/d.json"}
	tests := []struct {
		name, short string
		want        []string
	}{
		{"host", "H", []string{"fd://", "tcp://0.0.0.0:2376"}},
		{"icc", "", []string{"false"}},
		{"live-restore", "", []string{"true"}},
		{"log-level", "l", []string{"debug"}},
		{"insecure-registry", "", []string{"a:5000", "b:5000"}},
		{"tlsverify", "", []string{"true"}},
		{"config-file", "", []string{"/x/d.json"}},
		{"userns-remap", "", nil},
	}
	for _, tt := range tests {
		if got := flagValues(args, tt.name, tt.short); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestResolvePrecedence(t *testing.T) {
	f := &Facts{
		Daemon:     &Process{PID: 7, Cmdline: []string{"dockerd", "--icc=false"}},
		ConfigFile: "/etc/docker/daemon.json",
		Config:     map[string]any{"live-restore": true, "insecure-registries": []any{"r:1"}, "default-ulimits": map[string]any{"nofile": map[string]any{}}},
		Info:       map[string]any{"LiveRestoreEnabled": false, "Driver": "overlay2", "SecurityOptions": []any{"name=seccomp,profile=builtin", "name=userns"}},
	}
	o := Resolve(f)
	check := func(name string, value any, source string) {
		t.Helper()
		got := o[name]
		if !reflect.DeepEqual(got.Value, value) {
			t.Errorf("%s = %v, want %v", name, got.Value, value)
		}
		if got.Source != source {
			t.Errorf("%s source %q, want %q", name, got.Source, source)
		}
	}
	check("icc", false, "flag --icc=false (dockerd pid 7)")
	check("live-restore", true, `/etc/docker/daemon.json: "live-restore"`)
	check("storage-driver", "overlay2", "docker info: Driver")
	check("userland-proxy", true, "default")
	check("userns-remap", "enabled", "docker info: SecurityOptions name=userns")
	check("seccomp", "builtin", "docker info: SecurityOptions name=seccomp,profile=builtin")
	check("insecure-registry", []any{"r:1"}, `/etc/docker/daemon.json: "insecure-registries"`)
	check("default-ulimit", []any{"nofile"}, `/etc/docker/daemon.json: "default-ulimits"`)
	f.Daemon = nil
	if o := Resolve(f); o["icc"].Known || !o["live-restore"].Known {
		t.Errorf("without the daemon's command line: icc known %v, live-restore known %v", o["icc"].Known, o["live-restore"].Known)
	}
}

// TestHostRoot reads files, audit rules, groups and the mount table under
// a host root, and runs a stand-in auditctl.
func TestHostRoot(t *testing.T) {
	root := t.TempDir()
	w := func(p, body string, mode os.FileMode) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(full, mode)
	}
	w("etc/docker/daemon.json", `{"icc": false}`, 0o666)
	w("lib/systemd/system/docker.service", "[Service]\n", 0o644)
	w("etc/group", "root:x:0:\ndocker:x:999:alice,bob\n", 0o644)
	w("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	w("etc/audit/rules.d/docker.rules", "# docker\n-w /etc/docker -k docker\n-a always,exit -F path=/usr/bin/runc -k docker\n", 0o640)
	w("proc/1/mounts", "/dev/vdb /var/lib/docker ext4 rw 0 0\n/dev/vda / ext4 rw 0 0\n", 0o444)
	auditctl := filepath.Join(t.TempDir(), "auditctl")
	if err := os.WriteFile(auditctl, []byte("#!/bin/sh\necho '-w /etc/docker -p rwxa -k docker'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &Facts{HostRoot: root, Target: "docker:unix:///nonexistent.sock", ConfigFile: "/etc/docker/daemon.json", Info: map[string]any{}}
	f.Files = statFiles(root, f)
	f.Audit = readAudit(root, auditctl)
	f.Mounts = readMounts(root)
	if g := groupMembers(root, "docker"); !slices.Equal(g, []string{"alice", "bob"}) {
		t.Errorf("docker group %v", g)
	}
	var dj *File
	for i := range f.Files {
		if f.Files[i].Role == "daemon.json" {
			dj = &f.Files[i]
		}
	}
	if dj == nil || !dj.Exists || dj.Mode != 0o666 || dj.Type != "file" || dj.User != "root" && dj.UID == 0 {
		t.Errorf("daemon.json stat %+v", dj)
	}
	if f.Audit.Rules["/etc/docker"] != "/etc/audit/rules.d/docker.rules:2: -w /etc/docker -k docker" || f.Audit.Rules["/usr/bin/runc"] == "" {
		t.Errorf("rules %v", f.Audit.Rules)
	}
	if !f.Audit.Auditctl || !slices.Equal(f.Audit.Loaded, []string{"/etc/docker"}) {
		t.Errorf("auditctl: %v %v %s", f.Audit.Auditctl, f.Audit.Loaded, f.Audit.AuditctlErr)
	}
	if len(f.Mounts) != 2 || f.Mounts[0].Target != "/var/lib/docker" {
		t.Errorf("mounts %v", f.Mounts)
	}
}

func FuzzDaemonArgs(f *testing.F) {
	f.Add("dockerd\x00-H\x00fd://\x00--icc=false\x00-l\x00debug", "-w /etc/docker -k docker")
	f.Add("\x00--\x00-", "-a always,exit -F dir=/var/lib/docker")
	f.Fuzz(func(t *testing.T, cmdline, rule string) {
		args := splitNUL(cmdline)
		for _, o := range daemonOptions {
			flagValues(args, o.name, o.short)
		}
		Resolve(&Facts{Daemon: &Process{Cmdline: args}, Info: map[string]any{}})
		watchedPath(rule)
		unescapeMount(rule)
	})
}

func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestFindDaemon(t *testing.T) {
	root := t.TempDir()
	proc := func(pid, comm string, args ...string) {
		d := filepath.Join(root, "proc", pid)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "comm"), []byte(comm+"\n"), 0o644)
		var b []byte
		for _, a := range args {
			b = append(append(b, a...), 0)
		}
		os.WriteFile(filepath.Join(d, "cmdline"), b, 0o644)
	}
	proc("10", "dockerd", "/usr/sbin/dockerd")
	proc("20", "dockerd", "dockerd", "-H", "unix:///tmp/d2/docker.sock", "--data-root", "/tmp/d2/data")
	proc("30", "sh", "sh")
	tests := []struct {
		host, dataRoot string
		want           int
	}{
		{"unix:///var/run/docker.sock", "/var/lib/docker", 10},
		{"unix:///run/docker.sock", "/var/lib/docker", 10},
		{"unix:///tmp/d2/docker.sock", "/tmp/d2/data", 20},
		{"tcp://10.0.0.9:2376", "/var/lib/docker", 0}, // a remote daemon: not the local one
	}
	for _, tt := range tests {
		p := findDaemon(root, tt.host, tt.dataRoot)
		got := 0
		if p != nil {
			got = p.PID
		}
		if got != tt.want {
			t.Errorf("%s: pid %d, want %d", tt.host, got, tt.want)
		}
	}
}
