// Package cache is a credential cache in front of any identity.Provider:
// it remembers successful password and API key authentications so that a
// client repeating the same credentials costs a hash and a map lookup
// instead of an argon2id verification or a round trip to the directory.
//
// What it keeps, and the trade-offs:
//
//   - Keys are HMAC-SHA256 of the credentials under a random per-process key,
//     never a plaintext or a plain hash of a secret, so a memory dump does not
//     give an offline guessing oracle.
//   - Only successes are cached; every failure goes to the provider, so
//     failed-login regulation and auditing still see each attempt.
//   - Entries are fresh for TTL (default 60 s). A change made through this
//     Provider (password, status, key disabled or deleted, account deleted)
//     drops the account's entries at once. A change made elsewhere (another
//     API server, the directory's admin) is seen when the entry expires: for
//     up to TTL, a just-changed password or a just-disabled account still
//     works here.
//   - Stale-if-error: when the provider is unavailable, a cached success up
//     to StaleTTL old (default 5 min) is still honoured, so an outage does not
//     lock out active clients. This widens the window above to StaleTTL
//     during an outage.
//   - Concurrent identical authentications that miss share one provider
//     call, which is cancelled when all of them have gone (see flights).
//   - The cache is bounded to MaxEntries (LRU), whatever the number of
//     distinct credentials pushed through it.
package cache

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Config configures a Cache. Zero fields take the defaults named on them.
type Config struct {
	// MaxEntries bounds the number of cached credentials. Default 100 000.
	MaxEntries int
	// TTL is how long a success is trusted. Default 60 s.
	TTL time.Duration
	// StaleTTL is how long a success may still be used while the provider
	// is unavailable. Default 5 min; it is never below TTL.
	StaleTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, Evictions, Stale uint64
	Entries                        int
}

// Cache is an identity.Provider that caches successful authentications of
// the Provider it wraps; every other method passes through, and methods that
// change an account drop its entries.
type Cache struct {
	identity.Provider
	cfg Config

	macKey  []byte
	macPool sync.Pool // of *macState
	entries *lru.Cache[key, *entry]
	flights flights

	mu    sync.Mutex
	index map[string]map[key]struct{} // "a:"+account id or "k:"+key id -> entries
	// gen counts invalidations (written under mu). A load that an
	// invalidation overtook is not stored: it may have succeeded with the
	// password just changed. One count for every account keeps this to an
	// atomic load per miss; the cost is that a change to any account keeps
	// the logins then in flight out of the cache, and changes are rare.
	gen atomic.Uint64

	hits, misses, evictions, stale atomic.Uint64
}

type key [sha256.Size]byte

// entry is one cached success.
type entry struct {
	account *identity.Account
	apiKey  *identity.APIKey // for API key authentications
	stored  time.Time
}

var _ identity.Provider = (*Cache)(nil)

// New wraps p with a credential cache.
func New(p identity.Provider, cfg Config) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 60 * time.Second
	}
	if cfg.StaleTTL <= 0 {
		cfg.StaleTTL = 5 * time.Minute
	}
	cfg.StaleTTL = max(cfg.StaleTTL, cfg.TTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{Provider: p, cfg: cfg, index: map[string]map[key]struct{}{}}
	c.macKey = make([]byte, 32)
	if _, err := rand.Read(c.macKey); err != nil {
		panic("cache: no randomness: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	c.macPool.New = func() any { return &macState{h: hmac.New(sha256.New, c.macKey)} }
	entries, err := lru.NewWithEvict(cfg.MaxEntries, c.unindex)
	if err != nil {
		panic(err) // only for a size <= 0, excluded above
	}
	c.entries = entries
	return c
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(), Stale: c.stale.Load(),
		Entries: c.entries.Len(),
	}
}

// mac computes the cache key of a credential pair under the process key.
// kind separates the namespaces ("p" password, "k" API key), and lengths
// are written so that no two different pairs give the same input.
func (c *Cache) mac(kind byte, a, b string) key {
	st := c.macPool.Get().(*macState)
	buf := append(st.buf[:0], kind)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(a)))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
	buf = append(buf, a...)
	buf = append(buf, b...)
	st.h.Reset()
	st.h.Write(buf)
	var k key
	st.h.Sum(k[:0])
	clear(buf) // the buffer held a secret
	st.buf = buf
	c.macPool.Put(st)
	return k
}

// macState is a reusable HMAC and scratch buffer, so a cache hit does not
// allocate for hashing.
type macState struct {
	h   hash.Hash
	buf []byte
}

// Authenticate implements identity.Provider with the cache.
func (c *Cache) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	k := c.mac('p', login, password)
	if e, ok := c.fresh(k); ok {
		acc := *e.account
		return &acc, nil
	}
	e, err := c.lookup(ctx, k, func(ctx context.Context) (*entry, error) {
		acc, err := c.Provider.Authenticate(ctx, login, password)
		if err != nil {
			return nil, err
		}
		return &entry{account: acc}, nil
	})
	if err != nil {
		return nil, err
	}
	acc := *e.account
	return &acc, nil
}

