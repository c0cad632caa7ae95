package regulate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

const (
	alicePassword = "correct horse battery"
	bobPassword   = "battery staple horse"
)

// clock is a settable clock: no test sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a Regulator over a mock provider holding alice and bob.
type fixture struct {
	t     *testing.T
	mock  *mock.Provider
	reg   *regulate.Regulator
	clock *clock
}

// countersFactory makes empty counters for one test.
type countersFactory func(t *testing.T) regulate.Counters

func newFixture(t *testing.T, counters regulate.Counters, cfg regulate.Config) *fixture {
	t.Helper()
	m := mock.New(mock.WithFastHashing())
	ctx := t.Context()
	for _, a := range []struct{ user, pw string }{{"alice", alicePassword}, {"bob", bobPassword}} {
		if _, err := m.CreateAccount(ctx, identity.AccountCreate{Username: a.user, Password: a.pw, Email: a.user + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	c := newClock()
	cfg.Now = c.Now
	return &fixture{t: t, mock: m, reg: regulate.New(m, cfg, counters), clock: c}
}

// try authenticates from ip.
func (f *fixture) try(ip, login, password string) error {
	_, err := f.reg.Authenticate(identity.WithClientIP(f.t.Context(), ip), login, password)
	return err
}

// outcome is what a client can observe of an attempt.
type outcome struct {
	Code       identity.Code
	RetryAfter time.Duration
}

func (o outcome) String() string { return fmt.Sprintf("%s/%s", o.Code, o.RetryAfter) }

func observe(err error) outcome {
	return outcome{Code: identity.ErrorCode(err), RetryAfter: identity.RetryAfter(err)}
}

func (f *fixture) calls() int { return f.mock.Calls(mock.OpAuthenticate) }

func mustFail(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("%s: %v, want invalid credentials", what, err)
	}
}

func mustThrottle(t *testing.T, err error, wait time.Duration, what string) {
	t.Helper()
	if !errors.Is(err, identity.ErrThrottled) || identity.ErrorCode(err) != identity.CodeThrottled {
		t.Fatalf("%s: %v, want throttled", what, err)
	}
	if got := identity.RetryAfter(err); got != wait {
		t.Fatalf("%s: retry after %s, want %s", what, got, wait)
	}
}

func mustPass(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v, want success", what, err)
	}
}

// runSuite runs every behavioural test against counters from newCounters.
func runSuite(t *testing.T, newCounters countersFactory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newCounters countersFactory)
	}{
		{"PairThreshold", testPairThreshold},
		{"UnknownLoginRegulatedIdentically", testUnknownLoginIdentical},
		{"OthersUnaffected", testOthersUnaffected},
		{"SuccessResetsPair", testSuccessResetsPair},
		{"SuccessKeepsLoginCount", testSuccessKeepsLoginCount},
		{"LoginLock", testLoginLock},
		{"LoginLockUnknownIdentical", testLoginLockUnknownIdentical},
		{"ConcurrentGuesses", testConcurrentGuesses},
		{"FloodKeepsFailures", testFloodKeepsFailures},
		{"IPv6Network", testIPv6Network},
		{"OnlyWrongCredentialsCount", testOnlyWrongCredentialsCount},
		{"FoldedLogin", testFoldedLogin},
		{"LimitsOff", testLimitsOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newCounters) })
	}
}

func TestMemory(t *testing.T) {
	runSuite(t, func(*testing.T) regulate.Counters { return regulate.NewMemory(regulate.MemoryConfig{}) })
}

