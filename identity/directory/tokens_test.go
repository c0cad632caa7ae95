package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func TestTokens(t *testing.T) {
	account := func(t *testing.T, h *harness) vars { return vars{"acc": h.mustAccount("jane", "").ID} }
	// verify checks a token against the directory's policy and JWKS, as an
	// API server does.
	verify := func(t *testing.T, h *harness, jwt string) token.Claims {
		t.Helper()
		var pol wire.OAuthPolicy
		h.get(h.appPath("oAuthPolicy")).expect(200).Decode(&pol)
		r := h.get(h.appPath("jwks")).expect(200)
		keys, err := token.ParseJWKS(r.Body)
		if err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		claims, err := token.NewVerifier(keys, pol.Issuer, pol.Audience, 0).Verify(jwt, time.Now())
		if err != nil {
			t.Fatalf("token does not verify: %v", err)
		}
		return claims
	}
	runAll(t, []tcase{
		{name: "issue with the default lifetime", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens"}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var tok wire.AccessToken
				r.Decode(&tok)
				if tok.Account.Href != testBase+"/v1/accounts/"+v["acc"] || !strings.HasPrefix(tok.Href, testBase+"/v1/accessTokens/") || r.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("token %+v", tok)
				}
				if d := time.Time(tok.ExpiresAt).Sub(time.Time(tok.IssuedAt)); d != 10*time.Minute {
					t.Fatalf("lifetime %v", d)
				}
				c := verify(t, h, tok.JWT)
				if c.Subject != v["acc"] || c.ID != idOf(tok.Href) {
					t.Fatalf("claims %+v", c)
				}
			}},
		{name: "issue with a lifetime and scopes", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", body: `{"ttl":60,"scope":"read write"}`}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var tok wire.AccessToken
				r.Decode(&tok)
				if d := time.Time(tok.ExpiresAt).Sub(time.Time(tok.IssuedAt)); d != time.Minute || tok.Scope != "read write" {
					t.Fatalf("token %+v", tok)
				}
				if c := verify(t, h, tok.JWT); !c.HasScopes("read", "write") {
					t.Fatalf("scopes %v", c.Scopes)
				}
			}},
		{name: "ignores Idempotency-Key (the answer holds a token)", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", header: map[string]string{"Idempotency-Key": "k1"}}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				r2 := h.do(req{method: "POST", path: "/v1/accounts/" + v["acc"] + "/accessTokens", header: map[string]string{"Idempotency-Key": "k1"}}).expect(201)
				if r2.Str("jwt") == r.Str("jwt") || r2.Header.Get("Idempotent-Replayed") != "" {
					t.Fatal("a token answer was replayed")
				}
			}},
		{name: "lifetime over the maximum", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", body: `{"ttl":999999999}`}, status: 400, field: "ttl"},
		{name: "negative lifetime", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", body: `{"ttl":-5}`}, status: 400, field: "ttl"},
		{name: "huge lifetime", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", body: `{"ttl":9223372036854775807}`}, status: 400, field: "ttl"},
		{name: "bad scope", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens", body: `{"scope":"a\"b"}`}, status: 400, field: "scope"},
		{name: "disabled account is 400/7100", given: func(t *testing.T, h *harness) vars {
			v := account(t, h)
			st := identity.StatusDisabled
			if _, err := h.p.UpdateAccount(context.Background(), v["acc"], identity.AccountUpdate{Status: &st}); err != nil {
				t.Fatal(err)
			}
			return v
		}, when: req{method: "POST", path: "/v1/accounts/{acc}/accessTokens"}, status: 400, errCode: "invalid_credentials",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeLoginFailed {
					t.Fatalf("code %d", r.Num("code"))
				}
			}},
		{name: "unknown account", when: req{method: "POST", path: "/v1/accounts/0000000000000000000000/accessTokens"}, status: 404},
		{name: "oAuth policy", when: req{method: "GET", path: "/v1/applications/{app}/oAuthPolicy"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var p wire.OAuthPolicy
				r.Decode(&p)
				if p.AccessTokenTTL != "PT10M" || p.Issuer == "" || p.Audience == "" || p.JWKS.Href != testBase+h.appPath("jwks") || p.Application.Href != testBase+h.appPath("") {
					t.Fatalf("policy %+v", p)
				}
			}},
		{name: "jwks", when: req{method: "GET", path: "/v1/applications/{app}/jwks"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if ct := r.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
					t.Fatalf("Content-Type %q", ct)
				}
				if strings.Contains(string(r.Body), `"d"`) {
					t.Fatalf("a private member: %s", r.Body)
				}
			}},
		{name: "rotate", when: req{method: "POST", path: "/v1/applications/{app}/signingKeys"}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var k wire.SigningKey
				r.Decode(&k)
				if k.KID == "" || k.Href != testBase+h.appPath("signingKeys")+"/"+k.KID {
					t.Fatalf("key %+v", k)
				}
				if !strings.Contains(string(h.get(h.appPath("jwks")).expect(200).Body), k.KID) {
					t.Fatal("the new key is not published")
				}
			}},
		{name: "rotate with an empty object", when: req{method: "POST", path: "/v1/applications/{app}/signingKeys", body: `{}`}, status: 201},
		{name: "revoke, then it is revoked", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"jti":"tok-1","expiresAt":"2099-01-01T00:00:00Z"}`},
			status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Str("jti") != "tok-1" || r.Str("expiresAt") != "2099-01-01T00:00:00.000Z" || r.Header.Get("Location") != testBase+h.appPath("revocations/tok-1") {
					t.Fatalf("revocation %s", r.Body)
				}
				h.get(h.appPath("revocations/tok-1")).expect(200)
				h.get(h.appPath("revocations/tok-2")).expect(404, "not_found")
			}},
		{name: "revocation without expiry", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"jti":"x"}`}, status: 400, field: "expiresAt"},
		{name: "revocation without jti", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"expiresAt":"2099-01-01T00:00:00Z"}`}, status: 400, field: "jti"},
		{name: "revocation with a bad time", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"jti":"x","expiresAt":"tomorrow"}`}, status: 400, errCode: "invalid_input"},
		{name: "revocation too far ahead", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"jti":"x","expiresAt":"9999-01-01T00:00:00Z"}`}, status: 400, field: "expiresAt"},
		{name: "revocation of an expired token is not kept", when: req{method: "POST", path: "/v1/applications/{app}/revocations", body: `{"jti":"old","expiresAt":"2000-01-01T00:00:00Z"}`}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) { h.get(h.appPath("revocations/old")).expect(404) }},
	})
}
