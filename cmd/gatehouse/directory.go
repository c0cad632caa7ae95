package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
)

// purgeInterval is how often the directory deletes records nothing needs
// any more: revocations of expired tokens, and stored answers of idempotent
// writes past sqlstore.IdempotencyTTL (which already count as absent).
// Hourly keeps the tables small without making the purge itself a
// noticeable load; with several replicas each purges, which is harmless
// (the deletes are idempotent).
const purgeInterval = time.Hour

// Environment variables gatehouse directory bootstrap prints: the ones an API
// server with identity.provider remote reads its admin key from, so that its
// output can be used as an env file as is.
var (
	envAPIKeyID     = envName("identity.remote.api_key_id")
	envAPIKeySecret = envName("identity.remote.api_key_secret")
)

func (a *app) directoryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "directory",
		Short: "Run and set up the directory, the identity service API servers delegate to",
		Long: `The directory keeps the accounts of one or more applications in a SQL
database (SQLite, or PostgreSQL for several replicas) and serves them over
HTTP (identity/wire/protocol.md) to API servers configured with
identity.provider: remote.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.directoryServeCommand(), a.directoryBootstrapCommand())
	cmd.AddCommand(a.directoryKeysCommand(), a.directoryAdminKeysCommand())
	cmd.AddCommand(a.directoryRedirectURIsCommand())
	return cmd
}

func (a *app) directoryServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the directory server",
		Long: `Run the directory on directory.addr, over directory.database, until
interrupted (SIGINT or SIGTERM), then stop accepting connections, let
in-flight requests finish (for up to directory.shutdown_timeout), close the
database and exit 0. Requests still running after the timeout are cut off,
and the exit status is 1. A second signal stops the process at once.

It logs one "listening" line with the bound address, which tells the port
when directory.addr asks for port 0. Callers authenticate with an admin key
from "gatehouse directory bootstrap".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := a.load(cmd)
			if err != nil {
				return err
			}
			return serveDirectory(cmd.Context(), cfg, withRequestIDs(logger.With("component", "directory")))
		},
	}
	cmd.Flags().String("addr", "", "listen address host:port (overrides directory.addr)")
	a.bind("directory.addr", cmd.Flags(), "addr")
	return cmd
}

// serveDirectory runs the directory server until ctx is done.
func serveDirectory(ctx context.Context, cfg *Config, logger *slog.Logger) (err error) {
	// As in serve: a bad certificate fails now, naming its key.
	tlsConfig, err := loadTLS(cfg.Directory.TLS, "directory.tls")
	if err != nil {
		return err
	}
	db, err := openDirectoryDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close directory.database: %w", cerr))
		}
	}()

	// The directory serves every application of its database; each gets
	// its name as the tokens' audience, so no application is set here.
	opts := storeOptions(cfg, logger)
	opts.Application = ""
	apps, err := db.Applications(ctx)
	if err != nil {
		return fmt.Errorf("directory.database %s: %w", redactDSN(cfg.Directory.Database), describe(err))
	}
	for _, app := range apps {
		if err := checkSigningKeys(ctx, applicationProvider(db, app, opts), fmt.Sprintf("directory.database (application %q)", app.Name)); err != nil {
			return err
		}
	}
	trusted, err := parseTrustedProxies(cfg.Directory.TrustedProxies)
	if err != nil {
		return fmt.Errorf("config: directory.trusted_proxies: %w", err)
	}
	var tenant directory.Tenant = directory.SQLTenant(db, opts)
	var (
		pageProvider func(string, identity.Provider) identity.Provider
		pages        *regulators
	)
	if cfg.Regulation.Enabled {
		counters, fallback, closeCounters := openCounters(ctx, cfg, "gatehouse:directory:regulate:", logger)
		defer func() {
			if cerr := closeCounters(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close regulation.redis_url: %w", cerr))
			}
		}()
		tenant = newRegulatedTenant(tenant, regulationConfig(cfg, logger, -1, fallback), counters)
		pages = newPageRegulators(regulationConfig(cfg, logger, cfg.Regulation.PairMaxFailures, fallback), counters)
		pageProvider = pages.wrap
	}
	m, err := newMetrics(cfg.Directory.Metrics.Enabled)
	if err != nil {
		return err
	}
	if err := observeTenant(tenant, pages, m); err != nil {
		return err
	}
	handler := directory.New(directory.Config{
		BaseURL:   cfg.Directory.BaseURL,
		BodyLimit: cfg.Directory.BodyLimit,
		// The same lifetime as the store's default, so that oAuthPolicy
		// shows what tokens requested without one actually get.
		TokenTTL: cfg.Tokens.TTL,
		Metrics:  m,
		// The pages are the one place the directory sees users' own
		// addresses: they get the pair limit the API servers apply.
		PageProvider: pageProvider,
		IPExtractor:  api.IPExtractor(trusted),
		PagesKey:     cfg.Encryption.pagesKey(),
	}, tenant, logger)

	pctx, stopPurge := context.WithCancel(ctx)
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		purgeLoop(pctx, db, logger)
	}()
	// The purge stops before the database closes.
	defer func() {
		stopPurge()
		<-purged
	}()

	return runHTTP(ctx, logger, httpService{
		handler: handler,
		addr:    cfg.Directory.Addr,
		addrKey: "directory.addr",
		tls:     tlsConfig,
		limits:  cfg.Directory.HTTPLimits,
		prefix:  "directory",
		attrs:   []any{"database", redactDSN(cfg.Directory.Database)},
	})
}