// testPairThreshold: 4 failures pass, the 5th failure too, the 6th attempt
// is refused until the first failure leaves the 5-minute window, without
// reaching the provider.
func testPairThreshold(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	const ip = "203.0.113.7"
	for i := 1; i <= 5; i++ {
		mustFail(t, f.try(ip, "alice", "wrong password"), fmt.Sprintf("failure %d", i))
		f.clock.Advance(time.Second)
	}
	if got := f.calls(); got != 5 {
		t.Fatalf("provider calls after 5 failures: %d", got)
	}
	// 5 s after the first failure: the window (5 min) lets the pair in again
	// 4 min 55 s from now, even with the right password.
	mustThrottle(t, f.try(ip, "alice", alicePassword), 5*time.Minute-5*time.Second, "6th attempt")
	mustThrottle(t, f.try(ip, "alice", "wrong password"), 5*time.Minute-5*time.Second, "7th attempt")
	if got := f.calls(); got != 5 {
		t.Fatalf("throttled attempts reached the provider: %d calls", got)
	}
	if s := f.reg.Stats(); s.Blocks != 2 || s.PairBlocks != 2 || s.AccountBlocks != 0 || s.Failures != 5 {
		t.Errorf("stats %+v", s)
	}

	f.clock.Advance(5*time.Minute - 5*time.Second - time.Millisecond)
	mustThrottle(t, f.try(ip, "alice", alicePassword), time.Millisecond, "1 ms before the window passes")
	f.clock.Advance(time.Millisecond)
	// The first failure has left the window: one more attempt fits.
	mustFail(t, f.try(ip, "alice", "wrong password"), "after the window")
	mustThrottle(t, f.try(ip, "alice", alicePassword), time.Second, "again, until the 2nd failure leaves")
	f.clock.Advance(time.Second)
	mustPass(t, f.try(ip, "alice", alicePassword), "right password once allowed")
}

// testUnknownLoginIdentical: the same sequence for an existing and an
// unknown login is observed identically, error by error.
func testUnknownLoginIdentical(t *testing.T, newCounters countersFactory) {
	run := func(login string) []outcome {
		f := newFixture(t, newCounters(t), regulate.Config{})
		var out []outcome
		for i := 0; i < 8; i++ {
			out = append(out, observe(f.try("198.51.100.1", login, "wrong password")))
			f.clock.Advance(10 * time.Second)
		}
		f.clock.Advance(5 * time.Minute)
		out = append(out, observe(f.try("198.51.100.1", login, "wrong password")))
		return out
	}
	known, unknown := run("alice"), run("nobody@example.com")
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("existing login: %v\nunknown login:  %v", known, unknown)
	}
	if known[5].Code != identity.CodeThrottled || known[5].RetryAfter != 5*time.Minute-50*time.Second {
		t.Errorf("6th attempt: %v", known[5])
	}
}

// testOthersUnaffected: another login behind the throttled IP, and the
// throttled login from another IP, are not affected by the pair limit.
func testOthersUnaffected(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	const ip = "192.0.2.10"
	for i := 0; i < 5; i++ {
		mustFail(t, f.try(ip, "alice", "wrong password"), "failure")
	}
	mustThrottle(t, f.try(ip, "alice", alicePassword), 5*time.Minute, "alice from the IP")
	mustPass(t, f.try(ip, "bob", bobPassword), "bob from the same IP")
	mustFail(t, f.try(ip, "bob", "wrong password"), "bob's wrong password from the same IP")
	mustPass(t, f.try("192.0.2.11", "alice", alicePassword), "alice from another IP")
	mustPass(t, f.try("", "alice", alicePassword), "alice without a known IP")
}

// testSuccessResetsPair: a success clears the pair's count.
func testSuccessResetsPair(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	const ip = "203.0.113.9"
	for i := 0; i < 4; i++ {
		mustFail(t, f.try(ip, "alice", "wrong password"), "failure before the success")
	}
	mustPass(t, f.try(ip, "alice", alicePassword), "success")
	for i := 1; i <= 5; i++ {
		mustFail(t, f.try(ip, "alice", "wrong password"), fmt.Sprintf("failure %d after the success", i))
	}
	mustThrottle(t, f.try(ip, "alice", alicePassword), 5*time.Minute, "6th after the success")
}

