package cli

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

func dbCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the local vulnerability database",
	}
	cmd.AddCommand(dbImportCommand(g), dbStatusCommand(g), dbUpdateCommand(g),
		dbKeygenCommand(g), dbExportCommand(g), dbSignCommand(g), dbImportBundleCommand(g))
	return cmd
}

// Advisory formats `db import` understands.
var importFormats = []string{"auto", "osv", "debian-tracker", "alpine-secdb", "kev", "epss", "bundle"}

// sniffFormat recognises an advisory file by its name and first bytes.
func sniffFormat(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		// A directory is sniffed by its first advisory-looking file.
		var first string
		filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
			if err != nil || first != "" {
				return filepath.SkipDir
			}
			switch strings.ToLower(filepath.Ext(q)) {
			case ".json", ".yaml", ".yml":
				if d.Type().IsRegular() {
					first = q
					return filepath.SkipAll
				}
			}
			return nil
		})
		if first == "" {
			return "", fmt.Errorf("%s: no .json or .yaml advisory files", p)
		}
		f, err := sniffFormat(first)
		if err != nil {
			return "", err
		}
		if f != "osv" && f != "alpine-secdb" && f != "debian-tracker" {
			return "", fmt.Errorf("%s: a directory of %s files is not supported; import the file", p, f)
		}
		return f, nil
	}
	switch strings.ToLower(filepath.Ext(p)) {
	case ".zip":
		return "osv", nil
	case ".csv", ".gz":
		return "epss", nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case len(head) > 262 && string(head[257:262]) == "ustar" && bytes.HasPrefix(head, []byte("manifest.json")):
		return "bundle", nil
	case bytes.Contains(head, []byte(`"catalogVersion"`)) || bytes.Contains(head, []byte(`"knownRansomwareCampaignUse"`)):
		return "kev", nil
	case bytes.Contains(head, []byte("distroversion")):
		return "alpine-secdb", nil
	case bytes.Contains(head, []byte(`"affected"`)) || bytes.Contains(head, []byte("affected:")) || bytes.Contains(head, []byte(`"schema_version"`)):
		return "osv", nil
	case bytes.Contains(head, []byte(`"releases"`)):
		return "debian-tracker", nil
	}
	return "", fmt.Errorf("%s: cannot tell the advisory format; pass --format (%s)", p, strings.Join(importFormats[1:], ", "))
}

// importOne imports one path into db and reports record errors on w.
func importOne(db *store.DB, w io.Writer, p, format, source string) error {
	if format == "auto" || format == "" {
		f, err := sniffFormat(p)
		if err != nil {
			return err
		}
		format = f
	}
	var (
		advs []advisory.Advisory
		errs []advisory.RecordError
	)
	switch format {
	case "osv":
		advs, errs = advisory.ImportOSV(p)
	case "debian-tracker":
		advs, errs = advisory.ImportDebianTracker(p)
	case "alpine-secdb":
		advs, errs = advisory.ImportAlpineSecDB(p)
	case "kev":
		kevs, errs := advisory.ImportKEV(p)
		reportRecordErrors(w, errs)
		if len(kevs) == 0 {
			return fmt.Errorf("%s: no KEV entries", p)
		}
		if err := db.ImportKEV(p, kevs); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d known-exploited vulnerabilities\n", p, len(kevs))
		return nil
	case "epss":
		scores, errs := advisory.ImportEPSS(p)
		reportRecordErrors(w, errs)
		if len(scores) == 0 {
			return fmt.Errorf("%s: no EPSS scores", p)
		}
		if err := db.ImportEPSS(p, scores); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d EPSS scores\n", p, len(scores))
		return nil
	default:
		return fmt.Errorf("--format %q: want one of %s", format, strings.Join(importFormats, ", "))
	}
	reportRecordErrors(w, errs)
	if source == "" {
		source = sourceName(format, advs)
	}
	st, err := db.Import(source, p, advs)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	rejected := 0
	for _, e := range errs {
		if !e.Kept {
			rejected++
		}
	}
	fmt.Fprintf(w, "%s: source %s: %d added, %d updated, %d unchanged, %d rejected\n", p, source, st.Added, st.Updated, st.Unchanged, rejected)
	return nil
}

// sourceName names a source after its format and, for OSV, the ecosystem
// of its records ("osv:Debian").
func sourceName(format string, advs []advisory.Advisory) string {
	if format != "osv" {
		return format
	}
	ecos := map[string]bool{}
	for _, a := range advs {
		for _, af := range a.Affected {
			b, _, _ := strings.Cut(af.Ecosystem, ":")
			ecos[b] = true
		}
	}
	if len(ecos) == 1 {
		for e := range ecos {
			return "osv:" + e
		}
	}
	return "osv"
}

func reportRecordErrors(w io.Writer, errs []advisory.RecordError) {
	const show = 20
	for i, e := range errs {
		if i == show {
			fmt.Fprintf(w, "  … and %d more\n", len(errs)-show)
			break
		}
		verb := "rejected"
		if e.Kept {
			verb = "imported with a defect"
		}
		fmt.Fprintf(w, "  %s: %s\n", verb, e.Error())
	}
}

