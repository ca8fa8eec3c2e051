package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/moby/client"
)

// Options say where to look.
type Options struct {
	// Host is the daemon address (DOCKER_HOST form); empty means the
	// environment's DOCKER_HOST or the default socket.
	Host string
	// HostRoot is where the host's file system is (a container running
	// the check with the host's / mounted at /host passes "/host"). Host
	// files, /proc and the mount table are read under it.
	HostRoot string
	// Auditctl is the auditctl program ("" looks it up in PATH; "-"
	// disables it).
	Auditctl string
	// Getenv reads the checking process's environment (os.Getenv when
	// nil).
	Getenv func(string) string
	Logger *slog.Logger
}

// maxConfig bounds daemon.json and audit rules files.
const maxConfig = 4 << 20

// Collect gathers the facts from the daemon and the host.
func Collect(ctx context.Context, o Options) (*Facts, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	root := o.HostRoot
	if root == "" {
		root = "/"
	}
	copts := []client.Opt{client.FromEnv}
	if o.Host != "" {
		copts = append(copts, client.WithHost(o.Host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()

	f := &Facts{
		Target:    "docker:" + cli.DaemonHost(),
		HostRoot:  root,
		Env:       map[string]string{},
		Processes: map[string][]string{},
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker info (%s): %w", cli.DaemonHost(), err)
	}
	if f.Info, err = toMap(info.Info); err != nil {
		return nil, fmt.Errorf("docker info: %w", err)
	}
	f.Hostname = info.Info.Name
	f.AllImages = info.Info.Images
	f.AllContainers = info.Info.Containers

	list, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker container list: %w", err)
	}
	f.Containers = make([]map[string]any, len(list.Items))
	imageIDs := map[string]bool{}
	for _, c := range list.Items {
		imageIDs[c.ImageID] = true
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range imageIDs {
			if !yield(id) {
				return
			}
		}
	})
	f.Images = make([]map[string]any, len(ids))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, 8)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	for i, c := range list.Items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil {
				if !strings.Contains(err.Error(), "No such container") {
					fail(fmt.Errorf("docker inspect %s: %w", short(c.ID), err))
				}
				return // gone since the list: not running any more
			}
			m, err := decodeJSON(res.Raw)
			if err != nil {
				fail(fmt.Errorf("docker inspect %s: %w", short(c.ID), err))
				return
			}
			f.Containers[i] = m
		})
	}
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var raw bytes.Buffer
			if _, err := cli.ImageInspect(ctx, id, client.ImageInspectWithRawResponse(&raw)); err != nil {
				o.Logger.Warn("image inspect failed", "image", id, "err", err)
				return
			}
			m, err := decodeJSON(raw.Bytes())
			if err != nil {
				fail(fmt.Errorf("image inspect %s: %w", short(id), err))
				return
			}
			hist := []any{}
			if h, err := cli.ImageHistory(ctx, id); err == nil {
				for j := len(h.Items) - 1; j >= 0; j-- {
					hist = append(hist, h.Items[j].CreatedBy)
				}
			}
			m["History"] = hist
			f.Images[i] = m
		})
	}
	wg.Go(func() { f.Daemon = findDaemon(root, cli.DaemonHost(), info.Info.DockerRootDir) })
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	f.Containers = slices.DeleteFunc(f.Containers, func(m map[string]any) bool { return m == nil })
	f.Images = slices.DeleteFunc(f.Images, func(m map[string]any) bool { return m == nil })

	f.ConfigFile = "/etc/docker/daemon.json"
	if f.Daemon != nil {
		if v := flagValues(f.Daemon.Cmdline, "config-file", ""); len(v) > 0 {
			f.ConfigFile = v[len(v)-1]
		}
	}
	if data, err := readBounded(hostPath(root, f.ConfigFile)); err == nil {
		if f.Config, err = decodeJSON(data); err != nil {
			f.ConfigErr = err.Error()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		f.ConfigErr = err.Error()
	}
	f.Processes = containerProcesses(root)
	f.Mounts = readMounts(root)
	f.Files = statFiles(root, f)
	f.Audit = readAudit(root, o.Auditctl)
	for _, t := range auditTargets(f) {
		_, err := os.Stat(hostPath(root, t[1]))
		f.Audit.Targets = append(f.Audit.Targets, AuditTarget{Key: t[0], Path: t[1], Exists: t[1] != "" && err == nil})
	}
	f.DockerGroup = groupMembers(root, "docker")
	if v, ok := os.LookupEnv("DOCKER_CONTENT_TRUST"); ok || o.Getenv("DOCKER_CONTENT_TRUST") != "" {
		f.Env["DOCKER_CONTENT_TRUST"] = cmpOr(o.Getenv("DOCKER_CONTENT_TRUST"), v)
	}
	return f, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// hostPath joins a host path under the host root without following the
// path out of it (the path itself comes from trusted-ish daemon config,
// but a root-relative join must not climb above root either way).
func hostPath(root, p string) string {
	return filepath.Join(root, filepath.Clean("/"+p))
}

func readBounded(p string) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(fh, maxConfig+1))
	if err != nil {
		return nil, err
	}
	if n > maxConfig {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxConfig)
	}
	return b.Bytes(), nil
}

