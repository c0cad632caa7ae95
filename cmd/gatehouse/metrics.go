package main

import (
	"fmt"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// newMetrics returns the metrics of one server, on a registry of its own
// with the Go and process collectors, or nil when they are off.
func newMetrics(enabled bool) (*metrics.Metrics, error) {
	if !enabled {
		return nil, nil
	}
	m, err := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{Version: version, Revision: buildCommit()})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// meterProvider wraps the backend provider p, before any other decorator,
// so that its calls are counted as they reach the backend, and watches its
// circuit breaker if it has one (the remote provider). Without m it
// returns p.
func meterProvider(p identity.Provider, m *metrics.Metrics) (identity.Provider, error) {
	if m == nil {
		return p, nil
	}
	if b, ok := p.(interface{ BreakerState() string }); ok {
		if err := m.ObserveBreaker(b.BreakerState); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return metrics.Provider(p, m), nil
}

// observeDecorators has m read the counters of the credential cache and of
// failed-login regulation, when p's chain of decorators has them.
func observeDecorators(p identity.Provider, m *metrics.Metrics) error {
	if m == nil {
		return nil
	}
	for p != nil {
		var err error
		switch d := p.(type) {
		case *cache.Cache:
			err = m.ObserveCache(func() metrics.CacheStats { return metrics.CacheStats(d.Stats()) })
		case *regulate.Regulator:
			err = m.ObserveRegulation(func() metrics.RegulationStats { return metrics.RegulationStats(d.Stats()) })
		}
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		u, ok := p.(interface{ Unwrap() identity.Provider })
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	return nil
}

// observeTenant has m read the regulation counters of a regulated tenant
// (the directory's, summed over its applications) and of the hosted pages'
// regulators, if any. A page login passes through both, so its failure is
// recorded twice: failures are the tenant's alone. A refusal happens in
// only one of them, so blocks are summed.
func observeTenant(t directory.Tenant, pages *regulators, m *metrics.Metrics) error {
	rt, ok := t.(*regulatedTenant)
	if m == nil || !ok {
		return nil
	}
	err := m.ObserveRegulation(func() metrics.RegulationStats {
		s := rt.Stats()
		if pages != nil {
			p := pages.Stats()
			s.Blocks += p.Blocks
			s.PairBlocks += p.PairBlocks
			s.AccountBlocks += p.AccountBlocks
			s.CounterErrors += p.CounterErrors
		}
		return metrics.RegulationStats(s)
	})
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Stats sums the counters of the applications' regulators.
func (r *regulators) Stats() regulate.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sum regulate.Stats
	for _, reg := range r.regs {
		s := reg.Stats()
		sum.Blocks += s.Blocks
		sum.PairBlocks += s.PairBlocks
		sum.AccountBlocks += s.AccountBlocks
		sum.Failures += s.Failures
		sum.CounterErrors += s.CounterErrors
	}
	return sum
}
