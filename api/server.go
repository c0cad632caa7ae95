// Package api is Gatehouse's HTTP API on Echo: the authentication middleware
// (HTTP Basic with a password, an API key or a token, and OAuth2 Bearer
// tokens), the REST-auth endpoints, per-account API keys and custom data, and
// an OAuth2 token endpoint. Every decision about credentials is delegated to
// an identity.Provider.
//
// New builds the whole server; Auth and AuthWithConfig protect any Echo app.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
)

// Config configures the API server. Zero fields take the defaults named on
// them.
type Config struct {
	// Realm is the realm of WWW-Authenticate challenges. Default "gatehouse".
	Realm string
	// TokenTTL is the lifetime of tokens from /api/token and /oauth/token.
	// Default 600 s.
	TokenTTL time.Duration
	// AllowedScopes are the scopes /oauth/token may grant. A request for any
	// other scope fails with invalid_scope. Default: none.
	AllowedScopes []string
	// BodyLimit bounds request bodies in bytes. Default 1 MiB.
	BodyLimit int64
	// TrustedProxies are the networks of the reverse proxies in front of
	// the server. The client IP (for logs and failed-login regulation) is
	// the connection's peer, unless the peer is in one of these: then it
	// is taken from X-Forwarded-For, as the nearest address that is not a
	// trusted proxy. Default: none, so X-Forwarded-For is ignored
	// (loopback and private networks are not trusted unless listed).
	TrustedProxies []netip.Prefix
	// Ready reports whether the server can serve requests (for /readyz).
	// Default: always ready.
	Ready func(ctx context.Context) error
	// RevocationPoll is how often the provider's revocation feed is polled:
	// a token revoked through another server stops working here within this
	// time. Default 5 s.
	RevocationPoll time.Duration
	// Login configures hosted login (GET /login, /login/callback,
	// /logout). Default: off.
	Login LoginConfig
	// Metrics records the server's HTTP requests and authentications,
	// served at GET /metrics without credentials. Wrap the Provider with
	// metrics.Provider to count its calls too. Default: a new
	// metrics.Metrics on a registry of its own (metrics.NewRegistry).
	Metrics *metrics.Metrics
	// DisableMetrics turns metrics and GET /metrics off.
	DisableMetrics bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultRealm is the realm used when Config.Realm is empty.
const DefaultRealm = "gatehouse"

func (c Config) withDefaults() Config {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 600 * time.Second
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = 1 << 20
	}
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
	if c.DisableMetrics {
		c.Metrics = nil
	} else if c.Metrics == nil {
		c.Metrics, _ = metrics.New(metrics.NewRegistry(), metrics.BuildInfo{}) // a new registry: no conflict
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// authResults is the AuthConfig.OnResult that counts authentications in m,
// or nil without m.
func authResults(m *metrics.Metrics) func(echo.Context, Method, error) {
	if m == nil {
		return nil
	}
	return func(c echo.Context, method Method, err error) {
		m.Authentication(string(method), authOutcome(c.Request().Context(), err))
	}
}

// authOutcome classifies what the auth middleware answers: its 401s are
// failures, whatever their cause.
func authOutcome(ctx context.Context, err error) metrics.Outcome {
	if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusUnauthorized {
		return metrics.OutcomeFailure
	}
	return metrics.AuthOutcome(ctx, err)
}

// server holds what the handlers share.
type server struct {
	cfg    Config
	p      identity.Provider
	log    *slog.Logger
	tokens *TokenVerifier
	auth   echo.MiddlewareFunc
}

// New returns the API server for provider p. A nil logger discards logs.
func New(cfg Config, p identity.Provider, logger *slog.Logger) *echo.Echo {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{cfg: cfg, p: p, log: logger}
	s.tokens = NewTokenVerifier(p, TokenVerifierConfig{RevocationPoll: cfg.RevocationPoll, Now: cfg.Now})
	s.auth = AuthWithConfig(AuthConfig{
		Provider: p,
		Realm:    cfg.Realm,
		Tokens:   s.tokens,
		Logger:   logger,
		OnResult: authResults(cfg.Metrics),
	})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(logger)
	e.IPExtractor = IPExtractor(cfg.TrustedProxies)
	if cfg.Metrics != nil {
		// First, so that it times the whole chain and sees every final
		// status.
		e.Use(cfg.Metrics.Middleware())
	}
	e.Use(requestID)
	e.Use(securityHeaders)
	e.Use(ClientIP)
	e.Use(requestLogger(logger))
	e.Use(middleware.Recover())
	e.Use(bodyLimit(cfg.BodyLimit))
	s.routes(e)
	return e
}
