package docker

import (
	"embed"
)

// Checks holds the built-in CIS Docker checks, checks/*.yaml.
//
//go:embed checks/*.yaml
var Checks embed.FS

// Facts is everything the checks look at, gathered once. Maps hold JSON
// as decoded by decodeJSON (integral numbers are int64).
type Facts struct {
	// Target names the daemon: "docker:unix:///var/run/docker.sock".
	Target   string `json:"target"`
	Hostname string `json:"hostname"`
	HostRoot string `json:"hostRoot"`
	// Info is `docker info` (GET /info).
	Info map[string]any `json:"info"`
	// Daemon is the dockerd process serving Target, when visible.
	Daemon *Process `json:"daemon,omitempty"`
	// ConfigFile is the daemon's config file (--config-file or
	// /etc/docker/daemon.json); Config its content, ConfigErr why it could
	// not be read (absent is not an error: Config is nil).
	ConfigFile string         `json:"configFile"`
	Config     map[string]any `json:"config,omitempty"`
	ConfigErr  string         `json:"configErr,omitempty"`
	// Containers are the inspect documents of the running containers.
	Containers []map[string]any `json:"containers"`
	// Images are the inspect documents of the images the running
	// containers use, each with "History": the created-by commands,
	// oldest first.
	Images []map[string]any `json:"images"`
	// Processes maps a container id to the command names of its
	// processes (from /proc/*/cgroup and comm).
	Processes map[string][]string `json:"processes,omitempty"`
	Files     []File              `json:"files"`
	Mounts    []Mount             `json:"mounts"`
	Audit     Audit               `json:"audit"`
	// Env holds the variables of the checking process that the
	// benchmark looks at (DOCKER_CONTENT_TRUST).
	Env map[string]string `json:"env"`
	// DockerGroup lists the members of the host's docker group; nil when
	// the group does not exist.
	DockerGroup []string `json:"dockerGroup"`
	// AllImages and AllContainers count every image and container,
	// running or not (image and container sprawl).
	AllImages     int `json:"allImages"`
	AllContainers int `json:"allContainers"`
}

// Process is a dockerd process.
type Process struct {
	PID     int      `json:"pid"`
	Exe     string   `json:"exe"`
	Cmdline []string `json:"cmdline"`
}

// File is the stat of one file the benchmark cares about.
type File struct {
	// Role says what the file is: docker.service, docker.socket,
	// etc-docker, registry-cert, tlscacert, tlscert, tlskey, docker.sock,
	// daemon.json, etc-default-docker, etc-sysconfig-docker,
	// containerd.sock.
	Role   string `json:"role"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	User   string `json:"user,omitempty"`
	Group  string `json:"group,omitempty"`
	// Mode is the permission bits with setuid/setgid/sticky, as in
	// chmod: 0o644 is 420.
	Mode int    `json:"mode"`
	Type string `json:"type"` // file, dir, socket, symlink, other
	Err  string `json:"err,omitempty"`
}

// Mount is one line of the host's mount table.
type Mount struct {
	Source string `json:"source"`
	Target string `json:"target"`
	FSType string `json:"fstype"`
}

// Audit holds the audit rules found for the Docker files.
type Audit struct {
	// RuleFiles are the rules files read (/etc/audit/rules.d/*.rules,
	// /etc/audit/audit.rules).
	RuleFiles []string `json:"ruleFiles"`
	// Rules are the watch rules in them: path → "file:line: rule".
	Rules map[string]string `json:"rules"`
	// Auditctl says whether `auditctl -l` ran; Loaded are the paths its
	// rules watch; AuditctlErr why it did not run.
	Auditctl    bool     `json:"auditctl"`
	Loaded      []string `json:"loaded"`
	AuditctlErr string   `json:"auditctlErr,omitempty"`
	// Targets are the files CIS-Docker 1.1.3-1.1.18 want audited, in
	// benchmark order, and whether each exists on the host.
	Targets []AuditTarget `json:"targets"`
}

// AuditTarget is one file that should be audited.
type AuditTarget struct {
	Key    string `json:"key"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
}

// Normalize re-decodes the JSON documents in f the way Collect produces
// them (integral numbers as int64), for facts read back from a file.
func Normalize(f *Facts) error {
	fix := func(m map[string]any) (map[string]any, error) {
		if m == nil {
			return nil, nil
		}
		return toMap(m)
	}
	var err error
	if f.Info, err = fix(f.Info); err != nil {
		return err
	}
	if f.Config, err = fix(f.Config); err != nil {
		return err
	}
	for i := range f.Containers {
		if f.Containers[i], err = fix(f.Containers[i]); err != nil {
			return err
		}
	}
	for i := range f.Images {
		if f.Images[i], err = fix(f.Images[i]); err != nil {
			return err
		}
	}
	return nil
}
