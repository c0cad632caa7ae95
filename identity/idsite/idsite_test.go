package idsite_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

const callback = "http://127.0.0.1:9999/login/callback"

type fixture struct {
	t   *testing.T
	p   *mock.Provider
	srv *httptest.Server
	c   *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := mock.New(mock.WithFastHashing())
	if _, err := p.AddRedirectURI(t.Context(), callback); err != nil {
		t.Fatal(err)
	}
	h, err := idsite.New(idsite.Config{Resolve: func(_ context.Context, appID string) (identity.Provider, error) {
		if appID != "" {
			return nil, identity.NotFound("application")
		}
		return p, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &fixture{t: t, p: p, srv: srv, c: c}
}

func (f *fixture) request(state, nonce string) string {
	f.t.Helper()
	r, err := f.p.NewLoginRequest(f.t.Context(), identity.LoginRequest{RedirectURI: callback, State: state, Nonce: nonce})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Value
}

type answer struct {
	*http.Response
	body string
}

func (f *fixture) get(path string) answer {
	f.t.Helper()
	resp, err := f.c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	return read(f.t, resp)
}

func (f *fixture) post(path string, form url.Values) answer {
	f.t.Helper()
	resp, err := f.c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	return read(f.t, resp)
}

func read(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp, string(b)}
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, a answer) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", a.body)
	}
	return m[1]
}

// loginForm loads the login page and returns the form to post.
func (f *fixture) loginForm(login, password string) url.Values {
	f.t.Helper()
	req := f.request("state-1", "nonce-1")
	pg := f.get("/idsite/login?request=" + url.QueryEscape(req))
	if pg.StatusCode != http.StatusOK {
		f.t.Fatalf("login page: %d\n%s", pg.StatusCode, pg.body)
	}
	return url.Values{"csrf_token": {csrfOf(f.t, pg)}, "request": {req}, "login": {login}, "password": {password}}
}

func requireSecurityHeaders(t *testing.T, a answer) {
	t.Helper()
	h := a.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows scripts or unsafe sources", csp)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/idsite/login?request=" + url.QueryEscape(f.request("s", "n")),
		"/idsite/login?request=garbage",
		"/idsite/login",
		"/idsite/register?request=" + url.QueryEscape(f.request("s", "n")),
		"/idsite/password/forgot",
		"/idsite/password/change",
		"/idsite/nope",
		"/idsite/style.css",
	} {
		t.Run(path, func(t *testing.T) { requireSecurityHeaders(t, f.get(path)) })
	}
	requireSecurityHeaders(t, f.post("/idsite/login", url.Values{}))
}

func TestLoginPageIsAccessible(t *testing.T) {
	f := newFixture(t)
	pg := f.get("/idsite/login?request=" + url.QueryEscape(f.request("s", "n")))
	if pg.StatusCode != http.StatusOK || !strings.HasPrefix(pg.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page: %d %s", pg.StatusCode, pg.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<label for="login">`, `id="login" name="login"`, `autocomplete="username"`,
		`<label for="password">`, `autocomplete="current-password"`,
		`<button type="submit">Log in</button>`,
		`/idsite/password/forgot`, `/idsite/register?request=`,
	} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(pg.body, "<script") {
		t.Error("the login page has a script")
	}
	// Forms may lead to the verified redirect URI's origin, and only there.
	if csp := pg.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9999;") {
		t.Errorf("CSP %q does not allow the redirect origin in form-action", csp)
	}
}

func TestInvalidRequestRefused(t *testing.T) {
	f := newFixture(t)
	req := f.request("s", "n")
	parts := strings.Split(req, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	for _, raw := range []string{"", "garbage", tampered, req[:len(req)-2]} {
		pg := f.get("/idsite/login?request=" + url.QueryEscape(raw))
		if pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "not valid or has expired") {
			t.Errorf("request %q: %d\n%s", raw, pg.StatusCode, pg.body)
		}
		if csp := pg.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
			t.Errorf("an unverified request widened form-action: %q", csp)
		}
	}
	// A request naming an application the pages do not serve.
	other, err := token.GenerateKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := token.SignLoginRequest(other, token.LoginRequestClaims{ID: "x", Issuer: "gatehouse", Audience: "gatehouse", ApplicationID: "elsewhere",
		RedirectURI: "https://evil.example/cb", State: "s", Nonce: "n", Path: "login", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if pg := f.get("/idsite/login?request=" + url.QueryEscape(forged)); pg.StatusCode != http.StatusBadRequest {
		t.Errorf("request for an unknown application: %d", pg.StatusCode)
	}
	// A request signed by a foreign key for this application.
	forged, _ = token.SignLoginRequest(other, token.LoginRequestClaims{ID: "x", Issuer: "gatehouse", Audience: "gatehouse",
		RedirectURI: "https://evil.example/cb", State: "s", Nonce: "n", Path: "login", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)})
	if pg := f.get("/idsite/login?request=" + url.QueryEscape(forged)); pg.StatusCode != http.StatusBadRequest || strings.Contains(pg.body, "evil.example") {
		t.Errorf("request signed by a foreign key: %d\n%s", pg.StatusCode, pg.body)
	}
}

