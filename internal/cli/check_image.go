package cli

import (
	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/image"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

func imageChecks() ([]compliance.Check, error) { return image.BuiltinChecks() }

func checkImageCommand(g *globals) *cobra.Command {
	var (
		cf       checkFlags
		insecure []string
		platform string
	)
	cmd := &cobra.Command{
		Use:   "image TARGET",
		Short: "Check an image's configuration, file system and layers (secrets)",
		Long: `Check a container image: its configuration (runs as root, no HEALTHCHECK,
secrets in ENV or labels, ADD from URLs and piped downloads in its history,
remote-administration ports exposed), its file system (setuid/setgid and
world-writable files, package manager caches, SSH servers) and secrets in
every layer (private keys, AWS and GCP credentials, GitHub/GitLab/Slack
tokens, high-entropy assignments; docs/compliance.md lists the patterns).
A secret in a file that a later layer deletes is still reported, with its
layer, marked deleted: the layer ships with the image.

TARGET is any argument bulkhead sbom accepts: a name in the local Docker
Engine or a registry, docker:NAME, docker-archive:FILE, oci-dir:DIR,
oci-archive:FILE, registry:NAME, or a file tree (dir:PATH, host), which
has no image configuration (the IMG-CFG checks are not applicable).
` + checkExitHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := cf.prepare()
			if err != nil {
				return err
			}
			e, err := image.NewEngine(opts...)
			if err != nil {
				return err
			}
			f, err := image.Collect(cmd.Context(), args[0], source.Options{InsecureRegistries: insecure, Platform: platform, Logger: g.log}, image.DefaultLimits())
			if err != nil {
				return err
			}
			return cf.emit(g, "check image", f.Target, e.Checks(), image.Evaluate(f, e))
		},
	}
	cf.add(cmd)
	cmd.Flags().StringSliceVar(&insecure, "insecure-registry", nil, "registry host[:port] to reach over plain HTTP (\"*\" for any)")
	cmd.Flags().StringVar(&platform, "platform", "", "image platform for multi-platform images (os/arch)")
	return cmd
}
