package identitytest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// hostedLoginTests check identity.HostedLogin, for every provider that
// implements it (found through decorators); others skip them.
func hostedLoginTests() []test {
	return []test{
		{"HostedLogin/RedirectURIAllowList", testRedirectAllowList},
		{"HostedLogin/RedirectURIInvalid", testRedirectInvalid},
		{"HostedLogin/RequestRoundTrip", testLoginRequestRoundTrip},
		{"HostedLogin/RequestForeignRedirectRefused", testLoginRequestForeign},
		{"HostedLogin/RequestInvalidInput", testLoginRequestInvalid},
		{"HostedLogin/RequestTamperedRefused", testLoginRequestTampered},
		{"HostedLogin/RequestDeadAfterRemoval", testLoginRequestRemoved},
		{"HostedLogin/AssertionSignedForAccount", testLoginAssertion},
		{"HostedLogin/AssertionRefusals", testLoginAssertionRefusals},
		{"HostedLogin/NoTokenConfusion", testLoginTokenConfusion},
		{"HostedLogin/AssertionConsumedOnce", testAssertionConsumedOnce},
		{"HostedLogin/AssertionConsumedOnceUnderRace", testAssertionConsumedRace},
		{"HostedLogin/AssertionConsumeInvalid", testAssertionConsumeInvalid},
	}
}

const (
	testRedirect  = "https://app.example.com/login/callback"
	testRedirect2 = "http://127.0.0.1:8000/login/callback"
)

func hostedLogin(t *testing.T, p identity.Provider) identity.HostedLogin {
	t.Helper()
	h, ok := identity.FindHostedLogin(p)
	if !ok {
		t.Skip("provider does not implement identity.HostedLogin")
	}
	return h
}

// allowRedirect puts testRedirect on the allow-list.
func allowRedirect(t *testing.T, h identity.HostedLogin) {
	t.Helper()
	got, err := h.AddRedirectURI(t.Context(), testRedirect)
	noErr(t, err, "AddRedirectURI")
	if got != testRedirect {
		t.Fatalf("AddRedirectURI = %q, want %q", got, testRedirect)
	}
}

func newRequest(t *testing.T, h identity.HostedLogin) *identity.SignedLoginRequest {
	t.Helper()
	r, err := h.NewLoginRequest(t.Context(), identity.LoginRequest{RedirectURI: testRedirect, State: "st-1", Nonce: "no-1"})
	noErr(t, err, "NewLoginRequest")
	return r
}

func testRedirectAllowList(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	ctx := t.Context()
	list, err := h.RedirectURIs(ctx)
	noErr(t, err, "RedirectURIs")
	if len(list) != 0 {
		t.Fatalf("a new application's allow-list = %q, want empty", list)
	}
	// Added in a spelling that normalises: upper-case host, default port.
	got, err := h.AddRedirectURI(ctx, "HTTPS://App.Example.COM:443/login/callback")
	noErr(t, err, "AddRedirectURI")
	if got != testRedirect {
		t.Fatalf("AddRedirectURI returned %q, want the normalised %q", got, testRedirect)
	}
	if _, err := h.AddRedirectURI(ctx, testRedirect); err != nil {
		t.Fatalf("adding a URI again: %v, want no error", err)
	}
	if _, err := h.AddRedirectURI(ctx, "http://localhost:8000/login/callback/"); err != nil {
		t.Fatalf("AddRedirectURI(loopback http): %v", err)
	}
	if _, err := h.AddRedirectURI(ctx, testRedirect2); err != nil {
		t.Fatalf("AddRedirectURI(%s): %v", testRedirect2, err)
	}
	list, err = h.RedirectURIs(ctx)
	noErr(t, err, "RedirectURIs")
	want := []string{testRedirect2, "http://localhost:8000/login/callback/", testRedirect}
	if !slices.Equal(list, want) {
		t.Fatalf("RedirectURIs = %q, want %q (sorted, normalised, no duplicates)", list, want)
	}
	noErr(t, h.RemoveRedirectURI(ctx, "https://APP.example.com/login/callback"), "RemoveRedirectURI")
	RequireNotFound(t, h.RemoveRedirectURI(ctx, testRedirect))
	list, err = h.RedirectURIs(ctx)
	noErr(t, err, "RedirectURIs")
	if slices.Contains(list, testRedirect) || len(list) != 2 {
		t.Fatalf("after removal RedirectURIs = %q", list)
	}
}

func testRedirectInvalid(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	for _, uri := range []string{
		"",
		"/relative/path",
		"login/callback",
		"ftp://app.example.com/cb",
		"javascript:alert(1)",
		"http://app.example.com/cb", // http only for loopback
		"https://*.example.com/cb",
		"https://user:pw@app.example.com/cb",
		"https://app.example.com/cb#frag",
		"https://app.example.com/a/../cb",
		"https://app.example.com\\@evil.example/cb",
		"https://app.example.com/c b",
		"https://app.example.com:99999/cb",
		"https://app.example.com/" + strings.Repeat("a", identity.MaxRedirectURILength),
		"https://app.exa\x00mple.com/cb",
	} {
		_, err := h.AddRedirectURI(t.Context(), uri)
		RequireInvalid(t, err, "redirect_uri")
	}
	list, err := h.RedirectURIs(t.Context())
	noErr(t, err, "RedirectURIs")
	if len(list) != 0 {
		t.Fatalf("refused URIs were stored: %q", list)
	}
}

