package token_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/token"
)

func Example() {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	key, err := token.GenerateKey(now)
	if err != nil {
		panic(err)
	}

	raw, err := token.Sign(key, token.Claims{
		ID:        "tok-1",
		Subject:   "user-42",
		Issuer:    "https://id.example.com",
		Audience:  "https://api.example.com",
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
		Scopes:    []string{"profile:read"},
	})
	if err != nil {
		panic(err)
	}

	// The issuer publishes its JWKS; a resource server parses it and
	// verifies tokens against it.
	doc, _ := json.Marshal(token.PublicJWKS([]token.SigningKey{key}))
	jwks, err := token.ParseJWKS(doc)
	if err != nil {
		panic(err)
	}
	v := token.NewVerifier(jwks, "https://id.example.com", "https://api.example.com", 0)

	claims, err := v.Verify(raw, now.Add(time.Minute))
	fmt.Println(claims.Subject, claims.HasScopes("profile:read"), err)

	_, err = v.Verify(raw, now.Add(time.Hour))
	fmt.Println(errors.Is(err, token.ErrExpired), errors.Is(err, token.ErrInvalidToken))
	// Output:
	// user-42 true <nil>
	// true true
}
