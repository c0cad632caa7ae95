// Package identity is Gatehouse's domain: accounts, API keys, groups, custom
// data and access tokens of one application, the Provider contract every
// backend implements, the validation rules they share, and the coded errors
// they return.
//
// The package does no I/O. Implementations live in subpackages named after
// what they are: store (the provider logic over a persistence backend),
// sqlstore (SQLite and PostgreSQL), mock (in memory, with fault injection) and
// remote (a client of the directory over HTTP). identitytest is the
// conformance suite that proves they all behave the same.
package identity

import (
	"context"
	"time"
)

// Status is the state of an account or an API key.
type Status string

// Statuses. Only ENABLED accounts and keys authenticate.
const (
	StatusEnabled    Status = "ENABLED"
	StatusDisabled   Status = "DISABLED"
	StatusUnverified Status = "UNVERIFIED" // accounts only
)

// Account is a user of one application. It never carries the password or
// its hash.
type Account struct {
	ID                 string    `json:"id"`
	Username           string    `json:"username"`
	Email              string    `json:"email,omitempty"`
	GivenName          string    `json:"given_name,omitempty"`
	Surname            string    `json:"surname,omitempty"`
	Status             Status    `json:"status"`
	CreatedAt          time.Time `json:"created_at"`
	ModifiedAt         time.Time `json:"modified_at"`
	PasswordModifiedAt time.Time `json:"password_modified_at"`
}

// AccountCreate holds the fields of a new account. Username and Password are
// required; Status defaults to ENABLED.
type AccountCreate struct {
	Username  string
	Password  string
	Email     string
	GivenName string
	Surname   string
	Status    Status
	// PasswordHash imports an existing hash (argon2id PHC or bcrypt) instead of
	// Password. Exactly one of the two must be set.
	PasswordHash string
	// CustomData, if set, is stored with the account atomically: the
	// account never exists without it.
	CustomData CustomData
}

// AccountUpdate changes the fields that are non-nil. An empty Email removes
// the address.
type AccountUpdate struct {
	Username  *string
	Email     *string
	GivenName *string
	Surname   *string
	Status    *Status
	Password  *string
}

// AccountFilter selects accounts. Empty fields match everything. Username and
// Email match exactly, ignoring case; Query matches a case-insensitive
// substring of the username, email, given name or surname.
type AccountFilter struct {
	Username string
	Email    string
	Status   Status
	Query    string
	Page
}

// Page asks for one page of a collection. A zero Limit means DefaultLimit;
// Limit above MaxLimit is an invalid input.
type Page struct {
	Offset int
	Limit  int
}

// Paging defaults, as in Stormpath's collections.
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

// List is one page of a collection and the size of the whole collection.
type List[T any] struct {
	Items  []T `json:"items"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	// Total is the number of items in the whole collection, not in this page.
	Total int `json:"size"`
}

// APIKey is a credential pair belonging to an account. The secret is never
// stored: only NewAPIKey carries it, once.
type APIKey struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Name      string    `json:"name,omitempty"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// NewAPIKey is a freshly created key with its secret, the only time the secret
// is available.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// Group is a named set of accounts, used for authorization.
type Group struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ModifiedAt  time.Time `json:"modified_at"`
}

// GroupCreate holds the fields of a new group. Name is required and unique,
// ignoring case.
type GroupCreate struct {
	Name        string
	Description string
}

// GroupFilter selects groups; Name matches exactly, ignoring case.
type GroupFilter struct {
	Name string
	Page
}

// CustomData is an account's free-form JSON object. Values are what
// encoding/json produces with UseNumber: nil, bool, json.Number, string,
// []any and map[string]any.
type CustomData map[string]any

// TokenRequest asks for an access token.
type TokenRequest struct {
	// TTL is the token's lifetime; zero means the provider's default.
	TTL time.Duration
	// Scopes are granted as the token's space-separated scope claim.
	Scopes []string
}