// testSuccessKeepsLoginCount: a success does not clear the login-wide
// count, so the real user's logins do not give an attacker new guesses.
func testSuccessKeepsLoginCount(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{AccountMaxFailures: 10})
	for i := 0; i < 9; i++ {
		mustFail(t, f.try(fmt.Sprintf("10.0.0.%d", i), "alice", "wrong password"), "distributed failure")
	}
	mustPass(t, f.try("10.1.0.1", "alice", alicePassword), "the real user")
	mustFail(t, f.try("10.0.0.99", "alice", "wrong password"), "10th failure")
	mustThrottle(t, f.try("10.1.0.1", "alice", alicePassword), time.Second, "locked after the 10th failure")
}

// lockSequence fails login from a new IP each time: 100 failures at once,
// then one failure whenever the lock allows, and records what each attempt
// between saw.
func lockSequence(t *testing.T, f *fixture, login string) (waits []time.Duration) {
	t.Helper()
	for i := 0; i < 100; i++ {
		mustFail(t, f.try(fmt.Sprintf("10.%d.0.1", i), login, "wrong password"), fmt.Sprintf("failure %d", i+1))
	}
	ip := 0
	next := func() string { ip++; return fmt.Sprintf("172.16.%d.%d", ip/250, ip%250) }
	// 12 rounds: the waits add up to 47 min, within the hour the first 100
	// failures stay counted.
	for k := 0; k < 12; k++ {
		err := f.try(next(), login, "wrong password")
		if !errors.Is(err, identity.ErrThrottled) {
			t.Fatalf("attempt after failure %d: %v, want throttled", 100+k, err)
		}
		wait := identity.RetryAfter(err)
		waits = append(waits, wait)
		f.clock.Advance(wait - time.Millisecond)
		mustThrottle(t, f.try(next(), login, "wrong password"), time.Millisecond, "1 ms before the lock ends")
		f.clock.Advance(time.Millisecond)
		mustFail(t, f.try(next(), login, "wrong password"), fmt.Sprintf("failure %d", 101+k))
	}
	return waits
}

// testLoginLock: 100 failures from 100 IPs lock the login for 1 s, then 2 s,
// 4 s, … doubling with each failure up to 15 min; the right password is
// refused while locked; the lock lifts when the failures leave the hour.
func testLoginLock(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	waits := lockSequence(t, f, "alice")
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}
	for i := range want {
		want[i] *= time.Second
	}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("lock waits %v, want %v", waits, want)
	}
	for i, w := range want {
		if got := f.reg.Lockout(100 + i); got != w {
			t.Errorf("Lockout(%d) = %s, want %s", 100+i, got, w)
		}
	}
	if got := f.reg.Lockout(99); got != 0 {
		t.Errorf("Lockout(99) = %s", got)
	}

	// Locked for the right password too, and from an IP never seen.
	calls := f.calls()
	mustThrottle(t, f.try("192.0.2.200", "alice", alicePassword), 15*time.Minute, "the real user while locked")
	if f.calls() != calls {
		t.Error("a locked attempt reached the provider")
	}
	// Other logins are not locked.
	mustPass(t, f.try("192.0.2.200", "bob", bobPassword), "bob")

	// 15 min later the lock after the 112th failure has passed, and the
	// burst of 100 (62 min ago) has left the window: 12 failures remain,
	// far from the lock.
	f.clock.Advance(15 * time.Minute)
	mustPass(t, f.try("192.0.2.200", "alice", alicePassword), "after the lock and the hour")
	for i := 0; i < 20; i++ {
		mustFail(t, f.try(fmt.Sprintf("10.200.%d.1", i), "alice", "wrong password"), "after the hour")
	}
	mustPass(t, f.try("192.0.2.201", "alice", alicePassword), "still unlocked with 32 failures in the hour")
	if s := f.reg.Stats(); s.AccountBlocks == 0 || s.Failures != 100+12+20 {
		t.Errorf("stats %+v", s)
	}
}

// testLoginLockUnknownIdentical: an unknown login locks exactly like an
// existing one.
func testLoginLockUnknownIdentical(t *testing.T, newCounters countersFactory) {
	known := lockSequence(t, newFixture(t, newCounters(t), regulate.Config{}), "alice")
	unknown := lockSequence(t, newFixture(t, newCounters(t), regulate.Config{}), "ghost@example.com")
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("existing login %v, unknown login %v", known, unknown)
	}
}

