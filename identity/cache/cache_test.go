package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

const pw = "correct horse battery"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	m   *mock.Provider
	c   *cache.Cache
	clk *clock
	acc *identity.Account
	key *identity.NewAPIKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	m := mock.New(mock.WithFastHashing())
	acc, err := m.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.CreateAPIKey(ctx, acc.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	return &fixture{m: m, c: cache.New(m, cache.Config{TTL: time.Minute, StaleTTL: 5 * time.Minute, Now: clk.Now}), clk: clk, acc: acc, key: k}
}

// TestConformance: the cache changes no behaviour of the provider it wraps.
func TestConformance(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) identity.Provider {
		return cache.New(mock.New(mock.WithFastHashing()), cache.Config{})
	})
}

func TestHitsSkipTheProvider(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 10 {
		if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.m.Calls(mock.OpAuthenticate); got != 1 {
		t.Errorf("provider Authenticate called %d times, want 1", got)
	}
	if got := f.m.Calls(mock.OpAuthenticateAPIKey); got != 1 {
		t.Errorf("provider AuthenticateAPIKey called %d times, want 1", got)
	}
	if s := f.c.Stats(); s.Hits != 18 || s.Misses != 2 || s.Entries != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestFailuresAreNotCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		if _, err := f.c.Authenticate(ctx, "alice", "wrong password!"); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("wrong password = %v", err)
		}
	}
	if got := f.m.Calls(mock.OpAuthenticate); got != 3 {
		t.Errorf("failures reached the provider %d times, want 3", got)
	}
	// A cached success for one password says nothing about another.
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Authenticate(ctx, "alice", pw+"x"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("another password = %v", err)
	}
	if _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret+"x"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("another secret = %v", err)
	}
}

func TestEntriesExpire(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(59 * time.Second)
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(2 * time.Second)
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if got := f.m.Calls(mock.OpAuthenticate); got != 2 {
		t.Errorf("provider called %d times across the TTL, want 2", got)
	}
}

func TestChangesThroughTheCacheInvalidate(t *testing.T) {
	ctx := context.Background()
	disabled := identity.StatusDisabled
	newPassword := "another long password"
	tests := []struct {
		name   string
		change func(f *fixture) error
		check  func(f *fixture) error // must fail with invalid credentials
	}{
		{"disable account", func(f *fixture) error {
			_, err := f.c.UpdateAccount(ctx, f.acc.ID, identity.AccountUpdate{Status: &disabled})
			return err
		}, func(f *fixture) error { _, err := f.c.Authenticate(ctx, "alice", pw); return err }},
		{"change password", func(f *fixture) error {
			_, err := f.c.UpdateAccount(ctx, f.acc.ID, identity.AccountUpdate{Password: &newPassword})
			return err
		}, func(f *fixture) error { _, err := f.c.Authenticate(ctx, "alice", pw); return err }},
		{"delete account", func(f *fixture) error { return f.c.DeleteAccount(ctx, f.acc.ID) },
			func(f *fixture) error { _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret); return err }},
		{"disable key", func(f *fixture) error {
			_, err := f.c.SetAPIKeyStatus(ctx, f.key.ID, identity.StatusDisabled)
			return err
		}, func(f *fixture) error { _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret); return err }},
		{"delete key", func(f *fixture) error { return f.c.DeleteAPIKey(ctx, f.key.ID) },
			func(f *fixture) error { _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.c.AuthenticateAPIKey(ctx, f.key.ID, f.key.Secret); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(f); err != nil {
				t.Fatal(err)
			}
			if err := tt.check(f); !errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("after %s: %v, want invalid credentials", tt.name, err)
			}
		})
	}
}

// held is a provider whose password logins, once decided, wait for
// release before answering: a login still in flight when something else
// happens.
type held struct {
	identity.Provider
	decided chan struct{}
	release chan struct{}
}

func (h *held) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	acc, err := h.Provider.Authenticate(ctx, login, password)
	select {
	case h.decided <- struct{}{}:
	default:
	}
	<-h.release
	return acc, err
}

// TestChangeDuringALoginInvalidates: a login that succeeded with the old
// password, but answers after the password changed through the cache, is
// not cached: the old password stops working at once.
func TestChangeDuringALoginInvalidates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	h := &held{Provider: f.m, decided: make(chan struct{}, 1), release: make(chan struct{})}
	c := cache.New(h, cache.Config{TTL: time.Minute, Now: f.clk.Now})
	done := make(chan error, 1)
	go func() {
		_, err := c.Authenticate(ctx, "alice", pw)
		done <- err
	}()
	<-h.decided
	newPassword := "another long password"
	if _, err := c.UpdateAccount(ctx, f.acc.ID, identity.AccountUpdate{Password: &newPassword}); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatalf("the login in flight: %v", err)
	}
	if _, err := c.Authenticate(ctx, "alice", pw); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("old password after the change: %v, want invalid credentials", err)
	}
	if _, err := c.Authenticate(ctx, "alice", newPassword); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestStaleIfError(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	f.m.Fail(mock.AllOps, identity.ErrUnavailable)
	f.clk.Add(2 * time.Minute) // stale, within StaleTTL
	acc, err := f.c.Authenticate(ctx, "alice", pw)
	if err != nil || acc.ID != f.acc.ID {
		t.Fatalf("stale answer during an outage: %v, %v", acc, err)
	}
	if f.c.Stats().Stale != 1 {
		t.Errorf("stale count = %d", f.c.Stats().Stale)
	}
	// Never-seen credentials get the outage error, not a wrong password.
	if _, err := f.c.Authenticate(ctx, "alice", "unseen password!"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("unseen credentials during an outage = %v", err)
	}
	f.clk.Add(4 * time.Minute) // past StaleTTL
	if _, err := f.c.Authenticate(ctx, "alice", pw); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("past StaleTTL = %v, want unavailable", err)
	}
	// Other errors never fall back on a stale answer.
	f.m.Reset()
	if _, err := f.c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(2 * time.Minute)
	f.m.Fail(mock.OpAuthenticate, errors.New("boom"))
	if _, err := f.c.Authenticate(ctx, "alice", pw); err == nil || errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("internal error = %v, want it passed through", err)
	}
}