// Token is an issued access token.
type Token struct {
	// Value is the signed JWT.
	Value     string    `json:"access_token"`
	ID        string    `json:"jti"`
	AccountID string    `json:"sub"`
	Scopes    []string  `json:"scopes,omitempty"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
}

// TokenSettings are what a verifier needs to check a token locally, besides
// the keys: the expected issuer and audience.
type TokenSettings struct {
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
}

// Provider serves the accounts of one application. Implementations are safe
// for concurrent use. Every method may also return ErrUnavailable when the
// backend cannot be reached, and an internal error (any other error) when
// something unexpected fails; the errors listed on each method are those a
// caller should handle.
type Provider interface {
	// CreateAccount adds an account, with its custom data if given, in one
	// write. Errors: ErrInvalidInput (naming the field), ErrConflict
	// (username or email taken, ignoring case), ErrLimitExceeded (custom
	// data too large or deep).
	CreateAccount(ctx context.Context, in AccountCreate) (*Account, error)
	// Account returns the account with id. Errors: ErrNotFound.
	Account(ctx context.Context, id string) (*Account, error)
	// FindAccount returns the account whose username or email is login,
	// ignoring case. Errors: ErrNotFound.
	FindAccount(ctx context.Context, login string) (*Account, error)
	// ListAccounts returns a page of accounts ordered by creation.
	// Errors: ErrInvalidInput (bad paging or status).
	ListAccounts(ctx context.Context, f AccountFilter) (*List[*Account], error)
	// UpdateAccount changes the non-nil fields of the account.
	// Errors: ErrNotFound, ErrInvalidInput, ErrConflict.
	UpdateAccount(ctx context.Context, id string, u AccountUpdate) (*Account, error)
	// DeleteAccount removes the account with its API keys, custom data and
	// memberships. Errors: ErrNotFound.
	DeleteAccount(ctx context.Context, id string) error
	// Authenticate checks a username-or-email and password and returns the
	// account. Errors: ErrInvalidCredentials for every failure, whatever its
	// cause (ReasonOf tells the cause, for logs only).
	Authenticate(ctx context.Context, login, password string) (*Account, error)

	// CreateAPIKey makes a new key for the account; the secret is in the
	// result and nowhere else. Errors: ErrNotFound (account),
	// ErrInvalidInput (name), ErrLimitExceeded (too many keys).
	CreateAPIKey(ctx context.Context, accountID, name string) (*NewAPIKey, error)
	// APIKey returns a key without its secret. Errors: ErrNotFound.
	APIKey(ctx context.Context, id string) (*APIKey, error)
	// ListAPIKeys returns an account's keys, oldest first. Errors: ErrNotFound.
	ListAPIKeys(ctx context.Context, accountID string) ([]*APIKey, error)
	// SetAPIKeyStatus enables or disables a key.
	// Errors: ErrNotFound, ErrInvalidInput.
	SetAPIKeyStatus(ctx context.Context, id string, status Status) (*APIKey, error)
	// DeleteAPIKey removes a key. Errors: ErrNotFound.
	DeleteAPIKey(ctx context.Context, id string) error
	// AuthenticateAPIKey checks a key id and secret and returns the key's
	// account and the key. Errors: ErrInvalidCredentials for every failure
	// (unknown key, wrong secret, disabled key, account not ENABLED).
	AuthenticateAPIKey(ctx context.Context, id, secret string) (*Account, *APIKey, error)

	// CustomData returns the account's custom data (an empty object if none
	// was set). Errors: ErrNotFound.
	CustomData(ctx context.Context, accountID string) (CustomData, error)
	// ReplaceCustomData replaces the whole object and returns it.
	// Errors: ErrNotFound, ErrInvalidInput (field names), ErrLimitExceeded
	// (size or depth).
	ReplaceCustomData(ctx context.Context, accountID string, data CustomData) (CustomData, error)
	// MergeCustomData applies an RFC 7396 merge patch and returns the result.
	// Errors: as ReplaceCustomData.
	MergeCustomData(ctx context.Context, accountID string, patch CustomData) (CustomData, error)
	// DeleteCustomDataKey removes one top-level key; removing a key that is
	// not there is not an error. Errors: ErrNotFound (account),
	// ErrInvalidInput (reserved or invalid name).
	DeleteCustomDataKey(ctx context.Context, accountID, key string) error

	// CreateGroup adds a group. Errors: ErrInvalidInput, ErrConflict (name).
	CreateGroup(ctx context.Context, in GroupCreate) (*Group, error)
	// Group returns the group with id. Errors: ErrNotFound.
	Group(ctx context.Context, id string) (*Group, error)
	// ListGroups returns a page of groups ordered by name.
	// Errors: ErrInvalidInput (bad paging).
	ListGroups(ctx context.Context, f GroupFilter) (*List[*Group], error)
	// DeleteGroup removes a group and its memberships. Errors: ErrNotFound.
	DeleteGroup(ctx context.Context, id string) error
	// AddToGroup makes the account a member of the group; adding an existing
	// member is not an error. Errors: ErrNotFound (account or group).
	AddToGroup(ctx context.Context, accountID, groupID string) error
	// RemoveFromGroup ends a membership.
	// Errors: ErrNotFound (account, group, or membership).
	RemoveFromGroup(ctx context.Context, accountID, groupID string) error
	// AccountGroups returns the groups of an account ordered by name.
	// Errors: ErrNotFound.
	AccountGroups(ctx context.Context, accountID string) ([]*Group, error)
	// GroupMembers returns a page of a group's accounts.
	// Errors: ErrNotFound, ErrInvalidInput (bad paging).
	GroupMembers(ctx context.Context, groupID string, p Page) (*List[*Account], error)

	// IssueToken signs an access token for an ENABLED account.
	// Errors: ErrNotFound, ErrInvalidCredentials (account not ENABLED),
	// ErrInvalidInput (TTL out of range, bad scope).
	IssueToken(ctx context.Context, accountID string, req TokenRequest) (*Token, error)
	// RevokeToken marks a token id revoked until expiresAt, after which the
	// token is dead anyway. Revoking twice is not an error, and never
	// shortens an earlier revocation.
	RevokeToken(ctx context.Context, tokenID string, expiresAt time.Time) error
	// TokenRevoked reports whether the token id was revoked.
	TokenRevoked(ctx context.Context, tokenID string) (bool, error)
	// JWKS returns the public signing keys as a JSON Web Key Set document:
	// the current key and those retired recently enough that tokens they
	// signed may still be valid.
	JWKS(ctx context.Context) ([]byte, error)
	// TokenSettings returns the issuer and audience tokens carry.
	TokenSettings(ctx context.Context) (TokenSettings, error)
	// RotateSigningKey makes a new current signing key; the previous ones
	// stay published until the tokens they signed have expired. It returns
	// the new key id.
	RotateSigningKey(ctx context.Context) (string, error)
}

// Revocation is a revoked token id, when it was revoked and until when the
// revocation matters (the token's expiry).
type Revocation struct {
	TokenID   string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at"`
}

