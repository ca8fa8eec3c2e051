package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

type queryFilter struct {
	f            api.Filter
	since, until string
	output       string
}

func (q *queryFilter) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&q.f.Selector, "selector", "l", "", "label selector: a=b,c!=d,e,!f,g in (x,y)")
	f.StringVar(&q.f.Image, "image", "", "image id, id prefix, tag or repository")
	f.StringVar(&q.f.Tag, "tag", "", "repo tag or repository")
	f.StringVar(&q.f.Host, "host", "", "host name")
	f.StringVar(&q.f.State, "state", "", "container state (running, exited, destroyed, …), active or all")
	f.StringVar(&q.f.Package, "package", "", "package name")
	f.StringVar(&q.f.Version, "version", "", "package version range: '>=1.2,<1.3'")
	f.StringVar(&q.f.Severity, "severity", "", "minimum open vulnerability severity")
	f.StringVar(&q.since, "since", "", "existed since (RFC 3339 time or duration ago, e.g. 24h)")
	f.StringVar(&q.until, "until", "", "existed until (RFC 3339 time or duration ago)")
	f.IntVar(&q.f.Limit, "limit", 0, "max items (server default 100)")
	f.IntVar(&q.f.Offset, "offset", 0, "items to skip")
	f.StringVarP(&q.output, "output", "o", "table", "table or json")
}

