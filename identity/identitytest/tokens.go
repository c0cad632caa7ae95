package identitytest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

func tokenTests(newProvider Factory) []test {
	return []test{
		{"Token/IssueAndVerify", testTokenIssueVerify},
		{"Token/DefaultTTL", testTokenDefaultTTL},
		{"Token/TTLOutOfRange", testTokenTTLRange},
		{"Token/NoScopes", testTokenNoScopes},
		{"Token/InvalidScope", testTokenInvalidScope},
		{"Token/UniqueIDs", testTokenUniqueIDs},
		{"Token/DisabledAccount", testTokenDisabled},
		{"Token/UnknownAccount", testTokenUnknownAccount},
		{"Token/Revoke", testTokenRevoke},
		{"Token/RevokeExpiredIsNotRevoked", testTokenRevokeExpired},
		{"Token/RevokeUnknownID", testTokenRevokeUnknown},
		{"Token/RevocationFeed", testRevocationFeed},
		{"Token/Settings", testTokenSettings},
		{"Token/JWKSPublicOnly", testTokenJWKSPublic},
		{"Token/Rotation", testTokenRotation},
		{"Token/RotationBeforeFirstToken", testTokenRotationFirst},
		{"Token/TamperedPayloadRejected", testTokenTampered},
		{"Token/WrongAudienceOrIssuerRejected", testTokenWrongAudience},
		{"Token/ExpiredRejected", testTokenExpired},
		{"Token/OtherProvidersKeysReject", func(t *testing.T, p identity.Provider) { testTokenOtherProvider(t, p, newProvider(t)) }},
	}
}

// verifier builds a token verifier from the provider's published keys and
// settings, as a resource server would.
func verifier(t *testing.T, p identity.Provider) *token.Verifier {
	t.Helper()
	raw, err := p.JWKS(t.Context())
	noErr(t, err, "JWKS")
	keys, err := token.ParseJWKS(raw)
	if err != nil {
		t.Fatalf("ParseJWKS(%s): %v", raw, err)
	}
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	return token.NewVerifier(keys, s.Issuer, s.Audience, 5*time.Second)
}

func issue(t *testing.T, p identity.Provider, accountID string, req identity.TokenRequest) *identity.Token {
	t.Helper()
	tok, err := p.IssueToken(t.Context(), accountID, req)
	if err != nil {
		t.Fatalf("IssueToken(%s, %+v): %v", accountID, req, err)
	}
	if tok == nil {
		t.Fatal("IssueToken returned nil and no error")
	}
	return tok
}

func verify(t *testing.T, v *token.Verifier, raw string) token.Claims {
	t.Helper()
	c, err := v.Verify(raw, time.Now())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

// jwtHeader decodes the protected header of a compact JWS.
func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token header %q is not base64url: %v", seg, err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("token header %s is not JSON: %v", b, err)
	}
	return h
}

func kid(t *testing.T, raw string) string {
	t.Helper()
	k, _ := jwtHeader(t, raw)["kid"].(string)
	if k == "" {
		t.Fatalf("token has no kid: %v", jwtHeader(t, raw))
	}
	return k
}

// jwksKeys decodes a JWKS document generically, keeping every member.
func jwksKeys(t *testing.T, p identity.Provider) []map[string]any {
	t.Helper()
	raw, err := p.JWKS(t.Context())
	noErr(t, err, "JWKS")
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("JWKS %s is not JSON: %v", raw, err)
	}
	return doc.Keys
}

