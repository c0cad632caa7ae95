// Package mock is an in-memory identity.Provider for tests and demos. It
// follows exactly the same rules as the SQL store (both are store.Provider
// over a different Backend, and both pass the conformance suite), and it can
// be told to fail or slow down any operation, so an application's tests can
// exercise what happens when the identity service misbehaves:
//
//	p := mock.New(mock.WithFastHashing())
//	p.Fail(mock.OpAuthenticate, identity.ErrUnavailable)
//	p.Delay(mock.AllOps, 200*time.Millisecond)
//
// Its password hashing uses the real argon2id parameters unless
// WithFastHashing is given.
package mock

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// Op names a Provider method, for fault injection and call counts.
type Op string

// The operations. AllOps matches every one.
const (
	AllOps                Op = "*"
	OpCreateAccount       Op = "CreateAccount"
	OpAccount             Op = "Account"
	OpFindAccount         Op = "FindAccount"
	OpListAccounts        Op = "ListAccounts"
	OpUpdateAccount       Op = "UpdateAccount"
	OpDeleteAccount       Op = "DeleteAccount"
	OpAuthenticate        Op = "Authenticate"
	OpCreateAPIKey        Op = "CreateAPIKey"
	OpAPIKey              Op = "APIKey"
	OpListAPIKeys         Op = "ListAPIKeys"
	OpSetAPIKeyStatus     Op = "SetAPIKeyStatus"
	OpDeleteAPIKey        Op = "DeleteAPIKey"
	OpAuthenticateAPIKey  Op = "AuthenticateAPIKey"
	OpCustomData          Op = "CustomData"
	OpReplaceCustomData   Op = "ReplaceCustomData"
	OpMergeCustomData     Op = "MergeCustomData"
	OpDeleteCustomDataKey Op = "DeleteCustomDataKey"
	OpCreateGroup         Op = "CreateGroup"
	OpGroup               Op = "Group"
	OpListGroups          Op = "ListGroups"
	OpDeleteGroup         Op = "DeleteGroup"
	OpAddToGroup          Op = "AddToGroup"
	OpRemoveFromGroup     Op = "RemoveFromGroup"
	OpAccountGroups       Op = "AccountGroups"
	OpGroupMembers        Op = "GroupMembers"
	OpIssueToken          Op = "IssueToken"
	OpRevokeToken         Op = "RevokeToken"
	OpTokenRevoked        Op = "TokenRevoked"
	OpJWKS                Op = "JWKS"
	OpTokenSettings       Op = "TokenSettings"
	OpRotateSigningKey    Op = "RotateSigningKey"
	OpRevokedSince        Op = "RevokedSince"
)

// Option configures New.
type Option func(*store.Options)

// WithFastHashing makes password hashing cheap (password.InsecureFastParams)
// so that tests creating many accounts run fast. Never use it for real
// accounts: such hashes are easy to crack.
func WithFastHashing() Option {
	return func(o *store.Options) { o.Hasher = password.NewHasher(password.InsecureFastParams) }
}

// WithStoreOptions sets the underlying store options (application name,
// limits, token lifetimes, clock, logger).
func WithStoreOptions(so store.Options) Option {
	return func(o *store.Options) {
		h := o.Hasher
		*o = so
		if o.Hasher == nil {
			o.Hasher = h
		}
	}
}

// Provider is the in-memory identity.Provider with fault injection.
type Provider struct {
	inner *store.Provider

	mu     sync.Mutex
	faults map[Op]fault
	calls  map[Op]int
}

type fault struct {
	err   error
	delay time.Duration
}

var _ identity.Provider = (*Provider)(nil)

// New returns an empty in-memory provider.
func New(opts ...Option) *Provider {
	var so store.Options
	for _, o := range opts {
		o(&so)
	}
	return &Provider{
		inner:  store.New(newMemory(), so),
		faults: map[Op]fault{},
		calls:  map[Op]int{},
	}
}

// Hasher returns the password hasher, whose Verifications counter lets tests
// check how much password work a request caused.
func (p *Provider) Hasher() *password.Hasher { return p.inner.Hasher() }

// Fail makes every later call of op (or of every operation, with AllOps)
// return err, until Clear or Reset. A nil err removes the failure.
func (p *Provider) Fail(op Op, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults[op]
	f.err = err
	p.faults[op] = f
}

// Delay makes every later call of op (or of every operation, with AllOps)
// wait d before it runs, or until its context ends, whichever is first.
func (p *Provider) Delay(op Op, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults[op]
	f.delay = d
	p.faults[op] = f
}

// Clear removes the failure and delay set for op.
func (p *Provider) Clear(op Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.faults, op)
}

// Reset removes every failure and delay and zeroes the call counts.
func (p *Provider) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = map[Op]fault{}
	p.calls = map[Op]int{}
}

// Calls returns how many times op was called (AllOps: all calls), failed
// calls included.
func (p *Provider) Calls(op Op) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if op == AllOps {
		n := 0
		for _, c := range p.calls {
			n += c
		}
		return n
	}
	return p.calls[op]
}