func (q *queryFilter) filter() (api.Filter, error) {
	f := q.f
	for _, p := range []struct {
		name, v string
		dst     *time.Time
	}{{"--since", q.since, &f.Since}, {"--until", q.until, &f.Until}} {
		if p.v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, p.v); err == nil {
			*p.dst = t
			continue
		}
		d, err := time.ParseDuration(p.v)
		if err != nil {
			return f, fmt.Errorf("%s %q: want an RFC 3339 time or a duration", p.name, p.v)
		}
		*p.dst = time.Now().Add(-d)
	}
	if q.output != "table" && q.output != "json" {
		return f, fmt.Errorf("-o %q: want table or json", q.output)
	}
	return f, nil
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func labelsString(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slicesSort(parts)
	s := strings.Join(parts, ",")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func queryCommand(g *globals) *cobra.Command {
	var sc serverClient
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Query an inventory server: impact of a vulnerability, containers, images, hosts, packages",
		Long: `Query an inventory server (--server URL or BULKHEAD_SERVER, --token or
BULKHEAD_TOKEN with an admin token).

  bulkhead query impact CVE-2024-5535 -l app=web
  bulkhead query containers -l 'tier in (front,api)' --state running
  bulkhead query images --package openssl --version '<3.0.14'
  bulkhead query packages log4j-core
  bulkhead query posture host node-1`,
	}
	sc.register(cmd)

	list := func(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, args []string) error) *cobra.Command {
		var q queryFilter
		sub := &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				f, err := q.filter()
				if err != nil {
					return err
				}
				c, err := sc.client()
				if err != nil {
					return err
				}
				return run(cmd, c, f, q.output, args)
			},
		}
		q.register(sub)
		return sub
	}

	impact := list("impact VULN-ID", "Images, running containers and hosts affected by a vulnerability (CVE or alias)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, args []string) error {
			imp, err := c.Impact(cmd.Context(), args[0], f)
			if err != nil {
				return err
			}
			if out == "json" {
				return writeJSONOut(g.stdout, imp)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "%s\t%s\tKEV=%v\t%s\n", imp.ID, imp.Severity, imp.KEV, strings.Join(imp.Aliases, ","))
			fmt.Fprintf(tw, "\nIMAGE\tTAGS\tPACKAGE\tINSTALLED\tFIXED\tCONTAINERS\n")
			for _, im := range imp.Images {
				for _, p := range im.Packages {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", short(im.ID), strings.Join(im.RepoTags, ","), p.Name, p.InstalledVersion, strings.Join(p.FixedVersions, ","), im.Containers)
				}
			}
			fmt.Fprintf(tw, "\nCONTAINER\tNAME\tHOST\tIMAGE\tSTATE\n")
			for _, ct := range imp.Containers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", short(ct.ID), ct.Name, ct.Host, ct.ImageRef, ct.State)
			}
			if imp.Truncated {
				fmt.Fprintf(tw, "… %d containers in all (raise --limit)\n", imp.TotalContainers)
			}
			fmt.Fprintf(tw, "\nHOST\tCONTAINERS\tOWN PACKAGES\n")
			for _, h := range imp.Hosts {
				var ps []string
				for _, p := range h.Packages {
					ps = append(ps, p.Name+"@"+p.InstalledVersion)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\n", h.Name, h.Containers, strings.Join(ps, ","))
			}
			return tw.Flush()
		})

	printContainers := func(out string, l *api.ContainerList) error {
		if out == "json" {
			return writeJSONOut(g.stdout, l)
		}
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER\tNAME\tHOST\tIMAGE\tSTATE\tCREATED\tLABELS")
		for _, c := range l.Items {
			created := ""
			if c.Created != nil {
				created = c.Created.Format(time.RFC3339)
			}
			ref := c.ImageRef
			if ref == "" {
				ref = short(c.ImageID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", short(c.ID), c.Name, c.Host, ref, c.State, created, labelsString(c.Labels))
		}
		fmt.Fprintf(tw, "(%d of %d)\n", len(l.Items), l.Total)
		return tw.Flush()
	}
	containers := list("containers", "Search containers", cobra.NoArgs,
		func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, _ []string) error {
			l, err := c.Containers(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printContainers(out, l)
		})
	images := list("images", "Search images", cobra.NoArgs,
		func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, _ []string) error {
			l, err := c.Images(cmd.Context(), f)
			if err != nil {
				return err
			}
			if out == "json" {
				return writeJSONOut(g.stdout, l)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tTAGS\tPACKAGES\tFIRST SEEN")
			for _, im := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", short(im.ID), strings.Join(im.RepoTags, ","), im.Packages, im.FirstSeen.Format(time.RFC3339))
			}
			fmt.Fprintf(tw, "(%d of %d)\n", len(l.Items), l.Total)
			return tw.Flush()
		})
	hosts := list("hosts", "Search hosts (the selector applies to host labels)", cobra.NoArgs,
		func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, _ []string) error {
			l, err := c.Hosts(cmd.Context(), f)
			if err != nil {
				return err
			}
			if out == "json" {
				return writeJSONOut(g.stdout, l)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tOS\tKERNEL\tAGENT\tLAST SEEN")
			for _, h := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Name, h.OS, h.Kernel, h.AgentVersion, h.LastSeen.Format(time.RFC3339))
			}
			fmt.Fprintf(tw, "(%d of %d)\n", len(l.Items), l.Total)
			return tw.Flush()
		})
	packages := list("packages NAME", "Packages by name (and --version range) with the images and hosts holding them", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *api.Client, f api.Filter, out string, args []string) error {
			f.Package = args[0]
			l, err := c.Packages(cmd.Context(), f)
			if err != nil {
				return err
			}
			if out == "json" {
				return writeJSONOut(g.stdout, l)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tDISTRO\tIMAGES\tHOSTS")
			for _, p := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", p.Name, p.Version, p.Type, p.Distro, len(p.Images), len(p.Hosts))
			}
			return tw.Flush()
		})

	get := func(use, short string, fetch func(cmd *cobra.Command, c *api.Client, args []string) (any, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(strings.Count(use, " ")),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := sc.client()
				if err != nil {
					return err
				}
				v, err := fetch(cmd, c, args)
				if err != nil {
					return err
				}
				return writeJSONOut(g.stdout, v)
			},
		}
	}
	container := get("container ID", "One container (JSON)", func(cmd *cobra.Command, c *api.Client, a []string) (any, error) {
		return c.Container(cmd.Context(), a[0])
	})
	image := get("image ID", "One image with its layers, packages and findings (JSON)", func(cmd *cobra.Command, c *api.Client, a []string) (any, error) {
		im, err := c.Image(cmd.Context(), a[0])
		if err != nil {
			return nil, err
		}
		pk, err := c.ImagePackages(cmd.Context(), a[0])
		if err != nil {
			return nil, err
		}
		fs, err := c.ImageFindings(cmd.Context(), a[0], false)
		if err != nil {
			return nil, err
		}
		return map[string]any{"image": im, "packages": pk.Items, "findings": fs.Items}, nil
	})
	host := get("host NAME", "One host with its containers (JSON)", func(cmd *cobra.Command, c *api.Client, a []string) (any, error) {
		h, err := c.Host(cmd.Context(), a[0])
		if err != nil {
			return nil, err
		}
		cl, err := c.HostContainers(cmd.Context(), a[0], api.Filter{Limit: 5000})
		if err != nil {
			return nil, err
		}
		return map[string]any{"host": h, "containers": cl.Items}, nil
	})
	posture := get("posture image|host ID", "Open vulnerabilities by severity, fixable and KEV counts", func(cmd *cobra.Command, c *api.Client, a []string) (any, error) {
		switch a[0] {
		case "image":
			return c.ImagePosture(cmd.Context(), a[1])
		case "host":
			return c.HostPosture(cmd.Context(), a[1])
		}
		return nil, fmt.Errorf("posture %q: want image or host", a[0])
	})
	posture.Args = cobra.ExactArgs(2)
	audit := get("audit", "The audit log, newest first", func(cmd *cobra.Command, c *api.Client, _ []string) (any, error) {
		return c.Audit(cmd.Context(), 100)
	})
	agents := get("agents", "Enrolled agents", func(cmd *cobra.Command, c *api.Client, _ []string) (any, error) {
		return c.Agents(cmd.Context())
	})
	dbStatus := get("db-status", "The server's advisory database and last re-match", func(cmd *cobra.Command, c *api.Client, _ []string) (any, error) {
		return c.DBStatus(cmd.Context())
	})
	cmd.AddCommand(impact, containers, images, hosts, packages, container, image, host, posture, audit, agents, dbStatus)
	return cmd
}

// serverImportCommand uploads an advisory file to a running server.
func serverImportCommand(g *globals) *cobra.Command {
	var sc serverClient
	var format string
	cmd := &cobra.Command{
		Use:   "import-db FILE",
		Short: "Upload an advisory file or signed bundle to a running server (re-matches every stored SBOM)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sc.client()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := c.ImportDB(cmd.Context(), format, f)
			if err != nil {
				return err
			}
			return writeJSONOut(g.stdout, res)
		},
	}
	sc.register(cmd)
	cmd.Flags().StringVar(&format, "format", "auto", "auto, osv, debian-tracker, alpine-secdb, kev, epss, bundle")
	return cmd
}

func slicesSort(s []string) { sort.Strings(s) }
