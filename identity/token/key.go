package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/ids"
)

// SigningKey is an Ed25519 private key with the metadata needed to sign and
// rotate.
type SigningKey struct {
	// ID is the key id placed in the "kid" header of every token the key
	// signs and in its JWKS entry.
	ID string
	// Private is the Ed25519 private key.
	Private ed25519.PrivateKey
	// CreatedAt is when the key was generated.
	CreatedAt time.Time
	// RetireAt is when the key stops signing; the zero time means the key
	// is current. A retired key should stay in the published JWKS until
	// the tokens it signed have expired. Sign refuses to sign claims issued
	// at or after RetireAt.
	RetireAt time.Time
}

// GenerateKey returns a new Ed25519 signing key with a random id, created at
// now.
func GenerateKey(now time.Time) (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("token: generating Ed25519 key: %w", err)
	}
	return SigningKey{ID: ids.New(), Private: priv, CreatedAt: now}, nil
}

// MarshalPrivate returns the private key in PKCS #8 DER form, for storage.
// It returns nil if k.Private is not a valid Ed25519 private key.
func (k SigningKey) MarshalPrivate() []byte {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil
	}
	return der
}

// ParsePrivate parses a PKCS #8 DER private key, as produced by
// MarshalPrivate, and returns an error unless it is an Ed25519 key.
func ParsePrivate(der []byte) (ed25519.PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: parsing PKCS #8 private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token: private key is %T, not Ed25519", key)
	}
	return priv, nil
}

// publicKey returns the public half of k, or an error if k cannot sign.
func (k SigningKey) publicKey() (ed25519.PublicKey, error) {
	if k.ID == "" {
		return nil, errors.New("token: signing key has no id")
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("token: signing key %q: private key is %d bytes, want %d",
			k.ID, len(k.Private), ed25519.PrivateKeySize)
	}
	return k.Private.Public().(ed25519.PublicKey), nil
}
