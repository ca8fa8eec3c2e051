package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func checkCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Configuration compliance checks",
	}
	cmd.AddCommand(checkConfigCommand(g))
	return cmd
}

func checkConfigCommand(g *globals) *cobra.Command {
	var (
		output     string
		file       string
		failOn     string
		policyDirs []string
		configFile string
		showPass   bool
	)
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

Exit codes: 0 nothing at or above --fail-on, 1 error, 2 failures at or
above --fail-on.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("-o %q: want table or json", output)
			}
			if failOn != "" && sbom.SeverityRank(failOn) < 0 {
				return fmt.Errorf("--fail-on %q: want one of %s", failOn, strings.Join(sbom.SeverityLevels, ", "))
			}
			var opts []compliance.Option
			for _, d := range policyDirs {
				opts = append(opts, compliance.WithCheckDir(d))
			}
			if configFile != "" {
				cfg, err := compliance.LoadConfig(configFile)
				if err != nil {
					return fmt.Errorf("config %s: %w", configFile, err)
				}
				opts = append(opts, compliance.WithConfig(cfg))
			}
			results, err := compliance.CheckPaths(args, opts...)
			if err != nil {
				return err
			}
			sort.SliceStable(results, func(i, j int) bool {
				a, b := results[i], results[j]
				if a.File != b.File {
					return a.File < b.File
				}
				if a.Line != b.Line {
					return a.Line < b.Line
				}
				return a.CheckID < b.CheckID
			})
			shown := results
			if !showPass {
				shown = nil
				for _, r := range results {
					if r.Status != compliance.StatusPass && r.Status != compliance.StatusNotApplicable {
						shown = append(shown, r)
					}
				}
			}
			if err := writeOutput(g, file, func(w io.Writer) error {
				if output == "json" {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(struct {
						Schema  string              `json:"schema"`
						Results []compliance.Result `json:"results"`
					}{"bulkhead.check/v1", nonNil(shown)})
				}
				return checkTable(w, shown, results)
			}); err != nil {
				return err
			}
			if failOn != "" {
				n := 0
				for _, r := range results {
					if r.Failed() && sbom.SeverityRank(r.Severity) >= sbom.SeverityRank(failOn) {
						n++
					}
				}
				if n > 0 {
					return &exitError{code: 2, err: fmt.Errorf("%d failed checks at or above %s", n, failOn)}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "table", "output format: table, json")
	f.StringVar(&file, "output-file", "", "write the output to this file instead of stdout")
	f.StringVar(&failOn, "fail-on", "", "exit 2 when a failed check has this severity or higher")
	f.StringSliceVar(&policyDirs, "policy", nil, "directory of additional checks (repeatable)")
	f.StringVar(&configFile, "config", "", "YAML: disable: [ids], severity: {id: level}")
	f.BoolVar(&showPass, "show-passed", false, "also list passed and not-applicable results")
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
	fmt.Fprintf(w, "%d results: %d failed, %d warnings, %d passed, %d manual, %d errors\n\n",
		len(all), counts[compliance.StatusFail], counts[compliance.StatusWarn], counts[compliance.StatusPass], counts[compliance.StatusManual], counts[compliance.StatusError])
	if len(shown) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSEVERITY\tCHECK\tWHERE\tRESOURCE\tMESSAGE")
	for _, r := range shown {
		where := r.File
		if r.Line > 0 {
			where = fmt.Sprintf("%s:%d", r.File, r.Line)
		}
		res := r.Kind
		if r.Name != "" {
			res += "/" + r.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Status, r.Severity, r.CheckID, where, res, oneLineText(r.Message))
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
