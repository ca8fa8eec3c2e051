package docker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Option is one daemon setting as the daemon runs with it.
type Option struct {
	Value any `json:"value"`
	// Set says the value was given (flag or config file) rather than
	// being the default.
	Set bool `json:"set"`
	// Source says where the value came from: "flag --icc=false (dockerd
	// pid 812)", "/etc/docker/daemon.json: \"icc\"", "docker info:
	// LiveRestoreEnabled", "default".
	Source string `json:"source"`
	// Known is false when neither the daemon's command line nor docker
	// info could tell (a remote daemon): a person must look.
	Known bool `json:"known"`
}

// optionKind is how a dockerd flag takes its value.
type optionKind int

const (
	kBool optionKind = iota
	kString
	kList
)

// daemonOptions are the dockerd settings the benchmark reads: flag name,
// short flag, daemon.json key, kind and default.
var daemonOptions = []struct {
	name, short, key string
	kind             optionKind
	def              any
}{
	{"icc", "", "icc", kBool, true},
	{"userland-proxy", "", "userland-proxy", kBool, true},
	{"live-restore", "", "live-restore", kBool, false},
	{"log-level", "l", "log-level", kString, "info"},
	{"debug", "D", "debug", kBool, false},
	{"iptables", "", "iptables", kBool, true},
	{"tls", "", "tls", kBool, false},
	{"tlsverify", "", "tlsverify", kBool, false},
	{"tlscacert", "", "tlscacert", kString, ""},
	{"tlscert", "", "tlscert", kString, ""},
	{"tlskey", "", "tlskey", kString, ""},
	{"host", "H", "hosts", kList, []any{}},
	{"userns-remap", "", "userns-remap", kString, ""},
	{"default-ulimit", "", "default-ulimits", kList, []any{}},
	{"no-new-privileges", "", "no-new-privileges", kBool, false},
	{"insecure-registry", "", "insecure-registries", kList, []any{}},
	{"storage-driver", "s", "storage-driver", kString, ""},
	{"storage-opt", "", "storage-opts", kList, []any{}},
	{"authorization-plugin", "", "authorization-plugins", kList, []any{}},
	{"log-driver", "", "log-driver", kString, "json-file"},
	{"experimental", "", "experimental", kBool, false},
	{"cgroup-parent", "", "cgroup-parent", kString, ""},
	{"seccomp-profile", "", "seccomp-profile", kString, ""},
	{"selinux-enabled", "", "selinux-enabled", kBool, false},
	{"data-root", "g", "data-root", kString, "/var/lib/docker"},
	{"bridge", "b", "bridge", kString, ""},
}

// boolFlags are dockerd's boolean flags: `--flag` alone means true and
// the next argument is not its value.
var boolFlags = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, o := range daemonOptions {
		if o.kind == kBool {
			m[o.name] = true
			if o.short != "" {
				m[o.short] = true
			}
		}
	}
	for _, f := range []string{"ip-forward", "ip-masq", "ipv6", "raw-logs", "rootless", "validate", "help", "version", "v", "init"} {
		m[f] = true
	}
	return m
})

// flagValues returns every value given for a flag on a dockerd command
// line, in order: --name=v, --name v, -s v, -sv; a bare boolean flag is
// "true".
func flagValues(args []string, name, short string) []string {
	var out []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		var flag, val string
		hasVal := false
		switch {
		case strings.HasPrefix(a, "--"):
			flag, val, hasVal = strings.Cut(a[2:], "=")
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flag = a[1:2]
			if len(a) > 2 {
				val, hasVal = strings.TrimPrefix(a[2:], "="), true
			}
		default:
			continue
		}
		isBool := boolFlags()[flag]
		if !hasVal && !isBool && i+1 < len(args) {
			val, hasVal = args[i+1], true
			i++
		}
		if flag != name && (short == "" || flag != short) {
			continue
		}
		if !hasVal {
			val = "true"
		}
		out = append(out, val)
	}
	return out
}

