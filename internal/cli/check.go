package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	report "github.com/bulkhead-sec/bulkhead/internal/compliance/checkreport"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/docker"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func checkCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Configuration compliance checks",
	}
	cmd.AddCommand(checkConfigCommand(g), checkDockerCommand(g), checkImageCommand(g))
	return cmd
}

const checkExitHelp = `
Output: -o table (failures, warnings, manual and informational results;
--show-passed adds passes), json, sarif (SARIF 2.1.0: failures are error
or warning results, passes and reviews level none), junit. --hide-passed
drops passed and not-applicable results from every format.

Exit codes: 0 nothing at or above --fail-on, 1 error, 2 failures at or
above --fail-on.`

// checkFlags are the flags every check command shares.
type checkFlags struct {
	output     string
	file       string
	failOn     string
	policyDirs []string
	configFile string
	showPass   bool
	hidePass   bool
}

func (cf *checkFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&cf.output, "output", "o", "table", "output format: table, json, sarif, junit")
	f.StringVar(&cf.file, "output-file", "", "write the output to this file instead of stdout")
	f.StringVar(&cf.failOn, "fail-on", "", "exit 2 when a failed check has this severity or higher")
	f.StringSliceVar(&cf.policyDirs, "policy", nil, "directory of additional checks (repeatable)")
	f.StringVar(&cf.configFile, "config", "", "YAML: disable: [ids], severity: {id: level}")
	f.BoolVar(&cf.showPass, "show-passed", false, "table: also list passed and not-applicable results")
	f.BoolVar(&cf.hidePass, "hide-passed", false, "leave passed and not-applicable results out of every format")
}

func (cf *checkFlags) validate() error {
	switch cf.output {
	case "table", "json", "sarif", "junit":
	default:
		return fmt.Errorf("-o %q: want table, json, sarif or junit", cf.output)
	}
	if cf.failOn != "" && sbom.SeverityRank(cf.failOn) < 0 {
		return fmt.Errorf("--fail-on %q: want one of %s", cf.failOn, strings.Join(sbom.SeverityLevels, ", "))
	}
	return nil
}

// engineOptions turns --policy and --config into engine options. Ids of
// every built-in set are known, so one config file serves all commands.
func (cf *checkFlags) engineOptions(known ...[]compliance.Check) ([]compliance.Option, error) {
	var opts []compliance.Option
	for _, d := range cf.policyDirs {
		opts = append(opts, compliance.WithCheckDir(d))
	}
	if cf.configFile != "" {
		cfg, err := compliance.LoadConfig(cf.configFile)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", cf.configFile, err)
		}
		opts = append(opts, compliance.WithConfig(cfg))
		for _, set := range known {
			for _, c := range set {
				opts = append(opts, compliance.WithKnownChecks(c.ID))
			}
		}
	}
	return opts, nil
}

// allBuiltins lists every built-in check of every command.
// prepare validates the flags and returns the engine options, with every
// built-in check id known to the config (one config file serves every
// check command).
func (cf *checkFlags) prepare() ([]compliance.Option, error) {
	if err := cf.validate(); err != nil {
		return nil, err
	}
	others, err := allBuiltins()
	if err != nil {
		return nil, err
	}
	return cf.engineOptions(others)
}

func allBuiltins() ([]compliance.Check, error) {
	var out []compliance.Check
	for _, f := range []func() ([]compliance.Check, error){compliance.BuiltinChecks, docker.BuiltinChecks, imageChecks} {
		cs, err := f()
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// emit writes the results in the chosen format and applies --fail-on.
func (cf *checkFlags) emit(g *globals, command, target string, checks []compliance.Check, results []compliance.Result) error {
	shown := results
	if cf.hidePass {
		shown = slices.DeleteFunc(slices.Clone(results), func(r compliance.Result) bool {
			return r.Status == compliance.StatusPass || r.Status == compliance.StatusNotApplicable
		})
	}
	run := &report.CheckRun{
		Command: command, Target: target, Checks: checks, Results: shown,
		Tool: sbom.Descriptor{Name: "bulkhead", Version: Version()},
	}
	if err := writeOutput(g, cf.file, func(w io.Writer) error {
		switch cf.output {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Schema  string              `json:"schema"`
				Command string              `json:"command"`
				Target  string              `json:"target"`
				Results []compliance.Result `json:"results"`
			}{"bulkhead.check/v1", command, target, nonNil(shown)})
		case "sarif":
			return report.CheckSARIF(w, run)
		case "junit":
			return report.CheckJUnit(w, run)
		}
		table := shown
		if !cf.showPass {
			table = slices.DeleteFunc(slices.Clone(shown), func(r compliance.Result) bool {
				return r.Status == compliance.StatusPass || r.Status == compliance.StatusNotApplicable
			})
		}
		return checkTable(w, table, results)
	}); err != nil {
		return err
	}
	if cf.failOn != "" {
		n := 0
		for _, r := range results {
			if r.Failed() && sbom.SeverityRank(r.Severity) >= sbom.SeverityRank(cf.failOn) {
				n++
			}
		}
		if n > 0 {
			return &exitError{code: 2, err: fmt.Errorf("%d failed checks at or above %s", n, cf.failOn)}
		}
	}
	return nil
}

