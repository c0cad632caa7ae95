package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://id.example.com"
	testAudience = "https://api.example.com"
)

// t0 is a fixed "now" so that no test depends on the wall clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t testing.TB) SigningKey {
	t.Helper()
	k, err := GenerateKey(t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testClaims() Claims {
	return Claims{
		ID:        "tok-1",
		Subject:   "user-42",
		Issuer:    testIssuer,
		Audience:  testAudience,
		IssuedAt:  t0,
		ExpiresAt: t0.Add(5 * time.Minute),
		Scopes:    []string{"read", "write:keys"},
	}
}

func mustSign(t testing.TB, k SigningKey, c Claims) string {
	t.Helper()
	raw, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func verifierFor(leeway time.Duration, keys ...SigningKey) *Verifier {
	return NewVerifier(PublicJWKS(keys), testIssuer, testAudience, leeway)
}

// signCustom signs arbitrary claims with an arbitrary typ header through
// go-jose, bypassing Sign's own checks, to build tokens Sign would refuse.
func signCustom(t testing.TB, k SigningKey, typ string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func baseClaimsMap() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-42", "aud": testAudience, "jti": "tok-1",
		"iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(), "scope": "read",
	}
}

func b64(v any) string {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newKey(t)
	c := testClaims()
	raw := mustSign(t, k, c)

	got, err := verifierFor(0, k).Verify(raw, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("Verify returned\n%+v\nwant\n%+v", got, c)
	}
}

func TestHeaderAndClaimsOnTheWire(t *testing.T) {
	k := newKey(t)
	raw := mustSign(t, k, testClaims())
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	var hdr, claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	wantHdr := map[string]any{"alg": "EdDSA", "kid": k.ID, "typ": "at+jwt"}
	if !reflect.DeepEqual(hdr, wantHdr) {
		t.Errorf("header = %v, want %v", hdr, wantHdr)
	}
	wantClaims := map[string]any{
		"iss": testIssuer, "sub": "user-42", "aud": testAudience, "jti": "tok-1",
		"iat": float64(t0.Unix()), "exp": float64(t0.Add(5 * time.Minute).Unix()),
		"scope": "read write:keys",
	}
	if !reflect.DeepEqual(claims, wantClaims) {
		t.Errorf("claims = %v, want %v", claims, wantClaims)
	}
}

func TestSubsecondTimesTruncated(t *testing.T) {
	k := newKey(t)
	c := testClaims()
	c.IssuedAt = t0.Add(900 * time.Millisecond)
	c.ExpiresAt = c.ExpiresAt.Add(900 * time.Millisecond)
	got, err := verifierFor(0, k).Verify(mustSign(t, k, c), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("times = %v, %v; want whole seconds", got.IssuedAt, got.ExpiresAt)
	}
}

func TestExpiry(t *testing.T) {
	k := newKey(t)
	raw := mustSign(t, k, testClaims())
	exp := testClaims().ExpiresAt
	tests := []struct {
		name    string
		leeway  time.Duration
		now     time.Time
		wantErr error
	}{
		{"no leeway, 1s before exp", -1, exp.Add(-time.Second), nil},
		{"no leeway, at exp", -1, exp, ErrExpired},
		{"no leeway, 1s after exp", -1, exp.Add(time.Second), ErrExpired},
		{"default leeway, 9s after exp", 0, exp.Add(9 * time.Second), nil},
		{"default leeway, 10s after exp", 0, exp.Add(DefaultLeeway), ErrExpired},
		{"default leeway, 1h after exp", 0, exp.Add(time.Hour), ErrExpired},
		{"1m leeway, 59s after exp", time.Minute, exp.Add(59 * time.Second), nil},
		{"1m leeway, 61s after exp", time.Minute, exp.Add(61 * time.Second), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifierFor(tt.leeway, k).Verify(raw, tt.now)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestIssuedInFuture(t *testing.T) {
	k := newKey(t)
	raw := mustSign(t, k, testClaims()) // iat = t0
	tests := []struct {
		name    string
		leeway  time.Duration
		now     time.Time
		wantErr error
	}{
		{"at iat", -1, t0, nil},
		{"1s before iat, no leeway", -1, t0.Add(-time.Second), ErrInvalidToken},
		{"5s before iat, default leeway", 0, t0.Add(-5 * time.Second), nil},
		{"11s before iat, default leeway", 0, t0.Add(-11 * time.Second), ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifierFor(tt.leeway, k).Verify(raw, tt.now)
			checkErr(t, err, tt.wantErr)
			if errors.Is(err, ErrExpired) {
				t.Errorf("future iat reported as expired: %v", err)
			}
		})
	}
}

// checkErr fails unless err matches want (nil meaning success), and checks
// that every failure is an ErrInvalidToken.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("error = %v, want %v", err, want)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("error %v does not wrap ErrInvalidToken", err)
	}
}

func TestIssuerAndAudienceMismatch(t *testing.T) {
	k := newKey(t)
	raw := mustSign(t, k, testClaims())
	jwks := PublicJWKS([]SigningKey{k})
	tests := []struct {
		name, iss, aud string
	}{
		{"wrong issuer", "https://evil.example.com", testAudience},
		{"issuer with trailing slash", testIssuer + "/", testAudience},
		{"issuer different case", strings.ToUpper(testIssuer), testAudience},
		{"wrong audience", testIssuer, "https://other.example.com"},
		{"audience prefix", testIssuer, "https://api.example"},
		{"empty issuer config", "", testAudience},
		{"empty audience config", testIssuer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(jwks, tt.iss, tt.aud, 0).Verify(raw, t0)
			checkErr(t, err, ErrInvalidToken)
		})
	}
}

