// Package apikey mints and checks API key credentials.
//
// An API key is a pair: a public key id ("gk_" followed by 22 base62
// characters) that names the key and may appear in logs, and a secret
// ("gks_" followed by 43 base62 characters) that is shown to the user once
// and never stored. Only HashSecret(secret) is stored.
//
// The distinct, fixed prefixes serve two purposes. The id prefix lets the
// HTTP layer decide cheaply and unambiguously that a Basic-auth user-id is a
// key id rather than a username (see IsID). The secret prefix lets secret
// scanners (GitHub push protection, gitleaks and the like) recognise a leaked
// Gatehouse secret with a simple pattern and few false positives.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gatehouse-id/gatehouse/identity/ids"
)

const (
	// IDPrefix starts every key id.
	IDPrefix = "gk_"
	// SecretPrefix starts every key secret.
	SecretPrefix = "gks_"

	// idBodyLen is the number of base62 characters after IDPrefix.
	idBodyLen = ids.Length
	// secretBodyLen is the number of base62 characters after SecretPrefix:
	// 43*log2(62) ≈ 256.03 bits, the smallest base62 length reaching 256 bits.
	secretBodyLen = 43

	// IDLength is the total length of a key id, prefix included.
	IDLength = len(IDPrefix) + idBodyLen
	// SecretLength is the total length of a key secret, prefix included.
	SecretLength = len(SecretPrefix) + secretBodyLen
)

// NewID returns a fresh random key id: IDPrefix followed by 22 base62
// characters.
func NewID() string {
	return IDPrefix + ids.New()
}

// IsID reports whether s has exactly the shape of a key id: IDPrefix followed
// by exactly 22 base62 characters and nothing else.
//
// It is deliberately strict because it routes HTTP Basic credentials: a
// user-id that passes is authenticated as an API key, anything else as a
// username. Since '_' is not a base62 character and usernames are not
// expected to start with "gk_", the two spaces do not overlap.
func IsID(s string) bool {
	body, ok := strings.CutPrefix(s, IDPrefix)
	return ok && ids.Valid(body)
}

// NewSecret returns a fresh random key secret: SecretPrefix followed by 43
// base62 characters (at least 256 bits of entropy).
func NewSecret() string {
	return SecretPrefix + ids.RandomString(secretBodyLen)
}

// IsSecret reports whether s has exactly the shape of a key secret:
// SecretPrefix followed by exactly 43 base62 characters.
func IsSecret(s string) bool {
	body, ok := strings.CutPrefix(s, SecretPrefix)
	return ok && len(body) == secretBodyLen && ids.IsBase62(body)
}

// HashSecret returns the value to store for secret: its SHA-256 digest
// (32 bytes).
//
// A fast, unsalted hash is the right tool here, unlike for passwords. Secrets
// are 256 bits of uniform randomness, so there is no dictionary to attack and
// no two users share a secret, which is what salts and slow KDFs defend
// against; recovering a secret from its digest needs a SHA-256 preimage. A
// slow KDF would instead add tens of milliseconds and a lot of memory to every
// API request, and turn the key endpoint into a denial-of-service lever. Being
// unsalted also means the digest could serve as a lookup key if needed.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Matches reports whether secret hashes to hash, as stored by HashSecret.
//
// The digests are compared in constant time so that response timing does not
// reveal how many leading bytes of a guess were right. A hash of the wrong
// length (for example a truncated or empty database value) never matches.
func Matches(hash []byte, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	// ConstantTimeCompare returns 0 for slices of different lengths.
	return subtle.ConstantTimeCompare(hash, sum[:]) == 1
}
