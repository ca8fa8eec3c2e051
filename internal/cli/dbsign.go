package cli

import (
	"crypto/ed25519"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

func dbSignCommand(g *globals) *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign BUNDLE",
		Short: "Sign (or re-sign) a database bundle with an ed25519 private key",
		Long: `Replace BUNDLE's signature with one made by --key, after checking that its
database matches its manifest. Use it when bundles are built on one machine
and signed on another that holds the key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			priv, err := readKey(key, ed25519.PrivateKeySize)
			if err != nil {
				return err
			}
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			if out == "" {
				out = args[0]
			}
			return writeOutput(g, out, func(w io.Writer) error { return store.SignBundle(in, w, ed25519.PrivateKey(priv)) })
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "ed25519 private key file (from 'db keygen')")
	cmd.Flags().StringVar(&out, "output-file", "", "signed bundle (default: replace BUNDLE)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
