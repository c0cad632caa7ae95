package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Verification errors. Every error from Verify wraps ErrInvalidToken;
// ErrExpired and ErrUnknownKey themselves wrap ErrInvalidToken, so
// errors.Is(err, ErrInvalidToken) holds for them too.
var (
	// ErrInvalidToken means the token must not be accepted.
	ErrInvalidToken = errors.New("token: invalid token")
	// ErrExpired means the token was valid but its "exp" has passed (after
	// leeway). The client should obtain a new token.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrUnknownKey means the token names a "kid" that is not in the
	// Verifier's key set. If keys come from a remote JWKS, the caller may
	// refetch it (rate-limited) and retry, since the issuer may have rotated.
	ErrUnknownKey = fmt.Errorf("%w: unknown signing key", ErrInvalidToken)
)

// DefaultLeeway is the clock-skew allowance used when NewVerifier is given a
// leeway of 0. Hosts kept in sync by NTP differ by milliseconds; 10 seconds
// absorbs a badly drifting VM without meaningfully extending the life of a
// token that is minutes long.
const DefaultLeeway = 10 * time.Second

const (
	// maxTokenLen bounds the input Verify and LooksLikeJWT will look at.
	// Gatehouse tokens are a few hundred bytes; the cap keeps hostile
	// multi-megabyte inputs from being base64-decoded and JSON-parsed.
	maxTokenLen = 8 << 10
	// maxHeaderLen bounds the encoded protected header LooksLikeJWT decodes.
	maxHeaderLen = 1 << 10
)

// Verifier checks access tokens against a fixed key set, issuer and
// audience. It is immutable and safe for concurrent use. To pick up a new
// JWKS, build a new Verifier.
type Verifier struct {
	keys     map[string]ed25519.PublicKey
	issuer   string
	audience string
	leeway   time.Duration
}

// NewVerifier returns a Verifier that accepts tokens signed by a key in keys
// whose "iss" equals issuer and whose "aud" equals audience.
//
// leeway is the clock-skew allowance applied to "exp", "iat" and "nbf": 0
// selects DefaultLeeway, and a negative value disables leeway.
//
// Keys in keys that are not valid Ed25519 signing JWKs, or whose kid is
// shared with another key, are left out, as ParseJWKS would have rejected
// them. An empty issuer or audience makes every token fail verification,
// since an unconfigured Verifier must fail closed.
func NewVerifier(keys JWKS, issuer, audience string, leeway time.Duration) *Verifier {
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	v := &Verifier{
		keys:     make(map[string]ed25519.PublicKey, len(keys.Keys)),
		issuer:   issuer,
		audience: audience,
		leeway:   leeway,
	}
	dup := make(map[string]bool)
	for _, k := range keys.Keys {
		if (k.Use != "" && k.Use != useSig) || (k.Algorithm != "" && k.Algorithm != algEdDSA) {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			continue
		}
		if _, ok := v.keys[k.KeyID]; ok {
			dup[k.KeyID] = true
		}
		v.keys[k.KeyID] = pub
	}
	for kid := range dup {
		delete(v.keys, kid)
	}
	return v
}

// Verify checks raw at time now and returns its claims.
//
// It accepts a token only if all of the following hold: it is a compact JWS
// whose header has "alg":"EdDSA" (no other algorithm is ever considered, so
// "none" and HMAC-with-the-public-key confusions are impossible),
// "typ":"at+jwt" and a "kid" naming a key in the Verifier's set; the
// signature verifies under that key; "iss" equals the issuer; "aud" is
// exactly the audience (a single value); "sub" and "jti" are non-empty;
// "exp" is present and now is before exp+leeway; "iat" is present, not after
// now+leeway and before "exp"; and "nbf", if present, is not after
// now+leeway.
//
// All errors wrap ErrInvalidToken; see also ErrExpired and ErrUnknownKey.
func (v *Verifier) Verify(raw string, now time.Time) (Claims, error) {
	var wc wireClaims
	if err := v.verifyTyped(raw, now, TokenType, &wc, &wc, true); err != nil {
		return Claims{}, err
	}
	return Claims{
		ID:        wc.ID,
		Subject:   wc.Subject,
		Issuer:    wc.Issuer,
		Audience:  wc.Audience[0],
		IssuedAt:  wc.IssuedAt.Time().UTC(),
		ExpiresAt: wc.Expiry.Time().UTC(),
		Scopes:    splitScope(wc.Scope),
	}, nil
}

// splitScope splits a space-separated scope claim, ignoring empty elements
// produced by repeated spaces. It returns nil for an empty claim.
func splitScope(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// LooksLikeJWT reports whether s has the syntax of a compact JWS: three
// non-empty base64url segments separated by dots, the first of which
// decodes to a JSON object. It does not verify anything.
//
// It is meant for routing, e.g. to decide whether an HTTP Basic user-id is a
// token rather than a username or API key id, so it is cheap: input longer
// than 8 KiB is rejected outright, and only the (at most 1 KiB) header is
// decoded. It never panics.
func LooksLikeJWT(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	header, rest, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !isBase64URL(header) || !isBase64URL(payload) || !isBase64URL(sig) {
		// isBase64URL rejects '.', so a fourth segment fails here too.
		return false
	}
	if len(header) > maxHeaderLen {
		return false
	}
	dec, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	return len(dec) > 0 && dec[0] == '{' && json.Valid(dec)
}

// isBase64URL reports whether s is non-empty, unpadded base64url in its
// one canonical spelling: only the alphabet, a length that encodes whole
// bytes, and zero in the unused low bits of the last character. Without the
// last rule a token would have several spellings (decoders ignore those
// bits), and a cache or blocklist keyed by the token's hash could be
// sidestepped.
func isBase64URL(s string) bool {
	if s == "" || len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			last = c - 'A'
		case c >= 'a' && c <= 'z':
			last = c - 'a' + 26
		case c >= '0' && c <= '9':
			last = c - '0' + 52
		case c == '-':
			last = 62
		case c == '_':
			last = 63
		default:
			return false
		}
	}
	switch len(s) % 4 {
	case 2: // the last character carries 2 bits of data, 4 unused
		return last&0x0f == 0
	case 3: // 4 bits of data, 2 unused
		return last&0x03 == 0
	}
	return true
}
