package sensor

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Container is what the sensor knows about a container.
type Container struct {
	ID          string // full 64-hex id
	Type        string // "docker"
	Name        string
	Image       string // as the container was created from ("nginx:1.27")
	ImageID     string
	ImageRepo   string
	ImageTag    string
	ImageDigest string
	Privileged  bool
	Labels      map[string]string
	Mounts      []Mount
	Started     time.Time
	// drift answers from the image's file list when the writable layer
	// is not visible (SetDrift).
	drift DriftSource
	// upper is the writable layer directory on the host, when the storage
	// driver reports one (overlay2, fuse-overlayfs).
	upper string
}

// Mount is one container mount.
type Mount struct {
	Source, Dest, Mode, Propagation string
	RW                              bool
}

// DriftSource says whether an executable was absent from a container's
// image, from the image's file list (internal/runtime/drift.Provider
// implements it without blocking: known is false until the list is
// loaded).
type DriftSource interface {
	Peek(imageID, exe string) (drift, known bool)
}

// Inspector returns container metadata by id. The Docker implementation
// is DockerInspector; tests supply their own.
type Inspector interface {
	Inspect(ctx context.Context, id string) (*Container, error)
}

// Containers maps events to containers: cgroup id → container id (from
// /proc/PID/cgroup, or by walking the cgroup v2 tree), container id →
// metadata (cached).
type Containers struct {
	insp Inspector
	log  *slog.Logger

	mu       sync.Mutex
	byCgroup map[uint64]string // "" for host
	byID     map[string]*Container
	proc     string
	drift    DriftSource
}

// SetDrift makes containers resolved from now on answer drift from their
// image's file list when their writable layer is not visible.
func (c *Containers) SetDrift(d DriftSource) {
	c.mu.Lock()
	c.drift = d
	c.mu.Unlock()
}

// NewContainers returns a resolver using insp for metadata (nil: ids only).
func NewContainers(insp Inspector, log *slog.Logger) *Containers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Containers{insp: insp, log: log, byCgroup: map[uint64]string{}, byID: map[string]*Container{}, proc: "/proc"}
}

var containerIDRe = regexp.MustCompile(`(?:^|[/-])([0-9a-f]{64})(?:\.scope)?(?:/|$)`)

// containerIDFromCgroupPath extracts a container id from a cgroup path:
// /docker/<id>, /system.slice/docker-<id>.scope, kubepods …/cri-containerd-<id>.scope.
func containerIDFromCgroupPath(p string) string {
	m := containerIDRe.FindStringSubmatch(p)
	if m == nil {
		return ""
	}
	return m[1]
}

// Lookup returns the container an event's task runs in, nil on the host.
func (c *Containers) Lookup(cgroupID uint64, pid uint32) *Container {
	c.mu.Lock()
	id, ok := c.byCgroup[cgroupID]
	c.mu.Unlock()
	if !ok {
		id = c.resolveCgroup(cgroupID, pid)
		c.mu.Lock()
		c.byCgroup[cgroupID] = id
		c.mu.Unlock()
	}
	if id == "" {
		return nil
	}
	return c.container(id)
}

func (c *Containers) resolveCgroup(cgroupID uint64, pid uint32) string {
	if f, err := os.Open(c.proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// "0::/docker/<id>" (v2) or "4:memory:/docker/<id>" (v1).
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) == 3 {
				if id := containerIDFromCgroupPath(parts[2]); id != "" {
					return id
				}
			}
		}
		return ""
	}
	// The task is gone: find the cgroup directory whose inode is the id.
	for _, root := range cgroup2Mounts() {
		if id := walkForCgroup(root, cgroupID); id != "" {
			return id
		}
	}
	return ""
}

func cgroup2Mounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		for i, x := range fs {
			if x == "-" && i+1 < len(fs) && fs[i+1] == "cgroup2" && len(fs) > 4 {
				out = append(out, fs[4])
			}
		}
	}
	return out
}