// testConcurrentGuesses: 40 simultaneous wrong guesses from one IP: exactly
// 5 reach the provider.
func testConcurrentGuesses(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	f.mock.Delay(mock.OpAuthenticate, 20*time.Millisecond) // keep them in flight together
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() { errs[i] = f.try("203.0.113.50", "alice", "wrong password") })
	}
	wg.Wait()
	failed, throttled := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, identity.ErrInvalidCredentials):
			failed++
		case errors.Is(err, identity.ErrThrottled):
			throttled++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if failed != 5 || throttled != 35 || f.calls() != 5 {
		t.Errorf("%d failed, %d throttled, %d provider calls; want 5, 35, 5 (counter errors, each failing open: %d)",
			failed, throttled, f.calls(), f.reg.Stats().CounterErrors)
	}
}

// slowRemove holds every Remove until released, as a slow round trip to
// Redis would: the refused attempts of a flood are then all in the log at
// once.
type slowRemove struct {
	regulate.Counters
	waiting atomic.Int32
	release chan struct{}
}

func (s *slowRemove) Remove(ctx context.Context, id uint64, names ...string) error {
	s.waiting.Add(1)
	<-s.release
	return s.Counters.Remove(ctx, id, names...)
}

// testFloodKeepsFailures: after 5 failures, a flood of 60 attempts from the
// same address, all refused, must not push the 5 failures out of the log
// while the refused attempts wait to be taken back; otherwise, once they
// are, the pair's log is empty and the next guess reaches the provider.
func testFloodKeepsFailures(t *testing.T, newCounters countersFactory) {
	slow := &slowRemove{Counters: newCounters(t), release: make(chan struct{})}
	f := newFixture(t, slow, regulate.Config{})
	const ip = "203.0.113.60"
	for i := range 5 {
		mustFail(t, f.try(ip, "alice", "wrong password"), fmt.Sprintf("guess %d", i+1))
	}
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		wg.Go(func() { errs[i] = f.try(ip, "alice", "wrong password") })
	}
	for deadline := time.Now().Add(10 * time.Second); slow.waiting.Load() < int32(len(errs)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d refused attempts reached Remove", slow.waiting.Load(), len(errs))
		}
	}
	close(slow.release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, identity.ErrThrottled) {
			t.Fatalf("flood attempt %d: %v, want throttled", i, err)
		}
	}
	if err := f.try(ip, "alice", "wrong password"); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("after the flood: %v, want throttled (the 5 failures were dropped from the log)", err)
	}
	if f.calls() != 5 {
		t.Fatalf("%d guesses reached the provider, want 5", f.calls())
	}
}

// testIPv6Network: the pair limit counts an IPv6 client by its /64.
func testIPv6Network(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	for i := 1; i <= 5; i++ {
		mustFail(t, f.try(fmt.Sprintf("2001:db8:1:2::%x", i), "alice", "wrong password"), "failure")
	}
	mustThrottle(t, f.try("2001:db8:1:2:ffff:ffff:ffff:ffff", "alice", alicePassword), 5*time.Minute, "same /64")
	mustPass(t, f.try("2001:db8:1:3::1", "alice", alicePassword), "another /64")
	// IPv4 and IPv4-mapped IPv6 are one client.
	for i := 0; i < 5; i++ {
		mustFail(t, f.try("192.0.2.33", "bob", "wrong password"), "failure")
	}
	mustThrottle(t, f.try("::ffff:192.0.2.33", "bob", bobPassword), 5*time.Minute, "mapped address")
}

// testOnlyWrongCredentialsCount: an unavailable provider is not a failed
// guess.
func testOnlyWrongCredentialsCount(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	f.mock.Fail(mock.OpAuthenticate, identity.ErrUnavailable)
	for i := 0; i < 10; i++ {
		if err := f.try("203.0.113.60", "alice", "wrong password"); !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("provider down: %v", err)
		}
	}
	f.mock.Clear(mock.OpAuthenticate)
	for i := 0; i < 5; i++ {
		mustFail(t, f.try("203.0.113.60", "alice", "wrong password"), "failure once the provider is back")
	}
	mustThrottle(t, f.try("203.0.113.60", "alice", alicePassword), 5*time.Minute, "6th")
}

