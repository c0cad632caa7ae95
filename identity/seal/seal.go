// Package seal encrypts small secrets for storage: the private parts of
// token signing keys, which would otherwise let anyone holding a copy of the
// database (a backup, a replica, a leaked dump) sign tokens for any account.
//
// A Sealer holds one current secret, which seals, and any number of
// previous ones, which only open: an operator rotates the secret by making
// the old one previous, resealing, and then dropping it. Each sealed value
// names the key that sealed it, so opening never guesses.
//
// The cipher is AES-256-GCM from the standard library, with a 96-bit random
// nonce per value; the values are few (one per key rotation), far below
// GCM's random-nonce limit. The AES key is derived from the operator's
// secret with HKDF-SHA256, so the secret can be any string of at least
// MinSecretLength bytes, such as the output of `openssl rand -base64 32`.
// Additional data binds a value to where it belongs (a signing key's id):
// a value copied onto another record does not open.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLength is the shortest secret New accepts, in bytes. It stops a
// password-like secret, not a low-entropy one: generate secrets randomly.
const MinSecretLength = 32

// magic starts every sealed value. Values stored before sealing was
// configured (DER, which starts with 0x30) never start with it.
var magic = []byte("ghs1")

// A sealed value is magic, the sealing key's id, the nonce, then the
// ciphertext with its tag.
const (
	keyIDLen  = 8
	nonceLen  = 12
	idEnd     = 4 + keyIDLen // len(magic) + keyIDLen
	headerLen = idEnd + nonceLen
)

var (
	// ErrUnknownKey means a value was sealed with a secret this Sealer
	// does not hold (or none is configured at all).
	ErrUnknownKey = errors.New("sealed with an encryption key that is not configured")
	// ErrCorrupt means a value is not a sealed value, was altered, or
	// belongs to another record.
	ErrCorrupt = errors.New("sealed value is corrupt or belongs elsewhere")
)

type key struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// Sealer seals with its current secret and opens with any of its secrets.
// It is safe for concurrent use. A nil *Sealer holds no secret: Open fails
// with ErrUnknownKey, Current is false, and Seal must not be called.
type Sealer struct {
	keys []key // keys[0] is current
}

// New returns a Sealer sealing with current and opening with current and
// previous.
func New(current string, previous ...string) (*Sealer, error) {
	s := &Sealer{}
	for i, secret := range append([]string{current}, previous...) {
		if len(secret) < MinSecretLength {
			what := "the encryption key"
			if i > 0 {
				what = fmt.Sprintf("previous encryption key %d", i)
			}
			return nil, fmt.Errorf("%s is %d bytes; it must be at least %d (generate one with: openssl rand -base64 32)", what, len(secret), MinSecretLength)
		}
		k, err := derive(secret)
		if err != nil {
			return nil, err
		}
		for _, other := range s.keys {
			if other.id == k.id {
				return nil, fmt.Errorf("previous encryption key %d repeats an earlier key", i)
			}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// derive makes the AES key and its public id from a secret, with distinct
// HKDF labels so that the id reveals nothing about the key.
func derive(secret string) (key, error) {
	aesKey, err := hkdf.Key(sha256.New, []byte(secret), nil, "gatehouse seal v1 aes-256-gcm", 32)
	if err != nil {
		return key{}, err
	}
	id, err := hkdf.Key(sha256.New, []byte(secret), nil, "gatehouse seal v1 key id", keyIDLen)
	if err != nil {
		return key{}, err
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	k := key{aead: aead}
	copy(k.id[:], id)
	return k, nil
}

// Subkey derives from secret a 32-byte key for another purpose than
// sealing, such as signing the hosted pages' forms, so that one operator
// secret serves several uses without one use's key revealing another's.
// purpose labels the use; each use needs its own.
func Subkey(secret, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, "gatehouse subkey v1 "+purpose, 32)
	if err != nil { // only for lengths HKDF-SHA256 cannot give; 32 is fine
		panic(err)
	}
	return k
}

// Seal encrypts plaintext with the current secret, bound to ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	k := s.keys[0]
	out := make([]byte, headerLen, headerLen+len(plaintext)+k.aead.Overhead())
	copy(out, magic)
	copy(out[len(magic):], k.id[:])
	nonce := out[idEnd:headerLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return k.aead.Seal(out, nonce, plaintext, additional(out[:idEnd], ad)), nil
}

// Open decrypts a value Seal made with any of the Sealer's secrets and the
// same ad. Errors: ErrUnknownKey, ErrCorrupt.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	if !IsSealed(sealed) || len(sealed) < headerLen {
		return nil, ErrCorrupt
	}
	id := sealed[len(magic):idEnd]
	if s != nil {
		for _, k := range s.keys {
			if bytes.Equal(k.id[:], id) {
				plain, err := k.aead.Open(nil, sealed[idEnd:headerLen], sealed[headerLen:], additional(sealed[:idEnd], ad))
				if err != nil {
					return nil, ErrCorrupt
				}
				return plain, nil
			}
		}
	}
	return nil, fmt.Errorf("%w (key id %x)", ErrUnknownKey, id)
}

// additional is the GCM additional data: the header (so the key id cannot
// be swapped) and the caller's binding.
func additional(header, ad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(ad)), header...), ad...)
}

// CannotOpen reports whether err is Open's refusal: a value sealed with a
// secret the Sealer lacks, or one altered or moved.
func CannotOpen(err error) bool {
	return errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrCorrupt)
}

// IsSealed reports whether b looks like a sealed value rather than a value
// stored in the clear.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, magic) }

// Current reports whether b is sealed with the current secret, so that
// resealing it would change nothing. It is false for a nil Sealer.
func (s *Sealer) Current(b []byte) bool {
	return s != nil && IsSealed(b) && len(b) >= headerLen &&
		bytes.Equal(b[len(magic):idEnd], s.keys[0].id[:])
}
