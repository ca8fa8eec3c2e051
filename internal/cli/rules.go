package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

func rulesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check Falco-compatible rules files and replay recorded events through them",
	}
	cmd.AddCommand(rulesCheckCommand(g), rulesReplayCommand(g))
	return cmd
}

func loadRules(paths []string, strict bool) (*rules.Ruleset, error) {
	var opts []rules.LoadOption
	if strict {
		opts = append(opts, rules.WithStrictFields())
	}
	return rules.LoadFiles(paths, opts...)
}

func rulesCheckCommand(g *globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Load and compile rules files; report what loaded and what was skipped and why",
		Long: `Load FILEs in order (lists, macros, append/override and exceptions apply
across files, as in Falco), compile every condition, and print how many
rules loaded and each skipped rule with its reason. With --strict a rule
using an unsupported field is an error (exit 1).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			rs, err := loadRules(args, strict)
			if err != nil {
				return err
			}
			enabled := 0
			for _, r := range rs.Rules {
				if r.Enabled {
					enabled++
				}
			}
			fmt.Fprintf(g.stdout, "%d rules loaded (%d enabled), %d skipped\n", len(rs.Rules), enabled, len(rs.Skipped))
			for _, s := range rs.Skipped {
				fmt.Fprintf(g.stdout, "  skipped %q: %s\n", s.Rule, s.Reason)
			}
			for _, w := range rs.Warnings {
				fmt.Fprintf(g.stdout, "  warning: %s\n", w)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "a rule using an unsupported field is an error")
	return cmd
}

func rulesReplayCommand(g *globals) *cobra.Command {
	var (
		files  []string
		output string
		minP   string
	)
	cmd := &cobra.Command{
		Use:   "replay EVENTS.jsonl",
		Short: "Evaluate recorded events (one JSON object of fields per line) against rules",
		Long: `Read events, one JSON object per line mapping field names to values
({"evt.type":"execve","proc.name":"bash","container.id":"…"}), evaluate them
against --rules and write each alert as text or in Falco's JSON alert
format. "-" reads standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(files) == 0 {
				return fmt.Errorf("--rules FILE is required")
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: want text or json", output)
			}
			rs, err := loadRules(files, false)
			if err != nil {
				return err
			}
			opts := []rules.EngineOption{rules.WithHostname(hostname())}
			if minP != "" {
				p, err := rules.ParsePriority(minP)
				if err != nil {
					return err
				}
				opts = append(opts, rules.WithMinPriority(p))
			}
			eng := rules.NewEngine(rs, opts...)
			var in io.Reader = g.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			sc := bufio.NewScanner(in)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			w := bufio.NewWriter(g.stdout)
			defer w.Flush()
			for line := 1; sc.Scan(); line++ {
				text := strings.TrimSpace(sc.Text())
				if text == "" {
					continue
				}
				var ev rules.MapEvent
				if err := json.Unmarshal([]byte(text), &ev); err != nil {
					return fmt.Errorf("%s:%d: %w", args[0], line, err)
				}
				for _, a := range eng.Evaluate(&ev) {
					if output == "json" {
						b, err := json.Marshal(a)
						if err != nil {
							return err
						}
						w.Write(append(b, '\n'))
					} else {
						fmt.Fprintf(w, "%s %s: %s\n", a.Priority, a.Rule, a.Output)
					}
				}
			}
			return sc.Err()
		},
	}
	cmd.Flags().StringSliceVar(&files, "rules", nil, "rules file (repeatable, loaded in order)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json (Falco's alert format)")
	cmd.Flags().StringVar(&minP, "min-priority", "", "drop alerts below this priority")
	return cmd
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}
