package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/identity"
)

// ProviderOption configures Provider.
type ProviderOption func(*provider)

// WithAuthentications makes the decorator also count Authenticate as a
// password authentication and AuthenticateAPIKey as an api_key one, in
// gatehouse_authentications_total: for a server whose authentications are
// exactly its provider's (the directory's login attempts and API key
// verifications). The API server counts them in its auth middleware
// instead, where tokens are verified too, so it must not use this option.
func WithAuthentications() ProviderOption {
	return func(d *provider) { d.auths = true }
}

// Provider wraps p so that every call is counted in
// gatehouse_provider_calls_total, by operation and outcome (ok, the code of
// an identity error, or error), and timed in
// gatehouse_provider_call_duration_seconds. Put it next to what it measures:
// innermost (directly around the store or the remote client) it counts the
// calls that reach the backend, not the ones the credential cache answers.
// Unwrap returns p, so identity.FindRevocationFeed and the like see through
// it.
func Provider(p identity.Provider, m *Metrics, opts ...ProviderOption) identity.Provider {
	d := &provider{next: p, m: m}
	for _, o := range opts {
		o(d)
	}
	return d
}

// provider is the decorator of Provider. It does not embed the Provider it
// wraps, so that a method added to identity.Provider cannot pass through
// uncounted: it would not compile.
type provider struct {
	next  identity.Provider
	m     *Metrics
	auths bool
}

var _ identity.Provider = (*provider)(nil)

// Unwrap returns the wrapped provider.
func (d *provider) Unwrap() identity.Provider { return d.next }

// authenticated counts an authentication, when the decorator does.
func (d *provider) authenticated(ctx context.Context, method string, err error) {
	if d.auths {
		d.m.Authentication(method, AuthOutcome(ctx, err))
	}
}

// operation is a method of identity.Provider.
type operation int

// opChildren are the series of an operation that every call uses, made on
// its first call (rather than all up front, so that operations a server
// never calls do not fill its scrapes with empty histograms).
type opChildren struct {
	once     sync.Once
	ok       prometheus.Counter
	duration prometheus.Observer
}

// call records a call of op that started at start and ended with err. A
// successful call does not allocate.
func (m *Metrics) call(ctx context.Context, op operation, start time.Time, err error) {
	c := &m.ops[op]
	c.once.Do(func() {
		c.ok = m.calls.WithLabelValues(operationNames[op], "ok")
		c.duration = m.callDuration.WithLabelValues(operationNames[op])
	})
	c.duration.Observe(time.Since(start).Seconds())
	if err == nil {
		c.ok.Inc()
		return
	}
	m.calls.WithLabelValues(operationNames[op], callOutcome(ctx, err)).Inc()
}

// callOutcome is the outcome label of a failed call: "abandoned" when the
// caller went away, the code of an identity error, or "error". Only the
// codes of the domain's table are used, whatever a remote peer sends, so
// the label stays bounded.
func callOutcome(ctx context.Context, err error) string {
	if identity.CallerGone(ctx, err) {
		return string(OutcomeAbandoned)
	}
	var e *identity.Error
	if !errors.As(err, &e) {
		return "error"
	}
	switch e.Code {
	case identity.CodeInvalidInput, identity.CodeNotFound, identity.CodeConflict, identity.CodeInvalidCredentials,
		identity.CodeLimitExceeded, identity.CodeUnavailable, identity.CodeThrottled:
		return string(e.Code)
	}
	return "error"
}

const (
	opCreateAccount operation = iota
	opAccount
	opFindAccount
	opListAccounts
	opUpdateAccount
	opDeleteAccount
	opAuthenticate
	opCreateAPIKey
	opAPIKey
	opListAPIKeys
	opSetAPIKeyStatus
	opDeleteAPIKey
	opAuthenticateAPIKey
	opCustomData
	opReplaceCustomData
	opMergeCustomData
	opDeleteCustomDataKey
	opCreateGroup
	opGroup
	opListGroups
	opDeleteGroup
	opAddToGroup
	opRemoveFromGroup
	opAccountGroups
	opGroupMembers
	opIssueToken
	opRevokeToken
	opTokenRevoked
	opJWKS
	opTokenSettings
	opRotateSigningKey
	numOperations
)

