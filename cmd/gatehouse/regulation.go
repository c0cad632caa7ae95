package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// openCounters returns the counters of failed-login regulation: in memory,
// or in Redis (regulation.redis_url) under prefix, with in-memory counters
// as the fallback used while Redis is down. closeFn disconnects from Redis.
//
// A Redis that does not answer at start-up is not fatal, for the same
// reason it is not fatal later: regulation fails open rather than keep the
// service down. It is logged, and the fallback counts meanwhile.
func openCounters(ctx context.Context, cfg *Config, prefix string, logger *slog.Logger) (counters, fallback regulate.Counters, closeFn func() error) {
	mem := regulate.NewMemory(regulate.MemoryConfig{MaxLogs: cfg.Regulation.MaxEntries})
	url := cfg.Regulation.RedisURL
	if url == "" {
		return mem, nil, func() error { return nil }
	}
	quietRedis()
	r, err := regulate.OpenRedis(url, regulate.RedisConfig{Prefix: prefix})
	if err != nil {
		// Validate parsed the URL already; this guards a caller that skipped it.
		logger.Warn("regulation.redis_url cannot be used; failed-login counters stay in memory",
			"url", redactDSN(url))
		return mem, nil, func() error { return nil }
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.Ping(pctx); err != nil {
		logger.Warn("regulation.redis_url does not answer; failed-login regulation counts in memory until it does",
			"url", redactDSN(url), "error", err)
	} else {
		logger.Debug("failed-login counters in Redis", "url", redactDSN(url), "prefix", prefix)
	}
	return r, mem, r.Close
}

var quietRedisOnce sync.Once

// quietRedis silences go-redis's own logger, a process-wide one that
// writes to standard error: the regulator logs Redis failures itself,
// structured and rate-limited.
func quietRedis() {
	quietRedisOnce.Do(func() { redis.SetLogger(discardRedisLog{}) })
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// regulationConfig maps regulation.* onto regulate.Config. pairMax is the
// pair limit to use (-1 for none).
func regulationConfig(cfg *Config, logger *slog.Logger, pairMax int, fallback regulate.Counters) regulate.Config {
	r := cfg.Regulation
	return regulate.Config{
		PairMaxFailures:    pairMax,
		PairWindow:         r.PairWindow,
		AccountMaxFailures: r.AccountMaxFailures,
		AccountWindow:      r.AccountWindow,
		MaxLockout:         r.MaxLockout,
		Fallback:           fallback,
		Logger:             logger.With("component", "regulate"),
	}
}

// regulators keeps one Regulator per application, made the first time the
// application is seen. The providers they wrap are the same for an
// application each time (SQLTenant keeps one per application, and
// regulatedTenant one regulated provider), so each Regulator wraps its
// provider for good.
type regulators struct {
	cfg      regulate.Config
	counters regulate.Counters
	// suffix ends the counters' namespace, after the application id.
	suffix string

	mu   sync.Mutex
	regs map[string]*regulate.Regulator // by application id
}

func newRegulators(cfg regulate.Config, counters regulate.Counters, suffix string) *regulators {
	return &regulators{cfg: cfg, counters: counters, suffix: suffix, regs: map[string]*regulate.Regulator{}}
}

// wrap returns the application's Regulator around p.
func (r *regulators) wrap(appID string, p identity.Provider) identity.Provider {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, ok := r.regs[appID]
	if !ok {
		cfg := r.cfg
		cfg.Namespace = appID + r.suffix
		reg = regulate.New(p, cfg, r.counters)
		r.regs[appID] = reg
	}
	return reg
}

// regulatedTenant is a directory.Tenant whose applications' providers are
// regulated: the directory regulates its own login attempts, whoever makes
// them (API servers, or applications using a Stormpath SDK directly).
//
// Only the login-wide limit applies there. The directory's peers are the
// API servers, not the users: counting pairs by peer would let five
// failures through one API server throttle that login for every user
// behind it. The API servers apply the pair limit, with the users' real
// addresses. The login-wide limit at the directory is what holds across
// API servers that do not share their counters.
type regulatedTenant struct {
	directory.Tenant
	*regulators
}

// newRegulatedTenant regulates t's applications, each counted apart (the
// namespace is its id).
func newRegulatedTenant(t directory.Tenant, cfg regulate.Config, counters regulate.Counters) *regulatedTenant {
	return &regulatedTenant{Tenant: t, regulators: newRegulators(cfg, counters, "")}
}

// Application implements directory.Tenant with a regulated provider.
func (t *regulatedTenant) Application(ctx context.Context, appID string) (*directory.Application, identity.Provider, error) {
	app, p, err := t.Tenant.Application(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	return app, t.wrap(app.ID, p), nil
}

// newPageRegulators regulate the directory's hosted login pages with the
// pair limit the API servers apply: browsers reach the pages directly, so
// there the client IP is the user's. The providers they wrap are the
// regulatedTenant's, which already count each login's failures from
// anywhere: the login-wide limit is off here, or each failure would count
// twice against it. The pages' counters are kept apart from the
// directory's own (namespace appID + ":pages"), as they count something
// else. Their wrap is a directory.Config.PageProvider.
func newPageRegulators(cfg regulate.Config, counters regulate.Counters) *regulators {
	cfg.AccountMaxFailures = -1
	return newRegulators(cfg, counters, ":pages")
}
