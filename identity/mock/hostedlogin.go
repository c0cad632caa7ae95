package mock

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// Operations of identity.HostedLogin, for fault injection and call counts.
const (
	OpNewLoginRequest    Op = "NewLoginRequest"
	OpVerifyLoginRequest Op = "VerifyLoginRequest"
	OpNewLoginAssertion  Op = "NewLoginAssertion"
	OpRedirectURIs       Op = "RedirectURIs"
	OpAddRedirectURI     Op = "AddRedirectURI"
	OpRemoveRedirectURI  Op = "RemoveRedirectURI"
	// OpConsumeLoginAssertion is ConsumeLoginAssertion.
	OpConsumeLoginAssertion Op = "ConsumeLoginAssertion"
)

// redirectURIs is the memory backend's allow-list of hosted-login redirect
// URIs, behind its own lock (it shares nothing with the other records).
type redirectURIs struct {
	redirectMu sync.RWMutex
	redirects  []string // sorted
}

var _ store.RedirectURIBackend = (*memory)(nil)

func (m *memory) RedirectURIs(context.Context) ([]string, error) {
	m.redirectMu.RLock()
	defer m.redirectMu.RUnlock()
	return append([]string{}, m.redirects...), nil
}

func (m *memory) AddRedirectURI(_ context.Context, uri string, _ time.Time) error {
	m.redirectMu.Lock()
	defer m.redirectMu.Unlock()
	i, found := slices.BinarySearch(m.redirects, uri)
	if !found {
		m.redirects = slices.Insert(m.redirects, i, uri)
	}
	return nil
}

func (m *memory) RemoveRedirectURI(_ context.Context, uri string) error {
	m.redirectMu.Lock()
	defer m.redirectMu.Unlock()
	i, found := slices.BinarySearch(m.redirects, uri)
	if !found {
		return identity.NotFound("redirect_uri")
	}
	m.redirects = slices.Delete(m.redirects, i, i+1)
	return nil
}

var _ identity.HostedLogin = (*Provider)(nil)

// NewLoginRequest implements identity.HostedLogin.
func (p *Provider) NewLoginRequest(ctx context.Context, in identity.LoginRequest) (*identity.SignedLoginRequest, error) {
	return call(ctx, p, OpNewLoginRequest, func() (*identity.SignedLoginRequest, error) { return p.inner.NewLoginRequest(ctx, in) })
}

// VerifyLoginRequest implements identity.HostedLogin.
func (p *Provider) VerifyLoginRequest(ctx context.Context, raw string) (*identity.LoginRequestClaims, error) {
	return call(ctx, p, OpVerifyLoginRequest, func() (*identity.LoginRequestClaims, error) { return p.inner.VerifyLoginRequest(ctx, raw) })
}

// NewLoginAssertion implements identity.HostedLogin.
func (p *Provider) NewLoginAssertion(ctx context.Context, raw, accountID string) (*identity.LoginAssertion, error) {
	return call(ctx, p, OpNewLoginAssertion, func() (*identity.LoginAssertion, error) { return p.inner.NewLoginAssertion(ctx, raw, accountID) })
}

// RedirectURIs implements identity.HostedLogin.
func (p *Provider) RedirectURIs(ctx context.Context) ([]string, error) {
	return call(ctx, p, OpRedirectURIs, func() ([]string, error) { return p.inner.RedirectURIs(ctx) })
}

// AddRedirectURI implements identity.HostedLogin.
func (p *Provider) AddRedirectURI(ctx context.Context, uri string) (string, error) {
	return call(ctx, p, OpAddRedirectURI, func() (string, error) { return p.inner.AddRedirectURI(ctx, uri) })
}

// ConsumeLoginAssertion implements identity.HostedLogin.
func (p *Provider) ConsumeLoginAssertion(ctx context.Context, jti string, expiresAt time.Time) error {
	return call0(ctx, p, OpConsumeLoginAssertion, func() error { return p.inner.ConsumeLoginAssertion(ctx, jti, expiresAt) })
}

// RemoveRedirectURI implements identity.HostedLogin.
func (p *Provider) RemoveRedirectURI(ctx context.Context, uri string) error {
	return call0(ctx, p, OpRemoveRedirectURI, func() error { return p.inner.RemoveRedirectURI(ctx, uri) })
}
