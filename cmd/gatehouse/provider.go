package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// errRemoteUnavailable is returned for identity.provider: remote until the
// remote provider exists. Failing is deliberate: falling back to another
// provider would serve the wrong accounts.
var errRemoteUnavailable = errors.New("config: identity.provider: remote provider is not available in this build yet (use local or mock)")

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
		return nil, nil, nil, errRemoteUnavailable
	}
	// Validate rejects anything else; this guards a caller that skipped it.
	return nil, nil, nil, fmt.Errorf("config: identity.provider: unknown provider %q", cfg.Identity.Provider)
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
		Logger:   logger,
	}
}
