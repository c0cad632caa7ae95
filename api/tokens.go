package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// TokenVerifierConfig configures a TokenVerifier.
type TokenVerifierConfig struct {
	// Leeway is the clock skew tolerated on exp and iat. Default 30 s.
	Leeway time.Duration
	// RefreshInterval is how long a fetched JWKS is trusted before it is
	// fetched again. A token naming an unknown key triggers an earlier
	// refetch (at most once per MinRefreshInterval), which is how a
	// rotation is picked up. Default 5 min.
	RefreshInterval time.Duration
	// MinRefreshInterval bounds refetches caused by unknown keys, so forged
	// kids cannot make every request fetch the JWKS. Default 10 s.
	MinRefreshInterval time.Duration
	// RevocationTTL is how long the provider's answer "not revoked" is
	// trusted for a token id before it is asked again. When the provider
	// cannot be reached, the last answer is used until the token expires,
	// so tokens keep working through an outage; a token revoked elsewhere
	// during that window is honoured until its answer is refreshed.
	// Revocations made through this verifier take effect at once.
	// Default 5 s.
	RevocationTTL time.Duration
	// AccountTTL is how long a token's account, found ENABLED, is trusted
	// before it is read again; so disabling or deleting an account ends its
	// tokens within this time. When the provider cannot be reached, the last
	// good answer is used until the token expires. Default 5 s.
	AccountTTL time.Duration
	// Feed, when set, is polled every RevocationPoll for revocations made
	// since the last poll, and revocation checks are answered from what it
	// returned: one cheap call per interval instead of one per token, and
	// tokens keep verifying while the provider is down (with the
	// revocations known at the last successful poll). Default: the
	// provider's own feed, if it has one (identity.FindRevocationFeed).
	Feed identity.RevocationFeed
	// RevocationPoll is how often Feed is polled: a revocation made
	// elsewhere takes effect here within this time. Default 5 s.
	RevocationPoll time.Duration
	// MaxVerified bounds how many verified tokens are remembered (by their
	// SHA-256, until they expire), so a repeat presentation costs a hash
	// instead of a signature check. Default 100 000.
	MaxVerified int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// TokenVerifier checks Gatehouse tokens locally: the signature against the
// provider's published JWKS (fetched once and refreshed), the expiry,
// issuer and audience, and then asks the provider whether the token id was
// revoked.
type TokenVerifier struct {
	p   identity.Provider
	cfg TokenVerifierConfig

	mu      sync.Mutex
	v       *token.Verifier
	fetched time.Time

	verified    *lru.Cache[[32]byte, *token.Claims]
	revocations revocationCache
	accounts    accountCache
	feed        *feedState // nil without a Feed
}

// NewTokenVerifier returns a verifier for tokens issued by p.
func NewTokenVerifier(p identity.Provider, cfg TokenVerifierConfig) *TokenVerifier {
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Minute
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 10 * time.Second
	}
	if cfg.RevocationTTL <= 0 {
		cfg.RevocationTTL = 5 * time.Second
	}
	if cfg.AccountTTL <= 0 {
		cfg.AccountTTL = 5 * time.Second
	}
	if cfg.RevocationPoll <= 0 {
		cfg.RevocationPoll = 5 * time.Second
	}
	if cfg.Feed == nil {
		cfg.Feed, _ = identity.FindRevocationFeed(p)
	}
	if cfg.MaxVerified <= 0 {
		cfg.MaxVerified = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	verified, _ := lru.New[[32]byte, *token.Claims](cfg.MaxVerified) // size > 0: no error
	tv := &TokenVerifier{p: p, cfg: cfg, verified: verified, revocations: revocationCache{entries: map[string]revocationEntry{}},
		accounts: accountCache{entries: map[string]accountEntry{}}}
	if cfg.Feed != nil {
		tv.feed = &feedState{revoked: map[string]time.Time{}}
	}
	return tv
}

// Verify checks raw and returns its claims. A bad token fails with an error
// matching token.ErrInvalidToken; a provider that cannot be reached fails
// with identity.ErrUnavailable.
func (tv *TokenVerifier) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	return tv.verify(ctx, raw, token.Hash(raw))
}

