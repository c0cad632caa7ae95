package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/seal"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// IssueToken implements identity.Provider.
func (p *Provider) IssueToken(ctx context.Context, accountID string, req identity.TokenRequest) (*identity.Token, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = p.opts.TokenTTL
	}
	if ttl < time.Second || ttl > p.opts.MaxTokenTTL {
		return nil, identity.Invalid("ttl", "The token lifetime must be between 1s and %s.", p.opts.MaxTokenTTL)
	}
	for _, s := range req.Scopes {
		if err := checkScope(s); err != nil {
			return nil, err
		}
	}
	acc, err := p.enabledAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	key, now, err := p.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	claims := token.Claims{
		ID:        ids.New(),
		Subject:   acc.ID,
		Issuer:    p.opts.Issuer,
		Audience:  p.opts.Application,
		IssuedAt:  now,
		ExpiresAt: now.Add(ttl),
		Scopes:    append([]string(nil), req.Scopes...),
	}
	raw, err := token.Sign(key, claims)
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	return &identity.Token{
		Value:     raw,
		ID:        claims.ID,
		AccountID: acc.ID,
		Scopes:    claims.Scopes,
		IssuedAt:  claims.IssuedAt,
		ExpiresAt: claims.ExpiresAt,
	}, nil
}

// checkScope applies RFC 6749 §3.3 (token.ValidScope), within 128 bytes.
func checkScope(s string) error {
	if s == "" || len(s) > 128 {
		return identity.Invalid("scope", "A scope must be 1 to 128 characters.")
	}
	if !token.ValidScope(s) {
		return identity.Invalid("scope", "A scope must be printable ASCII without spaces, quotes or backslashes.")
	}
	return nil
}

// enabledAccount returns the account with id, which must be ENABLED to be
// issued anything signed.
func (p *Provider) enabledAccount(ctx context.Context, id string) (*AccountRecord, error) {
	acc, err := p.b.AccountByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if acc.Status != identity.StatusEnabled {
		return nil, identity.InvalidCredentials(identity.ReasonDisabled)
	}
	return acc, nil
}

// signingKey returns the current (newest) signing key, creating the first
// one, and the issue time to sign with, in whole seconds as JWT times are.
func (p *Provider) signingKey(ctx context.Context) (token.SigningKey, time.Time, error) {
	keys, err := p.signingKeys(ctx)
	if err != nil {
		return token.SigningKey{}, time.Time{}, err
	}
	return keys[0], p.opts.Now().UTC().Truncate(time.Second), nil
}

// RevokeToken implements identity.Provider.
func (p *Provider) RevokeToken(ctx context.Context, tokenID string, expiresAt time.Time) error {
	if tokenID == "" || len(tokenID) > 128 {
		return identity.Invalid("jti", "The token id must be 1 to 128 characters.")
	}
	return p.b.RevokeToken(ctx, tokenID, expiresAt.UTC().Truncate(time.Millisecond), p.now())
}

// RevokedSince implements identity.RevocationFeed.
func (p *Provider) RevokedSince(ctx context.Context, since time.Time, limit int) ([]identity.Revocation, error) {
	if limit <= 0 || limit > maxRevocationPage {
		limit = maxRevocationPage
	}
	return p.b.RevokedSince(ctx, since.UTC(), p.now(), limit)
}

// maxRevocationPage bounds one page of the revocation feed.
const maxRevocationPage = 1000

var _ identity.RevocationFeed = (*Provider)(nil)

// TokenRevoked implements identity.Provider.
func (p *Provider) TokenRevoked(ctx context.Context, tokenID string) (bool, error) {
	return p.b.TokenRevoked(ctx, tokenID, p.now())
}

// JWKS implements identity.Provider.
func (p *Provider) JWKS(ctx context.Context) ([]byte, error) {
	keys, err := p.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(token.PublicJWKS(keys))
}

// TokenSettings implements identity.Provider.
func (p *Provider) TokenSettings(context.Context) (identity.TokenSettings, error) {
	return identity.TokenSettings{Issuer: p.opts.Issuer, Audience: p.opts.Application}, nil
}

// RotateSigningKey implements identity.Provider. The old keys stay published
// for MaxTokenTTL, the longest any token they signed can live (and the key
// cache time, see RotateSigningKeyOverlap).
func (p *Provider) RotateSigningKey(ctx context.Context) (string, error) {
	return p.RotateSigningKeyOverlap(ctx, p.opts.MaxTokenTTL)
}