func checkConfigCommand(g *globals) *cobra.Command {
	var cf checkFlags
	cmd := &cobra.Command{
		Use:   "config PATH...",
		Short: "Check Dockerfiles and Kubernetes manifests (Pod Security Standards and hardening)",
		Long: `Check Dockerfiles and Kubernetes manifests (YAML or JSON, multi-document,
Lists, Helm-rendered output) found at PATHs. Built-in checks cover the Pod
Security Standards (baseline and restricted) for every pod-bearing kind,
common hardening, RBAC wildcards and Dockerfile practice; --policy adds
checks from a directory and --config disables or re-rates checks by id
(docs/compliance.md). Every failure names the file, line, resource and
field.
` + checkExitHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts, err := cf.prepare()
			if err != nil {
				return err
			}
			e, err := compliance.NewEngine(opts...)
			if err != nil {
				return err
			}
			results, err := compliance.CheckPaths(args, opts...)
			if err != nil {
				return err
			}
			return cf.emit(g, "check config", strings.Join(args, " "), e.Checks(), results)
		},
	}
	cf.add(cmd)
	return cmd
}

func checkDockerCommand(g *globals) *cobra.Command {
	var (
		cf       checkFlags
		host     string
		hostRoot string
	)
	cmd := &cobra.Command{
		Use:   "docker",
		Short: "Check the live Docker host and daemon against the CIS Docker Benchmark",
		Long: `Check this host's Docker daemon, its files and every running container
against the CIS Docker Benchmark (v1.6 numbering): host configuration (1.x),
daemon configuration from daemon.json, the daemon's flags and docker info
(2.x), daemon files and permissions (3.x), images in use (4.x), the runtime
settings of every running container (5.x) and security operations (6.x).
Controls that cannot be automated are reported as manual with the question
to ask. Every result names its evidence: the container and field, the
daemon option and where it was set, the file and its mode.

Run as root on the host. Inside a container, mount the host's / read-only
(e.g. at /host), pass --host-root /host, share the host's PID namespace
(--pid host) and mount the Docker socket.
` + checkExitHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := cf.prepare()
			if err != nil {
				return err
			}
			e, err := docker.NewEngine(opts...)
			if err != nil {
				return err
			}
			f, err := docker.Collect(cmd.Context(), docker.Options{Host: host, HostRoot: hostRoot, Logger: g.log})
			if err != nil {
				return err
			}
			results, err := docker.Evaluate(f, e)
			if err != nil {
				return err
			}
			return cf.emit(g, "check docker", f.Target, e.Checks(), results)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&host, "docker-host", os.Getenv("DOCKER_HOST"), "daemon socket (default $DOCKER_HOST or unix:///var/run/docker.sock)")
	cmd.Flags().StringVar(&hostRoot, "host-root", "/", "where the host's file system is mounted (read host files, /proc and mounts under it)")
	return cmd
}

func nonNil(rs []compliance.Result) []compliance.Result {
	if rs == nil {
		return []compliance.Result{}
	}
	return rs
}

func checkTable(w io.Writer, shown, all []compliance.Result) error {
	counts := map[compliance.Status]int{}
	for _, r := range all {
		counts[r.Status]++
	}
	fmt.Fprintf(w, "%d results: %d failed, %d warnings, %d passed, %d manual, %d info, %d not applicable, %d errors\n\n",
		len(all), counts[compliance.StatusFail], counts[compliance.StatusWarn], counts[compliance.StatusPass],
		counts[compliance.StatusManual], counts[compliance.StatusInfo], counts[compliance.StatusNotApplicable], counts[compliance.StatusError])
	if len(shown) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSEVERITY\tCHECK\tRESOURCE\tMESSAGE\tEVIDENCE")
	for _, r := range shown {
		msg := r.Message
		if r.Status == compliance.StatusPass || r.Status == compliance.StatusNotApplicable {
			msg = cmp.Or(msg, r.Title)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Status, r.Severity, r.CheckID, oneLineText(report.Resource(r)), oneLineText(msg), oneLineText(r.Evidence))
	}
	return tw.Flush()
}

func oneLineText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