// verify is Verify for a caller that has already hashed raw.
func (tv *TokenVerifier) verify(ctx context.Context, raw string, h [32]byte) (*token.Claims, error) {
	claims, err := tv.verifySignature(ctx, raw, h)
	if err != nil {
		return nil, err
	}
	revoked, err := tv.revoked(ctx, claims)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fmt.Errorf("%w: revoked", token.ErrInvalidToken)
	}
	return claims, nil
}

// Authenticate verifies raw like Verify and returns its account, which must
// exist and be ENABLED (else identity.ErrInvalidCredentials).
func (tv *TokenVerifier) Authenticate(ctx context.Context, raw string) (*token.Claims, *identity.Account, error) {
	return tv.authenticate(ctx, raw, token.Hash(raw))
}

// authenticate is Authenticate for a caller that has already hashed raw.
func (tv *TokenVerifier) authenticate(ctx context.Context, raw string, h [32]byte) (*token.Claims, *identity.Account, error) {
	claims, err := tv.verify(ctx, raw, h)
	if err != nil {
		return nil, nil, err
	}
	acc, err := tv.account(ctx, claims)
	if err != nil {
		return nil, nil, err
	}
	return claims, acc, nil
}

// account returns the token's account: from the cache while fresh, from the
// provider otherwise, and from a stale cache entry when the provider is
// unavailable. Only ENABLED accounts are cached.
func (tv *TokenVerifier) account(ctx context.Context, claims *token.Claims) (*identity.Account, error) {
	now := tv.cfg.Now()
	e, known := tv.accounts.get(claims.Subject)
	if known && now.Sub(e.checked) < tv.cfg.AccountTTL {
		return e.account, nil
	}
	acc, err := tv.p.Account(ctx, claims.Subject)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		tv.accounts.drop(claims.Subject)
		return nil, identity.InvalidCredentials(identity.ReasonUnknownLogin)
	case err != nil && known && errors.Is(err, identity.ErrUnavailable):
		return e.account, nil
	case err != nil:
		return nil, err
	case acc.Status != identity.StatusEnabled:
		tv.accounts.drop(claims.Subject)
		return nil, identity.InvalidCredentials(identity.ReasonDisabled)
	}
	tv.accounts.put(acc.ID, accountEntry{account: acc, checked: now, expires: claims.ExpiresAt}, now)
	return acc, nil
}

// revoked answers from the cache while its answer is fresh, asks the
// provider otherwise, and falls back on a stale answer when the provider is
// unavailable.
func (tv *TokenVerifier) revoked(ctx context.Context, claims *token.Claims) (bool, error) {
	now := tv.cfg.Now()
	if tv.feed != nil {
		if revoked, ok := tv.feed.check(ctx, tv, claims.ID, now); ok {
			return revoked, nil
		}
		// The feed has never loaded: ask about this token directly.
	}
	e, known := tv.revocations.get(claims.ID)
	if known && (e.revoked || now.Sub(e.checked) < tv.cfg.RevocationTTL) {
		return e.revoked, nil
	}
	revoked, err := tv.p.TokenRevoked(ctx, claims.ID)
	if err != nil {
		if known && errors.Is(err, identity.ErrUnavailable) {
			return e.revoked, nil
		}
		return false, fmt.Errorf("check revocation: %w", err)
	}
	tv.revocations.put(claims.ID, revocationEntry{revoked: revoked, checked: now, expires: claims.ExpiresAt}, now)
	return revoked, nil
}

// remembered reports whether the token with hash h was verified before and
// is still remembered: the cheap way to recognise a repeat token.
func (tv *TokenVerifier) remembered(h [32]byte) bool {
	return tv.verified.Contains(h)
}

