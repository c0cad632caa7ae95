package token

import (
	"errors"
	"testing"
)

// FuzzVerify checks that Verify and LooksLikeJWT never panic, that every
// Verify failure wraps ErrInvalidToken, and that whatever Verify accepts
// LooksLikeJWT accepts too (so routing never hides a valid token).
func FuzzVerify(f *testing.F) {
	k, err := GenerateKey(t0)
	if err != nil {
		f.Fatal(err)
	}
	good, err := Sign(k, testClaims())
	if err != nil {
		f.Fatal(err)
	}
	v := NewVerifier(PublicJWKS([]SigningKey{k}), testIssuer, testAudience, 0)
	for _, seed := range []string{
		good,
		"",
		".",
		"..",
		"a.b.c",
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJub25lIn0.e30.c2ln",
		"eyJhbGciOiJFZERTQSIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.e30.c2ln",
		good + good,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		looks := LooksLikeJWT(raw)
		Hash(raw)
		c, err := v.Verify(raw, t0)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if !looks {
			t.Fatalf("Verify accepted %q but LooksLikeJWT rejects it", raw)
		}
		if c.Subject == "" || c.ID == "" || c.Issuer != testIssuer || c.Audience != testAudience {
			t.Fatalf("accepted token with claims %+v", c)
		}
	})
}