// purgeLoop deletes expired records now and then every purgeInterval, until
// ctx is done. A failure is logged and retried at the next tick: nothing
// depends on the purge but the size of the tables.
func purgeLoop(ctx context.Context, db *sqlstore.DB, logger *slog.Logger) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		now := time.Now()
		for _, p := range []struct {
			what  string
			purge func(context.Context, time.Time) (int64, error)
			until time.Time
		}{
			{"expired revocations", db.PurgeRevokedTokens, now},
			{"expired idempotency keys", db.PurgeIdempotent, now.Add(-sqlstore.IdempotencyTTL)},
		} {
			n, err := p.purge(ctx, p.until)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				logger.Warn("purge failed", "what", p.what, "err", err)
			case n > 0:
				logger.Info("purged", "what", p.what, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *app) directoryBootstrapCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create an application if needed and print a new admin API key for it",
		Long: `Create the application in directory.database unless it exists, make a new
admin API key for it, and print the key as two lines of environment
variables, ready for an API server with identity.provider: remote:

  GATEHOUSE_IDENTITY_REMOTE_API_KEY_ID=gk_...
  GATEHOUSE_IDENTITY_REMOTE_API_KEY_SECRET=gks_...

The secret is shown this once: the directory keeps only its hash. Running
the command again makes another key (say, one per API server)
and leaves the application and its other keys alone.`,
		Example: `  (umask 077; gatehouse directory bootstrap --application myapp > gatehouse.env)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --application sets the application key, so Validate has
			// checked the name.
			cfg, _, err := a.load(cmd)
			if err != nil {
				return err
			}
			uris, _ := cmd.Flags().GetStringArray("redirect-uri")
			if err := checkRedirectURIs(uris); err != nil {
				return err
			}
			return a.bootstrap(cmd.Context(), cfg, cfg.Application, uris...)
		},
	}
	cmd.Flags().String("application", "", "the application's name (overrides the application key)")
	a.bind("application", cmd.Flags(), "application")
	cmd.Flags().StringArray("redirect-uri", nil, "allow this hosted-login redirect URI for the application (repeatable)")
	return cmd
}

// bootstrap creates the application called name if needed, and prints a new
// admin key for it on stdout; nothing else goes there, so the output can be
// redirected to an env file.
func (a *app) bootstrap(ctx context.Context, cfg *Config, name string, redirectURIs ...string) (err error) {
	db, err := openDirectoryDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close directory.database: %w", cerr))
		}
	}()
	app, err := db.Application(ctx, name, true)
	if err != nil {
		return fmt.Errorf("application %q: %w", name, describe(err))
	}
	if err := addRedirectURIs(ctx, db, app, redirectURIs); err != nil {
		return err
	}
	id, secret, err := db.CreateAdminKey(ctx, app.ID)
	if err != nil {
		return fmt.Errorf("application %q: create admin key: %w", name, describe(err))
	}
	return a.printNewAdminKey(name, id, secret)
}

// openDirectoryDB opens directory.database, running its migrations.
func openDirectoryDB(ctx context.Context, cfg *Config) (*sqlstore.DB, error) {
	// The DSN may carry a password: only its redacted form is shown.
	db, err := sqlstore.Open(ctx, cfg.Directory.Database)
	if err != nil {
		return nil, fmt.Errorf("directory.database %s: open: %w", redactDSN(cfg.Directory.Database), err)
	}
	return db, nil
}