// walkForCgroup looks for a directory with inode ino, four levels deep at
// most, and returns the container id in its path.
func walkForCgroup(root string, ino uint64) string {
	var found string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > 4 || found != "" {
			return
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if inodeOf(p) == ino {
				found = containerIDFromCgroupPath(strings.TrimPrefix(p, root))
				return
			}
			walk(p, depth+1)
		}
	}
	walk(root, 0)
	return found
}

func (c *Containers) container(id string) *Container {
	c.mu.Lock()
	ct, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return ct
	}
	ct = &Container{ID: id, Type: "docker"}
	if c.insp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, err := c.insp.Inspect(ctx, id)
		cancel()
		if err != nil {
			c.log.Warn("container metadata unavailable", "container", id[:12], "err", err)
		} else {
			ct = got
		}
	}
	c.mu.Lock()
	ct.drift = c.drift
	c.byID[id] = ct
	c.mu.Unlock()
	return ct
}

// Forget drops cached metadata for a container (after it was removed).
func (c *Containers) Forget(id string) {
	c.mu.Lock()
	delete(c.byID, id)
	c.mu.Unlock()
}

// InUpperLayer reports whether path (inside the container) was written
// after the container started: it exists in the container's writable
// layer or, when the storage driver does not expose that layer, it is
// missing from the image's file list (SetDrift). known is false when
// neither can tell.
func (ct *Container) InUpperLayer(path string) (in, known bool) {
	if ct == nil || path == "" {
		return false, false
	}
	if ct.upper == "" {
		return ct.notInImage(path)
	}
	root, err := os.OpenRoot(ct.upper)
	if err != nil {
		return false, false
	}
	defer root.Close()
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		return false, true
	}
	_, err = root.Lstat(rel)
	return err == nil, true
}

// DockerInspector reads container metadata from the Docker Engine API.
type DockerInspector struct{ cli *client.Client }

// NewDockerInspector connects with the usual DOCKER_HOST environment.
func NewDockerInspector() (*DockerInspector, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	return &DockerInspector{cli: cli}, nil
}

// Client returns the Engine API client (prevention uses it to pause or
// stop containers).
func (d *DockerInspector) Client() *client.Client { return d.cli }

// Inspect implements Inspector.
func (d *DockerInspector) Inspect(ctx context.Context, id string) (*Container, error) {
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	r := res.Container
	ct := &Container{ID: r.ID, Type: "docker", Name: strings.TrimPrefix(r.Name, "/"), ImageID: r.Image}
	if r.Config != nil {
		ct.Image = r.Config.Image
		ct.Labels = r.Config.Labels
		ct.ImageRepo, ct.ImageTag, ct.ImageDigest = splitImageRef(r.Config.Image)
	}
	if r.HostConfig != nil {
		ct.Privileged = r.HostConfig.Privileged
	}
	if r.State != nil {
		ct.Started, _ = time.Parse(time.RFC3339Nano, r.State.StartedAt)
	}
	for _, m := range r.Mounts {
		ct.Mounts = append(ct.Mounts, Mount{Source: m.Source, Dest: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: string(m.Propagation)})
	}
	if r.GraphDriver != nil {
		ct.upper = r.GraphDriver.Data["UpperDir"]
	}
	return ct, nil
}

// splitImageRef splits "registry:5000/repo/name:tag@sha256:…" into
// repository, tag and digest.
func splitImageRef(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	repo = ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	if tag == "" && digest == "" {
		tag = "latest"
	}
	return repo, tag, digest
}

// notInImage answers drift from the image's file list: a path missing
// from the image was written after the container started. Paths under a
// mount come from the host or a volume, not the image: unknown.
func (ct *Container) notInImage(path string) (drift, known bool) {
	if ct.drift == nil || ct.ImageID == "" {
		return false, false
	}
	p := filepath.Clean("/" + path)
	for _, m := range ct.Mounts {
		d := filepath.Clean("/" + m.Dest)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return false, false
		}
	}
	return ct.drift.Peek(ct.ImageID, p)
}
