package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
	"github.com/gatehouse-id/gatehouse/identity/remote"
)

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestObserveCache(t *testing.T) {
	ctx := context.Background()
	m, reg := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	for _, u := range []string{"alice", "bob"} {
		if _, err := inner.CreateAccount(ctx, identity.AccountCreate{Username: u, Password: u + "'s long password"}); err != nil {
			t.Fatal(err)
		}
	}
	clk := &clock{now: time.Now()}
	c := cache.New(inner, cache.Config{MaxEntries: 1, TTL: time.Minute, StaleTTL: 10 * time.Minute, Now: clk.Now})
	if err := m.ObserveCache(func() metrics.CacheStats { return metrics.CacheStats(c.Stats()) }); err != nil {
		t.Fatal(err)
	}
	expect := func(hits, misses, evictions, stale, entries int) {
		t.Helper()
		want := strings.NewReader(`
# HELP gatehouse_cache_entries Credentials in the cache.
# TYPE gatehouse_cache_entries gauge
gatehouse_cache_entries ` + strconv.Itoa(entries) + `
# HELP gatehouse_cache_evictions_total Credential cache entries evicted to stay within cache.max_entries.
# TYPE gatehouse_cache_evictions_total counter
gatehouse_cache_evictions_total ` + strconv.Itoa(evictions) + `
# HELP gatehouse_cache_hits_total Credential cache lookups answered from a fresh entry.
# TYPE gatehouse_cache_hits_total counter
gatehouse_cache_hits_total ` + strconv.Itoa(hits) + `
# HELP gatehouse_cache_misses_total Credential cache lookups that went to the provider.
# TYPE gatehouse_cache_misses_total counter
gatehouse_cache_misses_total ` + strconv.Itoa(misses) + `
# HELP gatehouse_cache_stale_total Authentications answered from an expired cache entry while the provider was unavailable (stale-if-error).
# TYPE gatehouse_cache_stale_total counter
gatehouse_cache_stale_total ` + strconv.Itoa(stale) + `
`)
		if err := testutil.GatherAndCompare(reg, want, "gatehouse_cache_entries", "gatehouse_cache_evictions_total",
			"gatehouse_cache_hits_total", "gatehouse_cache_misses_total", "gatehouse_cache_stale_total"); err != nil {
			t.Fatal(err)
		}
	}
	login := func(u string) error {
		_, err := c.Authenticate(ctx, u, u+"'s long password")
		return err
	}
	expect(0, 0, 0, 0, 0)
	if err := login("alice"); err != nil {
		t.Fatal(err)
	}
	expect(0, 1, 0, 0, 1)
	if err := login("alice"); err != nil {
		t.Fatal(err)
	}
	expect(1, 1, 0, 0, 1)
	if err := login("bob"); err != nil { // pushes alice out
		t.Fatal(err)
	}
	expect(1, 2, 1, 0, 1)
	// Expired, and the provider is down: bob's entry still answers.
	clk.advance(2 * time.Minute)
	inner.Fail(mock.OpAuthenticate, identity.Unavailable(errors.New("down")))
	if err := login("bob"); err != nil {
		t.Fatalf("stale answer: %v", err)
	}
	expect(1, 3, 1, 1, 1)

	if err := m.ObserveCache(func() metrics.CacheStats { return metrics.CacheStats(c.Stats()) }); err == nil {
		t.Error("observing a second cache on one registry did not fail")
	}
}

