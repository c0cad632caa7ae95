package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// RedirectURIBackend is implemented by backends that keep an application's
// allow-list of hosted-login redirect URIs. It is separate from Backend so
// that a backend without it still serves everything else; the Provider's
// HostedLogin methods then fail.
type RedirectURIBackend interface {
	// RedirectURIs returns the allow-list, sorted.
	RedirectURIs(ctx context.Context) ([]string, error)
	// AddRedirectURI stores uri (already normalised); storing it again is
	// not an error.
	AddRedirectURI(ctx context.Context, uri string, createdAt time.Time) error
	// RemoveRedirectURI deletes uri; identity.NotFound("redirect_uri") if it
	// is not there.
	RemoveRedirectURI(ctx context.Context, uri string) error
}

var _ identity.HostedLogin = (*Provider)(nil)

// errNoRedirectStore is what HostedLogin methods return over a Backend
// without an allow-list: an internal error, since it is a wiring mistake.
var errNoRedirectStore = errors.New("store: the backend keeps no redirect URI allow-list")

func (p *Provider) redirects() (RedirectURIBackend, error) {
	r, ok := p.b.(RedirectURIBackend)
	if !ok {
		return nil, errNoRedirectStore
	}
	return r, nil
}

// RedirectURIs implements identity.HostedLogin.
func (p *Provider) RedirectURIs(ctx context.Context) ([]string, error) {
	r, err := p.redirects()
	if err != nil {
		return nil, err
	}
	return r.RedirectURIs(ctx)
}

// AddRedirectURI implements identity.HostedLogin.
func (p *Provider) AddRedirectURI(ctx context.Context, uri string) (string, error) {
	norm, err := identity.NormalizeRedirectURI(uri)
	if err != nil {
		return "", err
	}
	r, err := p.redirects()
	if err != nil {
		return "", err
	}
	if err := r.AddRedirectURI(ctx, norm, p.now()); err != nil {
		return "", err
	}
	return norm, nil
}

// RemoveRedirectURI implements identity.HostedLogin.
func (p *Provider) RemoveRedirectURI(ctx context.Context, uri string) error {
	norm, err := identity.NormalizeRedirectURI(uri)
	if err != nil {
		return err
	}
	r, err := p.redirects()
	if err != nil {
		return err
	}
	return r.RemoveRedirectURI(ctx, norm)
}

// allowed reports whether the normalised uri is on the allow-list.
func (p *Provider) allowed(ctx context.Context, uri string) (bool, error) {
	uris, err := p.RedirectURIs(ctx)
	if err != nil {
		return false, err
	}
	for _, u := range uris {
		if u == uri {
			return true, nil
		}
	}
	return false, nil
}

// errNotAllowed is the one answer for a redirect URI that is not on the
// allow-list, so the pages never become an open redirect.
func errNotAllowed() error {
	return identity.Invalid("redirect_uri", "The redirect URI is not registered for this application.")
}

// NewLoginRequest implements identity.HostedLogin.
func (p *Provider) NewLoginRequest(ctx context.Context, in identity.LoginRequest) (*identity.SignedLoginRequest, error) {
	uri, err := identity.NormalizeRedirectURI(in.RedirectURI)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckLoginValue("state", in.State); err != nil {
		return nil, err
	}
	if err := identity.CheckLoginValue("nonce", in.Nonce); err != nil {
		return nil, err
	}
	path, err := identity.CheckLoginPath(in.Path)
	if err != nil {
		return nil, err
	}
	if len(in.ApplicationID) > 128 {
		return nil, identity.Invalid("application_id", "The application id must be at most 128 characters.")
	}
	ok, err := p.allowed(ctx, uri)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotAllowed()
	}
	key, now, err := p.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	c := token.LoginRequestClaims{
		ID: ids.New(), Issuer: p.opts.Issuer, Audience: p.opts.Application, ApplicationID: in.ApplicationID,
		RedirectURI: uri, State: in.State, Nonce: in.Nonce, Path: string(path),
		IssuedAt: now, ExpiresAt: now.Add(identity.LoginRequestTTL),
	}
	raw, err := token.SignLoginRequest(key, c)
	if err != nil {
		return nil, fmt.Errorf("sign login request: %w", err)
	}
	return &identity.SignedLoginRequest{Value: raw, ID: c.ID, ExpiresAt: c.ExpiresAt}, nil
}