func testTokenIssueVerify(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	const ttl = 90 * time.Second
	before := time.Now().Add(-time.Second)
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: ttl, Scopes: []string{"read:accounts", "write", "a/b"}})
	if tok.Value == "" || tok.ID == "" || tok.AccountID != a.ID {
		t.Fatalf("token %+v", *tok)
	}
	if !slices.Equal(tok.Scopes, []string{"read:accounts", "write", "a/b"}) {
		t.Fatalf("token scopes %q", tok.Scopes)
	}
	if d := tok.ExpiresAt.Sub(tok.IssuedAt); d != ttl {
		t.Fatalf("token lives %v, want %v", d, ttl)
	}
	if tok.IssuedAt.Before(before.Truncate(time.Second)) || tok.IssuedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("IssuedAt %v is not now", tok.IssuedAt)
	}
	if !token.LooksLikeJWT(tok.Value) {
		t.Fatalf("token value %q is not a JWT", tok.Value)
	}
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	c := verify(t, verifier(t, p), tok.Value)
	if c.Subject != a.ID || c.ID != tok.ID || c.Issuer != s.Issuer || c.Audience != s.Audience {
		t.Fatalf("claims %+v; want sub %s, jti %s, iss %q, aud %q", c, a.ID, tok.ID, s.Issuer, s.Audience)
	}
	if d := c.ExpiresAt.Sub(c.IssuedAt); d != ttl {
		t.Fatalf("exp-iat = %v, want %v", d, ttl)
	}
	if !c.IssuedAt.Equal(tok.IssuedAt) || !c.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("claims iat/exp %v/%v, token says %v/%v", c.IssuedAt, c.ExpiresAt, tok.IssuedAt, tok.ExpiresAt)
	}
	if !slices.Equal(c.Scopes, tok.Scopes) {
		t.Fatalf("claim scopes %q, want %q", c.Scopes, tok.Scopes)
	}
	if got := kid(t, tok.Value); got == "" {
		t.Fatal("no kid")
	}
	revoked, err := p.TokenRevoked(t.Context(), tok.ID)
	noErr(t, err, "TokenRevoked")
	if revoked {
		t.Fatal("a fresh token is reported revoked")
	}
}

func testTokenDefaultTTL(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	t1 := issue(t, p, a.ID, identity.TokenRequest{})
	t2 := issue(t, p, a.ID, identity.TokenRequest{TTL: 0})
	d := t1.ExpiresAt.Sub(t1.IssuedAt)
	if d < time.Second || d > 24*time.Hour {
		t.Fatalf("the default lifetime is %v", d)
	}
	if d2 := t2.ExpiresAt.Sub(t2.IssuedAt); d2 != d {
		t.Fatalf("default lifetimes differ: %v and %v", d, d2)
	}
	c := verify(t, verifier(t, p), t1.Value)
	if c.ExpiresAt.Sub(c.IssuedAt) != d {
		t.Fatalf("claims lifetime %v, token says %v", c.ExpiresAt.Sub(c.IssuedAt), d)
	}
	if len(c.Scopes) != 0 || len(t1.Scopes) != 0 {
		t.Fatalf("a token issued without scopes has %q / %q", c.Scopes, t1.Scopes)
	}
}

func testTokenTTLRange(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, ttl := range []time.Duration{500 * time.Millisecond, time.Nanosecond, -time.Minute, 100 * 24 * time.Hour} {
		_, err := p.IssueToken(t.Context(), a.ID, identity.TokenRequest{TTL: ttl})
		if err == nil {
			t.Fatalf("IssueToken accepted TTL %v", ttl)
		}
		RequireCode(t, err, identity.CodeInvalidInput)
	}
	// The bounds themselves.
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Second})
	if d := tok.ExpiresAt.Sub(tok.IssuedAt); d != time.Second {
		t.Fatalf("a 1s token lives %v", d)
	}
	issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour})
}

func testTokenNoScopes(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Minute, Scopes: []string{}})
	c := verify(t, verifier(t, p), tok.Value)
	if len(c.Scopes) != 0 {
		t.Fatalf("scopes %q, want none", c.Scopes)
	}
}

func testTokenInvalidScope(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, scope := range []string{"has space", "", `quo"te`, `back\slash`, "tab\t", "ünï", repeat("s", 1000)} {
		_, err := p.IssueToken(t.Context(), a.ID, identity.TokenRequest{Scopes: []string{"read", scope}})
		if err == nil {
			t.Fatalf("IssueToken accepted scope %q", scope)
		}
		RequireCode(t, err, identity.CodeInvalidInput)
	}
}

func testTokenUniqueIDs(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	seen := map[string]bool{}
	for range 20 {
		tok := issue(t, p, a.ID, identity.TokenRequest{})
		if seen[tok.ID] {
			t.Fatalf("token id %q repeated", tok.ID)
		}
		seen[tok.ID] = true
	}
}