func testLoginRequestRoundTrip(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	before := time.Now().Add(-2 * time.Second)
	req, err := h.NewLoginRequest(t.Context(), identity.LoginRequest{
		RedirectURI: "https://APP.example.com/login/callback", State: "state-abc", Nonce: "nonce-xyz", Path: identity.LoginPathRegister,
	})
	noErr(t, err, "NewLoginRequest")
	requireID(t, "request jti", req.ID)
	if d := req.ExpiresAt.Sub(before); d <= 0 || d > identity.LoginRequestTTL+5*time.Second {
		t.Fatalf("request expires %s after now, want at most %s", d, identity.LoginRequestTTL)
	}
	c, err := h.VerifyLoginRequest(t.Context(), req.Value)
	noErr(t, err, "VerifyLoginRequest")
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	if c.ID != req.ID || c.RedirectURI != testRedirect || c.State != "state-abc" || c.Nonce != "nonce-xyz" ||
		c.Path != identity.LoginPathRegister || c.Application != s.Audience {
		t.Fatalf("VerifyLoginRequest = %+v, want jti %s, %s, state-abc, nonce-xyz, register, application %s", c, req.ID, testRedirect, s.Audience)
	}
	// The path defaults to the login page.
	c2, err := h.VerifyLoginRequest(t.Context(), newRequest(t, h).Value)
	noErr(t, err, "VerifyLoginRequest")
	if c2.Path != identity.LoginPathLogin {
		t.Fatalf("default path = %q, want %q", c2.Path, identity.LoginPathLogin)
	}
}

func testLoginRequestForeign(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	for _, uri := range []string{
		"https://evil.example.com/login/callback",
		"https://app.example.com/login/callback/other",
		"https://app.example.com/login/callback?x=1",
		"https://app.example.com:8443/login/callback",
		"https://app.example.com.evil.example/login/callback",
	} {
		_, err := h.NewLoginRequest(t.Context(), identity.LoginRequest{RedirectURI: uri, State: "s", Nonce: "n"})
		RequireInvalid(t, err, "redirect_uri")
	}
}

func testLoginRequestInvalid(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	for _, tc := range []struct {
		in    identity.LoginRequest
		field string
	}{
		{identity.LoginRequest{RedirectURI: testRedirect, Nonce: "n"}, "state"},
		{identity.LoginRequest{RedirectURI: testRedirect, State: "s"}, "nonce"},
		{identity.LoginRequest{RedirectURI: testRedirect, State: "has space", Nonce: "n"}, "state"},
		{identity.LoginRequest{RedirectURI: testRedirect, State: strings.Repeat("s", 257), Nonce: "n"}, "state"},
		{identity.LoginRequest{RedirectURI: testRedirect, State: "s", Nonce: "n", Path: "admin"}, "path"},
		{identity.LoginRequest{RedirectURI: "not a uri", State: "s", Nonce: "n"}, "redirect_uri"},
	} {
		_, err := h.NewLoginRequest(t.Context(), tc.in)
		RequireInvalid(t, err, tc.field)
	}
}

func testLoginRequestTampered(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	raw := newRequest(t, h).Value
	parts := strings.Split(raw, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}
	for _, bad := range []string{
		"",
		"not-a-jwt",
		parts[0] + "." + flip(parts[1]) + "." + parts[2],
		parts[0] + "." + parts[1] + "." + flip(parts[2]),
		parts[0] + "." + parts[1] + ".",
	} {
		_, err := h.VerifyLoginRequest(t.Context(), bad)
		RequireInvalid(t, err, "request")
	}
}

func testLoginRequestRemoved(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	raw := newRequest(t, h).Value
	noErr(t, h.RemoveRedirectURI(t.Context(), testRedirect), "RemoveRedirectURI")
	_, err := h.VerifyLoginRequest(t.Context(), raw)
	RequireInvalid(t, err, "request")
}

func testLoginAssertion(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	acc := MustCreateAccount(t, p, "alice")
	req := newRequest(t, h)
	a, err := h.NewLoginAssertion(t.Context(), req.Value, acc.ID)
	noErr(t, err, "NewLoginAssertion")
	requireID(t, "assertion jti", a.ID)
	if a.AccountID != acc.ID || a.ID == req.ID {
		t.Fatalf("assertion = %+v, want account %s and its own jti", a, acc.ID)
	}
	if d := time.Until(a.ExpiresAt); d <= 0 || d > 2*time.Minute+5*time.Second {
		t.Fatalf("assertion expires in %s, want at most 2 minutes", d)
	}
	c, err := verifier(t, p).VerifyLoginAssertion(a.Value, time.Now())
	noErr(t, err, "VerifyLoginAssertion")
	s, err := p.TokenSettings(t.Context())
	noErr(t, err, "TokenSettings")
	if c.Subject != acc.ID || c.Audience != s.Audience || c.State != "st-1" || c.Nonce != "no-1" || c.RedirectURI != testRedirect || c.ID != a.ID {
		t.Fatalf("assertion claims = %+v", c)
	}
}

