package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server",
		Long: `Run the API server on server.addr until interrupted (SIGINT or SIGTERM),
then stop accepting connections, let in-flight requests finish (for up to
server.shutdown_timeout), close the provider and exit 0. Requests still
running after the timeout are cut off, and the exit status is 1. A second
signal stops the process at once.

It logs one "listening" line with the bound address, which tells the port
when server.addr asks for port 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := a.load(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, withRequestIDs(logger))
		},
	}
	cmd.Flags().String("addr", "", "listen address host:port (overrides server.addr)")
	a.bind("server.addr", cmd.Flags(), "addr")
	return cmd
}

// serve runs the API server until ctx is done.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger) (err error) {
	// Load the certificate before anything else, so that a bad one fails
	// at start-up, naming its key, rather than at the first handshake.
	tlsConfig, err := loadTLS(cfg.Server.TLS, "server.tls")
	if err != nil {
		return err
	}

	p, closeProvider, ready, err := openProvider(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeProvider(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close provider: %w", cerr))
		}
	}()
	if sp, ok := p.(*store.Provider); ok {
		if err := checkSigningKeys(ctx, sp, "identity.local.database"); err != nil {
			return err
		}
	}

	// Metrics wrap the provider before the other decorators, so that they
	// count the calls that reach it, not those the cache answers.
	m, err := newMetrics(cfg.Metrics.Enabled)
	if err != nil {
		return err
	}
	if p, err = meterProvider(p, m); err != nil {
		return err
	}

	// The order of the decorators matters: regulation → cache → provider.
	// Regulation must see every attempt, cached or not, and refuse a
	// throttled one before anything else runs. Inside the cache, it would
	// be bypassed by every cache hit: a throttled attacker's wrong guesses
	// would get 429 while a right one (cached since the real user's last
	// login) would get 200, an oracle at full speed. Outside, a throttled
	// attempt reaches neither the cache nor the provider, and a success
	// the cache answers still clears the pair's count.
	if cfg.Cache.Enabled {
		p = cache.New(p, cache.Config{MaxEntries: cfg.Cache.MaxEntries, TTL: cfg.Cache.TTL, StaleTTL: cfg.Cache.StaleTTL})
	}
	if cfg.Regulation.Enabled {
		counters, fallback, closeCounters := openCounters(ctx, cfg, "gatehouse:regulate:"+cfg.Application+":", logger)
		defer func() {
			if cerr := closeCounters(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close regulation.redis_url: %w", cerr))
			}
		}()
		p = regulate.New(p, regulationConfig(cfg, logger, cfg.Regulation.PairMaxFailures, fallback), counters)
	}
	if err := observeDecorators(p, m); err != nil {
		return err
	}
	trusted, err := parseTrustedProxies(cfg.Server.TrustedProxies)
	if err != nil { // Validate has checked them
		return fmt.Errorf("config: server.trusted_proxies: %w", err)
	}
	login, err := hostedLogin(ctx, cfg, p, logger)
	if err != nil {
		return err
	}
	handler := api.New(api.Config{
		Login:          login,
		Realm:          cfg.Server.Realm,
		TokenTTL:       cfg.Tokens.TTL,
		RevocationPoll: cfg.Tokens.RevocationPoll,
		AllowedScopes:  cfg.Tokens.Scopes,
		BodyLimit:      cfg.Server.BodyLimit,
		TrustedProxies: trusted,
		Ready:          ready,
		Metrics:        m,
		DisableMetrics: m == nil,
	}, p, logger)

	return runHTTP(ctx, logger, httpService{
		handler: handler,
		addr:    cfg.Server.Addr,
		addrKey: "server.addr",
		tls:     tlsConfig,
		limits:  cfg.Server.HTTPLimits,
		prefix:  "server",
		attrs:   []any{"provider", cfg.Identity.Provider, "application", cfg.Application},
	})
}

// loadTLS loads the certificate and key of c, or returns nil when neither is
// set (Validate has checked it is both or neither). prefix names the keys in
// errors ("server.tls").
func loadTLS(c TLSConfig, prefix string) (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: %s.cert_file/%s.key_file: %w", prefix, prefix, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// httpService is one HTTP server to run: the API or the directory.
type httpService struct {
	handler http.Handler
	// addr is the host:port to listen on; addrKey is its configuration key,
	// for errors.
	addr, addrKey string
	// tls, when not nil, makes the server speak HTTPS only.
	tls *tls.Config
	// limits are the server's timeouts and header bound.
	limits HTTPLimits
	// prefix is the parent of the server's keys ("server"), for messages.
	prefix string
	// attrs are added to the "listening" log line.
	attrs []any
}

// runHTTP serves s with its limits until ctx is done, then shuts down
// gracefully: the listener closes at once, so new connections are refused,
// and in-flight requests get limits.ShutdownTimeout to finish. Requests still
// running then are cut off and runHTTP returns an error, so that the exit
// status tells an orchestrator the stop was not clean. It logs one
// "listening" line with the bound address.
func runHTTP(ctx context.Context, logger *slog.Logger, s httpService) error {
	srv := &http.Server{
		Handler:   s.handler,
		TLSConfig: s.tls,
		// ReadHeaderTimeout stops slowloris; the others bound a whole
		// exchange and an idle keep-alive connection. Validate has made
		// sure none is zero (which net/http reads as unlimited).
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    s.limits.MaxHeaderBytes,
		// net/http's own complaints (TLS handshake errors, panics) go to the
		// structured log too.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests inherit ctx's values but not its cancellation: stopping
		// is Shutdown's job, which lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("config: %s: %w", s.addrKey, err)
	}
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	// The bound address, not the configured one: with port 0 this is how
	// callers learn the port.
	logger.Info("listening", append([]any{"addr", ln.Addr().String(), "scheme", scheme}, s.attrs...)...)

	serveErr := make(chan error, 1)
	go func() {
		if s.tls != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // certificates from TLSConfig
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-serveErr:
		// Serve only returns early on a listener failure.
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	timeout := s.limits.ShutdownTimeout
	logger.Info("shutting down", "timeout", timeout.String())
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Connections still busy after the timeout are cut.
		_ = srv.Close()
		logger.Error("in-flight requests cut off", "timeout", timeout.String())
		return fmt.Errorf("shutdown: requests still running after %s.shutdown_timeout (%s) were cut off: %w", s.prefix, timeout, err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped", "duration", time.Since(start))
	return nil
}

// withRequestIDs returns logger adding the request id of each line's
// context (identity.RequestID) as request_id, so that every line logged
// while handling a request, by any layer that passes the request's context,
// can be joined with its access line, in this process and in the directory.
func withRequestIDs(logger *slog.Logger) *slog.Logger {
	return slog.New(requestIDHandler{logger.Handler()})
}

// requestIDHandler is the slog.Handler of withRequestIDs.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := identity.RequestID(ctx); id != "" && !hasAttr(r, requestIDKey) {
		r = r.Clone()
		r.AddAttrs(slog.String(requestIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// requestIDKey is the attribute the servers' own lines already carry the
// id under; it is not added twice.
const requestIDKey = "request_id"

// hasAttr reports whether r has a top-level attribute called key.
func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