func testTokenDisabled(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Status: identity.StatusDisabled})
	_, err := p.IssueToken(t.Context(), a.ID, identity.TokenRequest{})
	requireCredentialsError(t, err, identity.ReasonDisabled)
	u := MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Status: identity.StatusUnverified})
	_, err = p.IssueToken(t.Context(), u.ID, identity.TokenRequest{})
	requireCredentialsError(t, err, identity.ReasonDisabled, identity.ReasonUnverified)
	update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusEnabled)})
	issue(t, p, a.ID, identity.TokenRequest{})
}

func testTokenUnknownAccount(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	_, err := p.IssueToken(t.Context(), "nonexistent", identity.TokenRequest{})
	RequireNotFound(t, err)
	_, err = p.IssueToken(t.Context(), ids.New(), identity.TokenRequest{TTL: time.Minute})
	RequireNotFound(t, err)
}

func testTokenRevoke(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	t1 := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour})
	t2 := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour})
	noErr(t, p.RevokeToken(t.Context(), t1.ID, t1.ExpiresAt), "RevokeToken")
	for _, c := range []struct {
		id   string
		want bool
	}{{t1.ID, true}, {t2.ID, false}} {
		got, err := p.TokenRevoked(t.Context(), c.id)
		noErr(t, err, "TokenRevoked")
		if got != c.want {
			t.Fatalf("TokenRevoked(%s) = %v, want %v", c.id, got, c.want)
		}
	}
	noErr(t, p.RevokeToken(t.Context(), t1.ID, t1.ExpiresAt), "RevokeToken twice")
	got, err := p.TokenRevoked(t.Context(), t1.ID)
	noErr(t, err, "TokenRevoked")
	if !got {
		t.Fatal("revoking twice un-revoked the token")
	}
	// A repeat with an expiry already past must not shorten the revocation.
	noErr(t, p.RevokeToken(t.Context(), t1.ID, time.Now().Add(-time.Hour)), "RevokeToken with an earlier expiry")
	if got, err := p.TokenRevoked(t.Context(), t1.ID); err != nil || !got {
		t.Fatalf("a repeat revocation with an earlier expiry undid the first: %v, %v", got, err)
	}
	// Revocation does not touch the signature: the token still verifies,
	// and it is the caller's job to consult TokenRevoked.
	verify(t, verifier(t, p), t1.Value)
}

func testTokenRevokeExpired(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Minute})
	noErr(t, p.RevokeToken(t.Context(), tok.ID, time.Now().Add(-time.Minute)), "RevokeToken with a past expiry")
	got, err := p.TokenRevoked(t.Context(), tok.ID)
	noErr(t, err, "TokenRevoked")
	if got {
		t.Fatal("a revocation whose expiry has passed is still reported")
	}
}

func testTokenRevokeUnknown(t *testing.T, p identity.Provider) {
	// Revocation lists hold ids the provider never issued too (tokens of
	// another replica, or lost ones); checking an unknown id is not an error.
	id := ids.New()
	got, err := p.TokenRevoked(t.Context(), id)
	noErr(t, err, "TokenRevoked(unknown)")
	if got {
		t.Fatal("an unknown token id is reported revoked")
	}
	noErr(t, p.RevokeToken(t.Context(), id, time.Now().Add(time.Hour)), "RevokeToken(unknown)")
	got, err = p.TokenRevoked(t.Context(), id)
	noErr(t, err, "TokenRevoked")
	if !got {
		t.Fatal("a revoked id is not reported revoked")
	}
}

func testTokenSettings(t *testing.T, p identity.Provider) {
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	if s.Issuer == "" || s.Audience == "" {
		t.Fatalf("TokenSettings = %+v; issuer and audience must be set", s)
	}
	s2, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	if s2 != s {
		t.Fatalf("TokenSettings changed from %+v to %+v", s, s2)
	}
}

// privateJWKMembers are the JWK members that carry private key material
// for any key type (RFC 7518 §6, RFC 8037).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

func requirePublicJWKS(t *testing.T, keys []map[string]any) {
	t.Helper()
	for _, k := range keys {
		for _, m := range privateJWKMembers {
			if _, ok := k[m]; ok {
				t.Fatalf("JWKS key %v has private member %q", k["kid"], m)
			}
		}
		if k["kid"] == nil || k["kid"] == "" {
			t.Fatalf("JWKS key %v has no kid", k)
		}
	}
}