func TestClaimRequirements(t *testing.T) {
	k := newKey(t)
	v := verifierFor(0, k)
	tests := []struct {
		name string
		edit func(map[string]any)
		typ  string
		ok   bool
	}{
		{"baseline", func(map[string]any) {}, "at+jwt", true},
		{"typ application/at+jwt", func(map[string]any) {}, "application/at+jwt", true},
		{"typ upper case", func(map[string]any) {}, "AT+JWT", true},
		{"typ JWT", func(map[string]any) {}, "JWT", false},
		{"no typ", func(map[string]any) {}, "", false},
		{"aud as array", func(m map[string]any) { m["aud"] = []string{testAudience} }, "at+jwt", true},
		{"aud array with extra", func(m map[string]any) { m["aud"] = []string{testAudience, "x"} }, "at+jwt", false},
		{"aud missing", func(m map[string]any) { delete(m, "aud") }, "at+jwt", false},
		{"aud number", func(m map[string]any) { m["aud"] = 7 }, "at+jwt", false},
		{"iss missing", func(m map[string]any) { delete(m, "iss") }, "at+jwt", false},
		{"sub missing", func(m map[string]any) { delete(m, "sub") }, "at+jwt", false},
		{"sub empty", func(m map[string]any) { m["sub"] = "" }, "at+jwt", false},
		{"jti missing", func(m map[string]any) { delete(m, "jti") }, "at+jwt", false},
		{"exp missing", func(m map[string]any) { delete(m, "exp") }, "at+jwt", false},
		{"exp null", func(m map[string]any) { m["exp"] = nil }, "at+jwt", false},
		{"exp string", func(m map[string]any) { m["exp"] = "tomorrow" }, "at+jwt", false},
		{"exp huge", func(m map[string]any) { m["exp"] = 1e300 }, "at+jwt", false},
		{"iat missing", func(m map[string]any) { delete(m, "iat") }, "at+jwt", false},
		{"exp before iat", func(m map[string]any) { m["iat"] = t0.Add(6 * time.Minute).Unix() }, "at+jwt", false},
		{"nbf past", func(m map[string]any) { m["nbf"] = t0.Unix() }, "at+jwt", true},
		{"nbf future", func(m map[string]any) { m["nbf"] = t0.Add(time.Minute).Unix() }, "at+jwt", false},
		{"scope not string", func(m map[string]any) { m["scope"] = []string{"read"} }, "at+jwt", false},
		{"scope missing", func(m map[string]any) { delete(m, "scope") }, "at+jwt", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseClaimsMap()
			tt.edit(m)
			_, err := v.Verify(signCustom(t, k, tt.typ, m), t0)
			if tt.ok {
				checkErr(t, err, nil)
			} else {
				checkErr(t, err, ErrInvalidToken)
			}
		})
	}
}

