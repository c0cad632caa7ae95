package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testRequest() LoginRequestClaims {
	return LoginRequestClaims{
		ID: "req-1", Issuer: testIssuer, Audience: testAudience, ApplicationID: "app-1",
		RedirectURI: "https://api.example.com/login/callback", State: "st", Nonce: "no", Path: "login",
		IssuedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
}

func testAssertion() LoginAssertionClaims {
	return LoginAssertionClaims{
		ID: "as-1", Issuer: testIssuer, Audience: testAudience, Subject: "user-42",
		RedirectURI: "https://api.example.com/login/callback", State: "st", Nonce: "no",
		IssuedAt: t0, ExpiresAt: t0.Add(90 * time.Second),
	}
}

func TestLoginRequestRoundTrip(t *testing.T) {
	k := newKey(t)
	raw, err := SignLoginRequest(k, testRequest())
	if err != nil {
		t.Fatal(err)
	}
	got, err := verifierFor(0, k).VerifyLoginRequest(raw, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got != testRequest() {
		t.Fatalf("VerifyLoginRequest = %+v, want %+v", got, testRequest())
	}
	if app := ReadLoginRequestApplication(raw); app != "app-1" {
		t.Errorf("ReadLoginRequestApplication = %q", app)
	}
	for _, bad := range []string{"", "x.y.z", strings.Repeat("a", 9000)} {
		if app := ReadLoginRequestApplication(bad); app != "" {
			t.Errorf("ReadLoginRequestApplication(%q) = %q", bad, app)
		}
	}
}

func TestLoginAssertionRoundTrip(t *testing.T) {
	k := newKey(t)
	raw, err := SignLoginAssertion(k, testAssertion())
	if err != nil {
		t.Fatal(err)
	}
	got, err := verifierFor(0, k).VerifyLoginAssertion(raw, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got != testAssertion() {
		t.Fatalf("VerifyLoginAssertion = %+v, want %+v", got, testAssertion())
	}
}

// TestNoTokenConfusion: each verifier accepts exactly its own typ, so a
// token of one kind never passes for another, even signed by the same key
// with the same issuer, audience and times.
func TestNoTokenConfusion(t *testing.T) {
	k := newKey(t)
	v := verifierFor(0, k)
	now := t0.Add(time.Second)
	access := mustSign(t, k, testClaims())
	req, err := SignLoginRequest(k, testRequest())
	if err != nil {
		t.Fatal(err)
	}
	as, err := SignLoginAssertion(k, testAssertion())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(req, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(login request) = %v", err)
	}
	if _, err := v.Verify(as, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(login assertion) = %v", err)
	}
	if _, err := v.VerifyLoginAssertion(access, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyLoginAssertion(at+jwt) = %v", err)
	}
	if _, err := v.VerifyLoginAssertion(req, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyLoginAssertion(login request) = %v", err)
	}
	if _, err := v.VerifyLoginRequest(access, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyLoginRequest(at+jwt) = %v", err)
	}
	if _, err := v.VerifyLoginRequest(as, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyLoginRequest(login assertion) = %v", err)
	}
	// Hand-made tokens with the assertion's claims and other typs, or none.
	claims := baseClaimsMap()
	claims["state"], claims["nonce"], claims["redirect_uri"] = "st", "no", "https://api.example.com/login/callback"
	for _, typ := range []string{"", "JWT", "at+jwt", "application/at+jwt", LoginRequestType, "gatehouse-login-assertion"} {
		raw := signCustom(t, k, typ, claims)
		if _, err := v.VerifyLoginAssertion(raw, now); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("assertion with typ %q accepted: %v", typ, err)
		}
	}
	for _, typ := range []string{LoginAssertionType, "application/" + LoginAssertionType, "Gatehouse-Login-Assertion+JWT"} {
		if _, err := v.VerifyLoginAssertion(signCustom(t, k, typ, claims), now); err != nil {
			t.Errorf("assertion with typ %q refused: %v", typ, err)
		}
		if _, err := v.Verify(signCustom(t, k, typ, claims), now); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("access verification accepted typ %q: %v", typ, err)
		}
	}
}

func TestLoginAssertionChecks(t *testing.T) {
	k, other := newKey(t), newKey(t)
	v := verifierFor(0, k)
	now := t0.Add(time.Second)
	sign := func(mut func(*LoginAssertionClaims)) string {
		c := testAssertion()
		mut(&c)
		raw, err := SignLoginAssertion(k, c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for name, raw := range map[string]string{
		"wrong audience": sign(func(c *LoginAssertionClaims) { c.Audience = "other" }),
		"wrong issuer":   sign(func(c *LoginAssertionClaims) { c.Issuer = "other" }),
		"expired":        sign(func(c *LoginAssertionClaims) { c.IssuedAt, c.ExpiresAt = t0.Add(-time.Hour), t0.Add(-time.Minute) }),
		"future":         sign(func(c *LoginAssertionClaims) { c.IssuedAt, c.ExpiresAt = t0.Add(time.Hour), t0.Add(2*time.Hour) }),
	} {
		if _, err := v.VerifyLoginAssertion(raw, now); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	foreign, err := SignLoginAssertion(other, testAssertion())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyLoginAssertion(foreign, now); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("foreign key: %v, want ErrUnknownKey", err)
	}
	raw := sign(func(*LoginAssertionClaims) {})
	if _, err := v.VerifyLoginAssertion(raw[:len(raw)-3]+"AAA", now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("bad signature: %v", err)
	}
	// Missing claims, made by hand since the signer refuses them.
	for _, drop := range []string{"state", "nonce", "redirect_uri", "sub", "jti", "exp", "iat"} {
		c := baseClaimsMap()
		c["state"], c["nonce"], c["redirect_uri"] = "st", "no", "https://api.example.com/login/callback"
		delete(c, drop)
		if _, err := v.VerifyLoginAssertion(signCustom(t, k, LoginAssertionType, c), now); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("assertion without %s: %v", drop, err)
		}
	}
	if _, err := SignLoginAssertion(k, LoginAssertionClaims{ID: "x", Issuer: testIssuer, Audience: testAudience, Subject: "s", IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err == nil {
		t.Error("SignLoginAssertion without state, nonce and redirect URI succeeded")
	}
	if _, err := SignLoginRequest(k, LoginRequestClaims{ID: "x", Issuer: testIssuer, Audience: testAudience, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err == nil {
		t.Error("SignLoginRequest without its claims succeeded")
	}
	retired := k
	retired.RetireAt = t0
	if _, err := SignLoginAssertion(retired, testAssertion()); err == nil {
		t.Error("a retired key signed an assertion")
	}
}
