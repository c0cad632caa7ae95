package remote

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

var _ identity.HostedLogin = (*Provider)(nil)

// NewLoginRequest implements identity.HostedLogin: POST loginRequests. The
// directory signs it, with the application's key and id; nothing is
// stored, so a retry is never needed to be safe and none is made (a lost
// answer costs the browser one more click).
func (p *Provider) NewLoginRequest(ctx context.Context, in identity.LoginRequest) (*identity.SignedLoginRequest, error) {
	for _, f := range []struct{ name, v string }{{"redirect_uri", in.RedirectURI}, {"state", in.State}, {"nonce", in.Nonce}} {
		if err := checkUTF8(f.name, f.v); err != nil {
			return nil, err
		}
	}
	body := &wire.LoginRequestWrite{RedirectURI: in.RedirectURI, State: in.State, Nonce: in.Nonce, Path: string(in.Path)}
	var out wire.LoginRequest
	if err := p.do(ctx, &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "loginRequests"), body: body, retry: retryNever}, &out); err != nil {
		return nil, err
	}
	if out.Request == "" || out.JTI == "" {
		return nil, invalidAnswer("login request without request or jti")
	}
	return &identity.SignedLoginRequest{Value: out.Request, ID: out.JTI, ExpiresAt: time.Time(out.ExpiresAt)}, nil
}

// VerifyLoginRequest implements identity.HostedLogin: POST
// loginRequestVerifications, a read.
func (p *Provider) VerifyLoginRequest(ctx context.Context, raw string) (*identity.LoginRequestClaims, error) {
	if err := checkUTF8("request", raw); err != nil {
		return nil, err
	}
	var out wire.LoginRequestClaims
	c := &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "loginRequestVerifications"),
		body: &wire.LoginRequestVerification{Request: raw}, retry: retryRead}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	return &identity.LoginRequestClaims{
		ID: out.JTI, Application: out.Application, ApplicationID: out.ApplicationID, RedirectURI: out.RedirectURI,
		State: out.State, Nonce: out.Nonce, Path: identity.LoginPath(out.Path),
		IssuedAt: time.Time(out.IssuedAt), ExpiresAt: time.Time(out.ExpiresAt),
	}, nil
}

// NewLoginAssertion implements identity.HostedLogin: POST loginAssertions.
// Like token issuance it is not retried: its answer is a credential the
// directory does not keep.
func (p *Provider) NewLoginAssertion(ctx context.Context, raw, accountID string) (*identity.LoginAssertion, error) {
	if err := checkUTF8("request", raw); err != nil {
		return nil, err
	}
	if err := checkUTF8("account_id", accountID); err != nil {
		return nil, err
	}
	var out wire.LoginAssertion
	c := &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "loginAssertions"),
		body: &wire.LoginAssertionWrite{Request: raw, AccountID: accountID}, retry: retryNever}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	if out.Assertion == "" || out.JTI == "" {
		return nil, invalidAnswer("login assertion without assertion or jti")
	}
	return &identity.LoginAssertion{Value: out.Assertion, ID: out.JTI, AccountID: out.AccountID, ExpiresAt: time.Time(out.ExpiresAt)}, nil
}

// RedirectURIs implements identity.HostedLogin: GET redirectUris.
func (p *Provider) RedirectURIs(ctx context.Context) ([]string, error) {
	var col wire.Collection[wire.RedirectURI]
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "redirectUris"), retry: retryRead}, &col); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(col.Items))
	for _, it := range col.Items {
		out = append(out, it.URI)
	}
	return out, nil
}

// AddRedirectURI implements identity.HostedLogin: POST redirectUris, with
// an Idempotency-Key.
func (p *Provider) AddRedirectURI(ctx context.Context, uri string) (string, error) {
	if err := checkUTF8("redirect_uri", uri); err != nil {
		return "", err
	}
	var out wire.RedirectURI
	c := &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "redirectUris"), body: &wire.RedirectURI{URI: uri}, retry: retryIdempotent}
	if err := p.do(ctx, c, &out); err != nil {
		return "", err
	}
	return out.URI, nil
}

// RemoveRedirectURI implements identity.HostedLogin: DELETE
// redirectUris?uri=, with an Idempotency-Key.
func (p *Provider) RemoveRedirectURI(ctx context.Context, uri string) error {
	if err := checkUTF8("redirect_uri", uri); err != nil {
		return err
	}
	c := &call{method: http.MethodDelete, path: wire.ApplicationPath(p.appID, "redirectUris"), query: url.Values{"uri": {uri}}, retry: retryIdempotent}
	return p.do(ctx, c, nil)
}

// ConsumeLoginAssertion implements identity.HostedLogin: POST
// loginAssertionConsumptions, with an Idempotency-Key, so that a retry
// after a lost answer gets the first answer (accepted) rather than 409.
func (p *Provider) ConsumeLoginAssertion(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := checkUTF8("jti", jti); err != nil {
		return err
	}
	exp := wire.Time(expiresAt.UTC())
	body := &wire.TokenExpiry{JTI: jti, ExpiresAt: &exp}
	return p.do(ctx, &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "loginAssertionConsumptions"), body: body, retry: retryIdempotent}, nil)
}