func TestLoginSuccessRedirectsWithAssertion(t *testing.T) {
	f := newFixture(t)
	acc := identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "alice", Email: "alice@example.com", Password: identitytest.Password})
	form := f.loginForm("ALICE@example.com", identitytest.Password)
	a := f.post("/idsite/login", form)
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", a.StatusCode, a.body)
	}
	loc, err := url.Parse(a.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		t.Fatalf("redirected to %s, want %s", got, callback)
	}
	if loc.Query().Get("state") != "state-1" {
		t.Errorf("state = %q, want state-1", loc.Query().Get("state"))
	}
	raw, err := f.p.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := token.ParseJWKS(raw)
	claims, err := token.NewVerifier(keys, "gatehouse", "gatehouse", 0).VerifyLoginAssertion(loc.Query().Get("assertion"), time.Now())
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if claims.Subject != acc.ID || claims.Nonce != "nonce-1" || claims.State != "state-1" {
		t.Errorf("assertion claims %+v", claims)
	}
	// The page session cookie: HttpOnly, SameSite=Lax, host-only, scoped.
	var session *http.Cookie
	for _, c := range a.Cookies() {
		if c.Name == "gatehouse_idsite_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no page session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Domain != "" || session.Path != "/idsite/" || session.MaxAge <= 0 {
		t.Errorf("session cookie %+v", session)
	}
}

func TestFailedLoginsLookTheSame(t *testing.T) {
	f := newFixture(t)
	identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "alice", Password: identitytest.Password})
	disabled := identity.StatusDisabled
	identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "dora", Password: identitytest.Password, Status: disabled})
	var bodies []string
	for _, c := range [][2]string{{"alice", "wrong password!!"}, {"nobody", identitytest.Password}, {"dora", identitytest.Password}, {"alice", ""}} {
		a := f.post("/idsite/login", f.loginForm(c[0], c[1]))
		if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Login failed: the username or email and password do not match") {
			t.Fatalf("%s: %d\n%s", c[0], a.StatusCode, a.body)
		}
		if !strings.Contains(a.body, `aria-describedby="form-error"`) || !strings.Contains(a.body, `role="alert"`) {
			t.Errorf("%s: the error is not tied to the inputs", c[0])
		}
		// The page differs only in the echoed login and the token.
		b := csrfRe.ReplaceAllString(a.body, "")
		b = regexp.MustCompile(`name="request" value="[^"]+"|\?request=[^"]+|value="`+c[0]+`"`).ReplaceAllString(b, "")
		bodies = append(bodies, b)
	}
	for i := 1; i < len(bodies); i++ {
		if bodies[i] != bodies[0] {
			t.Errorf("failed login page %d differs from the first:\n%s\n---\n%s", i, bodies[i], bodies[0])
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "alice", Password: identitytest.Password})
	form := f.loginForm("alice", identitytest.Password)

	noToken := url.Values{"request": form["request"], "login": form["login"], "password": form["password"]}
	if a := f.post("/idsite/login", noToken); a.StatusCode != http.StatusForbidden || !strings.Contains(a.body, "Form refused") {
		t.Errorf("without token: %d\n%s", a.StatusCode, a.body)
	}
	wrong := url.Values{"csrf_token": {"AAAA" + form.Get("csrf_token")[4:]}, "request": form["request"], "login": form["login"], "password": form["password"]}
	if a := f.post("/idsite/login", wrong); a.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: %d", a.StatusCode)
	}
	// The right token without its cookie (another browser).
	jar, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar, CheckRedirect: f.c.CheckRedirect}
	resp, err := other.PostForm(f.srv.URL+"/idsite/login", form)
	if err != nil {
		t.Fatal(err)
	}
	if a := read(t, resp); a.StatusCode != http.StatusForbidden {
		t.Errorf("token without cookie: %d", a.StatusCode)
	}
	for _, path := range []string{"/idsite/register", "/idsite/password/change"} {
		if a := f.post(path, url.Values{}); a.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without token: %d", path, a.StatusCode)
		}
	}
	if f.p.Calls(mock.OpAuthenticate) != 0 {
		t.Errorf("refused forms reached Authenticate %d times", f.p.Calls(mock.OpAuthenticate))
	}
	if a := f.post("/idsite/login", form); a.StatusCode != http.StatusSeeOther {
		t.Errorf("with token: %d", a.StatusCode)
	}
}