func TestTampering(t *testing.T) {
	k := newKey(t)
	other := newKey(t)
	v := verifierFor(0, k, other)
	raw := mustSign(t, k, testClaims())
	parts := strings.Split(raw, ".")

	// A payload claiming a different subject, re-encoded but not re-signed.
	evil := baseClaimsMap()
	evil["sub"] = "admin"
	// The same header pointing at the other (known) key.
	otherHdr := b64(map[string]string{"alg": "EdDSA", "kid": other.ID, "typ": "at+jwt"})
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1

	tests := map[string]string{
		"payload replaced":  parts[0] + "." + b64(evil) + "." + parts[2],
		"payload truncated": parts[0] + "." + parts[1][:len(parts[1])-4] + "." + parts[2],
		"kid switched":      otherHdr + "." + parts[1] + "." + parts[2],
		"signature flipped": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
		"signature dropped": parts[0] + "." + parts[1] + ".",
		"signature short":   parts[0] + "." + parts[1] + "." + parts[2][:40],
		"newline inserted":  parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2],
		"trailing dot":      raw + ".",
		"padding added":     raw + "==",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(tok, t0)
			checkErr(t, err, ErrInvalidToken)
		})
	}
	// Sanity: the untampered token verifies, so the failures above are due
	// to the tampering.
	if _, err := v.Verify(raw, t0); err != nil {
		t.Fatalf("untampered token: %v", err)
	}
}

func TestUnknownKey(t *testing.T) {
	signer, known := newKey(t), newKey(t)
	raw := mustSign(t, signer, testClaims())
	_, err := verifierFor(0, known).Verify(raw, t0)
	checkErr(t, err, ErrUnknownKey)

	_, err = NewVerifier(JWKS{}, testIssuer, testAudience, 0).Verify(raw, t0)
	checkErr(t, err, ErrUnknownKey)
}

func TestMissingKid(t *testing.T) {
	k := newKey(t)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.Private},
		(&jose.SignerOptions{}).WithType(TokenType))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(baseClaimsMap()).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifierFor(0, k).Verify(raw, t0)
	checkErr(t, err, ErrInvalidToken)
	if errors.Is(err, ErrUnknownKey) {
		t.Errorf("missing kid reported as unknown key: %v", err)
	}
}

func TestOtherAlgorithmsRejected(t *testing.T) {
	k := newKey(t)
	v := verifierFor(0, k)
	claims := baseClaimsMap()
	pub := k.Private.Public().(ed25519.PublicKey)

	// Builds a token with go-jose using alg and key, naming k's kid so that
	// only the algorithm is wrong.
	joseToken := func(alg jose.SignatureAlgorithm, key any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType(TokenType))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	handToken := func(alg, sig string) string {
		return b64(map[string]string{"alg": alg, "kid": k.ID, "typ": TokenType}) + "." + b64(claims) + "." + sig
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]string{
		"none, empty signature":    handToken("none", ""),
		"none, junk signature":     handToken("none", b64("x")),
		"None":                     handToken("None", b64("x")),
		"missing alg":              b64(map[string]string{"kid": k.ID, "typ": TokenType}) + "." + b64(claims) + "." + b64("x"),
		"HS256 keyed with pub key": joseToken(jose.HS256, []byte(pub)),
		"ES256":                    joseToken(jose.ES256, ecKey),
		"RS256":                    handToken("RS256", b64(strings.Repeat("s", 256))),
		"Ed25519 alg name":         handToken("Ed25519", b64(strings.Repeat("s", 64))),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(raw, t0)
			checkErr(t, err, ErrInvalidToken)
		})
	}
}