// verifier returns a token verifier over the published keys.
func (p *Provider) verifier(ctx context.Context) (*token.Verifier, error) {
	keys, err := p.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	return token.NewVerifier(token.PublicJWKS(keys), p.opts.Issuer, p.opts.Application, 0), nil
}

// badRequest is the one answer for a login request that does not verify;
// the cause goes to the log only.
func (p *Provider) badRequest(ctx context.Context, cause error) error {
	p.log.DebugContext(ctx, "login request refused", "error", cause)
	return identity.Invalid("request", "The login request is not valid or has expired; start again from the application.")
}

// VerifyLoginRequest implements identity.HostedLogin.
func (p *Provider) VerifyLoginRequest(ctx context.Context, raw string) (*identity.LoginRequestClaims, error) {
	v, err := p.verifier(ctx)
	if err != nil {
		return nil, err
	}
	c, err := v.VerifyLoginRequest(raw, p.opts.Now())
	if err != nil {
		return nil, p.badRequest(ctx, err)
	}
	// The allow-list is read again: removing a URI ends its pending
	// requests at once, not when they expire.
	ok, err := p.allowed(ctx, c.RedirectURI)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.badRequest(ctx, errors.New("redirect URI no longer allowed"))
	}
	return &identity.LoginRequestClaims{
		ID: c.ID, Application: c.Audience, ApplicationID: c.ApplicationID, RedirectURI: c.RedirectURI,
		State: c.State, Nonce: c.Nonce, Path: identity.LoginPath(c.Path), IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}, nil
}

// ConsumeLoginAssertion implements identity.HostedLogin: the backend's
// insert-if-absent decides between racing callers.
func (p *Provider) ConsumeLoginAssertion(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" || len(jti) > 128 {
		return identity.Invalid("jti", "The assertion id must be 1 to 128 characters.")
	}
	now := p.now()
	// The signer's clock may run ahead of this one by the verifiers' leeway.
	if expiresAt.After(now.Add(identity.LoginAssertionTTL + token.DefaultLeeway)) {
		return identity.Invalid("expires_at", "An assertion does not live that long.")
	}
	first, err := p.b.RevokeTokenOnce(ctx, jti, expiresAt.UTC().Truncate(time.Millisecond), now)
	if err != nil {
		return err
	}
	if !first {
		return &identity.Error{Code: identity.CodeConflict, Field: "assertion", Message: "The login assertion has already been used."}
	}
	return nil
}

// NewLoginAssertion implements identity.HostedLogin.
func (p *Provider) NewLoginAssertion(ctx context.Context, raw, accountID string) (*identity.LoginAssertion, error) {
	req, err := p.VerifyLoginRequest(ctx, raw)
	if err != nil {
		return nil, err
	}
	acc, err := p.enabledAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	key, now, err := p.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	c := token.LoginAssertionClaims{
		ID: ids.New(), Issuer: p.opts.Issuer, Audience: p.opts.Application, Subject: acc.ID,
		RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		IssuedAt: now, ExpiresAt: now.Add(identity.LoginAssertionTTL),
	}
	signed, err := token.SignLoginAssertion(key, c)
	if err != nil {
		return nil, fmt.Errorf("sign login assertion: %w", err)
	}
	return &identity.LoginAssertion{Value: signed, ID: c.ID, AccountID: acc.ID, ExpiresAt: c.ExpiresAt}, nil
}
