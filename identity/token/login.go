package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The "typ" headers of the hosted-login tokens. Each token kind has its own,
// and every verifier accepts exactly one: an access token cannot be
// presented as a login assertion, a login request cannot be presented as
// either, and Verify (access tokens) refuses both.
const (
	LoginRequestType   = "gatehouse-login-request+jwt"
	LoginAssertionType = "gatehouse-login-assertion+jwt"
)

// LoginRequestClaims are the claims of a signed hosted-login request: an
// application asks the hosted pages to log someone in and send them back to
// RedirectURI.
type LoginRequestClaims struct {
	ID       string
	Issuer   string
	Audience string // the application
	// ApplicationID is an optional hint for pages serving several
	// applications; it is signed, but only the signature under the named
	// application's keys makes it trustworthy.
	ApplicationID string
	RedirectURI   string
	State         string
	Nonce         string
	Path          string
	IssuedAt      time.Time
	ExpiresAt     time.Time
}

// LoginAssertionClaims are the claims of a login assertion: Subject (an
// account) logged in for the request with State and Nonce.
type LoginAssertionClaims struct {
	ID          string
	Issuer      string
	Audience    string
	Subject     string
	RedirectURI string
	State       string
	Nonce       string
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

type wireLoginRequest struct {
	wireClaims
	ApplicationID string `json:"app_id,omitempty"`
	RedirectURI   string `json:"redirect_uri"`
	State         string `json:"state"`
	Nonce         string `json:"nonce"`
	Path          string `json:"path"`
}

type wireLoginAssertion struct {
	wireClaims
	RedirectURI string `json:"redirect_uri"`
	State       string `json:"state"`
	Nonce       string `json:"nonce"`
}

// SignLoginRequest returns c as a compact JWS of type LoginRequestType.
func SignLoginRequest(key SigningKey, c LoginRequestClaims) (string, error) {
	if c.RedirectURI == "" || c.State == "" || c.Nonce == "" || c.Path == "" {
		return "", errors.New("token: login request needs a redirect URI, state, nonce and path")
	}
	base := Claims{ID: c.ID, Subject: "login-request", Issuer: c.Issuer, Audience: c.Audience, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
	return signTyped(key, LoginRequestType, base, func(w wireClaims) any {
		w.Subject = "" // a request is about no one yet
		return wireLoginRequest{wireClaims: w, ApplicationID: c.ApplicationID, RedirectURI: c.RedirectURI,
			State: c.State, Nonce: c.Nonce, Path: c.Path}
	})
}

// SignLoginAssertion returns c as a compact JWS of type LoginAssertionType.
func SignLoginAssertion(key SigningKey, c LoginAssertionClaims) (string, error) {
	if c.RedirectURI == "" || c.State == "" || c.Nonce == "" {
		return "", errors.New("token: login assertion needs a redirect URI, state and nonce")
	}
	base := Claims{ID: c.ID, Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
	return signTyped(key, LoginAssertionType, base, func(w wireClaims) any {
		return wireLoginAssertion{wireClaims: w, RedirectURI: c.RedirectURI, State: c.State, Nonce: c.Nonce}
	})
}

// signTyped signs the claims wrap builds from base's standard claims (all
// but the scope), with typ as the "typ" header: the one signing of every
// token kind, under the rules Sign documents.
func signTyped(key SigningKey, typ string, base Claims, wrap func(wireClaims) any) (string, error) {
	if _, err := key.publicKey(); err != nil {
		return "", err
	}
	if !key.RetireAt.IsZero() && !base.IssuedAt.Before(key.RetireAt) {
		return "", fmt.Errorf("token: signing key %q retired at %s", key.ID, key.RetireAt.Format(time.RFC3339))
	}
	if err := base.checkSignable(); err != nil {
		return "", err
	}
	// Passing a JSONWebKey rather than the bare private key makes go-jose
	// put its KeyID in the protected "kid" header.
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.Private, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
	if err != nil {
		return "", fmt.Errorf("token: creating signer: %w", err)
	}
	raw, err := jwt.Signed(signer).Claims(wrap(wireClaims{
		Issuer:   base.Issuer,
		Subject:  base.Subject,
		Audience: jwt.Audience{base.Audience},
		IssuedAt: jwt.NewNumericDate(base.IssuedAt),
		Expiry:   jwt.NewNumericDate(base.ExpiresAt),
		ID:       base.ID,
	})).Serialize()
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	return raw, nil
}

// VerifyLoginRequest checks a login request as Verify checks an access
// token (algorithm, key, issuer, single audience, jti, iat, exp), except
// that its "typ" must be LoginRequestType and it has no subject; the
// redirect URI, state, nonce and path must be present.
func (v *Verifier) VerifyLoginRequest(raw string, now time.Time) (LoginRequestClaims, error) {
	var w wireLoginRequest
	if err := v.verifyTyped(raw, now, LoginRequestType, &w, &w.wireClaims, false); err != nil {
		return LoginRequestClaims{}, err
	}
	if w.RedirectURI == "" || w.State == "" || w.Nonce == "" || w.Path == "" {
		return LoginRequestClaims{}, fmt.Errorf("%w: login request without redirect_uri, state, nonce or path", ErrInvalidToken)
	}
	return LoginRequestClaims{
		ID: w.ID, Issuer: w.Issuer, Audience: w.Audience[0], ApplicationID: w.ApplicationID,
		RedirectURI: w.RedirectURI, State: w.State, Nonce: w.Nonce, Path: w.Path,
		IssuedAt: w.IssuedAt.Time().UTC(), ExpiresAt: w.Expiry.Time().UTC(),
	}, nil
}

// VerifyLoginAssertion checks a login assertion as Verify checks an access
// token, except that its "typ" must be LoginAssertionType; the redirect
// URI, state and nonce must be present. Matching them against what the
// application sent is the caller's job.
func (v *Verifier) VerifyLoginAssertion(raw string, now time.Time) (LoginAssertionClaims, error) {
	var w wireLoginAssertion
	if err := v.verifyTyped(raw, now, LoginAssertionType, &w, &w.wireClaims, true); err != nil {
		return LoginAssertionClaims{}, err
	}
	if w.RedirectURI == "" || w.State == "" || w.Nonce == "" {
		return LoginAssertionClaims{}, fmt.Errorf("%w: login assertion without redirect_uri, state or nonce", ErrInvalidToken)
	}
	return LoginAssertionClaims{
		ID: w.ID, Issuer: w.Issuer, Audience: w.Audience[0], Subject: w.Subject,
		RedirectURI: w.RedirectURI, State: w.State, Nonce: w.Nonce,
		IssuedAt: w.IssuedAt.Time().UTC(), ExpiresAt: w.Expiry.Time().UTC(),
	}, nil
}

// ReadLoginRequestApplication returns the app_id claim of a login request
// without verifying anything: pages serving several applications read it to
// find the keys to verify the request with, and verify it then.
func ReadLoginRequestApplication(raw string) string {
	if !LooksLikeJWT(raw) {
		return ""
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return ""
	}
	var w wireLoginRequest
	if err := tok.UnsafeClaimsWithoutVerification(&w); err != nil {
		return ""
	}
	return w.ApplicationID
}

// verifyTyped verifies raw's header (EdDSA, exactly typ, a known kid), its
// signature, and the standard claims, decoding the payload into dest (whose
// standard part is std). It is the one verification of every token kind.
func (v *Verifier) verifyTyped(raw string, now time.Time, typ string, dest any, std *wireClaims, needSubject bool) error {
	if v.issuer == "" || v.audience == "" {
		return fmt.Errorf("%w: verifier has no issuer or audience configured", ErrInvalidToken)
	}
	// Besides being cheap, this rejects encodings the base64 decoder would
	// tolerate (embedded newlines), so a token has a single accepted
	// spelling and Hash(raw) is a sound cache key.
	if !LooksLikeJWT(raw) {
		return fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 {
		return fmt.Errorf("%w: want exactly one signature", ErrInvalidToken)
	}
	hdr := tok.Headers[0]
	// ParseSigned has already enforced the algorithm; checking again keeps
	// the guarantee local and visible.
	if hdr.Algorithm != string(jose.EdDSA) {
		return fmt.Errorf("%w: algorithm %q", ErrInvalidToken, hdr.Algorithm)
	}
	if got, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !isType(got, typ) {
		return fmt.Errorf("%w: type %q is not %q", ErrInvalidToken, got, typ)
	}
	if hdr.KeyID == "" {
		return fmt.Errorf("%w: no key id", ErrInvalidToken)
	}
	pub, ok := v.keys[hdr.KeyID]
	if !ok {
		return fmt.Errorf("%w: kid %q", ErrUnknownKey, hdr.KeyID)
	}
	if err := tok.Claims(pub, dest); err != nil {
		return fmt.Errorf("%w: bad signature or claims: %w", ErrInvalidToken, err)
	}
	// From here on the claims are authentic; check that they apply.
	switch {
	case std.Issuer != v.issuer:
		return fmt.Errorf("%w: issuer %q", ErrInvalidToken, std.Issuer)
	case len(std.Audience) != 1 || std.Audience[0] != v.audience:
		// Gatehouse only mints single-audience tokens; a token for several
		// audiences was not made by it, and the claims types could not
		// represent it.
		return fmt.Errorf("%w: audience %q", ErrInvalidToken, []string(std.Audience))
	case needSubject && std.Subject == "":
		return fmt.Errorf("%w: no subject", ErrInvalidToken)
	case std.ID == "":
		return fmt.Errorf("%w: no token id", ErrInvalidToken)
	case std.Expiry == nil:
		return fmt.Errorf("%w: no expiry", ErrInvalidToken)
	case std.IssuedAt == nil:
		// Required although RFC 7519 makes it optional: callers use it to
		// reject tokens issued before an event such as a password change.
		return fmt.Errorf("%w: no issue time", ErrInvalidToken)
	}
	exp, iat := std.Expiry.Time().UTC(), std.IssuedAt.Time().UTC()
	switch {
	case !now.Before(exp.Add(v.leeway)):
		return fmt.Errorf("%w at %s", ErrExpired, exp.Format(time.RFC3339))
	case iat.After(now.Add(v.leeway)):
		return fmt.Errorf("%w: issued in the future at %s", ErrInvalidToken, iat.Format(time.RFC3339))
	case !iat.Before(exp):
		return fmt.Errorf("%w: expires before it was issued", ErrInvalidToken)
	case std.NotBefore != nil && std.NotBefore.Time().After(now.Add(v.leeway)):
		return fmt.Errorf("%w: not valid before %s", ErrInvalidToken, std.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	return nil
}

// isType compares a "typ" header with want as RFC 7515 section 4.1.9 says:
// case-insensitively, with an optional "application/" prefix.
func isType(got, want string) bool {
	got = strings.ToLower(got)
	return got == want || got == "application/"+want
}
