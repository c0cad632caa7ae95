package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &TokenVerifier{p: p, cfg: cfg}
}

// Verify checks raw and returns its claims. A bad token fails with an error
// matching token.ErrInvalidToken; a provider that cannot be reached fails
// with identity.ErrUnavailable.
func (tv *TokenVerifier) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	claims, err := tv.verifySignature(ctx, raw)
	if err != nil {
		return nil, err
	}
	revoked, err := tv.p.TokenRevoked(ctx, claims.ID)
	if err != nil {
		return nil, fmt.Errorf("check revocation: %w", err)
	}
	if revoked {
		return nil, fmt.Errorf("%w: revoked", token.ErrInvalidToken)
	}
	return claims, nil
}

func (tv *TokenVerifier) verifySignature(ctx context.Context, raw string) (*token.Claims, error) {
	v, err := tv.verifier(ctx, false)
	if err != nil {
		return nil, err
	}
	claims, err := v.Verify(raw, tv.cfg.Now())
	if errors.Is(err, token.ErrUnknownKey) {
		// Perhaps the key was rotated since the last fetch.
		if v, err = tv.verifier(ctx, true); err != nil {
			return nil, err
		}
		claims, err = v.Verify(raw, tv.cfg.Now())
	}
	if err != nil {
		return nil, err
	}
	return &claims, nil
}

// Revoke verifies raw and revokes it until it expires. An invalid token is
// reported with token.ErrInvalidToken, so the caller can ignore it (RFC 7009
// answers 200 either way).
func (tv *TokenVerifier) Revoke(ctx context.Context, raw string) error {
	claims, err := tv.verifySignature(ctx, raw)
	if err != nil {
		return err
	}
	return tv.p.RevokeToken(ctx, claims.ID, claims.ExpiresAt)
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