func (tv *TokenVerifier) verifySignature(ctx context.Context, raw string, h [32]byte) (*token.Claims, error) {
	if c, ok := tv.verified.Get(h); ok {
		// Verified before: only the expiry can have changed since.
		if tv.cfg.Now().Before(c.ExpiresAt.Add(tv.cfg.Leeway)) {
			return c, nil
		}
		tv.verified.Remove(h)
		return nil, token.ErrExpired
	}
	claims, err := tv.checkSignature(ctx, raw)
	if err != nil {
		return nil, err
	}
	tv.verified.Add(h, claims)
	return claims, nil
}

// checkSignature verifies raw against the JWKS.
func (tv *TokenVerifier) checkSignature(ctx context.Context, raw string) (*token.Claims, error) {
	var claims token.Claims
	err := tv.withVerifier(ctx, func(v *token.Verifier) (err error) {
		claims, err = v.Verify(raw, tv.cfg.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &claims, nil
}

// withVerifier runs fn with the verifier of the provider's published keys,
// and once more with freshly fetched keys if fn fails on a key it does not
// know: perhaps the key was rotated since the last fetch.
func (tv *TokenVerifier) withVerifier(ctx context.Context, fn func(*token.Verifier) error) error {
	v, err := tv.verifier(ctx, false)
	if err != nil {
		return err
	}
	err = fn(v)
	if errors.Is(err, token.ErrUnknownKey) {
		if v, err = tv.verifier(ctx, true); err != nil {
			return err
		}
		err = fn(v)
	}
	return err
}

// Revoke verifies raw and revokes it until it expires. An invalid token is
// reported with token.ErrInvalidToken, so the caller can ignore it (RFC 7009
// answers 200 either way).
func (tv *TokenVerifier) Revoke(ctx context.Context, raw string) error {
	claims, err := tv.verifySignature(ctx, raw, token.Hash(raw))
	if err != nil {
		return err
	}
	if err := tv.p.RevokeToken(ctx, claims.ID, claims.ExpiresAt); err != nil {
		return err
	}
	now := tv.cfg.Now()
	if tv.feed != nil {
		tv.feed.add(claims.ID, claims.ExpiresAt)
	}
	tv.revocations.put(claims.ID, revocationEntry{revoked: true, checked: now, expires: claims.ExpiresAt}, now)
	return nil
}

// maxRemembered bounds the revocation and account caches; past it, expired
// entries are swept, and if none expired new answers are simply not cached.
const maxRemembered = 100_000

// revocationCache remembers the provider's answers about token ids until the
// tokens expire.
type revocationCache struct {
	mu      sync.Mutex
	entries map[string]revocationEntry
}

type revocationEntry struct {
	revoked bool
	checked time.Time
	expires time.Time
}

func (c *revocationCache) get(jti string) (revocationEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[jti]
	return e, ok
}

func (c *revocationCache) put(jti string, e revocationEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[jti]; !ok && len(c.entries) >= maxRemembered {
		for k, old := range c.entries {
			if now.After(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxRemembered && !e.revoked {
			return
		}
	}
	c.entries[jti] = e
}

// verifier returns the current verifier, fetching the JWKS when there is
// none, when it is older than RefreshInterval, or (with unknownKey) when it
// is older than MinRefreshInterval.
func (tv *TokenVerifier) verifier(ctx context.Context, unknownKey bool) (*token.Verifier, error) {
	tv.mu.Lock()
	defer tv.mu.Unlock()
	age := tv.cfg.Now().Sub(tv.fetched)
	if tv.v != nil && age < tv.cfg.RefreshInterval && (!unknownKey || age < tv.cfg.MinRefreshInterval) {
		return tv.v, nil
	}
	v, err := tv.fetch(ctx)
	if err != nil {
		if tv.v != nil && !unknownKey {
			// Keep verifying with the keys we have: they were valid a moment
			// ago, and an unreachable provider must not fail every token.
			return tv.v, nil
		}
		return nil, err
	}
	tv.v, tv.fetched = v, tv.cfg.Now()
	return v, nil
}

func (tv *TokenVerifier) fetch(ctx context.Context) (*token.Verifier, error) {
	settings, err := tv.p.TokenSettings(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch token settings: %w", err)
	}
	doc, err := tv.p.JWKS(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, err := token.ParseJWKS(doc)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	return token.NewVerifier(keys, settings.Issuer, settings.Audience, tv.cfg.Leeway), nil
}

// accountCache remembers the ENABLED accounts of recently seen tokens, as
// long as one of their tokens may live.
type accountCache struct {
	mu      sync.Mutex
	entries map[string]accountEntry
}

type accountEntry struct {
	account *identity.Account
	checked time.Time
	expires time.Time
}

func (c *accountCache) get(id string) (accountEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return e, ok
}

func (c *accountCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

func (c *accountCache) put(id string, e accountEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[id]; ok && old.expires.After(e.expires) {
		e.expires = old.expires // keep it as long as any token may use it
	}
	if _, ok := c.entries[id]; !ok && len(c.entries) >= maxRemembered {
		for k, old := range c.entries {
			if now.After(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxRemembered {
			return
		}
	}
	c.entries[id] = e
}

// feedState is the set of revoked token ids learnt from a RevocationFeed.
type feedState struct {
	mu        sync.Mutex
	revoked   map[string]time.Time // token id -> expiry
	watermark time.Time            // RevokedAt of the newest revocation seen
	loaded    bool                 // a first full load succeeded
	lastPoll  time.Time
	polling   bool
}

// feedPage is how many revocations one poll asks for at a time.
const feedPage = 1000

// check answers whether id is revoked from the set. The first call loads
// the set synchronously; later calls start a background poll when the
// last one is older than RevocationPoll. ok is false while the set has
// never loaded (the provider was unreachable from the start).
func (f *feedState) check(ctx context.Context, tv *TokenVerifier, id string, now time.Time) (revoked, ok bool) {
	f.mu.Lock()
	loaded, due := f.loaded, !f.polling && now.Sub(f.lastPoll) >= tv.cfg.RevocationPoll
	if due {
		f.polling = true
		f.lastPoll = now
	}
	f.mu.Unlock()
	switch {
	case !loaded && due:
		f.poll(ctx, tv)
	case due:
		// Polling in the background keeps the request path free of the
		// provider's latency; a bounded context keeps a stuck provider from
		// piling up pollers (only one runs at a time anyway).
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tv.cfg.RevocationPoll*4)
			defer cancel()
			f.poll(pctx, tv)
		}()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		return false, false
	}
	exp, found := f.revoked[id]
	return found && now.Before(exp), true
}

// poll fetches the revocations made since the watermark, page by page.
func (f *feedState) poll(ctx context.Context, tv *TokenVerifier) {
	defer func() {
		f.mu.Lock()
		f.polling = false
		f.mu.Unlock()
	}()
	f.mu.Lock()
	since := f.watermark
	f.mu.Unlock()
	var got []identity.Revocation
	for {
		page, err := tv.cfg.Feed.RevokedSince(ctx, since, feedPage)
		if err != nil {
			return // keep what we know; the next poll tries again
		}
		got = append(got, page...)
		if len(page) < feedPage {
			break
		}
		since = page[len(page)-1].RevokedAt
	}
	now := tv.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range got {
		if old, ok := f.revoked[r.TokenID]; !ok || r.ExpiresAt.After(old) {
			f.revoked[r.TokenID] = r.ExpiresAt
		}
		if r.RevokedAt.After(f.watermark) {
			f.watermark = r.RevokedAt
		}
	}
	for id, exp := range f.revoked {
		if !now.Before(exp) {
			delete(f.revoked, id) // expired tokens fail on their own
		}
	}
	f.loaded = true
}

// add records a revocation made through this verifier, at once.
func (f *feedState) add(id string, exp time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[id] = exp
}