// RevocationFeed is implemented by providers that can list revocations
// made since a point in time. Token verifiers poll it to learn revocations
// with one cheap call per interval, instead of asking about every token.
type RevocationFeed interface {
	// RevokedSince returns the revocations made at or after since whose
	// tokens have not expired, oldest first, at most limit of them (a caller
	// pages by passing the last RevokedAt back). A zero since lists every
	// live revocation.
	RevokedSince(ctx context.Context, since time.Time, limit int) ([]Revocation, error)
}

// FindRevocationFeed returns the revocation feed of p, looking through
// decorators: a Provider that wraps another (the credential cache, the
// regulator) exposes it with an Unwrap() Provider method, as errors do.
func FindRevocationFeed(p Provider) (RevocationFeed, bool) {
	for p != nil {
		if f, ok := p.(RevocationFeed); ok {
			return f, true
		}
		u, ok := p.(interface{ Unwrap() Provider })
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	return nil, false
}

// HostedLogin is implemented by providers that back hosted login pages:
// they sign short-lived login requests for an application's allow-listed
// redirect URIs, verify them for the pages, and sign the login assertion the
// pages hand back to the application. Requests and assertions are JWTs
// signed with the application's current signing key, each with its own
// "typ", so neither can pass for an access token nor for each other.
type HostedLogin interface {
	// NewLoginRequest signs a login request for in.RedirectURI, which must be
	// on the application's allow-list (exact match after
	// NormalizeRedirectURI). Errors: ErrInvalidInput (field "redirect_uri"
	// for a URI not allowed, "state", "nonce" or "path").
	NewLoginRequest(ctx context.Context, in LoginRequest) (*SignedLoginRequest, error)
	// VerifyLoginRequest checks a request's signature, type, audience and
	// expiry, and that its redirect URI is still allowed.
	// Errors: ErrInvalidInput (field "request").
	VerifyLoginRequest(ctx context.Context, raw string) (*LoginRequestClaims, error)
	// NewLoginAssertion verifies the request raw, as VerifyLoginRequest
	// does, and signs an assertion that the ENABLED account accountID logged
	// in for it, carrying the request's state, nonce and redirect URI.
	// Errors: ErrInvalidInput (field "request"), ErrNotFound (account),
	// ErrInvalidCredentials (account not ENABLED).
	NewLoginAssertion(ctx context.Context, raw, accountID string) (*LoginAssertion, error)
	// ConsumeLoginAssertion accepts the assertion with id jti, which the
	// caller has verified, once: of any number of calls for one id, from
	// any number of servers sharing the provider, exactly one returns nil
	// and the others ErrConflict (field "assertion"), until expiresAt (the
	// assertion's own expiry, after which it is refused anyway). The id is
	// recorded as a revoked token, so it also appears in the revocation
	// feed. Errors: ErrInvalidInput ("jti", "expires_at"), ErrConflict.
	ConsumeLoginAssertion(ctx context.Context, jti string, expiresAt time.Time) error
	// RedirectURIs lists the allow-list, sorted.
	RedirectURIs(ctx context.Context) ([]string, error)
	// AddRedirectURI normalises uri, adds it to the allow-list and returns
	// the normalised form; adding it again is not an error.
	// Errors: ErrInvalidInput (field "redirect_uri").
	AddRedirectURI(ctx context.Context, uri string) (string, error)
	// RemoveRedirectURI removes uri (normalised first) from the allow-list:
	// requests for it stop verifying at once. Errors: ErrNotFound
	// ("redirect_uri"), ErrInvalidInput.
	RemoveRedirectURI(ctx context.Context, uri string) error
}

// FindHostedLogin returns the HostedLogin of p, looking through decorators
// as FindRevocationFeed does.
func FindHostedLogin(p Provider) (HostedLogin, bool) {
	for p != nil {
		if h, ok := p.(HostedLogin); ok {
			return h, true
		}
		u, ok := p.(interface{ Unwrap() Provider })
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	return nil, false
}