// AuthenticateAPIKey implements identity.Provider with the cache.
func (c *Cache) AuthenticateAPIKey(ctx context.Context, id, secret string) (*identity.Account, *identity.APIKey, error) {
	k := c.mac('k', id, secret)
	if e, ok := c.fresh(k); ok {
		acc, ak := *e.account, *e.apiKey
		return &acc, &ak, nil
	}
	e, err := c.lookup(ctx, k, func(ctx context.Context) (*entry, error) {
		acc, ak, err := c.Provider.AuthenticateAPIKey(ctx, id, secret)
		if err != nil {
			return nil, err
		}
		return &entry{account: acc, apiKey: ak}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	acc, ak := *e.account, *e.apiKey
	return &acc, &ak, nil
}

// fresh returns a cached entry younger than TTL: the hit path, which
// allocates nothing but the caller's copy of the result.
func (c *Cache) fresh(k key) (*entry, bool) {
	e, ok := c.entries.Get(k)
	if ok && c.cfg.Now().Sub(e.stored) < c.cfg.TTL {
		c.hits.Add(1)
		return e, true
	}
	return nil, false
}

// lookup answers from a fresh entry, or collapses concurrent misses into one
// call of load, or falls back on a stale entry when the provider is
// unavailable.
func (c *Cache) lookup(ctx context.Context, k key, load func(context.Context) (*entry, error)) (*entry, error) {
	now := c.cfg.Now()
	old, found := c.entries.Get(k)
	if found {
		age := now.Sub(old.stored)
		if age < c.cfg.TTL {
			c.hits.Add(1)
			return old, nil
		}
		if age >= c.cfg.StaleTTL {
			c.entries.Remove(k)
			found = false
		}
	}
	c.misses.Add(1)
	// The shared call does not die with the first caller's context, or
	// every collapsed caller would fail with it; each caller stops waiting
	// when its own context ends, and the call when all have.
	e, err := c.flights.do(ctx, k, func(ctx context.Context) (*entry, error) {
		gen := c.gen.Load()
		e, err := load(ctx)
		if err != nil {
			return nil, err
		}
		e.stored = c.cfg.Now()
		c.store(k, e, gen)
		return e, nil
	})
	if err != nil {
		if found && errors.Is(err, identity.ErrUnavailable) {
			c.stale.Add(1)
			return old, nil
		}
		if found && errors.Is(err, identity.ErrInvalidCredentials) {
			c.entries.Remove(k) // the credentials stopped working
		}
		return nil, err
	}
	return e, nil
}

func tags(e *entry) []string {
	t := []string{"a:" + e.account.ID}
	if e.apiKey != nil {
		t = append(t, "k:"+e.apiKey.ID)
	}
	return t
}

// store adds e, loaded when the invalidation count was gen, and indexes it
// by account and key, for invalidation; unless an invalidation ran since.
func (c *Cache) store(k key, e *entry, gen uint64) {
	c.mu.Lock()
	if c.gen.Load() != gen {
		c.mu.Unlock()
		return
	}
	for _, t := range tags(e) {
		if c.index[t] == nil {
			c.index[t] = map[key]struct{}{}
		}
		c.index[t][k] = struct{}{}
	}
	c.mu.Unlock()
	// Add outside c.mu: the eviction callback takes c.mu.
	if c.entries.Add(k, e) {
		c.evictions.Add(1)
	}
	if c.gen.Load() != gen {
		// An invalidation ran between the unlock and the Add, and found
		// nothing to remove yet.
		c.entries.Remove(k)
	}
}

// unindex is the LRU's eviction callback (capacity, Remove and Purge).
func (c *Cache) unindex(k key, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range tags(e) {
		if m := c.index[t]; m != nil {
			delete(m, k)
			if len(m) == 0 {
				delete(c.index, t)
			}
		}
	}
}

// invalidate drops every entry tagged t.
func (c *Cache) invalidate(t string) {
	c.mu.Lock()
	c.gen.Add(1)
	keys := make([]key, 0, len(c.index[t]))
	for k := range c.index[t] {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.entries.Remove(k)
	}
}

// InvalidateAccount drops every cached authentication of an account. The
// Provider's own changes call it; callers that learn of changes made
// elsewhere may call it too.
func (c *Cache) InvalidateAccount(accountID string) { c.invalidate("a:" + accountID) }

// UpdateAccount implements identity.Provider and drops the account's
// entries: its password, status or logins may have changed.
func (c *Cache) UpdateAccount(ctx context.Context, id string, u identity.AccountUpdate) (*identity.Account, error) {
	acc, err := c.Provider.UpdateAccount(ctx, id, u)
	c.InvalidateAccount(id) // also on error: the change may have happened
	return acc, err
}

// DeleteAccount implements identity.Provider and drops the account's entries.
func (c *Cache) DeleteAccount(ctx context.Context, id string) error {
	err := c.Provider.DeleteAccount(ctx, id)
	c.InvalidateAccount(id)
	return err
}

// SetAPIKeyStatus implements identity.Provider and drops the key's entries.
func (c *Cache) SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*identity.APIKey, error) {
	k, err := c.Provider.SetAPIKeyStatus(ctx, id, status)
	c.invalidate("k:" + id)
	return k, err
}

// DeleteAPIKey implements identity.Provider and drops the key's entries.
func (c *Cache) DeleteAPIKey(ctx context.Context, id string) error {
	err := c.Provider.DeleteAPIKey(ctx, id)
	c.invalidate("k:" + id)
	return err
}

// Unwrap returns the wrapped provider, so callers can find its optional
// capabilities (identity.FindRevocationFeed).
func (c *Cache) Unwrap() identity.Provider { return c.Provider }
