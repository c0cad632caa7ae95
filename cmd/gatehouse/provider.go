package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/remote"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// openProvider builds the configured identity provider. closeFn releases it
// (the database handle); ready reports whether it can serve, for /readyz.
// Both are non-nil when err is nil.
func openProvider(ctx context.Context, cfg *Config, logger *slog.Logger) (p identity.Provider, closeFn func() error, ready func(context.Context) error, err error) {
	opts := storeOptions(cfg, logger)
	switch cfg.Identity.Provider {
	case "local":
		dsn := cfg.Identity.Local.Database
		// The DSN may carry a password: only its redacted form is shown.
		shown := redactDSN(dsn)
		db, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("identity.local.database %s: open: %w", shown, err)
		}
		sp, err := db.Provider(ctx, cfg.Application, opts)
		if err != nil {
			return nil, nil, nil, errors.Join(
				fmt.Errorf("identity.local.database %s: application %q: %w", shown, cfg.Application, err),
				db.Close())
		}
		logger.Debug("identity provider opened", "provider", "local", "database", shown, "application", cfg.Application)
		return sp, db.Close, db.Ping, nil

	case "mock":
		mopts := []mock.Option{mock.WithStoreOptions(opts)}
		if cfg.Identity.Mock.FastHashing {
			logger.Warn("identity.mock.fast_hashing is on: password hashes are cheap to crack; use it for tests only")
			mopts = append(mopts, mock.WithFastHashing())
		}
		mp := mock.New(mopts...)
		if err := mock.Seed(ctx, mp, cfg.Identity.Mock.Accounts...); err != nil {
			return nil, nil, nil, fmt.Errorf("config: identity.mock.accounts: %w", err)
		}
		logger.Debug("identity provider opened", "provider", "mock", "accounts", len(cfg.Identity.Mock.Accounts))
		return mp, func() error { return nil }, func(context.Context) error { return nil }, nil

	case "remote":
		return openRemote(ctx, cfg, logger)
	}
	// Validate rejects anything else; this guards a caller that skipped it.
	return nil, nil, nil, fmt.Errorf("config: identity.provider: unknown provider %q", cfg.Identity.Provider)
}

// openRemote connects to the directory at identity.remote.url and resolves
// the application there. Failing at start-up is deliberate: an API server
// that cannot find its application would answer every login with a 503, or
// worse, be pointed at the wrong directory without anyone noticing.
func openRemote(ctx context.Context, cfg *Config, logger *slog.Logger) (identity.Provider, func() error, func(context.Context) error, error) {
	rc := cfg.Identity.Remote
	retries := rc.Retries
	if retries == 0 {
		retries = -1 // remote.Config reads 0 as "the default"; ours means none
	}
	rp, err := remote.New(ctx, remote.Config{
		URL:          rc.URL,
		APIKeyID:     rc.APIKeyID,
		APIKeySecret: rc.APIKeySecret,
		Application:  cfg.Application,
		Timeout:      rc.Timeout,
		Retries:      retries,
		InsecureHTTP: rc.InsecureHTTP,
		// Zero means the remote default; our keys' defaults are explicit.
		BreakerThreshold: rc.BreakerThreshold,
		BreakerCooldown:  rc.BreakerCooldown,
		Logger:           logger.With("component", "remote"),
	})
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return nil, nil, nil, fmt.Errorf("application %q does not exist in the directory at %s (identity.remote.url), or the admin key (identity.remote.api_key_id) belongs to another application; create it there with `gatehouse directory bootstrap --application %s`",
			cfg.Application, rc.URL, cfg.Application)
	case errors.Is(err, remote.ErrAdminKeyRejected):
		return nil, nil, nil, fmt.Errorf("identity.remote.api_key_id/identity.remote.api_key_secret: the directory at %s rejected admin key %s; make one with `gatehouse directory bootstrap --application %s`",
			rc.URL, rc.APIKeyID, cfg.Application)
	case err != nil:
		return nil, nil, nil, fmt.Errorf("identity.remote.url %s: %w", rc.URL, describe(err))
	}
	logger.Debug("identity provider opened", "provider", "remote", "url", rc.URL, "application", cfg.Application)
	// Ready asks the directory something every request depends on: the
	// settings tokens are verified with.
	// readyz says why it is not ready, circuit breaker state included; once
	// the breaker's cool-down has passed, readyz itself is a probe.
	ready := func(ctx context.Context) error {
		if _, err := rp.TokenSettings(ctx); err != nil {
			return &api.Error{Status: http.StatusServiceUnavailable, Code: string(identity.CodeUnavailable),
				Message: fmt.Sprintf("The identity directory is not answering (circuit breaker %s).", rp.BreakerState()),
				Header:  http.Header{"Retry-After": {"5"}}, Err: err}
		}
		return nil
	}
	return rp, rp.Close, ready, nil
}

// storeOptions maps the configuration onto the options every store-based
// provider (SQL or mock) takes.
func storeOptions(cfg *Config, logger *slog.Logger) store.Options {
	return store.Options{
		Application: cfg.Application,
		Issuer:      cfg.Tokens.Issuer,
		Limits: identity.Limits{
			PasswordMinLength:  cfg.Password.MinLength,
			PasswordMaxLength:  cfg.Password.MaxLength,
			CustomDataMaxBytes: cfg.CustomData.MaxBytes,
			CustomDataMaxDepth: cfg.CustomData.MaxDepth,
		},
		TokenTTL: cfg.Tokens.TTL,
		Sealer:   cfg.Encryption.sealer(),
		Logger:   logger,
	}
}