// testFoldedLogin: logins differing only in case are one login.
func testFoldedLogin(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{})
	for _, login := range []string{"alice", "ALICE", "Alice", "aLiCe", "ALIce"} {
		mustFail(t, f.try("203.0.113.70", login, "wrong password"), login)
	}
	mustThrottle(t, f.try("203.0.113.70", "alice", alicePassword), 5*time.Minute, "folded")
}

// testLimitsOff: a negative limit turns that limit off.
func testLimitsOff(t *testing.T, newCounters countersFactory) {
	f := newFixture(t, newCounters(t), regulate.Config{PairMaxFailures: -1, AccountMaxFailures: 8})
	for i := 0; i < 8; i++ {
		mustFail(t, f.try("203.0.113.80", "alice", "wrong password"), "no pair limit")
	}
	mustThrottle(t, f.try("203.0.113.80", "alice", alicePassword), time.Second, "login limit still on")

	f = newFixture(t, newCounters(t), regulate.Config{PairMaxFailures: -1, AccountMaxFailures: -1})
	for i := 0; i < 200; i++ {
		mustFail(t, f.try("203.0.113.80", "alice", "wrong password"), "no limit at all")
	}
	mustPass(t, f.try("203.0.113.80", "alice", alicePassword), "no limit at all")
}

// failingCounters always fail, as a Redis that is down.
type failingCounters struct{ calls int }

func (c *failingCounters) Add(context.Context, time.Time, uint64, ...regulate.Key) ([]regulate.Log, error) {
	c.calls++
	return nil, errors.New("connection refused")
}
func (c *failingCounters) Remove(context.Context, uint64, ...string) error {
	return errors.New("connection refused")
}
func (c *failingCounters) Reset(context.Context, ...string) error {
	return errors.New("connection refused")
}