func TestRotation(t *testing.T) {
	old, cur := newKey(t), newKey(t)
	old.RetireAt = t0
	oldTok := mustSign(t, old, func() Claims { c := testClaims(); c.IssuedAt = t0.Add(-time.Minute); return c }())
	curTok := mustSign(t, cur, testClaims())

	both := verifierFor(0, old, cur)
	for name, raw := range map[string]string{"old": oldTok, "current": curTok} {
		if _, err := both.Verify(raw, t0.Add(time.Minute)); err != nil {
			t.Errorf("%s key token with both keys published: %v", name, err)
		}
	}
	// Once the old key is dropped from the set, its tokens name an unknown
	// key, which tells the verifier to refresh rather than give up.
	_, err := verifierFor(0, cur).Verify(oldTok, t0.Add(time.Minute))
	checkErr(t, err, ErrUnknownKey)

	// A retired key no longer signs.
	if _, err := Sign(old, testClaims()); err == nil {
		t.Error("Sign with a key retired at IssuedAt succeeded")
	}
}

func TestScopes(t *testing.T) {
	k := newKey(t)
	v := verifierFor(0, k)
	tests := []struct {
		name      string
		scopes    []string
		required  []string
		hasScopes bool
	}{
		{"none required", []string{"read"}, nil, true},
		{"none granted, none required", nil, nil, true},
		{"one of one", []string{"read"}, []string{"read"}, true},
		{"all of two", []string{"read", "write"}, []string{"write", "read"}, true},
		{"missing one", []string{"read"}, []string{"read", "write"}, false},
		{"none granted", nil, []string{"read"}, false},
		{"prefix is not a match", []string{"read:all"}, []string{"read"}, false},
		{"case sensitive", []string{"Read"}, []string{"read"}, false},
		{"empty required never granted", []string{"read"}, []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			c.Scopes = tt.scopes
			got, err := v.Verify(mustSign(t, k, c), t0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Scopes, tt.scopes) {
				t.Errorf("Scopes round trip = %q, want %q", got.Scopes, tt.scopes)
			}
			if h := got.HasScopes(tt.required...); h != tt.hasScopes {
				t.Errorf("HasScopes(%q) = %v, want %v", tt.required, h, tt.hasScopes)
			}
		})
	}
}

func TestScopeClaimParsing(t *testing.T) {
	k := newKey(t)
	m := baseClaimsMap()
	m["scope"] = "  read   write "
	got, err := verifierFor(0, k).Verify(signCustom(t, k, TokenType, m), t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"read", "write"}; !reflect.DeepEqual(got.Scopes, want) {
		t.Errorf("Scopes = %q, want %q", got.Scopes, want)
	}
}