func testTokenJWKSPublic(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{})
	keys := jwksKeys(t, p)
	if len(keys) < 1 {
		t.Fatal("the JWKS has no keys after a token was issued")
	}
	requirePublicJWKS(t, keys)
	k := kid(t, tok.Value)
	if !slices.ContainsFunc(keys, func(m map[string]any) bool { return m["kid"] == k }) {
		t.Fatalf("the JWKS does not publish the signing key %q", k)
	}
	// The document is stable between calls.
	raw1, err := p.JWKS(t.Context())
	noErr(t, err, "JWKS")
	raw2, err := p.JWKS(t.Context())
	noErr(t, err, "JWKS")
	if string(raw1) != string(raw2) {
		t.Fatalf("JWKS changed without rotation:\n%s\n%s", raw1, raw2)
	}
}

func testTokenRotation(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	old := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour})
	oldKid := kid(t, old.Value)
	newKid, err := p.RotateSigningKey(t.Context())
	noErr(t, err, "RotateSigningKey")
	if newKid == "" || newKid == oldKid {
		t.Fatalf("RotateSigningKey returned %q; the old kid is %q", newKid, oldKid)
	}
	fresh := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour})
	if got := kid(t, fresh.Value); got != newKid {
		t.Fatalf("a token issued after rotation has kid %q, want the new key %q", got, newKid)
	}
	keys := jwksKeys(t, p)
	if len(keys) < 2 {
		t.Fatalf("after rotation the JWKS has %d keys, want the old and the new", len(keys))
	}
	requirePublicJWKS(t, keys)
	for _, k := range []string{oldKid, newKid} {
		if !slices.ContainsFunc(keys, func(m map[string]any) bool { return m["kid"] == k }) {
			t.Fatalf("the JWKS lacks key %q", k)
		}
	}
	v := verifier(t, p)
	if c := verify(t, v, old.Value); c.ID != old.ID {
		t.Fatalf("old token claims %+v", c)
	}
	if c := verify(t, v, fresh.Value); c.ID != fresh.ID {
		t.Fatalf("new token claims %+v", c)
	}
	// A second rotation keeps all three published.
	third, err := p.RotateSigningKey(t.Context())
	noErr(t, err, "RotateSigningKey")
	if third == newKid || third == oldKid {
		t.Fatalf("the second rotation reused kid %q", third)
	}
	v = verifier(t, p)
	verify(t, v, old.Value)
	verify(t, v, fresh.Value)
	if got := kid(t, issue(t, p, a.ID, identity.TokenRequest{}).Value); got != third {
		t.Fatalf("token kid %q, want %q", got, third)
	}
}

func testTokenRotationFirst(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k, err := p.RotateSigningKey(t.Context())
	noErr(t, err, "RotateSigningKey")
	tok := issue(t, p, a.ID, identity.TokenRequest{})
	if got := kid(t, tok.Value); got != k {
		t.Fatalf("token kid %q, want %q", got, k)
	}
	verify(t, verifier(t, p), tok.Value)
}

func testTokenTampered(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Hour, Scopes: []string{"read"}})
	v := verifier(t, p)
	parts := strings.Split(tok.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	noErr(t, err, "decode payload")
	var claims map[string]any
	noErr(t, json.Unmarshal(payload, &claims), "unmarshal payload")
	for _, c := range []struct {
		name   string
		change func(map[string]any)
	}{
		{"Subject", func(m map[string]any) { m["sub"] = b.ID }},
		{"Scope", func(m map[string]any) { m["scope"] = "read admin" }},
		{"Expiry", func(m map[string]any) { m["exp"] = m["exp"].(float64) + 86400 }},
	} {
		m := map[string]any{}
		for k, val := range claims {
			m[k] = val
		}
		c.change(m)
		enc, err := json.Marshal(m)
		noErr(t, err, "marshal")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(enc) + "." + parts[2]
		if _, err := v.Verify(forged, time.Now()); !errors.Is(err, token.ErrInvalidToken) {
			t.Fatalf("a token with a tampered %s verified (err %v)", c.name, err)
		}
	}
	// A flipped signature byte fails too, and the original still verifies.
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 'A' ^ 'B'
	if sig[len(sig)/2] == parts[2][len(sig)/2] {
		t.Fatal("test setup: signature unchanged")
	}
	if _, err := v.Verify(parts[0]+"."+parts[1]+"."+string(sig), time.Now()); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("a token with a tampered signature verified (err %v)", err)
	}
	verify(t, v, tok.Value)
}