// TestFailOpen: when the counters fail, attempts go through (nobody is
// locked out by an outage), the errors are counted, and a fallback, when
// configured, keeps regulating.
func TestFailOpen(t *testing.T) {
	down := &failingCounters{}
	f := newFixture(t, down, regulate.Config{})
	for i := 0; i < 20; i++ {
		mustFail(t, f.try("203.0.113.90", "alice", "wrong password"), "counters down")
	}
	mustPass(t, f.try("203.0.113.90", "alice", alicePassword), "counters down")
	// After the first error, the counters are left alone for a while.
	if s := f.reg.Stats(); s.CounterErrors == 0 || s.CounterErrors != uint64(down.calls) || down.calls > 2 || s.Blocks != 0 {
		t.Errorf("stats %+v, %d calls of the counters", s, down.calls)
	}

	f = newFixture(t, &failingCounters{}, regulate.Config{Fallback: regulate.NewMemory(regulate.MemoryConfig{})})
	for i := 0; i < 5; i++ {
		mustFail(t, f.try("203.0.113.90", "alice", "wrong password"), "counters down, fallback")
	}
	mustThrottle(t, f.try("203.0.113.90", "alice", alicePassword), 5*time.Minute, "the fallback regulates")
	if s := f.reg.Stats(); s.CounterErrors == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestAPIKeysNotRegulated: API key authentication passes straight through.
func TestAPIKeysNotRegulated(t *testing.T) {
	f := newFixture(t, nil, regulate.Config{PairMaxFailures: 1, AccountMaxFailures: 1})
	for i := 0; i < 10; i++ {
		_, _, err := f.reg.AuthenticateAPIKey(identity.WithClientIP(t.Context(), "203.0.113.1"), "gk_nope", "gks_nope")
		mustFail(t, err, "api key")
	}
	if f.mock.Calls(mock.OpAuthenticateAPIKey) != 10 {
		t.Errorf("calls %d", f.mock.Calls(mock.OpAuthenticateAPIKey))
	}
	if f.reg.Unwrap() != identity.Provider(f.mock) {
		t.Error("Unwrap does not return the provider")
	}
}

// TestMemoryBound: distinct logins beyond MaxLogs evict the least recently
// used logs, and expired logs are swept.
func TestMemoryBound(t *testing.T) {
	mem := regulate.NewMemory(regulate.MemoryConfig{MaxLogs: 500})
	f := newFixture(t, mem, regulate.Config{})
	for i := 0; i < 5000; i++ {
		mustFail(t, f.try("203.0.113.100", fmt.Sprintf("user%d", i), "wrong password"), "spray")
	}
	if n := mem.Len(); n > 500 {
		t.Errorf("%d logs held, bound 500", n)
	}
	if mem.Evictions() == 0 {
		t.Error("no evictions counted")
	}
	// The most recent logins are still regulated.
	for i := 0; i < 4; i++ {
		mustFail(t, f.try("203.0.113.100", "user4999", "wrong password"), "recent")
	}
	mustThrottle(t, f.try("203.0.113.100", "user4999", "x"), 5*time.Minute, "recent login still counted")

	// Once every window has passed, the next attempt sweeps everything.
	f.clock.Advance(time.Hour + time.Minute)
	mustFail(t, f.try("203.0.113.100", "someone", "wrong password"), "after the hour")
	if n := mem.Len(); n != 2 {
		t.Errorf("%d logs held after every window passed, want 2", n)
	}
}

// TestLoginLockBound: a greedy attacker with unlimited addresses, trying
// every second for 4 hours as many times as it is let, fails at most 112
// times in any hour: 100, then one per lock.
func TestLoginLockBound(t *testing.T) {
	f := newFixture(t, nil, regulate.Config{})
	var failures []time.Time
	ip := 0
	for s := 0; s < 4*3600; s++ {
		for {
			ip++
			err := f.try(fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255), "alice", "wrong password")
			if errors.Is(err, identity.ErrThrottled) {
				break
			}
			mustFail(t, err, "attack")
			failures = append(failures, f.clock.Now())
		}
		f.clock.Advance(time.Second)
	}
	most, from := 0, 0
	for i, at := range failures {
		for at.Sub(failures[from]) >= time.Hour {
			from++
		}
		most = max(most, i-from+1)
	}
	t.Logf("%d failures in 4 h; at most %d in any hour", len(failures), most)
	if most > 112 {
		t.Errorf("%d failures within an hour, want at most 112", most)
	}
	if len(failures) < 4*100 {
		t.Errorf("only %d failures in 4 h: the lock outlasts its window", len(failures))
	}
}

// ctxCounters are Memory counters that fail when the context has ended,
// as Redis does.
type ctxCounters struct{ *regulate.Memory }

func (c ctxCounters) Add(ctx context.Context, now time.Time, id uint64, keys ...regulate.Key) ([]regulate.Log, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Memory.Add(ctx, now, id, keys...)
}

// TestCallerGoneIsNotAnOutage: a client hanging up does not count as a
// failure of the counters (which would switch regulation to the fallback
// for everyone), nor reach the provider.
func TestCallerGoneIsNotAnOutage(t *testing.T) {
	f := newFixture(t, ctxCounters{regulate.NewMemory(regulate.MemoryConfig{})}, regulate.Config{})
	ctx, cancel := context.WithCancel(identity.WithClientIP(t.Context(), "203.0.113.1"))
	cancel()
	if _, err := f.reg.Authenticate(ctx, "alice", alicePassword); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if s := f.reg.Stats(); s.CounterErrors != 0 || f.calls() != 0 {
		t.Errorf("stats %+v, %d provider calls", s, f.calls())
	}
	for i := 0; i < 5; i++ {
		mustFail(t, f.try("203.0.113.1", "alice", "wrong password"), "failure")
	}
	mustThrottle(t, f.try("203.0.113.1", "alice", alicePassword), 5*time.Minute, "still regulated by the counters")
}
