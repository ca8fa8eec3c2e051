package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// serverClient holds the flags of commands that talk to a server.
type serverClient struct {
	url    string
	token  string
	caCert string
}

func (c *serverClient) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&c.url, "server", os.Getenv("BULKHEAD_SERVER"), "inventory server URL (env BULKHEAD_SERVER)")
	cmd.PersistentFlags().StringVar(&c.token, "token", "", "bearer token (env BULKHEAD_TOKEN)")
	cmd.PersistentFlags().StringVar(&c.caCert, "ca-cert", "", "CA certificate (PEM) the server's TLS certificate chains to")
}

func (c *serverClient) client() (*api.Client, error) {
	if c.url == "" {
		return nil, errors.New("no server: pass --server URL or set BULKHEAD_SERVER")
	}
	tok := c.token
	if tok == "" {
		tok = os.Getenv("BULKHEAD_TOKEN")
	}
	if tok == "" {
		return nil, errors.New("no token: pass --token or set BULKHEAD_TOKEN")
	}
	var opts []api.Option
	if c.caCert != "" {
		pem, err := os.ReadFile(c.caCert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", c.caCert)
		}
		opts = append(opts, api.WithHTTPClient(&http.Client{Timeout: 5 * time.Minute,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}))
	}
	opts = append(opts, api.WithUserAgent("bulkhead/"+Version()))
	return api.NewClient(c.url, tok, opts...)
}

func tokenCommand(g *globals) *cobra.Command {
	var sc serverClient
	cmd := &cobra.Command{Use: "token", Short: "Issue, list and revoke inventory server tokens (admin)"}
	sc.register(cmd)
	var kind, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue a token; the secret is printed once on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sc.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), api.TokenRequest{Kind: kind, Name: name})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "created %s token %q (id %s); the secret below is not shown again\n", t.Kind, t.Name, t.ID)
			_, err = fmt.Fprintln(g.stdout, t.Secret)
			return err
		},
	}
	create.Flags().StringVar(&kind, "kind", api.TokenAgent, "admin or agent")
	create.Flags().StringVar(&name, "name", "", "token name (e.g. the node it is for)")
	_ = create.MarkFlagRequired("name")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (without secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sc.client()
			if err != nil {
				return err
			}
			toks, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(toks)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tNAME\tCREATED\tBY\tREVOKED")
			for _, t := range toks {
				rev := ""
				if t.Revoked != nil {
					rev = t.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.Name, t.Created.Format(time.RFC3339), t.CreatedBy, rev)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sc.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "revoked token %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
