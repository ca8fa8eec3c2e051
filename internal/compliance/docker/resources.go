package docker

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
)

// Resource types the checks' appliesTo name.
const (
	TypeHost      = "DockerHost"
	TypeDaemon    = "DockerDaemon"
	TypeFiles     = "DockerFiles"
	TypeImage     = "DockerImage"
	TypeContainer = "DockerContainer"
)

// auditTargets are the keys of the host's "audit" object and the paths
// CIS-Docker 1.1.3-1.1.18 name, in benchmark order.
func auditTargets(f *Facts) [][2]string {
	ps := auditPaths(f)
	keys := []string{"dockerd", "run-containerd", "data-root", "etc-docker", "docker.service", "containerd.sock",
		"docker.socket", "etc-default-docker", "daemon.json", "containerd-config", "etc-sysconfig-docker",
		"containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc"}
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, ps[i]}
	}
	return out
}

// Resources shapes the facts into the resources the checks evaluate:
// the host, the daemon, the daemon's files, each image in use and each
// running container.
func Resources(f *Facts) ([]compliance.Resource, error) {
	opts := Resolve(f)
	optMap := map[string]any{}
	for k, o := range opts {
		m, err := toMap(o)
		if err != nil {
			return nil, err
		}
		optMap[k] = m
	}
	host, err := hostObject(f)
	if err != nil {
		return nil, err
	}
	daemonName := strings.TrimPrefix(f.Target, "docker:")
	daemon := map[string]any{
		"host": daemonName, "options": optMap, "configFile": f.ConfigFile, "configErr": f.ConfigErr,
		"configPresent": f.Config != nil, "pid": int64(0), "cmdline": []any{}, "visible": f.Daemon != nil,
		"info": f.Info,
	}
	if f.Daemon != nil {
		daemon["pid"] = int64(f.Daemon.PID)
		daemon["cmdline"] = listOf(f.Daemon.Cmdline)
	}
	files := make([]any, 0, len(f.Files))
	for _, fi := range f.Files {
		m, err := toMap(fi)
		if err != nil {
			return nil, err
		}
		m["modeString"] = fmt.Sprintf("%04o", fi.Mode)
		m["owner"] = fmt.Sprintf("%s:%s", cmpOr(fi.User, fmt.Sprint(fi.UID)), cmpOr(fi.Group, fmt.Sprint(fi.GID)))
		files = append(files, m)
	}
	hostname := cmpOr(f.Hostname, "host")
	rs := []compliance.Resource{
		res(f, "Host", hostname, "", TypeHost, host),
		res(f, "Daemon", daemonName, "", TypeDaemon, daemon),
		res(f, "Files", hostname, "", TypeFiles, map[string]any{"files": files}),
	}
	for _, img := range f.Images {
		id, _ := img["Id"].(string)
		name := short(id)
		if tags := listOf(img["RepoTags"]); len(tags) > 0 {
			name, _ = tags[0].(string)
		}
		rs = append(rs, res(f, "Image", name, id, TypeImage, img))
	}
	ctx := map[string]any{
		"apparmor":              opts["apparmor"].Value,
		"selinux":               opts["selinux-enabled"].Value,
		"daemonNoNewPrivileges": opts["no-new-privileges"].Value,
		"dockerSock":            strings.TrimPrefix(daemonName, "unix://"),
	}
	for _, c := range f.Containers {
		id, _ := c["Id"].(string)
		name, _ := c["Name"].(string)
		name = strings.TrimPrefix(name, "/")
		cc := make(map[string]any, len(ctx)+1)
		for k, v := range ctx {
			cc[k] = v
		}
		cc["processes"] = listOf(f.Processes[id])
		obj := make(map[string]any, len(c)+1)
		for k, v := range c {
			obj[k] = v
		}
		obj["context"] = cc
		rs = append(rs, res(f, "Container", name, id, TypeContainer, obj))
	}
	return rs, nil
}

