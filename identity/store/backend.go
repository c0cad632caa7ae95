package store

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Backend persists one application's records. It knows nothing of passwords,
// policies or tokens: Provider validates and hashes, a Backend stores, and
// enforces uniqueness atomically (by constraint, never check-then-insert).
//
// Errors: lookups of a missing record return an error matching
// identity.ErrNotFound; a taken unique value returns identity.Conflict(field)
// with field "username", "email" or "name". Update closures run inside the
// backend's transaction; an error they return aborts the update unchanged.
type Backend interface {
	// InsertAccount stores a new account and claims its login keys
	// (UsernameKey and, if set, EmailKey). A username and an email share one
	// namespace of login keys, so no account's username can be another's
	// email and a login always names at most one account.
	InsertAccount(ctx context.Context, a *AccountRecord) error
	AccountByID(ctx context.Context, id string) (*AccountRecord, error)
	// AccountByLogin finds the account owning a login key.
	AccountByLogin(ctx context.Context, key string) (*AccountRecord, error)
	// ListAccounts returns a page (Limit already set) and the total count.
	// Username, Email and Query in the filter are already folded keys.
	ListAccounts(ctx context.Context, f identity.AccountFilter) ([]*AccountRecord, int, error)
	// UpdateAccount loads the account, lets fn change it, and stores it,
	// re-claiming login keys that changed.
	UpdateAccount(ctx context.Context, id string, fn func(*AccountRecord) error) (*AccountRecord, error)
	// DeleteAccount removes the account, its keys, custom data and
	// memberships in one transaction.
	DeleteAccount(ctx context.Context, id string) error

	// InsertAPIKey stores a key; it fails with identity.ErrLimitExceeded if
	// the account already holds maxPerAccount keys, and ErrNotFound if the
	// account does not exist.
	InsertAPIKey(ctx context.Context, k *APIKeyRecord, maxPerAccount int) error
	APIKey(ctx context.Context, id string) (*APIKeyRecord, error)
	ListAPIKeys(ctx context.Context, accountID string) ([]*APIKeyRecord, error)
	SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*APIKeyRecord, error)
	DeleteAPIKey(ctx context.Context, id string) error

	// CustomData returns the stored JSON object (nil if none was stored).
	CustomData(ctx context.Context, accountID string) ([]byte, error)
	// UpdateCustomData reads the stored object, passes it to fn and stores
	// what fn returns, atomically, so concurrent patches never lose updates.
	UpdateCustomData(ctx context.Context, accountID string, fn func(old []byte) ([]byte, error)) error

	InsertGroup(ctx context.Context, g *GroupRecord) error
	Group(ctx context.Context, id string) (*GroupRecord, error)
	// ListGroups returns a page ordered by name; f.Name is a folded key.
	ListGroups(ctx context.Context, f identity.GroupFilter) ([]*GroupRecord, int, error)
	DeleteGroup(ctx context.Context, id string) error
	// AddMember is idempotent; it fails with ErrNotFound naming "account" or
	// "group" when either is missing.
	AddMember(ctx context.Context, accountID, groupID string) error
	RemoveMember(ctx context.Context, accountID, groupID string) error
	AccountGroups(ctx context.Context, accountID string) ([]*GroupRecord, error)
	GroupMembers(ctx context.Context, groupID string, p identity.Page) ([]*AccountRecord, int, error)

	// RevokeToken records a revoked token id until expiresAt, revoked at
	// revokedAt; a repeat keeps the later of the two expiries (and then the
	// later revokedAt, so pollers see the change).
	RevokeToken(ctx context.Context, tokenID string, expiresAt, revokedAt time.Time) error
	// RevokeTokenOnce records a revoked token id until expiresAt, revoked
	// at revokedAt, unless a revocation of it lasts past revokedAt: then it
	// changes nothing and reports false. Of concurrent calls for one id,
	// exactly one reports true.
	RevokeTokenOnce(ctx context.Context, tokenID string, expiresAt, revokedAt time.Time) (bool, error)
	// RevokedSince lists revocations with RevokedAt at or after since and
	// ExpiresAt after now, by RevokedAt, at most limit.
	RevokedSince(ctx context.Context, since, now time.Time, limit int) ([]identity.Revocation, error)
	TokenRevoked(ctx context.Context, tokenID string, now time.Time) (bool, error)
	// SigningKeys returns the keys not yet past their RetireAt, newest first;
	// with the zero time, every key.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKeyRecord, error)
	// RotateSigningKey stores k as the current key and sets RetireAt of every
	// other key without one to retireAt, in one transaction.
	RotateSigningKey(ctx context.Context, k SigningKeyRecord, retireAt time.Time) error
	// ReplaceSigningKeyPrivate replaces the stored private part of key id
	// if it is still old, and reports whether it was (a concurrent resealer
	// may have got there first). Errors: ErrNotFound.
	ReplaceSigningKeyPrivate(ctx context.Context, id string, old, new []byte) (bool, error)
}

// AccountRecord is an account as stored: the domain fields plus the password
// hash and the folded login keys.
type AccountRecord struct {
	identity.Account
	PasswordHash string
	UsernameKey  string
	EmailKey     string // "" when the account has no email
	// CustomData is the JSON the account is created with, written by
	// InsertAccount in the same transaction; lookups leave it nil.
	CustomData []byte
}

// APIKeyRecord is an API key as stored: never the secret, only its hash.
type APIKeyRecord struct {
	identity.APIKey
	SecretHash []byte
}

// GroupRecord is a group as stored.
type GroupRecord struct {
	identity.Group
	NameKey string
}

// SigningKeyRecord is a token signing key as stored.
type SigningKeyRecord struct {
	ID         string
	PrivateKey []byte // PKCS#8 DER, or that sealed (package seal)
	CreatedAt  time.Time
	RetireAt   time.Time // zero while the key is current
}
