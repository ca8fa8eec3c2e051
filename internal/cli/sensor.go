package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/inspect"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/drift"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/output"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/ruleset"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/sensor"
)

// communityOpenPrefixes are the file-open prefixes kept in the kernel when
// user rules files are loaded: the directories the Falco community rules
// look at (credentials, binaries, libraries, devices, logs, homes).
var communityOpenPrefixes = []string{
	"/etc/", "/root/", "/home/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/",
	"/lib/", "/usr/lib/", "/boot/", "/dev/", "/proc/", "/sys/", "/var/log/", "/var/run/",
}

type sensorFlags struct {
	rules        []string
	dryRun       bool
	output       string
	outputFile   string
	httpOutput   string
	minPriority  string
	strict       bool
	policy       string
	policyDryRun bool
	openPrefixes []string
	duration     time.Duration
	metricsAddr  string
	workers      int
	fallback     bool
	imageSBOMs   string
	imageScan    bool
	// forceFallback skips eBPF (tests of the fallback path).
	forceFallback bool
}

func sensorCommand(g *globals) *cobra.Command {
	var f sensorFlags
	cmd := &cobra.Command{
		Use:   "sensor",
		Short: "Run the runtime sensor: eBPF events evaluated against Falco-compatible rules",
		Long: `Load rules (--rules FILE..., Falco's format; without it Bulkhead's built-in
ruleset), attach the eBPF sensor and write an alert for every rule match, as
text or in Falco's JSON alert format, to standard output, a file and/or an
HTTP endpoint (falcosidekick). Needs root, kernel BTF and tracefs.

Only the syscalls the loaded rules need are traced, and file opens are
filtered in the kernel by path prefix (--open-prefix; "/" keeps all).
With --policy, alerts drive actions (kill, pause, stop, deny) and
containers run in learn, monitor or protect mode (see docs/runtime.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSensor(cmd.Context(), g, &f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.rules, "rules", nil, "rules file (repeatable, loaded in order); default: the built-in ruleset")
	fl.BoolVar(&f.dryRun, "dry-run", false, "load and compile the rules, report what loaded and was skipped, and exit")
	fl.StringVarP(&f.output, "output", "o", "text", "alerts on standard output: text, json (Falco's format) or none")
	fl.StringVar(&f.outputFile, "output-file", "", "also append JSON alerts to this file")
	fl.StringVar(&f.httpOutput, "http-output", "", "also POST JSON alerts to this URL (falcosidekick)")
	fl.StringVar(&f.minPriority, "min-priority", "", "drop rules less severe than this priority")
	fl.BoolVar(&f.strict, "strict", false, "a rule using an unsupported field is an error")
	fl.StringVar(&f.policy, "policy", "", "prevention policy file (actions per rule or tag, container modes)")
	fl.BoolVar(&f.policyDryRun, "policy-dry-run", false, "log the actions the policy would take without taking them")
	fl.StringSliceVar(&f.openPrefixes, "open-prefix", nil, `keep file opens under these prefixes (max 16; "/" keeps all)`)
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (events, alerts, lost events) on this address")
	fl.IntVar(&f.workers, "workers", 0, "rule evaluation goroutines (default: one per CPU)")
	fl.BoolVar(&f.fallback, "fallback", true, "when eBPF cannot load, fall back to the proc connector (exec/fork/exit) and fanotify (file opens)")
	fl.StringVar(&f.imageSBOMs, "image-sboms", "", "directory of image SBOMs made with 'bulkhead sbom --files -o json' (<image id>.json): drift from the image's file list")
	fl.BoolVar(&f.imageScan, "image-scan", true, "when a container's writable layer is not visible and no SBOM is given, scan its image (layer cache) for its file list")
	fl.BoolVar(&f.forceFallback, "force-fallback", false, "use the proc-connector fallback even if eBPF would load")
	_ = fl.MarkHidden("force-fallback")
	return cmd
}

func loadSensorRules(f *sensorFlags) (*rules.Ruleset, error) {
	var opts []rules.LoadOption
	if f.strict {
		opts = append(opts, rules.WithStrictFields())
	}
	if len(f.rules) == 0 {
		return rules.Load([]rules.Source{ruleset.Builtin()}, opts...)
	}
	return rules.LoadFiles(f.rules, opts...)
}

// sensorPlan is what the sensor will attach, derived from the rules.
type sensorPlan struct {
	syscalls     []string
	unsupported  []string
	openPrefixes []string
}

func planSensor(eng *rules.Engine, f *sensorFlags, pol *prevent.Policy) sensorPlan {
	var types []string
	all := false
	for _, r := range eng.Rules() {
		if r.EventTypes == nil {
			all = true
		}
		types = append(types, r.EventTypes...)
	}
	if pol != nil && len(pol.Containers) > 0 {
		// Baselines record processes, files and connections.
		types = append(types, "open", "openat", "openat2", "creat", "connect", "bind", "listen")
	}
	var p sensorPlan
	p.syscalls, p.unsupported = sensor.Interest(types, all)
	switch {
	case len(f.openPrefixes) > 0:
		p.openPrefixes = f.openPrefixes
	case pol != nil && len(pol.Containers) > 0:
		p.openPrefixes = []string{"/"}
	case len(f.rules) == 0:
		p.openPrefixes = ruleset.OpenPrefixes()
	default:
		p.openPrefixes = communityOpenPrefixes
	}
	for _, x := range p.openPrefixes {
		if x == "/" {
			p.openPrefixes = nil // no filter
			break
		}
	}
	return p
}

func runSensor(ctx context.Context, g *globals, f *sensorFlags) error {
	switch f.output {
	case "text", "json", "none":
	default:
		return fmt.Errorf("-o %q: want text, json or none", f.output)
	}
	rs, err := loadSensorRules(f)
	if err != nil {
		return err
	}
	engOpts := []rules.EngineOption{rules.WithHostname(hostname())}
	if f.minPriority != "" {
		p, err := rules.ParsePriority(f.minPriority)
		if err != nil {
			return err
		}
		engOpts = append(engOpts, rules.WithMinPriority(p))
	}
	eng := rules.NewEngine(rs, engOpts...)
	var pol *prevent.Policy
	if f.policy != "" {
		if pol, err = prevent.LoadPolicy(f.policy); err != nil {
			return err
		}
	}
	plan := planSensor(eng, f, pol)
	if f.dryRun {
		for _, s := range rs.Skipped {
			fmt.Fprintf(g.stdout, "  skipped %q: %s\n", s.Rule, s.Reason)
		}
		for _, w := range rs.Warnings {
			fmt.Fprintf(g.stdout, "  warning: %s\n", w)
		}
		fmt.Fprintf(g.stdout, "%d rules loaded (%d enabled), %d skipped\n", len(rs.Rules), len(eng.Rules()), len(rs.Skipped))
		fmt.Fprintf(g.stdout, "sensor would trace: execve, clone, procexit, %s\n", strings.Join(plan.syscalls, ", "))
		if len(plan.unsupported) > 0 {
			fmt.Fprintf(g.stdout, "event types no sensor source produces (rules using only these never fire): %s\n", strings.Join(plan.unsupported, ", "))
		}
		if plan.openPrefixes == nil {
			fmt.Fprintln(g.stdout, "file opens: all")
		} else {
			fmt.Fprintf(g.stdout, "file opens kept in the kernel under: %s (and relative paths)\n", strings.Join(plan.openPrefixes, " "))
		}
		return nil
	}

	var outs output.Multi
	switch f.output {
	case "text":
		outs = append(outs, output.NewText(g.stdout))
	case "json":
		outs = append(outs, output.NewJSON(g.stdout))
	}
	if f.outputFile != "" {
		fo, err := output.NewFile(f.outputFile)
		if err != nil {
			return err
		}
		outs = append(outs, fo)
	}
	if f.httpOutput != "" {
		outs = append(outs, output.NewHTTP(f.httpOutput, g.log))
	}
	defer outs.Close()

	insp, err := sensor.NewDockerInspector()
	if err != nil {
		g.log.Warn("no Docker Engine client: containers are identified by id only", "err", err)
	}
	var containers *sensor.Containers
	if insp != nil {
		containers = sensor.NewContainers(insp, g.log)
	} else {
		containers = sensor.NewContainers(nil, g.log)
	}
	if d, err := driftProvider(g, f); err != nil {
		return err
	} else if d != nil {
		containers.SetDrift(d)
	}
	var resp *prevent.Responder
	if pol != nil {
		opts := prevent.Options{Logger: g.log, DryRun: f.policyDryRun}
		if insp != nil {
			opts.Docker = insp.Client()
		}
		if resp, err = prevent.NewResponder(pol, opts); err != nil {
			return err
		}
		defer resp.Close()
	}

	src, counters, err := openSource(g, plan, f.fallback, f.forceFallback)
	if err != nil {
		return err
	}
	defer src.Close()
	fmt.Fprintf(g.stderr, "sensor: %d rules loaded (%d evaluated), %d skipped\n", len(rs.Rules), len(eng.Rules()), len(rs.Skipped))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	en := sensor.NewEnricher(containers, hostname())
	var st sensor.Stats
	if f.metricsAddr != "" {
		srv, err := serveSensorMetrics(f.metricsAddr, counters, &st, en)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	go func() {
		<-ctx.Done()
		src.Close() // unblocks Read
	}()
	go watchLost(ctx, g, counters)

	var sent atomic.Uint64 // rule and baseline alerts written
	h := func(ev *sensor.Event, alerts []rules.Alert) {
		if resp != nil {
			alerts = append(alerts, resp.Observe(ctx, ev)...)
		}
		sent.Add(uint64(len(alerts)))
		for i := range alerts {
			appendContainerOutput(&alerts[i], ev)
			a := alerts[i]
			if err := outs.Send(a); err != nil {
				g.log.Warn("alert output failed", "err", err)
			}
			if resp != nil {
				resp.Handle(ctx, a, ev)
			}
		}
	}
	err = sensor.Run(ctx, src, en, eng, f.workers, h, &st)
	c, cerr := counters()
	if cerr == nil {
		fmt.Fprintf(g.stderr, "sensor: %d events, %d alerts, %d opens filtered in the kernel (%d by the directory cache), %d lost\n", st.Events.Load(), sent.Load(), c.Filtered, c.FilteredCached, c.Lost)
	}
	return err
}

// appendedFields are added to every alert, as Falco's default
// append_output does, so an alert always names its container even when the
// rule's output does not.
var appendedFields = []string{"container.id", "container.name", "container.image.repository", "container.image.tag"}

func appendContainerOutput(a *rules.Alert, ev rules.Event) {
	if a.OutputFields == nil {
		a.OutputFields = map[string]string{}
	}
	var extra []string
	for _, f := range appendedFields {
		if _, ok := a.OutputFields[f]; ok {
			continue
		}
		s := "<NA>"
		if v, ok := ev.Field(f, ""); ok {
			s = v.String()
		}
		a.OutputFields[f] = s
		extra = append(extra, strings.ReplaceAll(f, ".", "_")+"="+s)
	}
	if len(extra) > 0 {
		a.Output += " " + strings.Join(extra, " ")
	}
}

type eventSource interface {
	Read() (sensor.RawEvent, error)
	Close() error
}

// openSource attaches the eBPF sensor or, when it cannot load and the
// fallback is allowed, says so in one line and uses the proc connector.
func openSource(g *globals, plan sensorPlan, fallback, force bool) (eventSource, func() (sensor.Counters, error), error) {
	var s *sensor.Sensor
	err := fmt.Errorf("%w: --force-fallback", sensor.ErrUnavailable)
	if !force {
		s, err = sensor.Open(sensor.Options{Syscalls: plan.syscalls, OpenPrefixes: plan.openPrefixes})
	}
	if err == nil {
		if m := s.Missing(); len(m) > 0 {
			fmt.Fprintf(g.stderr, "sensor: this kernel has no %s syscall(s); rules on them cannot fire\n", strings.Join(m, ", "))
		}
		fmt.Fprintf(g.stderr, "sensor: tracing execve, clone, procexit, %s\n", strings.Join(s.Attached(), ", "))
		return s, s.Counters, nil
	}
	if !errors.Is(err, sensor.ErrUnavailable) || !fallback {
		return nil, nil, err
	}
	fb, fwErr, perr := sensor.OpenFallback()
	if perr != nil {
		return nil, nil, fmt.Errorf("%w; fallback: %v", err, perr)
	}
	if fwErr != nil {
		fmt.Fprintf(g.stderr, "sensor: %v; falling back to the proc connector: exec, fork and exit only (no file events: %v; no network or other syscall events)\n", err, fwErr)
		fmt.Fprintln(g.stderr, "sensor: tracing execve, clone, procexit (proc connector)")
	} else {
		fmt.Fprintf(g.stderr, "sensor: %v; falling back to the proc connector and fanotify: exec, fork, exit and file opens (writes seen at close; no network or other syscall events)\n", err)
		fmt.Fprintln(g.stderr, "sensor: tracing execve, clone, procexit (proc connector), openat (fanotify)")
	}
	return fb, func() (sensor.Counters, error) { return sensor.Counters{Lost: fb.Overflows()}, nil }, nil
}

// watchLost warns whenever the kernel reports lost events: they are never
// silent.
func watchLost(ctx context.Context, g *globals, counters func() (sensor.Counters, error)) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c, err := counters()
			if err != nil {
				return
			}
			if c.Lost > last {
				fmt.Fprintf(g.stderr, "sensor: ring buffer full, %d events lost (%d in total)\n", c.Lost-last, c.Lost)
				last = c.Lost
			}
		}
	}
}

func serveSensorMetrics(addr string, counters func() (sensor.Counters, error), st *sensor.Stats, en *sensor.Enricher) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	kc := func(pick func(sensor.Counters) uint64) func() float64 {
		return func() float64 {
			c, _ := counters()
			return float64(pick(c))
		}
	}
	counter("bulkhead_sensor_kernel_events_total", "Records the eBPF programs produced.", kc(func(c sensor.Counters) uint64 { return c.Events }))
	counter("bulkhead_sensor_lost_events_total", "Records lost because the ring buffer was full.", kc(func(c sensor.Counters) uint64 { return c.Lost }))
	counter("bulkhead_sensor_filtered_opens_total", "File opens dropped by the in-kernel prefix filter.", kc(func(c sensor.Counters) uint64 { return c.Filtered }))
	counter("bulkhead_sensor_filtered_opens_dircache_total", "Of the filtered opens, those dropped by the in-kernel directory cache without walking the path.", kc(func(c sensor.Counters) uint64 { return c.FilteredCached }))
	counter("bulkhead_sensor_events_total", "Events evaluated against the rules.", func() float64 { return float64(st.Events.Load()) })
	counter("bulkhead_sensor_alerts_total", "Alerts raised.", func() float64 { return float64(st.Alerts.Load()) })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bulkhead_sensor_processes", Help: "Processes in the user-space process tree."}, func() float64 { return float64(en.Tree.Len()) }))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// driftProvider gives the sensor the images' file lists (docs/drift.md):
// from --image-sboms, else (--image-scan) by scanning the image through
// the Engine API with the layer cache. nil when neither is on.
func driftProvider(g *globals, f *sensorFlags) (*drift.Provider, error) {
	opts := []drift.Option{drift.WithLogger(g.log)}
	if f.imageSBOMs != "" {
		opts = append(opts, drift.WithSBOMDir(f.imageSBOMs))
	}
	if f.imageScan {
		var io []inspect.Option
		if !g.noCache {
			c, err := inspect.NewDirCacheLimit(filepath.Join(g.cacheDir, "layers"), g.cacheMax)
			if err != nil {
				g.log.Warn("layer cache disabled", "err", err)
			} else {
				io = append(io, inspect.WithCache(c))
			}
		}
		opts = append(opts, drift.WithScanner(drift.DockerScanner{Options: append(io, inspect.WithLogger(g.log))}))
	}
	if f.imageSBOMs == "" && !f.imageScan {
		return nil, nil
	}
	p, err := drift.NewProvider(opts...)
	if err != nil {
		return nil, fmt.Errorf("--image-sboms: %w", err)
	}
	return p, nil
}
