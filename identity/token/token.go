package token

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4/jwt"
)

// TokenType is the "typ" header of every token Sign produces and Verify
// accepts (RFC 9068 section 2.1).
const TokenType = "at+jwt"

// Claims are the claims of a Gatehouse access token.
type Claims struct {
	// ID is the unique token id ("jti"), e.g. for revocation lists.
	ID string
	// Subject is the principal the token was issued to ("sub").
	Subject string
	// Issuer identifies the Gatehouse instance that issued the token ("iss").
	Issuer string
	// Audience identifies the service the token is for ("aud").
	Audience string
	// IssuedAt is when the token was issued ("iat").
	IssuedAt time.Time
	// ExpiresAt is when the token stops being valid ("exp").
	ExpiresAt time.Time
	// Scopes are the granted scopes, carried in the "scope" claim as one
	// space-separated string.
	Scopes []string
}

// HasScopes reports whether c grants every one of required. It returns true
// when required is empty.
func (c Claims) HasScopes(required ...string) bool {
	for _, r := range required {
		if !slices.Contains(c.Scopes, r) {
			return false
		}
	}
	return true
}

// wireClaims is the JSON form of Claims. The go-jose jwt types are used for
// the fields whose encoding has traps: NumericDate rejects values that would
// overflow time.Time, and Audience accepts both the string and the array
// forms RFC 7519 allows.
type wireClaims struct {
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  jwt.Audience     `json:"aud,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	ID        string           `json:"jti,omitempty"`
	Scope     string           `json:"scope,omitempty"`
}

// Sign returns c as a compact JWS signed by key.
//
// Sign refuses claims that Verify would reject whatever the clock says:
// ID, Subject, Issuer, Audience, IssuedAt and ExpiresAt are required,
// ExpiresAt must be at least a second after IssuedAt, and each scope must be
// a non-empty RFC 6749 scope token (printable ASCII except space, '"' and
// '\\'), since a space inside a scope would split it in two. It also refuses
// when IssuedAt is not before key.RetireAt, so that a retired key cannot
// quietly keep signing.
func Sign(key SigningKey, c Claims) (string, error) {
	scope := strings.Join(c.Scopes, " ")
	return signTyped(key, TokenType, c, func(w wireClaims) any {
		w.Scope = scope
		return w
	})
}

func (c Claims) checkSignable() error {
	switch {
	case c.ID == "":
		return errors.New("token: claims have no ID")
	case c.Subject == "":
		return errors.New("token: claims have no Subject")
	case c.Issuer == "":
		return errors.New("token: claims have no Issuer")
	case c.Audience == "":
		return errors.New("token: claims have no Audience")
	case c.IssuedAt.IsZero():
		return errors.New("token: claims have no IssuedAt")
	case c.ExpiresAt.IsZero():
		return errors.New("token: claims have no ExpiresAt")
	case c.ExpiresAt.Unix() <= c.IssuedAt.Unix():
		return fmt.Errorf("token: ExpiresAt %s is not after IssuedAt %s",
			c.ExpiresAt.Format(time.RFC3339), c.IssuedAt.Format(time.RFC3339))
	}
	for _, s := range c.Scopes {
		if !ValidScope(s) {
			return fmt.Errorf("token: invalid scope %q", s)
		}
	}
	return nil
}

// ValidScope reports whether s is an RFC 6749 section 3.3 scope-token:
// one or more of %x21 / %x23-5B / %x5D-7E.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Hash returns the SHA-256 digest of a raw token, for use as a cache or
// revocation key that does not itself grant access if the store leaks.
//
// It runs on every token-authenticated request, so it hashes the string's
// bytes in place: a []byte conversion would copy a token of several hundred
// bytes to the heap each time. Sum256 only reads its input.
func Hash(raw string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}
