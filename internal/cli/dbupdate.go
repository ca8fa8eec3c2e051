package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

// Default mirrors: osv.dev's public bucket (one all.zip per ecosystem) and
// CISA's KEV feed. Every one can be replaced, and a directory with the same
// layout works as a mirror for air-gapped sites.
const (
	defaultOSVMirror = "https://osv-vulnerabilities.storage.googleapis.com"
	defaultKEVURL    = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	maxDownload      = 4 << 30
)

// Distribution feeds that osv.dev does not carry in full: Debian's security
// tracker and Alpine's secdb for the releases in support.
var defaultDistroFeeds = []string{
	"https://security-tracker.debian.org/tracker/data/json",
	"https://secdb.alpinelinux.org/v3.18/main.json", "https://secdb.alpinelinux.org/v3.18/community.json",
	"https://secdb.alpinelinux.org/v3.19/main.json", "https://secdb.alpinelinux.org/v3.19/community.json",
	"https://secdb.alpinelinux.org/v3.20/main.json", "https://secdb.alpinelinux.org/v3.20/community.json",
	"https://secdb.alpinelinux.org/v3.21/main.json", "https://secdb.alpinelinux.org/v3.21/community.json",
}

var defaultEcosystems = []string{"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Go", "PyPI", "npm", "Maven", "RubyGems", "Packagist", "NuGet", "crates.io"}

func dbUpdateCommand(g *globals) *cobra.Command {
	var (
		db         dbOptions
		mirror     string
		ecosystems []string
		kevURL     string
		extra      []string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Fetch advisories from the configured mirrors and apply what changed",
		Long: `Fetch <mirror>/<Ecosystem>/all.zip for each ecosystem (osv.dev's layout),
the CISA KEV catalog, and any --source URL or path (format detected as in
'db import'), then import them. Unchanged records are not rewritten. The
mirror may be a local directory with the same layout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(filepath.Dir(db.path), 0o755); err != nil {
				return err
			}
			vdb, err := store.Open(db.path, true)
			if err != nil {
				return err
			}
			defer vdb.Close()
			tmp, err := os.MkdirTemp("", "bulkhead-db-update-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			client := &http.Client{Timeout: timeout}
			var failed []string
			fetch := func(loc, name string) (string, error) {
				return fetchTo(cmd.Context(), client, loc, filepath.Join(tmp, name))
			}
			for i, eco := range ecosystems {
				p, err := fetch(joinMirror(mirror, eco+"/all.zip"), fmt.Sprintf("eco-%d.zip", i))
				if err == nil {
					err = importOne(vdb, g.stdout, p, "osv", "osv:"+eco)
				}
				if err != nil {
					failed = append(failed, eco+": "+err.Error())
				}
			}
			if kevURL != "" {
				p, err := fetch(kevURL, "kev.json")
				if err == nil {
					err = importOne(vdb, g.stdout, p, "kev", "")
				}
				if err != nil {
					failed = append(failed, "kev: "+err.Error())
				}
			}
			for i, s := range extra {
				if s == "" {
					continue
				}
				name := fmt.Sprintf("extra-%d%s", i, filepath.Ext(strings.TrimSuffix(s, "/")))
				p, err := fetch(s, name)
				if err == nil {
					err = importOne(vdb, g.stdout, p, "auto", "")
				}
				if err != nil {
					failed = append(failed, s+": "+err.Error())
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of the sources failed (the others were applied): %s", len(failed), strings.Join(failed, "; "))
			}
			return nil
		},
	}
	db.register(cmd)
	f := cmd.Flags()
	f.StringVar(&mirror, "mirror", defaultOSVMirror, "OSV mirror: URL or directory holding <Ecosystem>/all.zip")
	f.StringSliceVar(&ecosystems, "ecosystems", defaultEcosystems, "OSV ecosystems to fetch")
	f.StringVar(&kevURL, "kev-url", defaultKEVURL, "CISA KEV JSON (URL or path; empty to skip)")
	f.StringSliceVar(&extra, "source", defaultDistroFeeds, "advisory feeds besides OSV (URL or path; format detected): Debian tracker JSON, Alpine secdb, EPSS CSV, OSV files")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "timeout for each download")
	return cmd
}

func joinMirror(base, rel string) string {
	if strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://") {
		return strings.TrimSuffix(base, "/") + "/" + strings.ReplaceAll(rel, " ", "%20")
	}
	return filepath.Join(base, filepath.FromSlash(rel))
}

// fetchTo returns a local path for loc: a local file as it is, a URL
// downloaded (bounded) to dst.
func fetchTo(ctx context.Context, c *http.Client, loc, dst string) (string, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		if _, err := os.Stat(loc); err != nil {
			return "", err
		}
		return loc, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "bulkhead/"+Version())
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", loc, resp.Status)
	}
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxDownload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", loc, err)
	}
	if n > maxDownload {
		return "", fmt.Errorf("GET %s: larger than %d bytes", loc, int64(maxDownload))
	}
	return dst, nil
}