// TestConcurrentColdLoginsCollapse: 200 identical logins arriving together
// make one provider call.
func TestConcurrentColdLoginsCollapse(t *testing.T) {
	f := newFixture(t)
	f.m.Delay(mock.OpAuthenticate, 200*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := f.c.Authenticate(context.Background(), "alice", pw)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.m.Calls(mock.OpAuthenticate); got != 1 {
		t.Errorf("200 concurrent cold logins made %d provider calls, want 1", got)
	}
}

func TestWaiterHonoursItsContext(t *testing.T) {
	f := newFixture(t)
	f.m.Delay(mock.OpAuthenticate, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := f.c.Authenticate(ctx, "alice", pw); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("waiter kept waiting past its deadline")
	}
}

// watched is a provider whose password logins wait for their context to
// end, and report its error on ended.
type watched struct {
	identity.Provider
	started chan struct{}
	ended   chan error
}

func (w *watched) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	w.started <- struct{}{}
	<-ctx.Done()
	w.ended <- ctx.Err()
	return nil, ctx.Err()
}

// TestSharedCallEndsWithItsLastCaller: a collapsed login goes on while any
// of its callers waits, and is cancelled (so the provider stops queueing
// it for the KDF or the directory) when the last one has gone; a caller
// arriving after that starts a new call.
func TestSharedCallEndsWithItsLastCaller(t *testing.T) {
	w := &watched{Provider: mock.New(mock.WithFastHashing()), started: make(chan struct{}, 2), ended: make(chan error, 2)}
	c := cache.New(w, cache.Config{})
	first, leaveFirst := context.WithCancel(context.Background())
	second, leaveSecond := context.WithCancel(context.Background())
	results := make(chan error, 2)
	go func() { _, err := c.Authenticate(first, "alice", pw); results <- err }()
	<-w.started
	go func() { _, err := c.Authenticate(second, "alice", pw); results <- err }()
	for cache.Waiting(c) < 2 {
		time.Sleep(time.Millisecond)
	}

	leaveFirst()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v, want its own cancellation", err)
	}
	select {
	case err := <-w.ended:
		t.Fatalf("the shared call ended (%v) while a caller still waited", err)
	case <-time.After(50 * time.Millisecond):
	}

	leaveSecond()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("second caller: %v, want its own cancellation", err)
	}
	select {
	case err := <-w.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the shared call ended with %v, want cancellation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the shared call went on after every caller had gone")
	}

	// A new caller gets a call of its own, not the cancelled one.
	third, leaveThird := context.WithCancel(context.Background())
	go func() { _, err := c.Authenticate(third, "alice", pw); results <- err }()
	select {
	case <-w.started:
	case <-time.After(10 * time.Second):
		t.Fatal("a caller after the cancellation started no call")
	}
	leaveThird()
	<-results
	<-w.ended
}

// acceptAll is a provider whose every login succeeds, as its own account,
// to push many distinct credentials through the cache.
type acceptAll struct{ identity.Provider }

func (acceptAll) Authenticate(_ context.Context, login, _ string) (*identity.Account, error) {
	return &identity.Account{ID: login, Username: login, Status: identity.StatusEnabled}, nil
}

// TestBoundedByMaxEntries pushes a million distinct credentials through a
// cache of 10 000 entries: it stays at its bound, and so does its memory.
func TestBoundedByMaxEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("a million authentications")
	}
	const max = 10_000
	c := cache.New(acceptAll{}, cache.Config{MaxEntries: max})
	ctx := context.Background()
	var before, after runtime.MemStats
	for i := range 1_000_000 {
		if _, err := c.Authenticate(ctx, fmt.Sprintf("user%d", i), "pw"); err != nil {
			t.Fatal(err)
		}
		if i == 100_000 {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	s := c.Stats()
	if s.Entries != max {
		t.Errorf("entries = %d, want %d", s.Entries, max)
	}
	if s.Evictions != 1_000_000-max {
		t.Errorf("evictions = %d, want %d", s.Evictions, 1_000_000-max)
	}
	// Between 100k and 1M credentials the live heap must not grow with them.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew by %d bytes while the cache was full", grew)
	}
	t.Logf("heap with a full cache of %d: %d KiB", max, after.HeapAlloc>>10)
}

func BenchmarkAuthenticateHit(b *testing.B) {
	m := mock.New(mock.WithFastHashing())
	if _, err := m.CreateAccount(context.Background(), identity.AccountCreate{Username: "alice", Password: pw}); err != nil {
		b.Fatal(err)
	}
	c := cache.New(m, cache.Config{})
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, "alice", pw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Authenticate(ctx, "alice", pw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