func testLoginAssertionRefusals(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	acc := MustCreateAccount(t, p, "bob")
	req := newRequest(t, h)
	_, err := h.NewLoginAssertion(t.Context(), req.Value, "no-such-account")
	RequireNotFound(t, err)
	_, err = h.NewLoginAssertion(t.Context(), req.Value+"x", acc.ID)
	RequireInvalid(t, err, "request")
	disabled := identity.StatusDisabled
	_, err = p.UpdateAccount(t.Context(), acc.ID, identity.AccountUpdate{Status: &disabled})
	noErr(t, err, "UpdateAccount")
	_, err = h.NewLoginAssertion(t.Context(), req.Value, acc.ID)
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("assertion for a disabled account: %v, want ErrInvalidCredentials", err)
	}
}

// testLoginTokenConfusion checks that no kind of token passes for another:
// the verifiers accept exactly one "typ" each.
func testLoginTokenConfusion(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	acc := MustCreateAccount(t, p, "carol")
	req := newRequest(t, h)
	a, err := h.NewLoginAssertion(t.Context(), req.Value, acc.ID)
	noErr(t, err, "NewLoginAssertion")
	access := issue(t, p, acc.ID, identity.TokenRequest{})
	v := verifier(t, p)
	now := time.Now()
	if _, err := v.Verify(a.Value, now); !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("an assertion verified as an access token: %v", err)
	}
	if _, err := v.Verify(req.Value, now); !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("a login request verified as an access token: %v", err)
	}
	if _, err := v.VerifyLoginAssertion(access.Value, now); !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("an access token verified as an assertion: %v", err)
	}
	if _, err := v.VerifyLoginAssertion(req.Value, now); !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("a login request verified as an assertion: %v", err)
	}
	for name, raw := range map[string]string{"access token": access.Value, "assertion": a.Value} {
		if _, err := h.VerifyLoginRequest(t.Context(), raw); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("an %s verified as a login request: %v", name, err)
		}
		if _, err := h.NewLoginAssertion(t.Context(), raw, acc.ID); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("an %s served as the request of an assertion: %v", name, err)
		}
	}
}

// testAssertionConsumedOnce: an assertion id is accepted once; every later
// call is a conflict naming the assertion, and the id is revoked (so the
// revocation feed carries it to other servers). Other ids are unaffected.
func testAssertionConsumedOnce(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	allowRedirect(t, h)
	acc := MustCreateAccount(t, p, "alice")
	a, err := h.NewLoginAssertion(t.Context(), newRequest(t, h).Value, acc.ID)
	noErr(t, err, "NewLoginAssertion")
	noErr(t, h.ConsumeLoginAssertion(t.Context(), a.ID, a.ExpiresAt), "first ConsumeLoginAssertion")
	for range 2 {
		RequireField(t, h.ConsumeLoginAssertion(t.Context(), a.ID, a.ExpiresAt), identity.CodeConflict, "assertion")
	}
	revoked, err := p.TokenRevoked(t.Context(), a.ID)
	noErr(t, err, "TokenRevoked")
	if !revoked {
		t.Fatal("a consumed assertion's id is not revoked")
	}
	b, err := h.NewLoginAssertion(t.Context(), newRequest(t, h).Value, acc.ID)
	noErr(t, err, "NewLoginAssertion")
	noErr(t, h.ConsumeLoginAssertion(t.Context(), b.ID, b.ExpiresAt), "ConsumeLoginAssertion of another assertion")
}

// testAssertionConsumedRace: of many concurrent calls with one id, exactly
// one succeeds and every other is a conflict.
func testAssertionConsumedRace(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	const n = 16
	jti, exp := "race-"+strings.Repeat("x", 20), time.Now().Add(identity.LoginAssertionTTL)
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			errs <- h.ConsumeLoginAssertion(t.Context(), jti, exp)
		}()
	}
	close(start)
	accepted := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, identity.ErrConflict):
		default:
			t.Errorf("ConsumeLoginAssertion: %v, want nil or ErrConflict", err)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d concurrent calls accepted the assertion, want exactly 1", accepted, n)
	}
}

func testAssertionConsumeInvalid(t *testing.T, p identity.Provider) {
	h := hostedLogin(t, p)
	exp := time.Now().Add(identity.LoginAssertionTTL)
	RequireInvalid(t, h.ConsumeLoginAssertion(t.Context(), "", exp), "jti")
	RequireInvalid(t, h.ConsumeLoginAssertion(t.Context(), strings.Repeat("j", 129), exp), "jti")
	err := h.ConsumeLoginAssertion(t.Context(), "far-future", time.Now().Add(24*time.Hour))
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("an expiry a day ahead: %v, want ErrInvalidInput", err)
	}
	// Nothing was recorded for the refused calls.
	noErr(t, h.ConsumeLoginAssertion(t.Context(), "far-future", exp), "ConsumeLoginAssertion after a refusal")
}
