package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/report"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/match"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/suppress"
)

// dbOptions locate the advisory database.
type dbOptions struct {
	path   string
	maxAge time.Duration
}

func (o *dbOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.path, "db", defaultDBPath(), "vulnerability database file (env BULKHEAD_DB)")
	cmd.Flags().DurationVar(&o.maxAge, "db-max-age", 5*24*time.Hour, "warn when the database is older than this")
}

func defaultDBPath() string {
	if p := os.Getenv("BULKHEAD_DB"); p != "" {
		return p
	}
	return filepath.Join(defaultCacheDir(), "vuln.db")
}

func scanCommand(g *globals) *cobra.Command {
	var (
		o          scanOptions
		db         dbOptions
		output     string
		file       string
		failOn     string
		onlyFixed  bool
		matchOwned bool
		ignoreFile string
		vexFiles   []string
	)
	cmd := &cobra.Command{
		Use:   "scan TARGET",
		Short: "Find known vulnerabilities in an image, directory, host or SBOM",
		Long: `Catalog TARGET (same targets as 'bulkhead sbom', including sbom:PATH) and
match its packages against the local advisory database (--db).

Exit codes: 0 no finding at or above --fail-on, 1 error, 2 findings at or
above --fail-on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			enc, err := report.ByName(output)
			if err != nil {
				return err
			}
			if failOn != "" && sbom.SeverityRank(failOn) < 0 {
				return fmt.Errorf("--fail-on %q: want one of %s", failOn, strings.Join(sbom.SeverityLevels, ", "))
			}
			rules, err := loadSuppressions(g, ignoreFile, vexFiles)
			if err != nil {
				return err
			}
			vdb, err := store.Open(db.path, false)
			if err != nil {
				return err
			}
			defer vdb.Close()
			status := dbStatusLine(g, vdb, db.maxAge)
			doc, err := inventory(cmd.Context(), g, args[0], &o)
			if err != nil {
				return err
			}
			var findings []sbom.Finding
			err = vdb.View(func(r *store.Reader) error {
				var err error
				findings, err = match.New(r, match.Options{MatchOwned: matchOwned}).Match(doc)
				return err
			})
			if err != nil {
				return err
			}
			if onlyFixed {
				kept := findings[:0]
				for _, f := range findings {
					if len(f.FixedVersions) > 0 {
						kept = append(kept, f)
					}
				}
				findings = kept
			}
			rules.Apply(findings)
			rep := &report.Report{SBOM: doc, Findings: findings, DBStatus: status}
			if err := writeOutput(g, file, func(w io.Writer) error { return enc.Encode(w, rep) }); err != nil {
				return err
			}
			if failOn != "" {
				n := 0
				for _, f := range findings {
					if f.Suppressed == "" && sbom.SeverityRank(f.Severity) >= sbom.SeverityRank(failOn) {
						n++
					}
				}
				if n > 0 {
					return &exitError{code: 2, err: fmt.Errorf("%d findings at or above %s", n, failOn)}
				}
			}
			return nil
		},
	}
	o.register(cmd)
	db.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "table", "output format: "+strings.Join(report.Names(), ", "))
	f.StringVar(&file, "output-file", "", "write the output to this file instead of stdout")
	f.StringVar(&failOn, "fail-on", "", "exit 2 when a finding has this severity or higher ("+strings.Join(sbom.SeverityLevels, ", ")+")")
	f.BoolVar(&onlyFixed, "only-fixed", false, "report only vulnerabilities that have a fixed version")
	f.StringVar(&ignoreFile, "ignore-file", "", "ignore file: YAML (ids, packages, expiry, reason) or plain 'ID [exp:YYYY-MM-DD] # reason' lines")
	f.StringSliceVar(&vexFiles, "vex", nil, "OpenVEX or CycloneDX VEX document; not_affected statements suppress findings (repeatable)")
	f.BoolVar(&matchOwned, "match-owned", false, "also match language packages and binaries installed by OS packages against language advisories")
	return cmd
}

// dbStatusLine describes the database and warns on stderr when it is stale.
func dbStatusLine(g *globals, db *store.DB, maxAge time.Duration) string {
	st, err := db.Status()
	if err != nil {
		return "unknown database state: " + err.Error()
	}
	updated := st.Updated
	if updated.IsZero() {
		updated = st.Built
	}
	if maxAge > 0 && time.Since(updated) > maxAge {
		fmt.Fprintf(g.stderr, "bulkhead: warning: the vulnerability database was last updated %s ago (limit %s); run 'bulkhead db update'\n",
			time.Since(updated).Round(time.Hour), maxAge)
	}
	return fmt.Sprintf("%d advisories from %d sources, updated %s", st.Advisories, len(st.Sources), updated.Format(time.RFC3339))
}

func loadSuppressions(g *globals, ignoreFile string, vexFiles []string) (*suppress.Set, error) {
	var sets []*suppress.Set
	if ignoreFile != "" {
		s, err := suppress.LoadIgnoreFile(ignoreFile, time.Now())
		if err != nil {
			return nil, err
		}
		for _, r := range s.Expired {
			fmt.Fprintf(g.stderr, "bulkhead: warning: %s: the entry for %s expired on %s and no longer applies\n", r.Origin, r.ID, r.Expires.Format("2006-01-02"))
		}
		sets = append(sets, s)
	}
	for _, v := range vexFiles {
		s, err := suppress.LoadVEX(v)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	return suppress.Merge(sets...), nil
}