// operationNames are the operation labels, by operation.
var operationNames = [numOperations]string{
	opCreateAccount:       "create_account",
	opAccount:             "account",
	opFindAccount:         "find_account",
	opListAccounts:        "list_accounts",
	opUpdateAccount:       "update_account",
	opDeleteAccount:       "delete_account",
	opAuthenticate:        "authenticate",
	opCreateAPIKey:        "create_api_key",
	opAPIKey:              "api_key",
	opListAPIKeys:         "list_api_keys",
	opSetAPIKeyStatus:     "set_api_key_status",
	opDeleteAPIKey:        "delete_api_key",
	opAuthenticateAPIKey:  "authenticate_api_key",
	opCustomData:          "custom_data",
	opReplaceCustomData:   "replace_custom_data",
	opMergeCustomData:     "merge_custom_data",
	opDeleteCustomDataKey: "delete_custom_data_key",
	opCreateGroup:         "create_group",
	opGroup:               "group",
	opListGroups:          "list_groups",
	opDeleteGroup:         "delete_group",
	opAddToGroup:          "add_to_group",
	opRemoveFromGroup:     "remove_from_group",
	opAccountGroups:       "account_groups",
	opGroupMembers:        "group_members",
	opIssueToken:          "issue_token",
	opRevokeToken:         "revoke_token",
	opTokenRevoked:        "token_revoked",
	opJWKS:                "jwks",
	opTokenSettings:       "token_settings",
	opRotateSigningKey:    "rotate_signing_key",
}

// CreateAccount implements identity.Provider.
func (d *provider) CreateAccount(ctx context.Context, in identity.AccountCreate) (*identity.Account, error) {
	start := time.Now()
	r0, err := d.next.CreateAccount(ctx, in)
	d.m.call(ctx, opCreateAccount, start, err)
	return r0, err
}

// Account implements identity.Provider.
func (d *provider) Account(ctx context.Context, id string) (*identity.Account, error) {
	start := time.Now()
	r0, err := d.next.Account(ctx, id)
	d.m.call(ctx, opAccount, start, err)
	return r0, err
}

// FindAccount implements identity.Provider.
func (d *provider) FindAccount(ctx context.Context, login string) (*identity.Account, error) {
	start := time.Now()
	r0, err := d.next.FindAccount(ctx, login)
	d.m.call(ctx, opFindAccount, start, err)
	return r0, err
}

// ListAccounts implements identity.Provider.
func (d *provider) ListAccounts(ctx context.Context, f identity.AccountFilter) (*identity.List[*identity.Account], error) {
	start := time.Now()
	r0, err := d.next.ListAccounts(ctx, f)
	d.m.call(ctx, opListAccounts, start, err)
	return r0, err
}

// UpdateAccount implements identity.Provider.
func (d *provider) UpdateAccount(ctx context.Context, id string, u identity.AccountUpdate) (*identity.Account, error) {
	start := time.Now()
	r0, err := d.next.UpdateAccount(ctx, id, u)
	d.m.call(ctx, opUpdateAccount, start, err)
	return r0, err
}

// DeleteAccount implements identity.Provider.
func (d *provider) DeleteAccount(ctx context.Context, id string) error {
	start := time.Now()
	err := d.next.DeleteAccount(ctx, id)
	d.m.call(ctx, opDeleteAccount, start, err)
	return err
}

// Authenticate implements identity.Provider.
func (d *provider) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	start := time.Now()
	r0, err := d.next.Authenticate(ctx, login, password)
	d.m.call(ctx, opAuthenticate, start, err)
	d.authenticated(ctx, "password", err)
	return r0, err
}