// MaxSigningKeyOverlap bounds the overlap of RotateSigningKeyOverlap: a key
// published for longer is cruft in every verifier's key set, not safety.
const MaxSigningKeyOverlap = 366 * 24 * time.Hour

// RotateSigningKeyOverlap makes a new current signing key and keeps the
// current one published for overlap, which may be longer than MaxTokenTTL
// (for verifiers that refresh their key sets rarely) but never shorter: a
// token the old key signed could outlive it and stop verifying before it
// expires. A bad overlap is identity.Invalid("overlap").
//
// Replicas sharing the backend keep signing with the old key until their
// key cache expires, so the key stays published that much longer as well.
func (p *Provider) RotateSigningKeyOverlap(ctx context.Context, overlap time.Duration) (string, error) {
	if overlap < p.opts.MaxTokenTTL {
		return "", identity.Invalid("overlap", "The overlap must be at least %s, the longest lifetime of a token.", p.opts.MaxTokenTTL)
	}
	if overlap > MaxSigningKeyOverlap {
		return "", identity.Invalid("overlap", "The overlap must be at most %s.", MaxSigningKeyOverlap)
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	k, err := p.rotateLocked(ctx, overlap)
	if err != nil {
		return "", err
	}
	return k.ID, nil
}

// MaxTokenTTL returns the longest lifetime a token may be issued with, the
// shortest overlap of a key rotation.
func (p *Provider) MaxTokenTTL() time.Duration { return p.opts.MaxTokenTTL }

func (p *Provider) rotateLocked(ctx context.Context, overlap time.Duration) (token.SigningKey, error) {
	now := p.now()
	k, err := token.GenerateKey(now)
	if err != nil {
		return token.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	priv := k.MarshalPrivate()
	if p.opts.Sealer != nil {
		if priv, err = p.opts.Sealer.Seal(priv, p.keyAD(k.ID)); err != nil {
			return token.SigningKey{}, err
		}
	} else if err := p.refuseClearKey(ctx); err != nil {
		return token.SigningKey{}, err
	}
	rec := SigningKeyRecord{ID: k.ID, PrivateKey: priv, CreatedAt: now}
	if err := p.b.RotateSigningKey(ctx, rec, now.Add(overlap+keyCacheTTL)); err != nil {
		return token.SigningKey{}, err
	}
	p.keysLoaded = time.Time{} // force a reload
	return k, nil
}

// refuseClearKey keeps a process without a Sealer from adding a key in the
// clear to an application whose published keys are sealed: the database
// would silently hold a usable private key again.
func (p *Provider) refuseClearKey(ctx context.Context) error {
	recs, err := p.b.SigningKeys(ctx, p.now())
	if err != nil {
		return err
	}
	for _, r := range recs {
		if seal.IsSealed(r.PrivateKey) {
			return fmt.Errorf("new signing key: the stored keys are encrypted and encryption.key is not set: %w", seal.ErrUnknownKey)
		}
	}
	return nil
}

// signingKeys returns the published keys, newest first, from a short-lived
// cache; it creates the first key when the store has none.
func (p *Provider) signingKeys(ctx context.Context) ([]token.SigningKey, error) {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	now := p.opts.Now()
	if len(p.keys) > 0 && now.Sub(p.keysLoaded) < keyCacheTTL {
		return p.keys, nil
	}
	recs, err := p.b.SigningKeys(ctx, p.now())
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || !recs[0].RetireAt.IsZero() {
		if _, err := p.rotateLocked(ctx, p.opts.MaxTokenTTL); err != nil {
			return nil, err
		}
		if recs, err = p.b.SigningKeys(ctx, p.now()); err != nil {
			return nil, err
		}
	}
	keys, err := p.openKeys(recs)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no signing key after rotation")
	}
	p.keys, p.keysLoaded = keys, now
	return keys, nil
}

// openKeys parses stored keys, skipping the retiring ones no configured
// secret opens (after a secret was lost and the key rotated, say): only the
// current key is needed to sign, and tokens a skipped key signed are
// refused. keysMu is held.
func (p *Provider) openKeys(recs []SigningKeyRecord) ([]token.SigningKey, error) {
	keys := make([]token.SigningKey, 0, len(recs))
	for _, r := range recs {
		priv, _, err := p.parsePrivate(r)
		if lostKey(r, err) {
			p.warnUnopened(r.ID, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, token.SigningKey{ID: r.ID, Private: priv, CreatedAt: r.CreatedAt, RetireAt: r.RetireAt})
	}
	return keys, nil
}

// warnUnopened logs, once per key and process, a published key that is
// skipped because it cannot be opened. keysMu is held.
func (p *Provider) warnUnopened(kid string, err error) {
	if p.unopened == nil {
		p.unopened = map[string]bool{}
	}
	if !p.unopened[kid] {
		p.unopened[kid] = true
		p.log.Warn("a retiring signing key cannot be decrypted with encryption.key and is not published; tokens it signed are refused",
			"kid", kid, "error", err)
	}
}

// lostKey reports whether err, from parsing r, says r is a retiring key
// that no configured secret opens: one to leave aside, not to fail on.
func lostKey(r SigningKeyRecord, err error) bool {
	return err != nil && !r.RetireAt.IsZero() && seal.CannotOpen(err)
}

// keyAD binds a sealed private key to its application and key id: a value
// copied onto another application's row, or another key's, does not open.
func (p *Provider) keyAD(kid string) []byte {
	return []byte("gatehouse signing key\x00" + p.opts.Application + "\x00" + kid)
}

// parsePrivate reads a stored private key, opening it first if it is sealed.
func (p *Provider) parsePrivate(r SigningKeyRecord) (ed25519.PrivateKey, []byte, error) {
	der := r.PrivateKey
	if seal.IsSealed(der) {
		var err error
		if der, err = p.opts.Sealer.Open(der, p.keyAD(r.ID)); err != nil {
			return nil, nil, fmt.Errorf("signing key %s: %w", r.ID, err)
		}
	}
	priv, err := token.ParsePrivate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse signing key %s: %w", r.ID, err)
	}
	return priv, der, nil
}

// CheckSigningKeys loads the current signing key without creating one, so
// that a current key this process cannot open (sealed with a secret it does
// not hold) is found at start-up rather than by the first token request.
// Retiring keys it cannot open are only logged: signing needs the current
// key alone. Errors wrap seal.ErrUnknownKey or seal.ErrCorrupt for such
// keys.
func (p *Provider) CheckSigningKeys(ctx context.Context) error {
	recs, err := p.b.SigningKeys(ctx, p.now())
	if err != nil {
		return err
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	_, err = p.openKeys(recs)
	return err
}

// ResealResult counts what ResealSigningKeys did.
type ResealResult struct {
	// Resealed keys are now sealed with the current secret.
	Resealed int `json:"resealed"`
	// Unchanged keys were sealed with it already (or were resealed, or
	// deleted with their application, by someone else meanwhile).
	Unchanged int `json:"unchanged"`
	// Unreadable keys are retired or retiring keys that no configured
	// secret opens (a lost secret): left as they are, and unused.
	Unreadable int `json:"unreadable"`
}

// ResealSigningKeys seals with the Sealer's current secret every stored
// private key that is not already sealed with it: those stored in the
// clear before a secret was configured, and those sealed with a previous
// secret. Retired keys are resealed too; they sign nothing any more, but a
// copy of the database should not hold them in the clear either. The
// current key must open. Running it twice, or on two hosts at once, is
// harmless.
func (p *Provider) ResealSigningKeys(ctx context.Context) (ResealResult, error) {
	var res ResealResult
	if p.opts.Sealer == nil {
		return res, errors.New("reseal signing keys: no encryption key is configured")
	}
	recs, err := p.b.SigningKeys(ctx, time.Time{})
	if err != nil {
		return res, err
	}
	for _, r := range recs {
		// Opening and parsing first, also a value that names the current
		// secret: a value that does not open is not left as it is or
		// sealed again without a word.
		_, der, err := p.parsePrivate(r)
		if lostKey(r, err) {
			res.Unreadable++
			continue
		}
		if err != nil {
			return res, err
		}
		if p.opts.Sealer.Current(r.PrivateKey) {
			res.Unchanged++
			continue
		}
		sealed, err := p.opts.Sealer.Seal(der, p.keyAD(r.ID))
		if err != nil {
			return res, err
		}
		ok, err := p.b.ReplaceSigningKeyPrivate(ctx, r.ID, r.PrivateKey, sealed)
		switch {
		case errors.Is(err, identity.ErrNotFound): // the application was deleted meanwhile
			res.Unchanged++
		case err != nil:
			return res, err
		case ok:
			res.Resealed++
		default: // another resealer got there first
			res.Unchanged++
		}
	}
	p.keysMu.Lock()
	p.keysLoaded = time.Time{}
	p.keysMu.Unlock()
	return res, nil
}
