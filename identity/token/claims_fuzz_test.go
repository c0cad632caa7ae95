package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fuzzKey is a fixed signing key, so that the committed seeds can name its
// kid and the fuzzer's findings reproduce.
func fuzzKey() SigningKey {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	return SigningKey{ID: "fuzz-key", Private: ed25519.NewKeyFromSeed(seed), CreatedAt: t0}
}

// signRaw signs any header and payload bytes with k, as a compact JWS. The
// fuzzer cannot forge signatures, so FuzzVerifySignedClaims signs what it
// generates: this reaches the header and claims checks that run after the
// signature is verified.
func signRaw(k SigningKey, header, payload []byte) string {
	in := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.Private, []byte(in)))
}

// FuzzVerifySignedClaims fuzzes the protected header and the claims of
// tokens that carry a genuine signature of the verifier's key. Verify must
// not panic, must wrap ErrInvalidToken in every error, and must accept only
// an EdDSA "at+jwt" token naming the key, whose claims are complete and
// valid at t0 (within the leeway), for the configured issuer and audience.
func FuzzVerifySignedClaims(f *testing.F) {
	k := fuzzKey()
	v := NewVerifier(PublicJWKS([]SigningKey{k}), testIssuer, testAudience, 0)
	good := `{"aud":"https://api.example.com","exp":1893553745,"iat":1893553445,"iss":"https://id.example.com","jti":"tok-1","scope":"read write:keys","sub":"user-42"}`
	for _, s := range [][2]string{
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, good},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"application/AT+JWT"}`, good},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"JWT"}`, good},
		{`{"alg":"none","kid":"fuzz-key","typ":"at+jwt"}`, good},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt","crit":["exp"]}`, good},
		{`{"alg":"EdDSA","kid":"other","typ":"at+jwt"}`, good},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `{"aud":["https://api.example.com","x"],"exp":1893553745,"iat":1893553445,"iss":"https://id.example.com","jti":"j","sub":"s"}`},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `{"aud":"https://api.example.com","exp":1e300,"iat":-1e300,"iss":"https://id.example.com","jti":"j","sub":"s"}`},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `{"aud":"https://api.example.com","exp":1893553745.9,"iat":1893553445,"nbf":1893553455,"iss":"https://id.example.com","jti":"j","sub":"s","scope":"  a  b "}`},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `{"aud":"https://api.example.com","exp":"1893553745","iat":1893553445,"iss":"https://id.example.com","jti":"j","sub":"s"}`},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `{"sub":"a","sub":"","aud":"https://api.example.com","exp":1893553745,"iat":1893553445,"iss":"https://id.example.com","jti":"j"}`},
		{`{"alg":"EdDSA","kid":"fuzz-key","typ":"at+jwt"}`, `[]`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		raw := signRaw(k, header, payload)
		c, err := v.Verify(raw, t0)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if !LooksLikeJWT(raw) {
			t.Fatalf("Verify accepted a token LooksLikeJWT rejects")
		}
		var h map[string]any
		if err := json.Unmarshal(header, &h); err != nil {
			t.Fatalf("Verify accepted a header that is not a JSON object: %q", header)
		}
		if h["alg"] != "EdDSA" || h["kid"] != k.ID {
			t.Fatalf("Verify accepted the header %s", header)
		}
		if typ, _ := h["typ"].(string); !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
			t.Fatalf("Verify accepted the type %v", h["typ"])
		}
		leeway := DefaultLeeway
		switch {
		case c.Issuer != testIssuer || c.Audience != testAudience:
			t.Fatalf("accepted issuer %q audience %q", c.Issuer, c.Audience)
		case c.Subject == "" || c.ID == "":
			t.Fatalf("accepted claims without subject or id: %+v", c)
		case !t0.Before(c.ExpiresAt.Add(leeway)):
			t.Fatalf("accepted a token expired at %s", c.ExpiresAt)
		case c.IssuedAt.After(t0.Add(leeway)) || !c.IssuedAt.Before(c.ExpiresAt):
			t.Fatalf("accepted iat %s, exp %s", c.IssuedAt, c.ExpiresAt)
		}
		for _, s := range c.Scopes {
			if s == "" || strings.ContainsAny(s, " ") {
				t.Fatalf("accepted scopes %q", c.Scopes)
			}
		}
		// The claims are the payload's, not some other reading of it.
		var p struct {
			Sub, Jti, Iss string
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatalf("Verify accepted a payload that is not a JSON object: %q", payload)
		}
		if p.Sub != c.Subject || p.Jti != c.ID || p.Iss != c.Issuer {
			t.Fatalf("claims %+v differ from the payload %s", c, payload)
		}
		// Accepted once, accepted again: verification is deterministic.
		if c2, err := v.Verify(raw, t0); err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("second Verify: %+v, %v", c2, err)
		}
	})
}

// FuzzParseJWKS fuzzes the JWKS parser, which reads a document served by
// the directory (so by another process, over the network). It must not
// panic, and what it returns must be a set of complete, distinct Ed25519
// signing keys that survive a round trip and all make it into a Verifier.
func FuzzParseJWKS(f *testing.F) {
	k := fuzzKey()
	good, err := json.Marshal(PublicJWKS([]SigningKey{k}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"X25519","kid":"x","x":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"p","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"b","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`[{"keys":1}]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := ParseJWKS(doc)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, key := range set.Keys {
			if key.KeyType != keyTypeOKP || key.Curve != curveEd25519 || key.Use != useSig || key.Algorithm != algEdDSA {
				t.Fatalf("ParseJWKS returned %+v", key)
			}
			if key.KeyID == "" || seen[key.KeyID] {
				t.Fatalf("ParseJWKS returned an empty or repeated kid %q", key.KeyID)
			}
			seen[key.KeyID] = true
			x, err := base64.RawURLEncoding.Strict().DecodeString(key.X)
			if err != nil || len(x) != ed25519.PublicKeySize || base64.RawURLEncoding.EncodeToString(x) != key.X {
				t.Fatalf("ParseJWKS returned the x %q", key.X)
			}
		}
		enc, err := json.Marshal(set)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseJWKS(enc)
		if err != nil || !reflect.DeepEqual(again, set) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, set)
		}
		if n := len(NewVerifier(set, testIssuer, testAudience, 0).keys); n != len(set.Keys) {
			t.Fatalf("the Verifier kept %d of %d keys", n, len(set.Keys))
		}
	})
}
