// Package wire is the directory protocol's one definition, shared by the
// directory server and the remote provider: the Stormpath-shaped JSON of
// every resource, the paths, and the table that maps identity error codes to
// HTTP statuses and Stormpath's numeric codes and back. Because both sides
// use it, a domain error survives the round trip: the remote provider
// returns the same sentinel, field and message the server's provider did.
//
// The protocol itself is described in protocol.md beside this file.
package wire

import (
	"encoding/json"
	"strings"
	"time"
)

// Version is the path prefix of every protocol resource.
const Version = "/v1"

// Link is a reference to another resource.
type Link struct {
	Href string `json:"href"`
}

// Collection is a page of a collection resource. Size is the number of items
// in the whole collection (as Stormpath's SDKs read it), not in this page.
type Collection[T any] struct {
	Href   string `json:"href"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
	Size   int    `json:"size"`
	Items  []T    `json:"items"`
}

// Time is a timestamp in Stormpath's form: ISO-8601, UTC, milliseconds.
type Time time.Time

const timeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Format(timeLayout))
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v.UTC())
	return nil
}

// Tenant is the root resource: one tenant per directory.
type Tenant struct {
	Href         string `json:"href"`
	Name         string `json:"name"`
	Key          string `json:"key"`
	CreatedAt    Time   `json:"createdAt"`
	ModifiedAt   Time   `json:"modifiedAt"`
	Applications Link   `json:"applications"`
	Directories  Link   `json:"directories"`
	Accounts     Link   `json:"accounts"`
	Groups       Link   `json:"groups"`
	CustomData   Link   `json:"customData"`
}

// Application is one application's resource. Besides Stormpath's links it
// carries Gatehouse's: apiKeyAttempts (key verification), revocations, jwks
// and signingKeys. APIKeys is Stormpath's key lookup
// (GET …/apiKeys?id=KEY_ID), which the Stormpath SDKs' app.getApiKey uses.
type Application struct {
	Href           string `json:"href"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	CreatedAt      Time   `json:"createdAt"`
	ModifiedAt     Time   `json:"modifiedAt"`
	Tenant         Link   `json:"tenant"`
	Accounts       Link   `json:"accounts"`
	Groups         Link   `json:"groups"`
	LoginAttempts  Link   `json:"loginAttempts"`
	APIKeyAttempts Link   `json:"apiKeyAttempts"`
	APIKeys        Link   `json:"apiKeys"`
	OAuthPolicy    Link   `json:"oAuthPolicy"`
	Revocations    Link   `json:"revocations"`
	JWKS           Link   `json:"jwks"`
	SigningKeys    Link   `json:"signingKeys"`
	CustomData     Link   `json:"customData"`
}

// Account is an account resource. CustomData is a link, or the object
// itself when expanded.
type Account struct {
	Href               string          `json:"href"`
	Username           string          `json:"username"`
	Email              string          `json:"email"`
	GivenName          string          `json:"givenName"`
	MiddleName         string          `json:"middleName"`
	Surname            string          `json:"surname"`
	FullName           string          `json:"fullName"`
	Status             string          `json:"status"`
	CreatedAt          Time            `json:"createdAt"`
	ModifiedAt         Time            `json:"modifiedAt"`
	PasswordModifiedAt Time            `json:"passwordModifiedAt"`
	CustomData         json.RawMessage `json:"customData"`
	Groups             Link            `json:"groups"`
	GroupMemberships   Link            `json:"groupMemberships"`
	APIKeys            Link            `json:"apiKeys"`
	AccessTokens       Link            `json:"accessTokens"`
	Applications       Link            `json:"applications"`
	Directory          Link            `json:"directory"`
	Tenant             Link            `json:"tenant"`
}

// AccountWrite is the body of an account create (POST to an application's
// accounts) or update (POST to the account). Absent fields are left alone on
// update; on create, username defaults to the email, as in Stormpath.
// PasswordHash (a Gatehouse extension) imports an argon2id or bcrypt hash.
type AccountWrite struct {
	Username     *string         `json:"username,omitempty"`
	Email        *string         `json:"email,omitempty"`
	Password     *string         `json:"password,omitempty"`
	PasswordHash *string         `json:"passwordHash,omitempty"`
	GivenName    *string         `json:"givenName,omitempty"`
	MiddleName   *string         `json:"middleName,omitempty"`
	Surname      *string         `json:"surname,omitempty"`
	Status       *string         `json:"status,omitempty"`
	CustomData   json.RawMessage `json:"customData,omitempty"`
}