// before counts the call and applies its injected delay and failure.
func (p *Provider) before(ctx context.Context, op Op) error {
	p.mu.Lock()
	p.calls[op]++
	f, all := p.faults[op], p.faults[AllOps]
	p.mu.Unlock()
	delay := max(f.delay, all.delay)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.err != nil {
		return f.err
	}
	return all.err
}

func call[T any](ctx context.Context, p *Provider, op Op, fn func() (T, error)) (T, error) {
	if err := p.before(ctx, op); err != nil {
		var zero T
		return zero, err
	}
	return fn()
}

func call0(ctx context.Context, p *Provider, op Op, fn func() error) error {
	if err := p.before(ctx, op); err != nil {
		return err
	}
	return fn()
}

// CreateAccount implements identity.Provider.
func (p *Provider) CreateAccount(ctx context.Context, in identity.AccountCreate) (*identity.Account, error) {
	return call(ctx, p, OpCreateAccount, func() (*identity.Account, error) { return p.inner.CreateAccount(ctx, in) })
}

// Account implements identity.Provider.
func (p *Provider) Account(ctx context.Context, id string) (*identity.Account, error) {
	return call(ctx, p, OpAccount, func() (*identity.Account, error) { return p.inner.Account(ctx, id) })
}

// FindAccount implements identity.Provider.
func (p *Provider) FindAccount(ctx context.Context, login string) (*identity.Account, error) {
	return call(ctx, p, OpFindAccount, func() (*identity.Account, error) { return p.inner.FindAccount(ctx, login) })
}

// ListAccounts implements identity.Provider.
func (p *Provider) ListAccounts(ctx context.Context, f identity.AccountFilter) (*identity.List[*identity.Account], error) {
	return call(ctx, p, OpListAccounts, func() (*identity.List[*identity.Account], error) { return p.inner.ListAccounts(ctx, f) })
}

// UpdateAccount implements identity.Provider.
func (p *Provider) UpdateAccount(ctx context.Context, id string, u identity.AccountUpdate) (*identity.Account, error) {
	return call(ctx, p, OpUpdateAccount, func() (*identity.Account, error) { return p.inner.UpdateAccount(ctx, id, u) })
}

// DeleteAccount implements identity.Provider.
func (p *Provider) DeleteAccount(ctx context.Context, id string) error {
	return call0(ctx, p, OpDeleteAccount, func() error { return p.inner.DeleteAccount(ctx, id) })
}

// Authenticate implements identity.Provider.
func (p *Provider) Authenticate(ctx context.Context, login, pw string) (*identity.Account, error) {
	return call(ctx, p, OpAuthenticate, func() (*identity.Account, error) { return p.inner.Authenticate(ctx, login, pw) })
}

// CreateAPIKey implements identity.Provider.
func (p *Provider) CreateAPIKey(ctx context.Context, accountID, name string) (*identity.NewAPIKey, error) {
	return call(ctx, p, OpCreateAPIKey, func() (*identity.NewAPIKey, error) { return p.inner.CreateAPIKey(ctx, accountID, name) })
}

// APIKey implements identity.Provider.
func (p *Provider) APIKey(ctx context.Context, id string) (*identity.APIKey, error) {
	return call(ctx, p, OpAPIKey, func() (*identity.APIKey, error) { return p.inner.APIKey(ctx, id) })
}

// ListAPIKeys implements identity.Provider.
func (p *Provider) ListAPIKeys(ctx context.Context, accountID string) ([]*identity.APIKey, error) {
	return call(ctx, p, OpListAPIKeys, func() ([]*identity.APIKey, error) { return p.inner.ListAPIKeys(ctx, accountID) })
}

// SetAPIKeyStatus implements identity.Provider.
func (p *Provider) SetAPIKeyStatus(ctx context.Context, id string, s identity.Status) (*identity.APIKey, error) {
	return call(ctx, p, OpSetAPIKeyStatus, func() (*identity.APIKey, error) { return p.inner.SetAPIKeyStatus(ctx, id, s) })
}

// DeleteAPIKey implements identity.Provider.
func (p *Provider) DeleteAPIKey(ctx context.Context, id string) error {
	return call0(ctx, p, OpDeleteAPIKey, func() error { return p.inner.DeleteAPIKey(ctx, id) })
}

// AuthenticateAPIKey implements identity.Provider.
func (p *Provider) AuthenticateAPIKey(ctx context.Context, id, secret string) (*identity.Account, *identity.APIKey, error) {
	if err := p.before(ctx, OpAuthenticateAPIKey); err != nil {
		return nil, nil, err
	}
	return p.inner.AuthenticateAPIKey(ctx, id, secret)
}

// CustomData implements identity.Provider.
func (p *Provider) CustomData(ctx context.Context, accountID string) (identity.CustomData, error) {
	return call(ctx, p, OpCustomData, func() (identity.CustomData, error) { return p.inner.CustomData(ctx, accountID) })
}