func res(f *Facts, kind, name, id, typ string, obj map[string]any) compliance.Resource {
	return compliance.Resource{
		Kind: kind, Name: name, ID: id, Target: f.Target, Domain: "docker", Types: []string{typ},
		Vars: map[string]any{"object": obj, "kind": kind, "name": name},
	}
}

func hostObject(f *Facts) (map[string]any, error) {
	dataRoot, _ := f.Info["DockerRootDir"].(string)
	dataRoot = cmpOr(dataRoot, "/var/lib/docker")
	var mount, best *Mount
	for i := range f.Mounts {
		m := &f.Mounts[i]
		if m.Target == dataRoot {
			mount = m // the last one wins, as in the kernel's table
		}
		if strings.HasPrefix(dataRoot+"/", strings.TrimSuffix(m.Target, "/")+"/") && (best == nil || len(m.Target) >= len(best.Target)) {
			best = m
		}
	}
	mountOf := func(m *Mount) any {
		if m == nil {
			return nil
		}
		return map[string]any{"source": m.Source, "target": m.Target, "fstype": m.FSType}
	}
	audit := map[string]any{}
	for _, t := range f.Audit.Targets {
		key, p := t.Key, t.Path
		a := map[string]any{"path": p, "exists": t.Exists, "loaded": false, "inFiles": "", "auditctl": f.Audit.Auditctl}
		if p != "" {
			alt := altRun(p)
			for _, q := range []string{p, alt} {
				if r, ok := f.Audit.Rules[q]; ok && a["inFiles"] == "" {
					a["inFiles"] = r
				}
				if slices.Contains(f.Audit.Loaded, q) {
					a["loaded"] = true
				}
			}
		}
		var ev []string
		if r := a["inFiles"].(string); r != "" {
			ev = append(ev, "rule "+r)
		} else if len(f.Audit.RuleFiles) > 0 {
			ev = append(ev, "no rule for "+p+" in "+strings.Join(f.Audit.RuleFiles, ", "))
		} else {
			ev = append(ev, "no audit rules files (/etc/audit/rules.d/*.rules, /etc/audit/audit.rules)")
		}
		switch {
		case a["loaded"] == true:
			ev = append(ev, "loaded (auditctl -l)")
		case f.Audit.Auditctl:
			ev = append(ev, "not loaded (auditctl -l)")
		default:
			ev = append(ev, "loaded rules unknown: "+f.Audit.AuditctlErr)
		}
		a["evidence"] = strings.Join(ev, "; ")
		audit[key] = a
	}
	inUse := map[string]bool{}
	for _, c := range f.Containers {
		if id, ok := c["Image"].(string); ok {
			inUse[id] = true
		}
	}
	swarm := ""
	if s, ok := f.Info["Swarm"].(map[string]any); ok {
		swarm, _ = s["LocalNodeState"].(string)
	}
	var group any
	if f.DockerGroup != nil {
		group = listOf(f.DockerGroup)
	}
	return map[string]any{
		"hostname": f.Hostname, "hostRoot": f.HostRoot, "dataRoot": dataRoot,
		"dataRootMount": mountOf(mount), "dataRootOn": mountOf(best),
		"audit": audit, "auditRuleFiles": listOf(f.Audit.RuleFiles),
		"env": envMap(f.Env), "dockerGroup": group,
		"images": int64(f.AllImages), "imagesInUse": int64(len(inUse)),
		"containers": int64(f.AllContainers), "running": int64(len(f.Containers)),
		"swarm": swarm,
	}, nil
}

func envMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// altRun maps /var/run/x to /run/x and back: audit rules name either.
func altRun(p string) string {
	if r, ok := strings.CutPrefix(p, "/var/run/"); ok {
		return "/run/" + r
	}
	if r, ok := strings.CutPrefix(p, "/run/"); ok {
		return "/var/run/" + r
	}
	return filepath.Clean(p)
}
