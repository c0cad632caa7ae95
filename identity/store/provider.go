// Package store implements identity.Provider once, over any Backend: it
// validates input, hashes passwords, mints API keys and signs tokens, and
// leaves persistence to the Backend (the SQL store or the mock's memory).
// Writing the rules once is what makes every backend behave the same.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/seal"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// Options configure a Provider. The zero value is usable: every zero field
// takes the default named on it.
type Options struct {
	// Application names the application; tokens carry it as their audience.
	// Default "gatehouse".
	Application string
	// Issuer is the iss claim of tokens. Default "gatehouse".
	Issuer string
	// Limits are the input rules. Zero fields take identity.DefaultLimits.
	Limits identity.Limits
	// Hasher hashes and verifies passwords. Default: argon2id with
	// password.DefaultParams.
	Hasher *password.Hasher
	// TokenTTL is the lifetime of tokens issued without one. Default 10 min.
	TokenTTL time.Duration
	// MaxTokenTTL bounds requested lifetimes, and is how long a rotated-out
	// signing key stays published. Default 24 h.
	MaxTokenTTL time.Duration
	// Sealer encrypts the private parts of signing keys at rest; keys it
	// cannot open (sealed with another secret) fail to load. Default nil:
	// new keys are stored in the clear. Keys stored in the clear load
	// either way; ResealSigningKeys seals them.
	Sealer *seal.Sealer
	// Logger receives operational messages (never secrets). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Provider is an identity.Provider over a Backend.
type Provider struct {
	b      Backend
	opts   Options
	limits identity.Limits
	hasher *password.Hasher
	log    *slog.Logger

	keysMu     sync.Mutex
	keys       []token.SigningKey // newest first
	keysLoaded time.Time
	unopened   map[string]bool // kids skipped and logged: they do not open
}

var _ identity.Provider = (*Provider)(nil)

// keyCacheTTL is how long parsed signing keys are reused before they are
// read again, so a rotation made by another replica sharing the database is
// picked up within this time.
const keyCacheTTL = 30 * time.Second

// New returns a Provider storing its records in b.
func New(b Backend, opts Options) *Provider {
	if opts.Application == "" {
		opts.Application = "gatehouse"
	}
	if opts.Issuer == "" {
		opts.Issuer = "gatehouse"
	}
	if opts.Hasher == nil {
		opts.Hasher = password.NewHasher(password.DefaultParams)
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 10 * time.Minute
	}
	if opts.MaxTokenTTL <= 0 {
		opts.MaxTokenTTL = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Provider{
		b:      b,
		opts:   opts,
		limits: opts.Limits.WithDefaults(),
		hasher: opts.Hasher,
		log:    opts.Logger,
	}
}

// Hasher returns the password hasher, for callers that count its work.
func (p *Provider) Hasher() *password.Hasher { return p.hasher }

// now returns the current time at the precision every backend stores
// (milliseconds, UTC), so values read back equal values written.
func (p *Provider) now() time.Time { return p.opts.Now().UTC().Truncate(time.Millisecond) }

// CreateAccount implements identity.Provider.
func (p *Provider) CreateAccount(ctx context.Context, in identity.AccountCreate) (*identity.Account, error) {
	username, err := p.limits.NormalizeUsername(in.Username)
	if err != nil {
		return nil, err
	}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	given, err := p.limits.CheckName("given_name", in.GivenName)
	if err != nil {
		return nil, err
	}
	surname, err := p.limits.CheckName("surname", in.Surname)
	if err != nil {
		return nil, err
	}
	status := in.Status
	if status == "" {
		status = identity.StatusEnabled
	}
	if err := identity.CheckStatus(status); err != nil {
		return nil, err
	}
	var data []byte
	if len(in.CustomData) > 0 {
		if data, err = p.limits.CheckCustomData(in.CustomData); err != nil {
			return nil, err
		}
	}
	// Hash last: a request with a bad field must not cost a KDF run.
	hash, err := p.newPasswordHash(ctx, in.Password, in.PasswordHash, username, email)
	if err != nil {
		return nil, err
	}
	now := p.now()
	rec := &AccountRecord{
		Account: identity.Account{
			ID:                 ids.New(),
			Username:           username,
			Email:              email,
			GivenName:          given,
			Surname:            surname,
			Status:             status,
			CreatedAt:          now,
			ModifiedAt:         now,
			PasswordModifiedAt: now,
		},
		PasswordHash: hash,
		UsernameKey:  identity.FoldKey(username),
		EmailKey:     foldEmail(email),
		CustomData:   data,
	}
	if err := p.b.InsertAccount(ctx, rec); err != nil {
		return nil, err
	}
	return cloneAccount(&rec.Account), nil
}

// newPasswordHash checks and hashes a new password, or checks an imported
// hash. Exactly one of the two must be given.
func (p *Provider) newPasswordHash(ctx context.Context, plain, imported, username, email string) (string, error) {
	switch {
	case plain != "" && imported != "":
		return "", identity.Invalid("password", "Give a password or a password hash, not both.")
	case imported != "":
		// Parse it and check its parameters are within bounds, without
		// running the KDF: imports come by the thousand.
		if err := password.CheckHash(imported); err != nil {
			return "", identity.Invalid("password_hash", "The password hash is not a supported argon2id or bcrypt hash.")
		}
		return imported, nil
	case plain == "":
		return "", identity.Invalid("password", "The password is required.")
	}
	normalized, err := p.limits.CheckPassword(plain, username, email)
	if err != nil {
		return "", err
	}
	hash, err := p.hasher.HashContext(ctx, normalized)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func foldEmail(email string) string {
	if email == "" {
		return ""
	}
	return identity.FoldKey(email)
}

// Account implements identity.Provider.
func (p *Provider) Account(ctx context.Context, id string) (*identity.Account, error) {
	rec, err := p.b.AccountByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return &rec.Account, nil
}

// FindAccount implements identity.Provider.
func (p *Provider) FindAccount(ctx context.Context, login string) (*identity.Account, error) {
	if !utf8.ValidString(login) || login == "" {
		return nil, identity.NotFound("account")
	}
	rec, err := p.b.AccountByLogin(ctx, identity.FoldKey(login))
	if err != nil {
		return nil, err
	}
	return &rec.Account, nil
}

// ListAccounts implements identity.Provider.
func (p *Provider) ListAccounts(ctx context.Context, f identity.AccountFilter) (*identity.List[*identity.Account], error) {
	page, err := identity.CheckPage(f.Page)
	if err != nil {
		return nil, err
	}
	if f.Status != "" {
		if err := identity.CheckStatus(f.Status); err != nil {
			return nil, err
		}
	}
	f.Page = page
	f.Username = identity.FoldKey(f.Username)
	f.Email = identity.FoldKey(f.Email)
	f.Query = identity.FoldKey(f.Query)
	recs, total, err := p.b.ListAccounts(ctx, f)
	if err != nil {
		return nil, err
	}
	return accountList(recs, total, page), nil
}

func accountList(recs []*AccountRecord, total int, page identity.Page) *identity.List[*identity.Account] {
	out := &identity.List[*identity.Account]{Items: make([]*identity.Account, len(recs)), Offset: page.Offset, Limit: page.Limit, Total: total}
	for i, r := range recs {
		out.Items[i] = &r.Account
	}
	return out
}

// UpdateAccount implements identity.Provider.
func (p *Provider) UpdateAccount(ctx context.Context, id string, u identity.AccountUpdate) (*identity.Account, error) {
	var err error
	if u.Username != nil {
		v, err := p.limits.NormalizeUsername(*u.Username)
		if err != nil {
			return nil, err
		}
		u.Username = &v
	}
	if u.Email != nil {
		v, err := identity.NormalizeEmail(*u.Email)
		if err != nil {
			return nil, err
		}
		u.Email = &v
	}
	if u.GivenName != nil {
		if *u.GivenName, err = p.limits.CheckName("given_name", *u.GivenName); err != nil {
			return nil, err
		}
	}
	if u.Surname != nil {
		if *u.Surname, err = p.limits.CheckName("surname", *u.Surname); err != nil {
			return nil, err
		}
	}
	if u.Status != nil {
		if err := identity.CheckStatus(*u.Status); err != nil {
			return nil, err
		}
	}
	var newHash string
	if u.Password != nil {
		// The policy compares the password with the names the account will
		// have, so read the current ones first. Hashing happens outside the
		// backend's transaction: it is slow and needs no lock.
		cur, err := p.b.AccountByID(ctx, id)
		if err != nil {
			return nil, err
		}
		username, email := cur.Username, cur.Email
		if u.Username != nil {
			username = *u.Username
		}
		if u.Email != nil {
			email = *u.Email
		}
		if newHash, err = p.newPasswordHash(ctx, *u.Password, "", username, email); err != nil {
			return nil, err
		}
	}
	now := p.now()
	rec, err := p.b.UpdateAccount(ctx, id, func(r *AccountRecord) error {
		if u.Username != nil {
			r.Username, r.UsernameKey = *u.Username, identity.FoldKey(*u.Username)
		}
		if u.Email != nil {
			r.Email, r.EmailKey = *u.Email, foldEmail(*u.Email)
		}
		if u.GivenName != nil {
			r.GivenName = *u.GivenName
		}
		if u.Surname != nil {
			r.Surname = *u.Surname
		}
		if u.Status != nil {
			r.Status = *u.Status
		}
		if newHash != "" {
			r.PasswordHash, r.PasswordModifiedAt = newHash, now
		}
		r.ModifiedAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &rec.Account, nil
}

// DeleteAccount implements identity.Provider.
func (p *Provider) DeleteAccount(ctx context.Context, id string) error {
	return p.b.DeleteAccount(ctx, id)
}

// Authenticate implements identity.Provider. Every path that fails runs
// exactly one password verification, so an unknown login, a wrong password
// and a disabled account cost the same. A caller whose context ends while
// the login waits for its turn at the KDF gets the context's error on every
// path alike, and costs no KDF run.
func (p *Provider) Authenticate(ctx context.Context, login, pw string) (*identity.Account, error) {
	// Bound the work an unauthenticated caller can cause before normalising,
	// far above anything valid: NFKC can fold several code points into one,
	// so valid input may be many times its normalised length.
	if login == "" || len(login) > maxRawCredential || len(pw) > maxRawCredential {
		return nil, p.failAfterDummy(ctx, "", identity.ReasonInvalidRequest)
	}
	normalized := identity.NormalizePassword(pw)
	if utf8.RuneCountInString(normalized) > p.limits.PasswordMaxLength {
		// No account can have this password; fail at the same cost.
		return nil, p.failAfterDummy(ctx, "", identity.ReasonInvalidRequest)
	}
	rec, err := p.b.AccountByLogin(ctx, identity.FoldKey(login))
	if errors.Is(err, identity.ErrNotFound) {
		return nil, p.failAfterDummy(ctx, normalized, identity.ReasonUnknownLogin)
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := p.hasher.VerifyContext(ctx, rec.PasswordHash, normalized)
	if err != nil {
		return nil, fmt.Errorf("verify password of account %s: %w", rec.ID, err)
	}
	if !ok {
		return nil, identity.InvalidCredentials(identity.ReasonWrongPassword)
	}
	switch rec.Status {
	case identity.StatusEnabled:
	case identity.StatusUnverified:
		return nil, identity.InvalidCredentials(identity.ReasonUnverified)
	default:
		return nil, identity.InvalidCredentials(identity.ReasonDisabled)
	}
	if rehash {
		p.rehash(ctx, rec, normalized)
	}
	return &rec.Account, nil
}

// failAfterDummy spends one verification, as a wrong password would, and
// returns the credentials failure; or the context's error if the caller
// went away while waiting for the KDF.
func (p *Provider) failAfterDummy(ctx context.Context, normalized string, reason identity.FailureReason) error {
	if err := p.hasher.VerifyDummyContext(ctx, normalized); err != nil {
		return err
	}
	return identity.InvalidCredentials(reason)
}

// rehash upgrades a stored hash to the current parameters after a successful
// login, the only time the plaintext is at hand. A failure is logged, not
// returned: the login itself succeeded. A caller that has gone away leaves
// the upgrade to its next login.
func (p *Provider) rehash(ctx context.Context, rec *AccountRecord, normalized string) {
	hash, err := p.hasher.HashContext(ctx, normalized)
	if err == nil {
		old := rec.PasswordHash
		_, err = p.b.UpdateAccount(ctx, rec.ID, func(r *AccountRecord) error {
			if r.PasswordHash != old {
				return errPasswordChanged // changed meanwhile: keep the newer one
			}
			r.PasswordHash = hash
			return nil
		})
	}
	if err != nil && !errors.Is(err, errPasswordChanged) && ctx.Err() == nil {
		p.log.WarnContext(ctx, "password rehash failed", "account", rec.ID, "error", err)
	}
}

var errPasswordChanged = errors.New("password changed concurrently")

// maxRawCredential bounds a login or password in bytes before it is
// normalised.
const maxRawCredential = 16 << 10

// CreateAPIKey implements identity.Provider.
func (p *Provider) CreateAPIKey(ctx context.Context, accountID, name string) (*identity.NewAPIKey, error) {
	name, err := p.limits.CheckName("name", name)
	if err != nil {
		return nil, err
	}
	secret := apikey.NewSecret()
	rec := &APIKeyRecord{
		APIKey: identity.APIKey{
			ID:        apikey.NewID(),
			AccountID: accountID,
			Name:      name,
			Status:    identity.StatusEnabled,
			CreatedAt: p.now(),
		},
		SecretHash: apikey.HashSecret(secret),
	}
	if err := p.b.InsertAPIKey(ctx, rec, p.limits.APIKeysPerAccount); err != nil {
		return nil, err
	}
	return &identity.NewAPIKey{APIKey: rec.APIKey, Secret: secret}, nil
}

// APIKey implements identity.Provider.
func (p *Provider) APIKey(ctx context.Context, id string) (*identity.APIKey, error) {
	if !apikey.IsID(id) {
		return nil, identity.NotFound("api_key")
	}
	rec, err := p.b.APIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return &rec.APIKey, nil
}

// ListAPIKeys implements identity.Provider.
func (p *Provider) ListAPIKeys(ctx context.Context, accountID string) ([]*identity.APIKey, error) {
	recs, err := p.b.ListAPIKeys(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]*identity.APIKey, len(recs))
	for i, r := range recs {
		out[i] = &r.APIKey
	}
	return out, nil
}

// SetAPIKeyStatus implements identity.Provider.
func (p *Provider) SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*identity.APIKey, error) {
	if err := identity.CheckKeyStatus(status); err != nil {
		return nil, err
	}
	if !apikey.IsID(id) {
		return nil, identity.NotFound("api_key")
	}
	rec, err := p.b.SetAPIKeyStatus(ctx, id, status)
	if err != nil {
		return nil, err
	}
	return &rec.APIKey, nil
}

// DeleteAPIKey implements identity.Provider.
func (p *Provider) DeleteAPIKey(ctx context.Context, id string) error {
	if !apikey.IsID(id) {
		return identity.NotFound("api_key")
	}
	return p.b.DeleteAPIKey(ctx, id)
}

// AuthenticateAPIKey implements identity.Provider.
func (p *Provider) AuthenticateAPIKey(ctx context.Context, id, secret string) (*identity.Account, *identity.APIKey, error) {
	if !apikey.IsID(id) {
		return nil, nil, identity.InvalidCredentials(identity.ReasonUnknownKey)
	}
	k, err := p.b.APIKey(ctx, id)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, identity.InvalidCredentials(identity.ReasonUnknownKey)
	}
	if err != nil {
		return nil, nil, err
	}
	if !apikey.Matches(k.SecretHash, secret) {
		return nil, nil, identity.InvalidCredentials(identity.ReasonWrongSecret)
	}
	if k.Status != identity.StatusEnabled {
		return nil, nil, identity.InvalidCredentials(identity.ReasonKeyDisabled)
	}
	acc, err := p.b.AccountByID(ctx, k.AccountID)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, identity.InvalidCredentials(identity.ReasonUnknownKey)
	}
	if err != nil {
		return nil, nil, err
	}
	if acc.Status != identity.StatusEnabled {
		return nil, nil, identity.InvalidCredentials(identity.ReasonDisabled)
	}
	return &acc.Account, &k.APIKey, nil
}

// CustomData implements identity.Provider.
func (p *Provider) CustomData(ctx context.Context, accountID string) (identity.CustomData, error) {
	b, err := p.b.CustomData(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return identity.DecodeCustomData(b)
}

// ReplaceCustomData implements identity.Provider.
func (p *Provider) ReplaceCustomData(ctx context.Context, accountID string, data identity.CustomData) (identity.CustomData, error) {
	enc, err := p.limits.CheckCustomData(data)
	if err != nil {
		return nil, err
	}
	if err := p.b.UpdateCustomData(ctx, accountID, func([]byte) ([]byte, error) { return enc, nil }); err != nil {
		return nil, err
	}
	return identity.DecodeCustomData(enc)
}

// MergeCustomData implements identity.Provider.
func (p *Provider) MergeCustomData(ctx context.Context, accountID string, patch identity.CustomData) (identity.CustomData, error) {
	for k := range patch {
		if err := identity.CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	// Patch values come from callers; encode and decode them once so that
	// numbers and nested types take the canonical form before merging.
	canon, err := canonical(patch)
	if err != nil {
		return nil, err
	}
	var result []byte
	err = p.b.UpdateCustomData(ctx, accountID, func(old []byte) ([]byte, error) {
		cur, err := identity.DecodeCustomData(old)
		if err != nil {
			return nil, fmt.Errorf("decode stored custom data: %w", err)
		}
		result, err = p.limits.CheckCustomData(identity.MergePatch(cur, canon))
		return result, err
	})
	if err != nil {
		return nil, err
	}
	return identity.DecodeCustomData(result)
}

func canonical(d identity.CustomData) (identity.CustomData, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, identity.Invalid("customData", "Custom data must be a JSON object.")
	}
	return identity.DecodeCustomData(b)
}

// DeleteCustomDataKey implements identity.Provider. Deleting a key that is
// not there is not an error, so the operation is idempotent.
func (p *Provider) DeleteCustomDataKey(ctx context.Context, accountID, key string) error {
	if err := identity.CheckCustomDataKey(key); err != nil {
		return err
	}
	return p.b.UpdateCustomData(ctx, accountID, func(old []byte) ([]byte, error) {
		cur, err := identity.DecodeCustomData(old)
		if err != nil {
			return nil, fmt.Errorf("decode stored custom data: %w", err)
		}
		delete(cur, key)
		return json.Marshal(cur)
	})
}

// CreateGroup implements identity.Provider.
func (p *Provider) CreateGroup(ctx context.Context, in identity.GroupCreate) (*identity.Group, error) {
	name, err := p.limits.CheckName("name", in.Name)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, identity.Invalid("name", "The group name is required.")
	}
	desc, err := p.limits.CheckName("description", in.Description)
	if err != nil {
		return nil, err
	}
	now := p.now()
	rec := &GroupRecord{
		Group:   identity.Group{ID: ids.New(), Name: name, Description: desc, CreatedAt: now, ModifiedAt: now},
		NameKey: identity.FoldKey(name),
	}
	if err := p.b.InsertGroup(ctx, rec); err != nil {
		return nil, err
	}
	return &rec.Group, nil
}

// Group implements identity.Provider.
func (p *Provider) Group(ctx context.Context, id string) (*identity.Group, error) {
	rec, err := p.b.Group(ctx, id)
	if err != nil {
		return nil, err
	}
	return &rec.Group, nil
}

// ListGroups implements identity.Provider.
func (p *Provider) ListGroups(ctx context.Context, f identity.GroupFilter) (*identity.List[*identity.Group], error) {
	page, err := identity.CheckPage(f.Page)
	if err != nil {
		return nil, err
	}
	f.Page = page
	if f.Name != "" {
		f.Name = identity.FoldKey(f.Name)
	}
	recs, total, err := p.b.ListGroups(ctx, f)
	if err != nil {
		return nil, err
	}
	return &identity.List[*identity.Group]{Items: groups(recs), Offset: page.Offset, Limit: page.Limit, Total: total}, nil
}

func groups(recs []*GroupRecord) []*identity.Group {
	out := make([]*identity.Group, len(recs))
	for i, r := range recs {
		out[i] = &r.Group
	}
	return out
}

// DeleteGroup implements identity.Provider.
func (p *Provider) DeleteGroup(ctx context.Context, id string) error { return p.b.DeleteGroup(ctx, id) }

// AddToGroup implements identity.Provider.
func (p *Provider) AddToGroup(ctx context.Context, accountID, groupID string) error {
	return p.b.AddMember(ctx, accountID, groupID)
}

// RemoveFromGroup implements identity.Provider.
func (p *Provider) RemoveFromGroup(ctx context.Context, accountID, groupID string) error {
	return p.b.RemoveMember(ctx, accountID, groupID)
}

// AccountGroups implements identity.Provider.
func (p *Provider) AccountGroups(ctx context.Context, accountID string) ([]*identity.Group, error) {
	recs, err := p.b.AccountGroups(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return groups(recs), nil
}

// GroupMembers implements identity.Provider.
func (p *Provider) GroupMembers(ctx context.Context, groupID string, pg identity.Page) (*identity.List[*identity.Account], error) {
	page, err := identity.CheckPage(pg)
	if err != nil {
		return nil, err
	}
	recs, total, err := p.b.GroupMembers(ctx, groupID, page)
	if err != nil {
		return nil, err
	}
	return accountList(recs, total, page), nil
}

func cloneAccount(a *identity.Account) *identity.Account {
	c := *a
	return &c
}