// ReplaceCustomData implements identity.Provider.
func (p *Provider) ReplaceCustomData(ctx context.Context, accountID string, d identity.CustomData) (identity.CustomData, error) {
	return call(ctx, p, OpReplaceCustomData, func() (identity.CustomData, error) { return p.inner.ReplaceCustomData(ctx, accountID, d) })
}

// MergeCustomData implements identity.Provider.
func (p *Provider) MergeCustomData(ctx context.Context, accountID string, patch identity.CustomData) (identity.CustomData, error) {
	return call(ctx, p, OpMergeCustomData, func() (identity.CustomData, error) { return p.inner.MergeCustomData(ctx, accountID, patch) })
}

// DeleteCustomDataKey implements identity.Provider.
func (p *Provider) DeleteCustomDataKey(ctx context.Context, accountID, key string) error {
	return call0(ctx, p, OpDeleteCustomDataKey, func() error { return p.inner.DeleteCustomDataKey(ctx, accountID, key) })
}

// CreateGroup implements identity.Provider.
func (p *Provider) CreateGroup(ctx context.Context, in identity.GroupCreate) (*identity.Group, error) {
	return call(ctx, p, OpCreateGroup, func() (*identity.Group, error) { return p.inner.CreateGroup(ctx, in) })
}

// Group implements identity.Provider.
func (p *Provider) Group(ctx context.Context, id string) (*identity.Group, error) {
	return call(ctx, p, OpGroup, func() (*identity.Group, error) { return p.inner.Group(ctx, id) })
}

// ListGroups implements identity.Provider.
func (p *Provider) ListGroups(ctx context.Context, f identity.GroupFilter) (*identity.List[*identity.Group], error) {
	return call(ctx, p, OpListGroups, func() (*identity.List[*identity.Group], error) { return p.inner.ListGroups(ctx, f) })
}

// DeleteGroup implements identity.Provider.
func (p *Provider) DeleteGroup(ctx context.Context, id string) error {
	return call0(ctx, p, OpDeleteGroup, func() error { return p.inner.DeleteGroup(ctx, id) })
}

// AddToGroup implements identity.Provider.
func (p *Provider) AddToGroup(ctx context.Context, accountID, groupID string) error {
	return call0(ctx, p, OpAddToGroup, func() error { return p.inner.AddToGroup(ctx, accountID, groupID) })
}

// RemoveFromGroup implements identity.Provider.
func (p *Provider) RemoveFromGroup(ctx context.Context, accountID, groupID string) error {
	return call0(ctx, p, OpRemoveFromGroup, func() error { return p.inner.RemoveFromGroup(ctx, accountID, groupID) })
}

// AccountGroups implements identity.Provider.
func (p *Provider) AccountGroups(ctx context.Context, accountID string) ([]*identity.Group, error) {
	return call(ctx, p, OpAccountGroups, func() ([]*identity.Group, error) { return p.inner.AccountGroups(ctx, accountID) })
}

// GroupMembers implements identity.Provider.
func (p *Provider) GroupMembers(ctx context.Context, groupID string, pg identity.Page) (*identity.List[*identity.Account], error) {
	return call(ctx, p, OpGroupMembers, func() (*identity.List[*identity.Account], error) { return p.inner.GroupMembers(ctx, groupID, pg) })
}

// IssueToken implements identity.Provider.
func (p *Provider) IssueToken(ctx context.Context, accountID string, req identity.TokenRequest) (*identity.Token, error) {
	return call(ctx, p, OpIssueToken, func() (*identity.Token, error) { return p.inner.IssueToken(ctx, accountID, req) })
}

// RevokeToken implements identity.Provider.
func (p *Provider) RevokeToken(ctx context.Context, tokenID string, exp time.Time) error {
	return call0(ctx, p, OpRevokeToken, func() error { return p.inner.RevokeToken(ctx, tokenID, exp) })
}

// TokenRevoked implements identity.Provider.
func (p *Provider) TokenRevoked(ctx context.Context, tokenID string) (bool, error) {
	return call(ctx, p, OpTokenRevoked, func() (bool, error) { return p.inner.TokenRevoked(ctx, tokenID) })
}

// JWKS implements identity.Provider.
func (p *Provider) JWKS(ctx context.Context) ([]byte, error) {
	return call(ctx, p, OpJWKS, func() ([]byte, error) { return p.inner.JWKS(ctx) })
}

// TokenSettings implements identity.Provider.
func (p *Provider) TokenSettings(ctx context.Context) (identity.TokenSettings, error) {
	return call(ctx, p, OpTokenSettings, func() (identity.TokenSettings, error) { return p.inner.TokenSettings(ctx) })
}

// RevokedSince implements identity.RevocationFeed.
func (p *Provider) RevokedSince(ctx context.Context, since time.Time, limit int) ([]identity.Revocation, error) {
	return call(ctx, p, OpRevokedSince, func() ([]identity.Revocation, error) { return p.inner.RevokedSince(ctx, since, limit) })
}

// RotateSigningKey implements identity.Provider.
func (p *Provider) RotateSigningKey(ctx context.Context) (string, error) {
	return call(ctx, p, OpRotateSigningKey, func() (string, error) { return p.inner.RotateSigningKey(ctx) })
}
