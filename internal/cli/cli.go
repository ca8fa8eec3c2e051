// Package cli is Bulkhead's command line: it parses flags and wires sources,
// catalogers, the engine and output formats together. Logic lives in the
// packages it calls; nothing here is reused by them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/inspect"
)

// version is set at link time (-ldflags "-X .../internal/cli.version=v1.2.3");
// otherwise the module version from build info is used.
var version = ""

// Version returns Bulkhead's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// globals are the flags every command shares.
type globals struct {
	quiet    bool
	verbose  int
	cacheDir string
	noCache  bool
	cacheMax int64
	cpuProf  string
	// profiling is set while a CPU profile is being written.
	profiling bool
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	log       *slog.Logger
}

// exitError carries a process exit code (policy failures use codes other
// than 1).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "bulkhead",
		Short:         "Bulkhead: container security from build to runtime",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if g.cpuProf != "" {
				f, err := os.Create(g.cpuProf)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				g.profiling = true
			}
			level := slog.LevelWarn
			if g.verbose == 1 {
				level = slog.LevelInfo
			} else if g.verbose > 1 {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "no progress display")
	pf.CountVarP(&g.verbose, "verbose", "v", "log more (-v info, -vv debug)")
	pf.StringVar(&g.cacheDir, "cache-dir", defaultCacheDir(), "cache directory (env BULKHEAD_CACHE_DIR)")
	pf.BoolVar(&g.noCache, "no-cache", false, "do not read or write the layer cache")
	pf.Int64Var(&g.cacheMax, "cache-max-bytes", inspect.DefaultCacheBytes, "bound on the layer cache's size; least recently used layers are evicted (0: no bound)")
	pf.StringVar(&g.cpuProf, "cpuprofile", "", "write a CPU profile to this file (for performance work)")
	_ = pf.MarkHidden("cpuprofile")

	root.AddCommand(
		sbomCommand(g),
		scanCommand(g),
		dbCommand(g),
		rulesCommand(g),
		sensorCommand(g),
		agentCommand(g),
		serverCommand(g),
		queryCommand(g),
		tokenCommand(g),
		checkCommand(g),
		policyCommand(g),
		versionCommand(g),
	)
	err := root.ExecuteContext(ctx)
	if g.profiling {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintf(stderr, "bulkhead: %s\n", oneLine(err))
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func defaultCacheDir() string {
	if d := os.Getenv("BULKHEAD_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "bulkhead")
	}
	return filepath.Join(os.TempDir(), "bulkhead-cache")
}

func versionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.stdout, "bulkhead %s\n", Version())
			return err
		},
	}
}
