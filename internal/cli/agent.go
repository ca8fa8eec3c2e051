package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/agent"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogers"
	dockercheck "github.com/bulkhead-sec/bulkhead/internal/compliance/docker"
	"github.com/bulkhead-sec/bulkhead/internal/inspect"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/output"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/sensor"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/source"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/match"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

func agentCommand(g *globals) *cobra.Command {
	var (
		o            scanOptions
		server       string
		token        string
		hostRoot     string
		scanInterval time.Duration
		queueDir     string
		queueMax     int64
		hostname     string
		dbPath       string
		alertsListen string
		tlsCA        string
		tlsCert      string
		tlsKey       string
		retryMax     time.Duration
		noChecks     bool
		runSensor    bool
		sensorRules  []string
		sf           sensorFlags // --policy, --metrics-addr, drift sources
	)
	cmd := &cobra.Command{
		Use:   "agent --server URL --token TOKEN",
		Short: "Run the node agent: report this host's containers, images and packages to a Bulkhead server",
		Long: `Run the node agent (docs/agent.md). It follows the local Docker Engine
(every container, including exited ones, then the event stream), scans
every image its containers use that the server does not have yet (the
same code as 'bulkhead sbom docker:IMAGE', with the layer cache in
--cache-dir), scans the host's root filesystem on start and every
--scan-interval, and sends everything to the server through an on-disk
queue in --queue-dir, so nothing is lost while the server is unreachable.

The token is an agent token an admin issued ('bulkhead token create --kind
agent --name NODE', or POST /api/v1/tokens); it may also come from
BULKHEAD_AGENT_TOKEN, which keeps it out of the process list.
Vulnerabilities are matched by the server; the agent matches locally (with
--db) only when the server has no advisory database.

With --sensor the agent also runs the runtime sensor of 'bulkhead sensor'
in its own process (root, eBPF; the built-in ruleset or --rules FILE...)
and sends its alerts to the server as runtime findings, through the same
queue as alerts received with --alerts-listen. --policy adds prevention
and container modes exactly as 'bulkhead sensor --policy' does (docs/
prevention.md); baseline and denial alerts go to the server too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.quiet = true // no progress line from scans
			if token == "" {
				token = os.Getenv("BULKHEAD_AGENT_TOKEN")
			}
			if server == "" {
				return errors.New("--server URL is required")
			}
			if token == "" && tlsCert == "" {
				return errors.New("--token (or BULKHEAD_AGENT_TOKEN) or a client certificate (--tls-cert) is required")
			}
			opts := []api.Option{api.WithUserAgent("bulkhead-agent/" + Version())}
			if tlsCA != "" || tlsCert != "" {
				hc, err := agentTLSClient(tlsCA, tlsCert, tlsKey)
				if err != nil {
					return err
				}
				opts = append(opts, api.WithHTTPClient(hc))
			}
			srv, err := api.NewClient(server, token, opts...)
			if err != nil {
				return err
			}
			dc, err := client.New(client.FromEnv)
			if err != nil {
				return fmt.Errorf("docker: %w", err)
			}
			defer dc.Close()
			if queueDir == "" {
				queueDir = defaultAgentDir(g)
			}
			cfg := agent.Config{
				Server:        srv,
				Docker:        dc,
				Scanner:       &agentScanner{g: g, o: &o, root: hostRoot},
				QueueDir:      queueDir,
				HostRoot:      hostRoot,
				ScanInterval:  scanInterval,
				Hostname:      hostname,
				Version:       Version(),
				QueueMaxBytes: queueMax,
				MaxBackoff:    retryMax,
				Logger:        g.log,
			}
			if m, closeDB := agentMatcher(g, dbPath); m != nil {
				defer closeDB()
				cfg.Matcher = m
			}
			if !noChecks {
				cfg.Checker = &dockerChecker{root: hostRoot, log: g.log}
			}
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			if runSensor {
				sf.rules, sf.fallback = sensorRules, true
				as, err := startAgentSensor(g, a, &sf)
				if err != nil {
					return err
				}
				sctx, stop := context.WithCancel(ctx)
				sdone := make(chan struct{})
				go func() {
					defer close(sdone)
					as.run(sctx)
				}()
				defer func() {
					stop()
					<-sdone
				}()
			} else if len(sensorRules) > 0 || sf.policy != "" || sf.policyDryRun || sf.metricsAddr != "" || sf.imageSBOMs != "" || sf.imageScan {
				return errors.New("--rules, --policy, --policy-dry-run, --metrics-addr, --image-sboms and --image-scan need --sensor")
			}
			if alertsListen != "" {
				ln, err := net.Listen("tcp", alertsListen)
				if err != nil {
					return fmt.Errorf("--alerts-listen: %w", err)
				}
				hs := &http.Server{Handler: a.AlertHandler(), ReadHeaderTimeout: 10 * time.Second}
				go hs.Serve(ln)
				defer hs.Close()
				g.log.Info("accepting runtime alerts (Falco JSON)", "addr", ln.Addr().String())
			}
			err = a.Run(ctx)
			st := a.Stats()
			fmt.Fprintf(g.stderr, "bulkhead agent: stopped; %d items queued on disk (%d dropped in total), %d images sent, %d host scans\n",
				st.Queue.Items, st.Queue.Dropped, st.Images, st.HostScans)
			return err
		},
	}
	o.register(cmd)
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "inventory server URL (http(s)://HOST:PORT)")
	f.StringVar(&token, "token", "", "agent token (env BULKHEAD_AGENT_TOKEN)")
	f.StringVar(&hostRoot, "host-root", "/", "the host's root filesystem as seen by the agent (e.g. /host in a container)")
	f.DurationVar(&scanInterval, "scan-interval", 6*time.Hour, "how often the host filesystem is scanned again (0: only on start)")
	f.StringVar(&queueDir, "queue-dir", "", "directory of the on-disk queue and agent state (default /var/lib/bulkhead/agent as root, else CACHE-DIR/agent)")
	f.Int64Var(&queueMax, "queue-max-bytes", 256<<20, "most bytes the on-disk queue holds before dropping the oldest re-creatable items")
	f.DurationVar(&retryMax, "retry-max", time.Minute, "longest wait between attempts to reach the server (backoff doubles up to it)")
	f.BoolVar(&noChecks, "no-checks", false, "do not run the CIS Docker configuration checks ('bulkhead check docker')")
	f.StringVar(&hostname, "hostname", "", "host name to report (default: the Docker Engine's)")
	f.StringVar(&dbPath, "db", "", "local advisory database, used only when the server has none (default "+defaultDBPath()+" when present)")
	f.StringVar(&alertsListen, "alerts-listen", "", "accept runtime alerts (Falco JSON, e.g. from 'bulkhead sensor --http-output') on this address and forward them")
	f.BoolVar(&runSensor, "sensor", false, "also run the runtime sensor in this process (root, eBPF) and send its alerts as runtime findings")
	f.StringSliceVar(&sensorRules, "rules", nil, "with --sensor: rules file (repeatable, Falco's format); default: the built-in ruleset")
	f.StringVar(&sf.policy, "policy", "", "with --sensor: prevention policy file, as 'bulkhead sensor --policy' (actions per rule or tag, container modes)")
	f.BoolVar(&sf.policyDryRun, "policy-dry-run", false, "with --sensor: log the actions the policy would take without taking them")
	f.StringVar(&sf.metricsAddr, "metrics-addr", "", "with --sensor: serve the sensor's Prometheus metrics (events, alerts, lost events) on this address")
	f.StringVar(&sf.imageSBOMs, "image-sboms", "", "with --sensor: directory of image SBOMs with file lists ('bulkhead sbom --files') for drift detection")
	f.BoolVar(&sf.imageScan, "image-scan", false, "with --sensor: scan a container's image for its file list when drift detection needs it")
	f.StringVar(&tlsCA, "tls-ca", "", "CA certificate file to verify the server")
	f.StringVar(&tlsCert, "tls-cert", "", "client certificate file (mTLS)")
	f.StringVar(&tlsKey, "tls-key", "", "client key file (mTLS)")
	return cmd
}

func defaultAgentDir(g *globals) string {
	if d := os.Getenv("BULKHEAD_AGENT_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/bulkhead/agent"
	}
	return filepath.Join(g.cacheDir, "agent")
}

func agentTLSClient(ca, cert, key string) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	if cert != "" {
		if key == "" {
			return nil, errors.New("--tls-cert needs --tls-key")
		}
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// agentScanner scans with exactly the code of `bulkhead sbom`.
type agentScanner struct {
	g    *globals
	o    *scanOptions
	root string
}

func (s *agentScanner) ScanImage(ctx context.Context, id string) (*sbom.SBOM, error) {
	return inventory(ctx, s.g, "docker:"+id, s.o)
}

func (s *agentScanner) ScanHost(ctx context.Context) (*sbom.SBOM, error) {
	if s.root == "" || s.root == "/" {
		return inventory(ctx, s.g, "host", s.o)
	}
	// The host mounted elsewhere (agent in a container): the same walk as
	// the host source, rooted there, skipping the same pseudo-filesystems.
	if st, err := os.Stat(s.root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--host-root %s: not a directory", s.root)
	}
	cats, err := catalogers.Select(catalogers.Default(), s.o.catalogers)
	if err != nil {
		return nil, err
	}
	lim := inspect.DefaultLimits()
	lim.MaxFileSize, lim.MaxLayerBytes, lim.MaxFiles, lim.MaxPathLen = s.o.maxFileSize, s.o.maxLayer, s.o.maxFiles, s.o.maxPathLen
	e := inspect.New(cats, inspect.WithLimits(lim), inspect.WithLogger(s.g.log),
		inspect.WithTool(sbom.Descriptor{Name: "bulkhead", Version: Version()}))
	host, _ := os.Hostname()
	return e.ScanTree(ctx, s.root, sbom.Source{Kind: "host", Input: host}, source.HostSkip)
}

// agentMatcher opens the local advisory database when there is one.
func agentMatcher(g *globals, path string) (agent.Matcher, func()) {
	explicit := path != ""
	if !explicit {
		path = defaultDBPath()
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	db, err := store.Open(path, false)
	if err != nil {
		if explicit {
			g.log.Warn("local advisory database unusable; the agent will not match locally", "db", path, "err", err)
		}
		return nil, nil
	}
	return &storeMatcher{db: db}, func() { db.Close() }
}

type storeMatcher struct{ db *store.DB }

func (m *storeMatcher) Match(doc *sbom.SBOM) ([]sbom.Finding, error) {
	var out []sbom.Finding
	err := m.db.View(func(r *store.Reader) error {
		var err error
		out, err = match.New(r, match.Options{}).Match(doc)
		return err
	})
	return out, err
}

// dockerChecker runs the CIS Docker checks of `bulkhead check docker` and
// sorts the failures by subject.
type dockerChecker struct {
	root string
	log  *slog.Logger
}

func (c *dockerChecker) Check(ctx context.Context) (*agent.CheckReport, error) {
	rs, err := dockercheck.Check(ctx, dockercheck.Options{HostRoot: c.root, Logger: c.log})
	if err != nil {
		return nil, err
	}
	rep := &agent.CheckReport{Containers: map[string][]sbom.Finding{}, Images: map[string][]sbom.Finding{}}
	for _, r := range rs {
		var f []sbom.Finding
		if r.Failed() {
			f = []sbom.Finding{r.Finding()}
		}
		switch {
		case r.Kind == "Container" && r.ResourceID != "":
			rep.Containers[r.ResourceID] = append(rep.Containers[r.ResourceID], f...)
		case r.Kind == "Image" && r.ResourceID != "":
			rep.Images[r.ResourceID] = append(rep.Images[r.ResourceID], f...)
		default:
			rep.Host = append(rep.Host, f...)
		}
	}
	return rep, nil
}

// agentSensor is `bulkhead sensor` inside the agent: the same rules, plan,
// event source (eBPF, or the fallback) and pipeline, with alerts written as
// Falco JSON into the agent's alert path (agent.TakeAlerts), exactly what
// --alerts-listen does with a separate sensor's HTTP output.
type agentSensor struct {
	g        *globals
	src      eventSource
	counters func() (sensor.Counters, error)
	eng      *rules.Engine
	en       *sensor.Enricher
	out      output.Output
	resp     *prevent.Responder // nil without --policy
	st       sensor.Stats
	metrics  *http.Server // --metrics-addr
}

// startAgentSensor loads the rules and attaches the sensor; an error (bad
// rules, neither eBPF nor the fallback available) stops the agent from
// starting, since --sensor asked for it.
func startAgentSensor(g *globals, a *agent.Agent, f *sensorFlags) (*agentSensor, error) {
	rs, err := loadSensorRules(f)
	if err != nil {
		return nil, fmt.Errorf("--sensor: %w", err)
	}
	eng := rules.NewEngine(rs, rules.WithHostname(hostname()))
	var pol *prevent.Policy
	if f.policy != "" {
		if pol, err = prevent.LoadPolicy(f.policy); err != nil {
			return nil, fmt.Errorf("--policy: %w", err)
		}
	}
	insp, ierr := sensor.NewDockerInspector()
	if ierr != nil {
		g.log.Warn("sensor: no Docker Engine client: containers are identified by id only", "err", ierr)
	}
	s := &agentSensor{g: g, eng: eng, out: output.NewJSON(a.AlertWriter())}
	if pol != nil {
		opts := prevent.Options{Logger: g.log, DryRun: f.policyDryRun}
		if insp != nil {
			opts.Docker = insp.Client()
		}
		if s.resp, err = prevent.NewResponder(pol, opts); err != nil {
			return nil, fmt.Errorf("--policy: %w", err)
		}
	}
	if s.src, s.counters, err = openSource(g, planSensor(eng, f, pol), f.fallback, false); err != nil {
		if s.resp != nil {
			s.resp.Close()
		}
		return nil, fmt.Errorf("--sensor: %w", err)
	}
	fmt.Fprintf(g.stderr, "sensor: %d rules loaded (%d evaluated), %d skipped; alerts go to the server\n", len(rs.Rules), len(eng.Rules()), len(rs.Skipped))
	var containers *sensor.Containers
	if insp != nil {
		containers = sensor.NewContainers(insp, g.log)
	} else {
		containers = sensor.NewContainers(nil, g.log)
	}
	fail := func(err error) (*agentSensor, error) {
		s.src.Close()
		if s.resp != nil {
			s.resp.Close()
		}
		return nil, err
	}
	if d, err := driftProvider(g, f); err != nil {
		return fail(err)
	} else if d != nil {
		containers.SetDrift(d)
	}
	s.en = sensor.NewEnricher(containers, hostname())
	if f.metricsAddr != "" {
		if s.metrics, err = serveSensorMetrics(f.metricsAddr, s.counters, &s.st, s.en); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// run evaluates events until ctx ends, then prints the sensor's summary.
func (s *agentSensor) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.src.Close() // unblocks Read
	}()
	go watchLost(ctx, s.g, s.counters)
	if s.metrics != nil {
		defer s.metrics.Close()
	}
	st := &s.st
	var sent atomic.Uint64 // rule, baseline and denial alerts queued
	h := func(ev *sensor.Event, alerts []rules.Alert) {
		if s.resp != nil {
			alerts = append(alerts, s.resp.Observe(ctx, ev)...)
		}
		sent.Add(uint64(len(alerts)))
		for i := range alerts {
			appendContainerOutput(&alerts[i], ev)
			if err := s.out.Send(alerts[i]); err != nil {
				s.g.log.Warn("sensor: alert not queued for the server", "rule", alerts[i].Rule, "err", err)
			}
			if s.resp != nil {
				s.resp.Handle(ctx, alerts[i], ev)
			}
		}
	}
	if err := sensor.Run(ctx, s.src, s.en, s.eng, 0, h, st); err != nil {
		s.g.log.Error("sensor stopped", "err", err)
	}
	if s.resp != nil {
		s.resp.Close()
	}
	s.out.Close()
	if c, err := s.counters(); err == nil {
		fmt.Fprintf(s.g.stderr, "sensor: %d events, %d alerts, %d opens filtered in the kernel (%d by the directory cache), %d lost\n", st.Events.Load(), sent.Load(), c.Filtered, c.FilteredCached, c.Lost)
	}
}