func TestSignRejects(t *testing.T) {
	k := newKey(t)
	edit := func(f func(*Claims)) Claims { c := testClaims(); f(&c); return c }
	retired := k
	retired.RetireAt = t0
	tests := []struct {
		name string
		key  SigningKey
		c    Claims
	}{
		{"no key id", SigningKey{Private: k.Private}, testClaims()},
		{"no private key", SigningKey{ID: "x"}, testClaims()},
		{"short private key", SigningKey{ID: "x", Private: k.Private[:32]}, testClaims()},
		{"retired key", retired, testClaims()},
		{"no ID", k, edit(func(c *Claims) { c.ID = "" })},
		{"no Subject", k, edit(func(c *Claims) { c.Subject = "" })},
		{"no Issuer", k, edit(func(c *Claims) { c.Issuer = "" })},
		{"no Audience", k, edit(func(c *Claims) { c.Audience = "" })},
		{"no IssuedAt", k, edit(func(c *Claims) { c.IssuedAt = time.Time{} })},
		{"no ExpiresAt", k, edit(func(c *Claims) { c.ExpiresAt = time.Time{} })},
		{"exp equals iat", k, edit(func(c *Claims) { c.ExpiresAt = c.IssuedAt })},
		{"exp within same second", k, edit(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(500 * time.Millisecond) })},
		{"exp before iat", k, edit(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Minute) })},
		{"empty scope", k, edit(func(c *Claims) { c.Scopes = []string{"read", ""} })},
		{"scope with space", k, edit(func(c *Claims) { c.Scopes = []string{"read write"} })},
		{"scope with quote", k, edit(func(c *Claims) { c.Scopes = []string{`a"b`} })},
		{"scope with backslash", k, edit(func(c *Claims) { c.Scopes = []string{`a\b`} })},
		{"scope non-ascii", k, edit(func(c *Claims) { c.Scopes = []string{"lé"} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raw, err := Sign(tt.key, tt.c); err == nil {
				t.Errorf("Sign succeeded: %s", raw)
			}
		})
	}
	// A key scheduled to retire later still signs now.
	later := k
	later.RetireAt = t0.Add(time.Hour)
	if _, err := Sign(later, testClaims()); err != nil {
		t.Errorf("key retiring later: %v", err)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	k := newKey(t)
	real := mustSign(t, k, testClaims())
	hdr := b64(`{"alg":"EdDSA"}`)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"real token", real, true},
		{"minimal", hdr + ".e30.c2ln", true},
		{"empty", "", false},
		{"username", "alice", false},
		{"email", "alice@example.com", false},
		{"dotted username", "alice.b.smith", false},
		{"api key id", "gk_0123456789abcdefABCDEF", false},
		{"two segments", hdr + ".e30", false},
		{"four segments", hdr + ".e30.c2ln.c2ln", false},
		{"empty header", ".e30.c2ln", false},
		{"empty payload", hdr + "..c2ln", false},
		{"empty signature", hdr + ".e30.", false},
		{"padding", hdr + ".e30=.c2ln", false},
		{"std base64 chars", hdr + ".e3+/.c2ln", false},
		{"space", hdr + ".e30 .c2ln", false},
		{"newline", hdr + ".e30\n.c2ln", false},
		{"header not base64", "!!!!.e30.c2ln", false},
		{"header bad length", "eyJhb.e30.c2ln", false},
		{"header is array", b64(`[1,2]`) + ".e30.c2ln", false},
		{"header is string", b64(`"x"`) + ".e30.c2ln", false},
		{"header leading space", b64(` {}`) + ".e30.c2ln", false},
		{"header invalid json", b64(`{"alg":`) + ".e30.c2ln", false},
		{"header too long", b64(`{"x":"`+strings.Repeat("a", 1000)+`"}`) + ".e30.c2ln", false},
		{"too long overall", hdr + "." + strings.Repeat("a", 9000) + ".c2ln", false},
		{"non-ascii", hdr + ".e30é.c2ln", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksLikeJWT(tt.in); got != tt.want {
				t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	a, b := Hash("a.b.c"), Hash("a.b.d")
	if a == b {
		t.Error("different tokens hash equal")
	}
	if Hash("a.b.c") != a {
		t.Error("Hash is not deterministic")
	}
	// Pinned to SHA-256 because persisted cache keys depend on it.
	want := [32]byte{0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad}
	if got := Hash("abc"); got != want {
		t.Errorf("Hash(\"abc\") = %x, want %x", got, want)
	}
}

func TestGenerateKey(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	if k1.ID == "" || k1.ID == k2.ID {
		t.Errorf("key ids %q, %q: want distinct non-empty", k1.ID, k2.ID)
	}
	if !k1.CreatedAt.Equal(t0.Add(-time.Hour)) || !k1.RetireAt.IsZero() {
		t.Errorf("CreatedAt=%v RetireAt=%v", k1.CreatedAt, k1.RetireAt)
	}
	if len(k1.Private) != ed25519.PrivateKeySize || k1.Private.Equal(k2.Private) {
		t.Error("bad or repeated private key")
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	k := newKey(t)
	der := k.MarshalPrivate()
	if der == nil {
		t.Fatal("MarshalPrivate returned nil")
	}
	got, err := ParsePrivate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(k.Private) {
		t.Error("parsed key differs")
	}
	if (SigningKey{Private: k.Private[:10]}).MarshalPrivate() != nil {
		t.Error("MarshalPrivate of a short key is not nil")
	}
	if (SigningKey{}).MarshalPrivate() != nil {
		t.Error("MarshalPrivate of a nil key is not nil")
	}

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"nil": nil, "garbage": []byte("not der"), "truncated": der[:len(der)-1], "ecdsa": ecDER} {
		if _, err := ParsePrivate(in); err == nil {
			t.Errorf("ParsePrivate(%s) succeeded", name)
		}
	}
}