// toMap round-trips a value through JSON into maps.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// decodeJSON decodes a JSON object with integral numbers as int64 (CEL
// compares int with int; float64 would make `Memory == 0` a type error
// in user checks that forget a ".0").
func decodeJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

var hexID = regexp.MustCompile(`[0-9a-f]{64}`)

// containerProcesses maps container ids to the command names of their
// processes, from every /proc/<pid>/cgroup that names a container id.
func containerProcesses(root string) map[string][]string {
	out := map[string][]string{}
	procDir := hostPath(root, "/proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		id := hexID.Find(cg)
		if id == nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if !slices.Contains(out[string(id)], name) {
			out[string(id)] = append(out[string(id)], name)
		}
	}
	return out
}

// findDaemon picks the dockerd process serving host: one whose -H list
// (or the default socket) names it, and whose data root matches.
func findDaemon(root, host, dataRoot string) *Process {
	procDir := hostPath(root, "/proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	want := normSock(host)
	var best *Process
	bestScore := -1
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		pid, _ := strconv.Atoi(e.Name())
		p := &Process{PID: pid, Cmdline: args}
		if exe, err := os.Readlink(filepath.Join(procDir, e.Name(), "exe")); err == nil {
			p.Exe = exe
		} else {
			p.Exe = args[0]
		}
		score := 0
		hosts := flagValues(args, "host", "H")
		if len(hosts) == 0 {
			hosts = []string{"unix:///var/run/docker.sock"}
		}
		for _, h := range hosts {
			if normSock(h) == want || (h == "fd://" && want == "unix:///run/docker.sock") {
				score += 2
			}
		}
		dr := flagValues(args, "data-root", "g")
		if len(dr) == 0 {
			dr = []string{"/var/lib/docker"}
		}
		if dataRoot != "" && filepath.Clean(dr[len(dr)-1]) == filepath.Clean(dataRoot) {
			score++
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	// A daemon that does not listen on the checked address is another
	// daemon: better to know nothing (manual results) than to attribute
	// its flags to a remote one. The data root alone identifies a local
	// daemon reached through a socket it does not name (socket
	// activation, a symlinked path).
	if bestScore >= 2 || bestScore == 1 && strings.HasPrefix(want, "unix://") {
		return best
	}
	return nil
}

func normSock(h string) string {
	if p, ok := strings.CutPrefix(h, "unix://"); ok {
		p = filepath.Clean(p)
		if r, ok := strings.CutPrefix(p, "/var/run/"); ok {
			p = "/run/" + r
		}
		return "unix://" + p
	}
	return h
}

// readMounts reads the host's mount table: the init process's, else ours.
func readMounts(root string) []Mount {
	var data []byte
	for _, p := range []string{"/proc/1/mounts", "/proc/self/mounts"} {
		if b, err := readBounded(hostPath(root, p)); err == nil {
			data = b
			break
		}
	}
	var out []Mount
	for l := range strings.SplitSeq(string(data), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 3 {
			continue
		}
		out = append(out, Mount{Source: unescapeMount(fs[0]), Target: unescapeMount(fs[1]), FSType: fs[2]})
	}
	return out
}

// unescapeMount undoes /proc/mounts' octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unitDirs are where systemd units live, highest precedence first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

func findUnit(root, name string) string {
	for _, d := range unitDirs {
		p := path.Join(d, name)
		if _, err := os.Stat(hostPath(root, p)); err == nil {
			return p
		}
	}
	return ""
}

// statFiles stats the files section 3 is about.
func statFiles(root string, f *Facts) []File {
	type want struct{ role, path string }
	var ws []want
	if p := findUnit(root, "docker.service"); p != "" {
		ws = append(ws, want{"docker.service", p})
	}
	if p := findUnit(root, "docker.socket"); p != "" {
		ws = append(ws, want{"docker.socket", p})
	}
	ws = append(ws, want{"etc-docker", "/etc/docker"}, want{"daemon.json", f.ConfigFile},
		want{"etc-default-docker", "/etc/default/docker"}, want{"etc-sysconfig-docker", "/etc/sysconfig/docker"},
		want{"containerd.sock", "/run/containerd/containerd.sock"})
	if sock, ok := strings.CutPrefix(strings.TrimPrefix(f.Target, "docker:"), "unix://"); ok {
		ws = append(ws, want{"docker.sock", sock})
	}
	opts := Resolve(f)
	for _, role := range []string{"tlscacert", "tlscert", "tlskey"} {
		if o := opts[role]; o.Set {
			if s, ok := o.Value.(string); ok && s != "" {
				ws = append(ws, want{role, s})
			}
		}
	}
	// Registry certificates: /etc/docker/certs.d/<registry>/*.
	certs := hostPath(root, "/etc/docker/certs.d")
	filepath.WalkDir(certs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(certs, p)
		ws = append(ws, want{"registry-cert", path.Join("/etc/docker/certs.d", filepath.ToSlash(rel))})
		return nil
	})
	users := idNames(root, "/etc/passwd")
	groups := idNames(root, "/etc/group")
	out := make([]File, 0, len(ws))
	for _, w := range ws {
		fi := File{Role: w.role, Path: w.path}
		st, err := os.Lstat(hostPath(root, w.path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			fi.Err = err.Error()
		default:
			fi.Exists = true
			fi.Mode = int(st.Mode().Perm())
			if st.Mode()&fs.ModeSetuid != 0 {
				fi.Mode |= 0o4000
			}
			if st.Mode()&fs.ModeSetgid != 0 {
				fi.Mode |= 0o2000
			}
			if st.Mode()&fs.ModeSticky != 0 {
				fi.Mode |= 0o1000
			}
			switch {
			case st.Mode().IsRegular():
				fi.Type = "file"
			case st.IsDir():
				fi.Type = "dir"
			case st.Mode()&fs.ModeSocket != 0:
				fi.Type = "socket"
			case st.Mode()&fs.ModeSymlink != 0:
				fi.Type = "symlink"
			default:
				fi.Type = "other"
			}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				fi.UID, fi.GID = int(sys.Uid), int(sys.Gid)
				fi.User, fi.Group = users[fi.UID], groups[fi.GID]
			}
		}
		out = append(out, fi)
	}
	return out
}

// idNames maps ids to names from a passwd or group file.
func idNames(root, file string) map[int]string {
	out := map[int]string{}
	data, err := readBounded(hostPath(root, file))
	if err != nil {
		return out
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		fs := strings.Split(l, ":")
		if len(fs) < 3 {
			continue
		}
		if id, err := strconv.Atoi(fs[2]); err == nil {
			if _, dup := out[id]; !dup {
				out[id] = fs[0]
			}
		}
	}
	return out
}

func groupMembers(root, name string) []string {
	data, err := readBounded(hostPath(root, "/etc/group"))
	if err != nil {
		return nil
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		fs := strings.Split(l, ":")
		if len(fs) == 4 && fs[0] == name {
			out := []string{}
			for m := range strings.SplitSeq(fs[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					out = append(out, m)
				}
			}
			return out
		}
	}
	return nil
}

// auditPaths are the files and directories CIS 1.1.3-1.1.18 want audited.
func auditPaths(f *Facts) []string {
	dockerd := "/usr/bin/dockerd"
	if f.Daemon != nil && strings.HasPrefix(f.Daemon.Exe, "/") {
		dockerd = f.Daemon.Exe
	}
	dataRoot, _ := f.Info["DockerRootDir"].(string)
	return []string{dockerd, "/run/containerd", cmpOr(dataRoot, "/var/lib/docker"), "/etc/docker",
		findUnit(f.HostRoot, "docker.service"), "/run/containerd/containerd.sock", findUnit(f.HostRoot, "docker.socket"),
		"/etc/default/docker", f.ConfigFile, "/etc/containerd/config.toml", "/etc/sysconfig/docker",
		"/usr/bin/containerd", "/usr/bin/containerd-shim", "/usr/bin/containerd-shim-runc-v1",
		"/usr/bin/containerd-shim-runc-v2", "/usr/bin/runc"}
}

// readAudit collects the watch rules (-w PATH, or -F path=/dir=) from the
// rules files and, when auditctl runs, the loaded rules.
func readAudit(root, auditctl string) Audit {
	a := Audit{Rules: map[string]string{}, Loaded: []string{}, RuleFiles: []string{}}
	files, _ := filepath.Glob(hostPath(root, "/etc/audit/rules.d/*.rules"))
	files = append(files, hostPath(root, "/etc/audit/audit.rules"))
	for _, p := range files {
		data, err := readBounded(p)
		if err != nil {
			continue
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, filepath.Clean(root)), "/")
		a.RuleFiles = append(a.RuleFiles, rel)
		sc := bufio.NewScanner(bytes.NewReader(data))
		n := 0
		for sc.Scan() {
			n++
			l := strings.TrimSpace(sc.Text())
			if l == "" || l[0] == '#' {
				continue
			}
			if w := watchedPath(l); w != "" {
				if _, dup := a.Rules[w]; !dup {
					a.Rules[w] = fmt.Sprintf("%s:%d: %s", rel, n, l)
				}
			}
		}
	}
	if auditctl == "-" {
		a.AuditctlErr = "disabled"
		return a
	}
	if auditctl == "" {
		p, err := exec.LookPath("auditctl")
		if err != nil {
			a.AuditctlErr = "auditctl not found in PATH"
			return a
		}
		auditctl = p
	}
	out, err := exec.Command(auditctl, "-l").Output()
	if err != nil {
		a.AuditctlErr = fmt.Sprintf("%s -l: %v", auditctl, err)
		return a
	}
	a.Auditctl = true
	for l := range strings.SplitSeq(string(out), "\n") {
		if w := watchedPath(strings.TrimSpace(l)); w != "" && !slices.Contains(a.Loaded, w) {
			a.Loaded = append(a.Loaded, w)
		}
	}
	return a
}

// watchedPath returns the path an audit rule watches: `-w PATH ...` or
// `-a ... -F path=PATH` / `-F dir=PATH`.
func watchedPath(rule string) string {
	fs := strings.Fields(rule)
	for i, f := range fs {
		if f == "-w" && i+1 < len(fs) {
			return filepath.Clean(fs[i+1])
		}
		if f == "-F" && i+1 < len(fs) {
			for _, k := range []string{"path=", "dir="} {
				if v, ok := strings.CutPrefix(fs[i+1], k); ok {
					return filepath.Clean(v)
				}
			}
		}
	}
	return ""
}
