package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/notify"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/server"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
)

type serverOptions struct {
	listen        string
	store         string
	db            string
	dbPubKey      string
	dbPoll        time.Duration
	webhook       string
	webhookSecret string
	tlsCert       string
	tlsKey        string
	clientCA      string
	retention     time.Duration
	maxBody       int64
	matchOwned    bool
}

func serverCommand(g *globals) *cobra.Command {
	var o serverOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the inventory server (REST API for agents and queries)",
		Long: `Run the inventory server: agents push hosts, containers, images and
SBOMs to it; people query it (bulkhead query, or the REST API under /api/v1/,
described at /api/v1/openapi.json).

The store is SQLite in one file by default (` + store.DefaultPath() + `), or
PostgreSQL with --store postgres://USER:PASS@HOST/DB. Every route but
/healthz and /readyz needs a bearer token: set BULKHEAD_ADMIN_TOKEN (at least
16 characters) to seed the first admin token, then issue agent tokens with
'bulkhead token create --kind agent --name NODE'.

With an advisory database (--db, as 'bulkhead db update' writes it), the
server matches every SBOM itself and re-matches all stored packages when the
database changes (file replaced, or POST /api/v1/db/import); new and resolved
findings are sent to --webhook, signed with --webhook-secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServer(cmd.Context(), g, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:7070", "address to listen on (host:port; port 0 picks one)")
	f.StringVar(&o.store, "store", "", "store: a SQLite path or sqlite:///path, or postgres://… (default "+store.DefaultPath()+")")
	f.StringVar(&o.db, "db", defaultDBPath(), "advisory database to match against (empty: no server-side matching)")
	f.StringVar(&o.dbPubKey, "db-pubkey", os.Getenv("BULKHEAD_DB_PUBKEY"), "ed25519 public key file verifying bundles posted to /api/v1/db/import (env BULKHEAD_DB_PUBKEY)")
	f.DurationVar(&o.dbPoll, "db-poll", 30*time.Second, "how often to check the advisory database file for changes")
	f.StringVar(&o.webhook, "webhook", "", "URL receiving finding events (JSON, HMAC-signed)")
	f.StringVar(&o.webhookSecret, "webhook-secret", "", "HMAC secret for webhook signatures (env BULKHEAD_WEBHOOK_SECRET)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM); serve HTTPS")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&o.clientCA, "client-ca", "", "CA bundle (PEM) verifying agent client certificates (mTLS; the CN is the agent id)")
	f.DurationVar(&o.retention, "retention", 7*24*time.Hour, "keep destroyed containers this long (0: forever)")
	f.Int64Var(&o.maxBody, "max-body-bytes", api.DefaultMaxBatchBytes, "largest ingest request body")
	f.BoolVar(&o.matchOwned, "match-owned", false, "also match language packages installed by OS packages (see docs/matching.md)")
	cmd.AddCommand(serverImportCommand(g))
	return cmd
}

func runServer(ctx context.Context, g *globals, o *serverOptions) error {
	log := g.log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := store.Open(ctx, o.store)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := st.LoadIndex(ctx)
	if err != nil {
		return err
	}
	log.Info("container index loaded", "containers", n, "took", time.Since(start).Round(time.Millisecond))
	// Queries bring the index up to date first; a sync every few seconds
	// as well keeps each catch-up small while agents report and nobody
	// asks.
	go every(ctx, 5*time.Second, func() {
		if _, err := st.LoadIndex(ctx); err != nil && ctx.Err() == nil {
			log.Warn("container index sync failed", "err", err)
		}
	})
	if secret := os.Getenv("BULKHEAD_ADMIN_TOKEN"); secret != "" {
		created, err := server.SeedAdminToken(ctx, st, secret, time.Now())
		if err != nil {
			return err
		}
		if created {
			log.Info("seeded the bootstrap admin token from BULKHEAD_ADMIN_TOKEN")
		}
	} else if n, err := st.CountTokens(ctx, api.TokenAdmin); err == nil && n == 0 {
		fmt.Fprintln(g.stderr, "bulkhead: warning: no admin token exists; set BULKHEAD_ADMIN_TOKEN to seed one")
	}

	var wh *notify.Webhook
	if o.webhook != "" {
		secret := o.webhookSecret
		if secret == "" {
			secret = os.Getenv("BULKHEAD_WEBHOOK_SECRET")
		}
		if secret == "" {
			return errors.New("--webhook needs --webhook-secret (or BULKHEAD_WEBHOOK_SECRET)")
		}
		wh = notify.New(notify.Options{URL: o.webhook, Secret: []byte(secret), Logger: log})
		defer func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			wh.Close(c)
		}()
	}
	var eng *rematch.Engine
	if o.db != "" {
		var pub ed25519.PublicKey
		if o.dbPubKey != "" {
			k, err := readKey(o.dbPubKey, ed25519.PublicKeySize)
			if err != nil {
				return err
			}
			pub = k
		}
		ro := rematch.Options{DBPath: o.db, PublicKey: pub, Logger: log, MatchOwned: o.matchOwned}
		if wh != nil {
			ro.Notify = func(evs []api.Event) { wh.Send(evs...) }
		}
		eng, err = rematch.New(st, ro)
		if err != nil {
			return err
		}
		defer eng.Close()
		if eng.Loaded() {
			// The database may have changed while the server was down.
			go func() {
				if _, err := eng.Rematch(ctx); err != nil && ctx.Err() == nil {
					log.Error("initial re-match failed", "err", err)
				}
			}()
		} else {
			fmt.Fprintf(g.stderr, "bulkhead: no advisory database at %s yet: storing agents' findings until one is imported\n", o.db)
		}
		go eng.Watch(ctx, o.dbPoll)
	}
	srv, err := server.New(server.Options{Store: st, Engine: eng, Logger: log, MaxBodyBytes: o.maxBody, Version: Version()})
	if err != nil {
		return err
	}
	go every(ctx, 10*time.Minute, func() {
		if o.retention > 0 {
			if n, err := st.PruneContainers(ctx, time.Now().Add(-o.retention)); err != nil && ctx.Err() == nil {
				log.Error("retention: prune failed", "err", err)
			} else if n > 0 {
				log.Info("retention: pruned destroyed containers", "count", n)
			}
		}
		if err := st.Optimize(ctx); err != nil && ctx.Err() == nil {
			log.Warn("store optimize failed", "err", err)
		}
	})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: nil}
	scheme := "http"
	if o.tlsCert != "" || o.tlsKey != "" {
		if o.tlsCert == "" || o.tlsKey == "" {
			return errors.New("--tls-cert and --tls-key go together")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS key pair: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.clientCA != "" {
			pem, err := os.ReadFile(o.clientCA)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s: no PEM certificates", o.clientCA)
			}
			hs.TLSConfig.ClientCAs = pool
			hs.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
		}
		scheme = "https"
	} else if o.clientCA != "" {
		return errors.New("--client-ca needs --tls-cert and --tls-key")
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if hs.TLSConfig != nil {
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	desc := st.Backend()
	if st.Backend() == "sqlite" {
		if strings.HasPrefix(o.store, "sqlite://") || o.store == "" || !strings.Contains(o.store, "://") {
			p := strings.TrimPrefix(o.store, "sqlite://")
			if p == "" {
				p = store.DefaultPath()
			}
			desc += " " + p
		}
	}
	fmt.Fprintf(g.stderr, "bulkhead server listening on %s://%s (store: %s)\n", scheme, ln.Addr(), desc)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	return hs.Shutdown(sctx)
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}
