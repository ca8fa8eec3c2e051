package cli

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/prevent/profile"
)

func policyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check runtime prevention policies (actions, container modes, baselines)",
	}
	cmd.AddCommand(policyCheckCommand(g))
	return cmd
}

func policyCheckCommand(g *globals) *cobra.Command {
	var ruleFiles []string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a prevention policy; summarise its actions, modes and baseline profiles",
		Long: `Parse and validate a prevention policy (docs/prevention.md) and print
what it does: the action of each rule or tag, the in-kernel deny sets, the
container selectors with their modes, and the baseline profiles found in
its profiles directory (each one is parsed; a broken profile is an error).
With --rules, action entries whose rule or tag matches no loaded rule are
reported as warnings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := prevent.LoadPolicy(args[0])
			if err != nil {
				return err
			}
			w := g.stdout
			fmt.Fprintf(w, "policy %s: valid (version %d, default mode %s)\n", args[0], p.Version, p.DefaultMode)
			for _, a := range p.Actions {
				what := "rule " + fmt.Sprintf("%q", a.Rule)
				if a.Tag != "" {
					what = "tag " + a.Tag
				}
				line := fmt.Sprintf("  %-6s %s", a.Action, what)
				if a.Match != nil {
					line += " in " + describeSelector(*a.Match)
				}
				if len(a.Exec) > 0 {
					line += " exec=" + strings.Join(a.Exec, ",")
				}
				if len(a.Open) > 0 {
					line += " open=" + strings.Join(a.Open, ",")
				}
				fmt.Fprintln(w, line)
			}
			for _, c := range p.Containers {
				line := fmt.Sprintf("  container %q: %s, mode %s", c.Name, describeSelector(c.Match), c.Mode)
				if c.Then != "" {
					line += fmt.Sprintf(" for %s, then %s", time.Duration(c.LearnFor).String(), c.Then)
				}
				fmt.Fprintln(w, line)
			}
			if p.Profiles != "" {
				if err := checkProfiles(w, p); err != nil {
					return err
				}
			}
			if len(ruleFiles) > 0 {
				rs, err := loadRules(ruleFiles, false)
				if err != nil {
					return err
				}
				names, tags := map[string]bool{}, map[string]bool{}
				for _, r := range rs.Rules {
					names[r.Name] = true
					for _, t := range r.Tags {
						tags[t] = true
					}
				}
				for _, a := range p.Actions {
					switch {
					case a.Tag != "" && !tags[a.Tag]:
						fmt.Fprintf(w, "  warning: tag %q is on no loaded rule\n", a.Tag)
					case a.Rule != "" && !matchesAny(a.Rule, names):
						fmt.Fprintf(w, "  warning: rule %q matches no loaded rule\n", a.Rule)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&ruleFiles, "rules", nil, "rules files to check action entries against")
	return cmd
}

func describeSelector(s prevent.Selector) string {
	var parts []string
	if s.Image != "" {
		parts = append(parts, "image="+s.Image)
	}
	if s.Name != "" {
		parts = append(parts, "name="+s.Name)
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "label "+k+"="+s.Labels[k])
	}
	return strings.Join(parts, " ")
}

func matchesAny(pattern string, names map[string]bool) bool {
	if names[pattern] {
		return true
	}
	for n := range names {
		if ok, _ := path.Match(pattern, n); ok {
			return true
		}
		if strings.HasSuffix(pattern, "*") && strings.HasPrefix(n, strings.TrimSuffix(pattern, "*")) {
			return true
		}
	}
	return false
}

func checkProfiles(w interface{ Write([]byte) (int, error) }, p *prevent.Policy) error {
	files, err := filepath.Glob(filepath.Join(p.Profiles, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if _, err := os.Stat(p.Profiles); err != nil {
			fmt.Fprintf(w, "  profiles %s: none yet (%v); containers in monitor/protect learn until one exists\n", p.Profiles, err)
		} else {
			fmt.Fprintf(w, "  profiles %s: none yet; containers in monitor/protect learn until one exists\n", p.Profiles)
		}
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		b, err := profile.Parse(fh, p.CollapseThreshold)
		fh.Close()
		if err != nil {
			return fmt.Errorf("profile %s: %w", f, err)
		}
		pf := b.File()
		fmt.Fprintf(w, "  profile %s: selector %q image %q: %d executables, %d files, %d connections, %d listen ports\n",
			filepath.Base(f), pf.Key.Selector, pf.Key.Image, len(pf.Executables), len(pf.Files), len(pf.Connections), len(pf.Listen))
	}
	return nil
}