// CreateAPIKey implements identity.Provider.
func (d *provider) CreateAPIKey(ctx context.Context, accountID, name string) (*identity.NewAPIKey, error) {
	start := time.Now()
	r0, err := d.next.CreateAPIKey(ctx, accountID, name)
	d.m.call(ctx, opCreateAPIKey, start, err)
	return r0, err
}

// APIKey implements identity.Provider.
func (d *provider) APIKey(ctx context.Context, id string) (*identity.APIKey, error) {
	start := time.Now()
	r0, err := d.next.APIKey(ctx, id)
	d.m.call(ctx, opAPIKey, start, err)
	return r0, err
}

// ListAPIKeys implements identity.Provider.
func (d *provider) ListAPIKeys(ctx context.Context, accountID string) ([]*identity.APIKey, error) {
	start := time.Now()
	r0, err := d.next.ListAPIKeys(ctx, accountID)
	d.m.call(ctx, opListAPIKeys, start, err)
	return r0, err
}

// SetAPIKeyStatus implements identity.Provider.
func (d *provider) SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*identity.APIKey, error) {
	start := time.Now()
	r0, err := d.next.SetAPIKeyStatus(ctx, id, status)
	d.m.call(ctx, opSetAPIKeyStatus, start, err)
	return r0, err
}

// DeleteAPIKey implements identity.Provider.
func (d *provider) DeleteAPIKey(ctx context.Context, id string) error {
	start := time.Now()
	err := d.next.DeleteAPIKey(ctx, id)
	d.m.call(ctx, opDeleteAPIKey, start, err)
	return err
}

// AuthenticateAPIKey implements identity.Provider.
func (d *provider) AuthenticateAPIKey(ctx context.Context, id, secret string) (*identity.Account, *identity.APIKey, error) {
	start := time.Now()
	r0, r1, err := d.next.AuthenticateAPIKey(ctx, id, secret)
	d.m.call(ctx, opAuthenticateAPIKey, start, err)
	d.authenticated(ctx, "api_key", err)
	return r0, r1, err
}

// CustomData implements identity.Provider.
func (d *provider) CustomData(ctx context.Context, accountID string) (identity.CustomData, error) {
	start := time.Now()
	r0, err := d.next.CustomData(ctx, accountID)
	d.m.call(ctx, opCustomData, start, err)
	return r0, err
}

// ReplaceCustomData implements identity.Provider.
func (d *provider) ReplaceCustomData(ctx context.Context, accountID string, data identity.CustomData) (identity.CustomData, error) {
	start := time.Now()
	r0, err := d.next.ReplaceCustomData(ctx, accountID, data)
	d.m.call(ctx, opReplaceCustomData, start, err)
	return r0, err
}

// MergeCustomData implements identity.Provider.
func (d *provider) MergeCustomData(ctx context.Context, accountID string, patch identity.CustomData) (identity.CustomData, error) {
	start := time.Now()
	r0, err := d.next.MergeCustomData(ctx, accountID, patch)
	d.m.call(ctx, opMergeCustomData, start, err)
	return r0, err
}

// DeleteCustomDataKey implements identity.Provider.
func (d *provider) DeleteCustomDataKey(ctx context.Context, accountID, key string) error {
	start := time.Now()
	err := d.next.DeleteCustomDataKey(ctx, accountID, key)
	d.m.call(ctx, opDeleteCustomDataKey, start, err)
	return err
}

// CreateGroup implements identity.Provider.
func (d *provider) CreateGroup(ctx context.Context, in identity.GroupCreate) (*identity.Group, error) {
	start := time.Now()
	r0, err := d.next.CreateGroup(ctx, in)
	d.m.call(ctx, opCreateGroup, start, err)
	return r0, err
}