func TestThrottledAndUnavailable(t *testing.T) {
	f := newFixture(t)
	form := f.loginForm("alice", identitytest.Password)
	f.p.Fail(mock.OpAuthenticate, identity.Throttled(42*time.Second))
	a := f.post("/idsite/login", form)
	if a.StatusCode != http.StatusTooManyRequests || a.Header.Get("Retry-After") != "42" || !strings.Contains(a.body, "try again later") {
		t.Errorf("throttled: %d Retry-After %q\n%s", a.StatusCode, a.Header.Get("Retry-After"), a.body)
	}
	f.p.Fail(mock.OpAuthenticate, identity.Unavailable(errors.New("down")))
	a = f.post("/idsite/login", form)
	if a.StatusCode != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Errorf("unavailable: %d Retry-After %q", a.StatusCode, a.Header.Get("Retry-After"))
	}
	f.p.Fail(mock.OpAuthenticate, errors.New("internal detail xyz"))
	a = f.post("/idsite/login", form)
	if a.StatusCode != http.StatusInternalServerError || strings.Contains(a.body, "xyz") {
		t.Errorf("internal: %d\n%s", a.StatusCode, a.body)
	}
}

func TestLoginUsesClientIP(t *testing.T) {
	f := newFixture(t)
	var seen string
	ip := &ipProvider{Provider: f.p, seen: &seen}
	h, err := idsite.New(idsite.Config{Resolve: func(context.Context, string) (identity.Provider, error) { return ip, nil }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Config.Handler = h
	f.post("/idsite/login", f.loginForm("alice", "whatever password"))
	if seen != "127.0.0.1" {
		t.Errorf("Authenticate saw client IP %q, want 127.0.0.1", seen)
	}
}

type ipProvider struct {
	*mock.Provider
	seen *string
}

func (p *ipProvider) Authenticate(ctx context.Context, login, pw string) (*identity.Account, error) {
	*p.seen = identity.ClientIP(ctx)
	return p.Provider.Authenticate(ctx, login, pw)
}

func (p *ipProvider) Unwrap() identity.Provider { return p.Provider }

func TestRegister(t *testing.T) {
	f := newFixture(t)
	identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "taken", Password: identitytest.Password})
	req := f.request("s", "n")
	pg := f.get("/idsite/register?request=" + url.QueryEscape(req))
	if pg.StatusCode != http.StatusOK {
		t.Fatalf("register page: %d", pg.StatusCode)
	}
	for _, want := range []string{`autocomplete="new-password"`, `autocomplete="email"`, `autocomplete="given-name"`, `autocomplete="family-name"`, `<label for="username">`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("register page lacks %q", want)
		}
	}
	form := url.Values{"csrf_token": {csrfOf(t, pg)}, "request": {req}, "username": {"newbie"}, "email": {"newbie@example.com"}, "password": {"short"}}
	a := f.post("/idsite/register", form)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `aria-describedby="password-error"`) || !strings.Contains(a.body, `value="newbie@example.com"`) {
		t.Fatalf("short password: %d\n%s", a.StatusCode, a.body)
	}
	form.Set("username", "Taken")
	form.Set("password", identitytest.Password)
	if a := f.post("/idsite/register", form); a.StatusCode != http.StatusConflict || !strings.Contains(a.body, "This username is already in use.") {
		t.Fatalf("taken username: %d\n%s", a.StatusCode, a.body)
	}
	form.Set("username", "newbie")
	a = f.post("/idsite/register", form)
	if a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(a.Header.Get("Location"), "/idsite/login?") {
		t.Fatalf("register: %d %s\n%s", a.StatusCode, a.Header.Get("Location"), a.body)
	}
	if _, err := f.p.Authenticate(t.Context(), "newbie", identitytest.Password); err != nil {
		t.Fatalf("the new account cannot log in: %v", err)
	}
	if pg := f.get(a.Header.Get("Location")); !strings.Contains(pg.body, "Your account was created") {
		t.Errorf("no notice after registration:\n%s", pg.body)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	identitytest.MustCreate(t, f.p, identity.AccountCreate{Username: "alice", Password: identitytest.Password})
	if pg := f.get("/idsite/password/change"); pg.StatusCode != http.StatusUnauthorized || strings.Contains(pg.body, "<form") {
		t.Fatalf("change page without a login: %d", pg.StatusCode)
	}
	if a := f.post("/idsite/login", f.loginForm("alice", identitytest.Password)); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", a.StatusCode)
	}
	pg := f.get("/idsite/password/change")
	if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, "alice") || !strings.Contains(pg.body, `autocomplete="current-password"`) {
		t.Fatalf("change page: %d\n%s", pg.StatusCode, pg.body)
	}
	token := csrfOf(t, pg)
	a := f.post("/idsite/password/change", url.Values{"csrf_token": {token}, "current_password": {"not the password"}, "new_password": {"a brand new passphrase"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "The current password is not correct.") {
		t.Fatalf("wrong current password: %d\n%s", a.StatusCode, a.body)
	}
	a = f.post("/idsite/password/change", url.Values{"csrf_token": {token}, "current_password": {identitytest.Password}, "new_password": {"short"}})
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `aria-describedby="new_password-error"`) {
		t.Fatalf("short new password: %d\n%s", a.StatusCode, a.body)
	}
	a = f.post("/idsite/password/change", url.Values{"csrf_token": {token}, "current_password": {identitytest.Password}, "new_password": {"a brand new passphrase"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Password changed") {
		t.Fatalf("change: %d\n%s", a.StatusCode, a.body)
	}
	if _, err := f.p.Authenticate(t.Context(), "alice", "a brand new passphrase"); err != nil {
		t.Fatalf("new password does not work: %v", err)
	}
	// Logging out is the page's button: a POST with the CSRF token. A GET,
	// or a POST without the token (another site's form), changes nothing.
	if a := f.get("/idsite/logout"); a.StatusCode == http.StatusOK {
		t.Errorf("GET /idsite/logout: %d", a.StatusCode)
	}
	if a := f.post("/idsite/logout", url.Values{}); a.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d", a.StatusCode)
	}
	pg = f.get("/idsite/password/change")
	if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, `action="/idsite/logout"`) {
		t.Fatalf("change page after refused logouts: %d\n%s", pg.StatusCode, pg.body)
	}
	if a := f.post("/idsite/logout", url.Values{"csrf_token": {csrfOf(t, pg)}}); a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Logged out") {
		t.Fatalf("logout: %d\n%s", a.StatusCode, a.body)
	}
	if pg := f.get("/idsite/password/change"); pg.StatusCode != http.StatusUnauthorized {
		t.Errorf("change page after logout: %d", pg.StatusCode)
	}
}

