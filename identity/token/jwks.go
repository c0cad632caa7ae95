package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// JWK field values for the only kind of key this package uses.
const (
	keyTypeOKP   = "OKP"
	curveEd25519 = "Ed25519"
	useSig       = "sig"
	algEdDSA     = "EdDSA"
)

// JWK is one public Ed25519 key in JSON Web Key form (RFC 7517, RFC 8037).
type JWK struct {
	// KeyType is the "kty" member, always "OKP" for Ed25519.
	KeyType string `json:"kty"`
	// Curve is the "crv" member, always "Ed25519".
	Curve string `json:"crv"`
	// Use is the "use" member, "sig".
	Use string `json:"use,omitempty"`
	// Algorithm is the "alg" member, "EdDSA".
	Algorithm string `json:"alg,omitempty"`
	// KeyID is the "kid" member, matched against the token header's "kid".
	KeyID string `json:"kid"`
	// X is the "x" member: the 32-byte public key, unpadded base64url.
	X string `json:"x"`
}

// JWKS is a JSON Web Key Set holding public verification keys only. It
// marshals to the standard {"keys":[...]} document, suitable for serving
// at a /.well-known/jwks.json endpoint.
type JWKS struct {
	// Keys are the public keys in the set.
	Keys []JWK `json:"keys"`
}

// MarshalJSON encodes s as a JWKS document. An empty set encodes as
// {"keys":[]} rather than {"keys":null}, which some clients reject.
func (s JWKS) MarshalJSON() ([]byte, error) {
	type plain JWKS // drops this method, avoiding infinite recursion
	p := plain(s)
	if p.Keys == nil {
		p.Keys = []JWK{}
	}
	return json.Marshal(p)
}

// PublicJWKS returns the public halves of keys as a JWKS.
//
// Pass every key whose tokens may still be live, retired ones included, so
// that rotation does not invalidate tokens signed before it. Keys without an
// id or with an invalid private key, and keys whose id repeats an earlier
// key's, are left out: they could not be selected unambiguously by "kid".
func PublicJWKS(keys []SigningKey) JWKS {
	out := JWKS{Keys: make([]JWK, 0, len(keys))}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		pub, err := k.publicKey()
		if err != nil || seen[k.ID] {
			continue
		}
		seen[k.ID] = true
		out.Keys = append(out.Keys, JWK{
			KeyType:   keyTypeOKP,
			Curve:     curveEd25519,
			Use:       useSig,
			Algorithm: algEdDSA,
			KeyID:     k.ID,
			X:         base64.RawURLEncoding.EncodeToString(pub),
		})
	}
	return out
}

// rawJWK is a JWK as found on the wire, including the members that must not
// be there in a public set.
type rawJWK struct {
	JWK
	D    json.RawMessage `json:"d"`
	K    json.RawMessage `json:"k"`
	Priv json.RawMessage `json:"priv"`
}

// ParseJWKS parses a JWKS document and returns the Ed25519 signing keys in
// it. The caller is responsible for bounding the size of data.
//
// As RFC 7517 section 5 recommends, keys of other types or curves, and keys
// whose "use" or "alg" rule out EdDSA signatures, are ignored rather than
// rejected, so a set shared with other algorithms still works. An error is
// returned if the document is not a JWKS, if any key carries private
// material (a public set holding a private key is a leak to be fixed, not
// tolerated), if an Ed25519 key lacks a kid or has a malformed "x", or if
// two Ed25519 keys share a kid.
func ParseJWKS(data []byte) (JWKS, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return JWKS{}, fmt.Errorf("token: parsing JWKS: %w", err)
	}
	if doc.Keys == nil {
		return JWKS{}, errors.New("token: parsing JWKS: no \"keys\" array")
	}
	out := JWKS{Keys: make([]JWK, 0, len(doc.Keys))}
	seen := make(map[string]bool, len(doc.Keys))
	for i, rawKey := range doc.Keys {
		var k rawJWK
		if err := json.Unmarshal(rawKey, &k); err != nil {
			return JWKS{}, fmt.Errorf("token: parsing JWKS key %d: %w", i, err)
		}
		if k.D != nil || k.K != nil || k.Priv != nil {
			return JWKS{}, fmt.Errorf("token: JWKS key %d (kid %q) contains private key material", i, k.KeyID)
		}
		if k.KeyType != keyTypeOKP || k.Curve != curveEd25519 ||
			(k.Use != "" && k.Use != useSig) || (k.Algorithm != "" && k.Algorithm != algEdDSA) {
			continue
		}
		if _, err := k.JWK.publicKey(); err != nil {
			return JWKS{}, fmt.Errorf("token: JWKS key %d: %w", i, err)
		}
		if seen[k.KeyID] {
			return JWKS{}, fmt.Errorf("token: JWKS has more than one key with kid %q", k.KeyID)
		}
		seen[k.KeyID] = true
		jwk := k.JWK
		jwk.Use, jwk.Algorithm = useSig, algEdDSA
		out.Keys = append(out.Keys, jwk)
	}
	return out, nil
}

// publicKey decodes k, which must be a complete Ed25519 signing JWK.
func (k JWK) publicKey() (ed25519.PublicKey, error) {
	if k.KeyType != keyTypeOKP || k.Curve != curveEd25519 {
		return nil, fmt.Errorf("kid %q: key type %q/%q is not OKP/Ed25519", k.KeyID, k.KeyType, k.Curve)
	}
	if k.KeyID == "" {
		return nil, errors.New("key has no kid")
	}
	// Strict: RFC 7515 base64url has no padding and no stray bits.
	x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize ||
		base64.RawURLEncoding.EncodedLen(len(x)) != len(k.X) {
		return nil, fmt.Errorf("kid %q: \"x\" is not a base64url 32-byte public key", k.KeyID)
	}
	return ed25519.PublicKey(x), nil
}