// Group implements identity.Provider.
func (d *provider) Group(ctx context.Context, id string) (*identity.Group, error) {
	start := time.Now()
	r0, err := d.next.Group(ctx, id)
	d.m.call(ctx, opGroup, start, err)
	return r0, err
}

// ListGroups implements identity.Provider.
func (d *provider) ListGroups(ctx context.Context, f identity.GroupFilter) (*identity.List[*identity.Group], error) {
	start := time.Now()
	r0, err := d.next.ListGroups(ctx, f)
	d.m.call(ctx, opListGroups, start, err)
	return r0, err
}

// DeleteGroup implements identity.Provider.
func (d *provider) DeleteGroup(ctx context.Context, id string) error {
	start := time.Now()
	err := d.next.DeleteGroup(ctx, id)
	d.m.call(ctx, opDeleteGroup, start, err)
	return err
}

// AddToGroup implements identity.Provider.
func (d *provider) AddToGroup(ctx context.Context, accountID, groupID string) error {
	start := time.Now()
	err := d.next.AddToGroup(ctx, accountID, groupID)
	d.m.call(ctx, opAddToGroup, start, err)
	return err
}

// RemoveFromGroup implements identity.Provider.
func (d *provider) RemoveFromGroup(ctx context.Context, accountID, groupID string) error {
	start := time.Now()
	err := d.next.RemoveFromGroup(ctx, accountID, groupID)
	d.m.call(ctx, opRemoveFromGroup, start, err)
	return err
}

// AccountGroups implements identity.Provider.
func (d *provider) AccountGroups(ctx context.Context, accountID string) ([]*identity.Group, error) {
	start := time.Now()
	r0, err := d.next.AccountGroups(ctx, accountID)
	d.m.call(ctx, opAccountGroups, start, err)
	return r0, err
}

// GroupMembers implements identity.Provider.
func (d *provider) GroupMembers(ctx context.Context, groupID string, p identity.Page) (*identity.List[*identity.Account], error) {
	start := time.Now()
	r0, err := d.next.GroupMembers(ctx, groupID, p)
	d.m.call(ctx, opGroupMembers, start, err)
	return r0, err
}

// IssueToken implements identity.Provider.
func (d *provider) IssueToken(ctx context.Context, accountID string, req identity.TokenRequest) (*identity.Token, error) {
	start := time.Now()
	r0, err := d.next.IssueToken(ctx, accountID, req)
	d.m.call(ctx, opIssueToken, start, err)
	return r0, err
}

// RevokeToken implements identity.Provider.
func (d *provider) RevokeToken(ctx context.Context, tokenID string, expiresAt time.Time) error {
	start := time.Now()
	err := d.next.RevokeToken(ctx, tokenID, expiresAt)
	d.m.call(ctx, opRevokeToken, start, err)
	return err
}

// TokenRevoked implements identity.Provider.
func (d *provider) TokenRevoked(ctx context.Context, tokenID string) (bool, error) {
	start := time.Now()
	r0, err := d.next.TokenRevoked(ctx, tokenID)
	d.m.call(ctx, opTokenRevoked, start, err)
	return r0, err
}

// JWKS implements identity.Provider.
func (d *provider) JWKS(ctx context.Context) ([]byte, error) {
	start := time.Now()
	r0, err := d.next.JWKS(ctx)
	d.m.call(ctx, opJWKS, start, err)
	return r0, err
}

// TokenSettings implements identity.Provider.
func (d *provider) TokenSettings(ctx context.Context) (identity.TokenSettings, error) {
	start := time.Now()
	r0, err := d.next.TokenSettings(ctx)
	d.m.call(ctx, opTokenSettings, start, err)
	return r0, err
}

// RotateSigningKey implements identity.Provider.
func (d *provider) RotateSigningKey(ctx context.Context) (string, error) {
	start := time.Now()
	r0, err := d.next.RotateSigningKey(ctx)
	d.m.call(ctx, opRotateSigningKey, start, err)
	return r0, err
}