// APIKey is an API key resource. Secret is set only in the answer to the
// key's creation: the directory keeps only a hash.
type APIKey struct {
	Href        string `json:"href"`
	ID          string `json:"id"`
	Secret      string `json:"secret,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Status      string `json:"status"`
	CreatedAt   Time   `json:"createdAt"`
	Account     Link   `json:"account"`
	Tenant      Link   `json:"tenant"`
}

// APIKeyWrite updates a key's status, name or description.
type APIKeyWrite struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Status      *string `json:"status,omitempty"`
}

// Group is a group resource.
type Group struct {
	Href               string `json:"href"`
	Name               string `json:"name"`
	Description        string `json:"description"`
	Status             string `json:"status"`
	CreatedAt          Time   `json:"createdAt"`
	ModifiedAt         Time   `json:"modifiedAt"`
	Accounts           Link   `json:"accounts"`
	AccountMemberships Link   `json:"accountMemberships"`
	Directory          Link   `json:"directory"`
	Tenant             Link   `json:"tenant"`
	CustomData         Link   `json:"customData"`
}

// GroupWrite creates a group.
type GroupWrite struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Status      string `json:"status,omitempty"`
}

// GroupMembership links an account and a group.
type GroupMembership struct {
	Href    string `json:"href"`
	Account Link   `json:"account"`
	Group   Link   `json:"group"`
}

// Attempt is the body of a login attempt and of an API key attempt: Type
// "basic" and Value base64("login:password") or base64("id:secret").
type Attempt struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// AttemptResult is the answer to a successful attempt. Account (and, for
// API key attempts, APIKey) hold the full resource when expanded
// (?expand=account,apiKey), otherwise only the href.
type AttemptResult struct {
	Account json.RawMessage `json:"account"`
	APIKey  json.RawMessage `json:"apiKey,omitempty"`
}

// TokenWrite asks for an access token for an account (POST to the account's
// accessTokens). TTL is in seconds; zero means the directory's default.
type TokenWrite struct {
	TTL   int    `json:"ttl,omitempty"`
	Scope string `json:"scope,omitempty"`
}

// AccessToken is an issued access token.
type AccessToken struct {
	Href      string `json:"href"`
	JWT       string `json:"jwt"`
	ExpiresAt Time   `json:"expiresAt"`
	IssuedAt  Time   `json:"issuedAt"`
	Scope     string `json:"scope,omitempty"`
	Account   Link   `json:"account"`
}

// Revocation records a revoked token id until the token's expiry. RevokedAt
// is set in the revocation feed (GET the application's revocations).
type Revocation struct {
	Href      string `json:"href"`
	JTI       string `json:"jti"`
	ExpiresAt Time   `json:"expiresAt"`
	RevokedAt Time   `json:"revokedAt"`
}

// TokenExpiry names a token id and when the token expires: the body of a
// revocation (POST …/revocations) and of an assertion's consumption (POST
// …/loginAssertionConsumptions). Both members are required.
type TokenExpiry struct {
	JTI       string `json:"jti"`
	ExpiresAt *Time  `json:"expiresAt"`
}

// OAuthPolicy tells API servers how to verify tokens locally: the issuer
// and audience tokens carry and where the keys are.
type OAuthPolicy struct {
	Href           string `json:"href"`
	AccessTokenTTL string `json:"accessTokenTtl"` // ISO-8601 duration
	Issuer         string `json:"issuer"`
	Audience       string `json:"audience"`
	JWKS           Link   `json:"jwks"`
	Application    Link   `json:"application"`
}

// SigningKey is the answer to a key rotation.
type SigningKey struct {
	Href string `json:"href"`
	KID  string `json:"kid"`
}

// LastSegment returns the last path segment of an href: the id of the
// resource it names. Clients never build ids from anything else, so the
// server's host and scheme do not matter to them.
func LastSegment(href string) string {
	href = strings.TrimRight(href, "/")
	if i := strings.IndexAny(href, "?#"); i >= 0 {
		href = href[:i]
	}
	return href[strings.LastIndexByte(href, '/')+1:]
}

// MembershipID is the id of the membership of an account in a group. Ids
// are base62, so the dash cannot be part of either.
func MembershipID(accountID, groupID string) string { return accountID + "-" + groupID }

// SplitMembershipID undoes MembershipID.
func SplitMembershipID(id string) (accountID, groupID string, ok bool) {
	return strings.Cut(id, "-")
}