func TestForgotPasswordSaysNoEmail(t *testing.T) {
	f := newFixture(t)
	pg := f.get("/idsite/password/forgot")
	if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, "does not send e-mail") || !strings.Contains(pg.body, "operator") {
		t.Fatalf("forgot page: %d\n%s", pg.StatusCode, pg.body)
	}
}

func TestNewNeedsResolveAndKey(t *testing.T) {
	if _, err := idsite.New(idsite.Config{}); err == nil {
		t.Error("New without Resolve succeeded")
	}
	resolve := func(context.Context, string) (identity.Provider, error) { return nil, nil }
	if _, err := idsite.New(idsite.Config{Resolve: resolve, Key: []byte("short")}); err == nil {
		t.Error("New with a short key succeeded")
	}
}

// TestSecureCookies: the pages' cookies are Secure with
// Config.SecureCookies even when the request came over plain HTTP (TLS
// ended at a proxy), and, without it, only when the request came over TLS.
func TestSecureCookies(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	if _, err := p.AddRedirectURI(t.Context(), callback); err != nil {
		t.Fatal(err)
	}
	resolve := func(context.Context, string) (identity.Provider, error) { return p, nil }
	for _, c := range []struct {
		name   string
		secure bool
		tls    bool
		want   bool
	}{
		{"plain HTTP", false, false, false},
		{"plain HTTP behind a TLS proxy", true, false, true},
		{"TLS", false, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := idsite.New(idsite.Config{Resolve: resolve, SecureCookies: c.secure})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(h)
			if c.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			req, err := p.NewLoginRequest(t.Context(), identity.LoginRequest{RedirectURI: callback, State: "s", Nonce: "n"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(srv.URL + "/idsite/login?request=" + url.QueryEscape(req.Value))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookies := resp.Cookies()
			if len(cookies) == 0 {
				t.Fatalf("no cookie set (status %d)", resp.StatusCode)
			}
			for _, ck := range cookies {
				if ck.Secure != c.want {
					t.Errorf("cookie %s: Secure = %v, want %v", ck.Name, ck.Secure, c.want)
				}
			}
		})
	}
}