// Resolve works out the daemon options the checks read, each with where
// its value came from. Precedence is dockerd's: a flag, then the config
// file (dockerd refuses to start when both set one option), then what
// docker info reports, then the default.
func Resolve(f *Facts) map[string]Option {
	out := map[string]Option{}
	pidNote := ""
	if f.Daemon != nil {
		pidNote = fmt.Sprintf(" (dockerd pid %d)", f.Daemon.PID)
	}
	for _, d := range daemonOptions {
		o := Option{Value: d.def, Source: "default", Known: f.Daemon != nil}
		if f.Daemon != nil {
			if vs := flagValues(f.Daemon.Cmdline, d.name, d.short); len(vs) > 0 {
				o.Set, o.Known = true, true
				switch d.kind {
				case kBool:
					b, err := strconv.ParseBool(vs[len(vs)-1])
					o.Value = err == nil && b
				case kString:
					o.Value = vs[len(vs)-1]
				case kList:
					l := make([]any, len(vs))
					for i, v := range vs {
						l[i] = v
					}
					o.Value = l
				}
				flag := "--" + d.name
				parts := make([]string, len(vs))
				for i, v := range vs {
					parts[i] = flag + "=" + v
				}
				o.Source = "flag " + strings.Join(parts, " ") + pidNote
			}
		}
		if !o.Set && f.Config != nil {
			if v, ok := f.Config[d.key]; ok {
				o.Set, o.Known = true, true
				o.Value = v
				if d.kind == kList {
					o.Value = listOf(v)
				}
				o.Source = fmt.Sprintf("%s: %q", f.ConfigFile, d.key)
			}
		}
		out[d.name] = o
	}
	// docker info is what the daemon actually runs with: it wins over the
	// default, and tells when the command line is not visible.
	info := f.Info
	fromInfo := func(name, field string, v any) {
		o := out[name]
		if o.Set {
			return
		}
		o.Value, o.Known, o.Source = v, true, "docker info: "+field
		out[name] = o
	}
	if v, ok := info["LiveRestoreEnabled"].(bool); ok {
		fromInfo("live-restore", "LiveRestoreEnabled", v)
	}
	if v, ok := info["Driver"].(string); ok {
		fromInfo("storage-driver", "Driver", v)
	}
	if v, ok := info["LoggingDriver"].(string); ok {
		fromInfo("log-driver", "LoggingDriver", v)
	}
	if v, ok := info["ExperimentalBuild"].(bool); ok {
		fromInfo("experimental", "ExperimentalBuild", v)
	}
	if v, ok := info["Debug"].(bool); ok {
		fromInfo("debug", "Debug", v)
	}
	if p, ok := info["Plugins"].(map[string]any); ok {
		if a := listOf(p["Authorization"]); len(a) > 0 {
			fromInfo("authorization-plugin", "Plugins.Authorization", a)
		}
	}
	var secOpts []string
	for _, s := range listOf(info["SecurityOptions"]) {
		if str, ok := s.(string); ok {
			secOpts = append(secOpts, str)
		}
	}
	if slices.ContainsFunc(secOpts, func(s string) bool { return strings.HasPrefix(s, "name=userns") }) {
		fromInfo("userns-remap", "SecurityOptions name=userns", "enabled")
	}
	if slices.ContainsFunc(secOpts, func(s string) bool { return s == "name=selinux" }) {
		fromInfo("selinux-enabled", "SecurityOptions name=selinux", true)
	}
	// Insecure registries docker info reports beyond the built-in
	// 127.0.0.0/8 (which is always there).
	var insecure []any
	if rc, ok := info["RegistryConfig"].(map[string]any); ok {
		for _, c := range listOf(rc["InsecureRegistryCIDRs"]) {
			if c != "127.0.0.0/8" && c != "::1/128" {
				insecure = append(insecure, c)
			}
		}
		if ic, ok := rc["IndexConfigs"].(map[string]any); ok {
			for _, name := range sortedKeys(ic) {
				if m, ok := ic[name].(map[string]any); ok && m["Secure"] == false {
					insecure = append(insecure, name)
				}
			}
		}
	}
	if len(insecure) > 0 {
		fromInfo("insecure-registry", "RegistryConfig", insecure)
	}
	// Derived: seccomp and rootless state come from docker info alone.
	seccomp := Option{Value: "disabled", Known: true, Source: "docker info: SecurityOptions"}
	for _, s := range secOpts {
		if strings.HasPrefix(s, "name=seccomp") {
			seccomp.Value = "default"
			if _, p, ok := strings.Cut(s, "profile="); ok {
				seccomp.Value = p
			}
			seccomp.Source = "docker info: SecurityOptions " + s
		}
	}
	out["seccomp"] = seccomp
	out["rootless"] = Option{Value: slices.Contains(secOpts, "name=rootless"), Known: true, Source: "docker info: SecurityOptions"}
	out["apparmor"] = Option{Value: slices.Contains(secOpts, "name=apparmor"), Known: true, Source: "docker info: SecurityOptions"}
	return out
}

func listOf(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]any: // default-ulimits is a map in daemon.json
		out := make([]any, 0, len(x))
		for _, k := range sortedKeys(x) {
			out = append(out, k)
		}
		return out
	case nil:
		return []any{}
	}
	return []any{v}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