func TestObserveRegulation(t *testing.T) {
	ctx := identity.WithClientIP(context.Background(), "203.0.113.7")
	m, reg := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	if _, err := inner.CreateAccount(ctx, identity.AccountCreate{Username: "carol", Password: "carol's long password"}); err != nil {
		t.Fatal(err)
	}
	r := regulate.New(inner, regulate.Config{PairMaxFailures: 2, AccountMaxFailures: 3}, nil)
	if err := m.ObserveRegulation(func() metrics.RegulationStats { return metrics.RegulationStats(r.Stats()) }); err != nil {
		t.Fatal(err)
	}
	expect := func(blocks, pair, login, failures int) {
		t.Helper()
		for _, c := range []struct {
			name   string
			labels []string
			want   int
		}{
			{"gatehouse_regulation_blocks_total", nil, blocks},
			{"gatehouse_regulation_limit_blocks_total", []string{"limit", "pair"}, pair},
			{"gatehouse_regulation_limit_blocks_total", []string{"limit", "login"}, login},
			{"gatehouse_regulation_failures_total", nil, failures},
			{"gatehouse_regulation_counter_errors_total", nil, 0},
		} {
			if got := value(t, reg, c.name, c.labels...); got != float64(c.want) {
				t.Errorf("%s%v = %v, want %d", c.name, c.labels, got, c.want)
			}
		}
	}
	expect(0, 0, 0, 0)
	for range 2 {
		if _, err := r.Authenticate(ctx, "carol", "wrong"); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	expect(0, 0, 0, 2)
	if _, err := r.Authenticate(ctx, "carol", "carol's long password"); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("third attempt: %v, want throttled", err)
	}
	expect(1, 1, 0, 2)
	// From another network the pair limit does not apply; the third
	// failure locks the login everywhere.
	other := identity.WithClientIP(context.Background(), "198.51.100.9")
	if _, err := r.Authenticate(other, "carol", "wrong"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("other network: %v", err)
	}
	expect(1, 1, 0, 3)
	if _, err := r.Authenticate(ctx, "carol", "wrong"); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("locked: %v", err)
	}
	expect(2, 2, 1, 3)
	noRawPath(t, reg, "carol", "203.0.113.7", "198.51.100.9")
}

// TestObserveBreaker watches the circuit breaker of a real remote provider
// in front of a real directory that goes away.
func TestObserveBreaker(t *testing.T) {
	app := directory.Application{ID: ids.New(), Name: "metered"}
	keyID, secret := apikey.NewID(), apikey.NewSecret()
	tenant := directory.StaticTenant(app, mock.New(mock.WithFastHashing()), keyID, secret)
	srv := httptest.NewServer(directory.New(directory.Config{}, tenant, nil))
	defer srv.Close()
	const cooldown = 300 * time.Millisecond
	p, err := remote.New(t.Context(), remote.Config{URL: srv.URL, APIKeyID: keyID, APIKeySecret: secret, Application: app.Name,
		Retries: -1, Timeout: time.Second, BreakerThreshold: 2, BreakerCooldown: cooldown})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, reg := newMetrics(t)
	if err := m.ObserveBreaker(p.BreakerState); err != nil {
		t.Fatal(err)
	}
	state := func() float64 { return value(t, reg, "gatehouse_remote_breaker_state") }

	if _, err := p.TokenSettings(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != metrics.BreakerClosed {
		t.Fatalf("state %v with the directory up, want %d (closed)", s, metrics.BreakerClosed)
	}
	srv.Close()
	for range 2 {
		if _, err := p.Account(t.Context(), "someone"); !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("directory gone: %v", err)
		}
	}
	if s := state(); s != metrics.BreakerOpen || p.BreakerState() != remote.BreakerOpen {
		t.Fatalf("state %v (%s) after 2 failures, want %d (open)", s, p.BreakerState(), metrics.BreakerOpen)
	}
	time.Sleep(cooldown + 100*time.Millisecond)
	if s := state(); s != metrics.BreakerHalfOpen {
		t.Fatalf("state %v after the cool-down, want %d (half-open)", s, metrics.BreakerHalfOpen)
	}
}

// TestObserveBreakerDisabled: a disabled breaker has no state to show.
func TestObserveBreakerDisabled(t *testing.T) {
	m, reg := newMetrics(t)
	if err := m.ObserveBreaker(func() string { return remote.BreakerDisabled }); err != nil {
		t.Fatal(err)
	}
	if _, ok := sample(t, reg, "gatehouse_remote_breaker_state"); ok {
		t.Fatal("a disabled breaker has a state sample")
	}
}