func dbImportCommand(g *globals) *cobra.Command {
	var (
		db     dbOptions
		format string
		source string
		pubkey string
	)
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import advisories (OSV dir/file/zip, Debian tracker JSON, Alpine secdb, CISA KEV, EPSS CSV)",
		Long: `Import advisory files into the database. Malformed records are listed
with their id and reason and skipped; the rest are imported. Records whose
content did not change are left as they are.

A signed bundle (from 'db export') is recognised too: it is verified with
--pubkey (or BULKHEAD_DB_PUBKEY) and replaces the database, as
'db import-bundle' does.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(filepath.Dir(db.path), 0o755); err != nil {
				return err
			}
			if len(args) == 1 && (format == "bundle" || format == "auto") {
				if f, err := sniffFormat(args[0]); err == nil && f == "bundle" {
					return importBundle(g, db.path, pubkey, args[0])
				}
			}
			vdb, err := store.Open(db.path, true)
			if err != nil {
				return err
			}
			defer vdb.Close()
			for _, p := range args {
				if err := importOne(vdb, g.stdout, p, format, source); err != nil {
					return err
				}
			}
			return nil
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&pubkey, "pubkey", "", "ed25519 public key file, for signed bundles")
	cmd.Flags().StringVar(&format, "format", "auto", "advisory format: "+strings.Join(importFormats, ", "))
	cmd.Flags().StringVar(&source, "source", "", "source name recorded in the database (default from the format)")
	return cmd
}

func dbStatusCommand(g *globals) *cobra.Command {
	var (
		db     dbOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's schema, age and per-source record counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vdb, err := store.Open(db.path, false)
			if err != nil {
				return err
			}
			defer vdb.Close()
			st, err := vdb.Status()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "database\t%s\n", st.Path)
			fmt.Fprintf(tw, "schema\t%d\n", st.Schema)
			fmt.Fprintf(tw, "built\t%s\n", st.Built.Format(time.RFC3339))
			age := time.Since(st.Updated).Round(time.Minute)
			fmt.Fprintf(tw, "updated\t%s (%s ago)\n", st.Updated.Format(time.RFC3339), age)
			fmt.Fprintf(tw, "advisories\t%d\n", st.Advisories)
			fmt.Fprintf(tw, "known exploited (KEV)\t%d\n", st.KEV)
			fmt.Fprintf(tw, "EPSS scores\t%d\n", st.EPSS)
			fmt.Fprintln(tw, "\nSOURCE\tRECORDS\tIMPORTED\tAGE\tFROM")
			for _, s := range st.Sources {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Name, s.Records, s.Imported.Format(time.RFC3339), time.Since(s.Imported).Round(time.Minute), s.Origin)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if db.maxAge > 0 && time.Since(st.Updated) > db.maxAge {
				fmt.Fprintf(g.stderr, "bulkhead: warning: the database is older than %s; run 'bulkhead db update'\n", db.maxAge)
			}
			return nil
		},
	}
	db.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func dbKeygenCommand(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an ed25519 key pair for signing database bundles",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out+".key", []byte(base64.StdEncoding.EncodeToString(priv)+"\n"), 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(out+".pub", []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s.key (private, keep it secret) and %s.pub\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "bulkhead-db", "file name prefix for NAME.key and NAME.pub")
	return cmd
}

func readKey(p string, size int) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != size {
		return nil, fmt.Errorf("%s: not a base64 ed25519 key of %d bytes", p, size)
	}
	return k, nil
}

func dbExportCommand(g *globals) *cobra.Command {
	var (
		db       dbOptions
		key, out string
	)
	cmd := &cobra.Command{
		Use:     "export-bundle",
		Aliases: []string{"export"},
		Short:   "Write the database as a signed bundle for air-gapped sites",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			priv, err := readKey(key, ed25519.PrivateKeySize)
			if err != nil {
				return err
			}
			vdb, err := store.Open(db.path, false)
			if err != nil {
				return err
			}
			defer vdb.Close()
			return writeOutput(g, out, func(w io.Writer) error { return vdb.ExportBundle(w, priv) })
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&key, "key", "", "ed25519 private key file (from 'db keygen')")
	cmd.Flags().StringVar(&out, "output-file", "", "bundle file (default stdout)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func dbImportBundleCommand(g *globals) *cobra.Command {
	var (
		db  dbOptions
		pub string
	)
	cmd := &cobra.Command{
		Use:   "import-bundle FILE",
		Short: "Verify a signed bundle and replace the database with it",
		Long: `Verify FILE's signature with the public key (--pubkey, or env
BULKHEAD_DB_PUBKEY naming the key file) and its database against the signed
checksum, then replace the database atomically. A tampered or truncated
bundle is rejected and the previous database stays in place.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return importBundle(g, db.path, pub, args[0])
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&pub, "pubkey", "", "ed25519 public key file that must have signed the bundle")
	return cmd
}

// importBundle verifies a signed bundle and replaces the database with it.
func importBundle(g *globals, dbPath, pub, file string) error {
	if pub == "" {
		pub = os.Getenv("BULKHEAD_DB_PUBKEY")
	}
	if pub == "" {
		return fmt.Errorf("%s is a signed bundle: pass --pubkey FILE or set BULKHEAD_DB_PUBKEY", file)
	}
	k, err := readKey(pub, ed25519.PublicKeySize)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	man, err := store.ImportBundle(bufio.NewReader(f), ed25519.PublicKey(k), dbPath)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(g.stdout, "imported bundle created %s (%d bytes) into %s\n", man.Created.Format(time.RFC3339), man.Size, dbPath)
	return nil
}