func testTokenWrongAudience(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{})
	raw, err := p.JWKS(t.Context())
	noErr(t, err, "JWKS")
	keys, err := token.ParseJWKS(raw)
	noErr(t, err, "ParseJWKS")
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	for _, c := range []struct{ issuer, audience string }{
		{s.Issuer, s.Audience + "-other"},
		{s.Issuer + "-other", s.Audience},
	} {
		v := token.NewVerifier(keys, c.issuer, c.audience, 0)
		if _, err := v.Verify(tok.Value, time.Now()); !errors.Is(err, token.ErrInvalidToken) {
			t.Fatalf("verifier for iss %q aud %q accepted the token (err %v)", c.issuer, c.audience, err)
		}
	}
	verify(t, token.NewVerifier(keys, s.Issuer, s.Audience, 0), tok.Value)
}

func testTokenExpired(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{TTL: time.Minute})
	v := verifier(t, p)
	_, err := v.Verify(tok.Value, tok.ExpiresAt.Add(time.Hour))
	if !errors.Is(err, token.ErrExpired) {
		t.Fatalf("Verify an hour after expiry: err %v, want ErrExpired", err)
	}
	if _, err := v.Verify(tok.Value, tok.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("Verify a second before expiry: %v", err)
	}
}

func testTokenOtherProvider(t *testing.T, p, other identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, other, "alice")
	tok := issue(t, p, a.ID, identity.TokenRequest{})
	issue(t, other, b.ID, identity.TokenRequest{}) // make sure other has a key
	if _, err := verifier(t, other).Verify(tok.Value, time.Now()); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("another provider's keys accepted the token (err %v, want ErrUnknownKey)", err)
	}
	if _, err := other.IssueToken(t.Context(), a.ID, identity.TokenRequest{}); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("another provider issued a token for an account it does not have (err %v)", err)
	}
}

// testRevocationFeed checks the optional identity.RevocationFeed: every
// live revocation is listed, oldest first, and a watermark hides older ones.
func testRevocationFeed(t *testing.T, p identity.Provider) {
	feed, ok := p.(identity.RevocationFeed)
	if !ok {
		t.Skip("provider has no revocation feed")
	}
	acc := MustCreateAccount(t, p, "feed")
	t1 := issue(t, p, acc.ID, identity.TokenRequest{})
	t2 := issue(t, p, acc.ID, identity.TokenRequest{})
	noErr(t, p.RevokeToken(t.Context(), t1.ID, t1.ExpiresAt), "RevokeToken t1")
	time.Sleep(5 * time.Millisecond) // revocation times have millisecond precision
	noErr(t, p.RevokeToken(t.Context(), t2.ID, t2.ExpiresAt), "RevokeToken t2")
	noErr(t, p.RevokeToken(t.Context(), "expired-already", time.Now().Add(-time.Minute)), "RevokeToken expired")
	all, err := feed.RevokedSince(t.Context(), time.Time{}, 100)
	noErr(t, err, "RevokedSince")
	if len(all) != 2 || all[0].TokenID != t1.ID || all[1].TokenID != t2.ID {
		t.Fatalf("feed = %+v, want t1 then t2 (and not the expired one)", all)
	}
	if all[0].RevokedAt.IsZero() || all[1].RevokedAt.Before(all[0].RevokedAt) || !all[0].ExpiresAt.Equal(t1.ExpiresAt) {
		t.Errorf("feed times = %+v", all)
	}
	later, err := feed.RevokedSince(t.Context(), all[1].RevokedAt, 100)
	noErr(t, err, "RevokedSince watermark")
	if len(later) != 1 || later[0].TokenID != t2.ID {
		t.Errorf("from the last revocation's time = %+v, want only t2", later)
	}
	one, err := feed.RevokedSince(t.Context(), time.Time{}, 1)
	noErr(t, err, "RevokedSince limit")
	if len(one) != 1 || one[0].TokenID != t1.ID {
		t.Errorf("limit 1 = %+v", one)
	}
}
