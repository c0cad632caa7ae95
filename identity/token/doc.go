// Package token issues and verifies Gatehouse's JWT access tokens.
//
// Tokens are JWS compact serializations signed with Ed25519 ("alg":
// "EdDSA"). Ed25519 is chosen because signatures are small and fast, keys
// are 32 bytes, and the algorithm has no parameters to get wrong (no
// padding modes, no curve choices, no nonce to reuse). Parsing and
// signature checking are done by github.com/go-jose/go-jose/v4; this package
// adds the policy around it.
//
// # Token format
//
// The protected header is {"alg":"EdDSA","kid":<key id>,"typ":"at+jwt"}.
// The "at+jwt" type is the one RFC 9068 defines for JWT access tokens, and
// Verify requires it, so that any other kind of JWT that might one day be
// signed with the same keys (an ID token, a signed request) cannot be
// replayed as an access token.
//
// The claims are iss, sub, aud (a single string), iat, exp, jti and scope,
// where scope holds the granted scopes as one space-separated string as in
// RFC 8693 and RFC 9068. Times are whole seconds since the Unix epoch, so
// sub-second parts of Claims times are dropped by Sign.
//
// # Keys and rotation
//
// Each SigningKey has a random id that travels in the token's "kid" header.
// To rotate, generate a new key, publish a JWKS that holds both old and new
// public keys (PublicJWKS), sign with the new key, and drop the old key from
// the JWKS once every token it signed has expired. Verify reports a kid it
// does not know as ErrUnknownKey, so a verifier can refresh its JWKS then.
//
// # Errors
//
// Every verification failure wraps ErrInvalidToken; expiry and unknown keys
// additionally match ErrExpired and ErrUnknownKey with errors.Is.
package token
