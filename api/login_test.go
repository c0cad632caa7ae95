package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// keyedProvider is the mock with one more published signing key, which the
// tests sign hand-made assertions with.
type keyedProvider struct {
	*mock.Provider
	key token.SigningKey
}

func (k *keyedProvider) JWKS(ctx context.Context) ([]byte, error) {
	raw, err := k.Provider.JWKS(ctx)
	if err != nil {
		return nil, err
	}
	set, err := token.ParseJWKS(raw)
	if err != nil {
		return nil, err
	}
	set.Keys = append(set.Keys, token.PublicJWKS([]token.SigningKey{k.key}).Keys...)
	return json.Marshal(set)
}

func (k *keyedProvider) Unwrap() identity.Provider { return k.Provider }

type loginFixture struct {
	t     *testing.T
	p     *keyedProvider
	srv   *httptest.Server
	c     *http.Client
	alice *identity.Account
	now   atomic.Pointer[time.Time]
}

func newLoginFixture(t *testing.T) *loginFixture {
	t.Helper()
	key, err := token.GenerateKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &loginFixture{t: t, p: &keyedProvider{Provider: mock.New(mock.WithFastHashing()), key: key}}
	if f.alice, err = f.p.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	pages, err := idsite.New(idsite.Config{Resolve: func(context.Context, string) (identity.Provider, error) { return f.p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(nil)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.srv.Config.Handler = api.New(api.Config{
		Login: api.LoginConfig{PublicURL: f.srv.URL, Pages: pages, SessionTTL: 30 * time.Minute},
		Now: func() time.Time {
			if n := f.now.Load(); n != nil {
				return *n
			}
			return time.Now()
		},
	}, f.p, nil)
	if _, err := f.p.AddRedirectURI(t.Context(), f.srv.URL+api.CallbackPath); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	f.c = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
}

type reply struct {
	*http.Response
	body string
}

func (f *loginFixture) send(method, target string, form url.Values, header map[string]string) reply {
	f.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = f.srv.URL + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp, string(b)}
}

func (f *loginFixture) get(target string) reply { return f.send(http.MethodGet, target, nil, nil) }

// logout posts the logout form as the browser does from the /logout page.
func (f *loginFixture) logout(next string) reply {
	f.t.Helper()
	form := url.Values{}
	if next != "" {
		form.Set("next", next)
	}
	return f.send(http.MethodPost, "/logout", form, map[string]string{"Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"})
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// start runs GET /login and returns the pages' URL it redirects to and the
// login request it carries.
func (f *loginFixture) start(next string) (pagesURL, request string) {
	f.t.Helper()
	r := f.get("/login?next=" + url.QueryEscape(next))
	if r.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("GET /login: %d\n%s", r.StatusCode, r.body)
	}
	loc := r.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil {
		f.t.Fatal(err)
	}
	return loc, u.Query().Get("request")
}

var csrfInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginAtPages logs alice in at the pages and returns the callback URL
// they redirect to.
func (f *loginFixture) loginAtPages(pagesURL, request, password string) string {
	f.t.Helper()
	pg := f.get(pagesURL)
	m := csrfInPage.FindStringSubmatch(pg.body)
	if pg.StatusCode != http.StatusOK || m == nil {
		f.t.Fatalf("login page: %d\n%s", pg.StatusCode, pg.body)
	}
	r := f.send(http.MethodPost, "/idsite/login", url.Values{"csrf_token": {m[1]}, "request": {request}, "login": {"alice"}, "password": {password}}, nil)
	if r.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("POST login: %d\n%s", r.StatusCode, r.body)
	}
	return r.Header.Get("Location")
}

func TestHostedLoginFlow(t *testing.T) {
	f := newLoginFixture(t)
	if r := f.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("before login /api/me = %d", r.StatusCode)
	}
	r := f.get("/login?next=/api/me")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), f.srv.URL+"/idsite/login?request=") {
		t.Fatalf("GET /login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	lc := cookieNamed(r.Response, "gatehouse_login")
	if lc == nil || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/login" || lc.MaxAge <= 0 || lc.MaxAge > 600 || lc.Secure {
		t.Fatalf("login cookie %+v", lc)
	}
	u, _ := url.Parse(r.Header.Get("Location"))
	callback := f.loginAtPages(r.Header.Get("Location"), u.Query().Get("request"), alicePassword)
	if !strings.HasPrefix(callback, f.srv.URL+api.CallbackPath+"?") {
		t.Fatalf("pages redirected to %s", callback)
	}
	cb := f.get(callback)
	if cb.StatusCode != http.StatusSeeOther || cb.Header.Get("Location") != "/api/me" {
		t.Fatalf("callback: %d %s\n%s", cb.StatusCode, cb.Header.Get("Location"), cb.body)
	}
	sc := cookieNamed(cb.Response, api.SessionCookie)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" || sc.Secure || sc.MaxAge != 1800 {
		t.Fatalf("session cookie %+v", sc)
	}
	me := f.get("/api/me")
	if me.StatusCode != http.StatusOK || !strings.Contains(me.body, `"username":"alice"`) {
		t.Fatalf("/api/me with the session: %d\n%s", me.StatusCode, me.body)
	}
	// The same callback again: the login cookie is gone and the assertion
	// was used.
	if again := f.get(callback); again.StatusCode != http.StatusBadRequest || !strings.Contains(again.body, api.CodeLoginFailed) {
		t.Fatalf("callback replayed: %d\n%s", again.StatusCode, again.body)
	}
	lo := f.logout("/api/resource")
	if lo.StatusCode != http.StatusSeeOther || lo.Header.Get("Location") != "/api/resource" {
		t.Fatalf("logout: %d %s", lo.StatusCode, lo.Header.Get("Location"))
	}
	if c := cookieNamed(lo.Response, api.SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout did not delete the cookie: %+v", c)
	}
	// The token itself is revoked, not only the cookie deleted.
	f.c.Jar.SetCookies(mustURL(f.srv.URL), []*http.Cookie{{Name: api.SessionCookie, Value: sc.Value}})
	if r := f.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me with the logged-out token: %d", r.StatusCode)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// requestClaims reads a login request's claims without verifying them.
func requestClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoginCallbackChecks(t *testing.T) {
	f := newLoginFixture(t)
	callback := f.srv.URL + api.CallbackPath
	sign := func(c token.LoginAssertionClaims) string {
		raw, err := token.SignLoginAssertion(f.p.key, c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	access, err := f.p.IssueToken(t.Context(), f.alice.ID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *token.LoginAssertionClaims)
		raw    func(good string, request string) string
		state  func(state string) string
		ok     bool
	}{
		{name: "good", ok: true},
		{name: "wrong audience", mutate: func(c *token.LoginAssertionClaims) { c.Audience = "other-app" }},
		{name: "wrong issuer", mutate: func(c *token.LoginAssertionClaims) { c.Issuer = "someone" }},
		{name: "expired", mutate: func(c *token.LoginAssertionClaims) {
			c.IssuedAt, c.ExpiresAt = time.Now().Add(-5*time.Minute), time.Now().Add(-2*time.Minute)
		}},
		{name: "wrong state", mutate: func(c *token.LoginAssertionClaims) { c.State = "forged" }},
		{name: "wrong nonce", mutate: func(c *token.LoginAssertionClaims) { c.Nonce = "forged" }},
		{name: "wrong redirect", mutate: func(c *token.LoginAssertionClaims) { c.RedirectURI = "https://evil.example/cb" }},
		{name: "state in URL differs", state: func(string) string { return "forged" }},
		{name: "access token as assertion", raw: func(string, string) string { return access.Value }},
		{name: "request as assertion", raw: func(_, req string) string { return req }},
		{name: "tampered", raw: func(good, _ string) string { return good[:len(good)-4] + "AAAA" }},
		{name: "unknown key", raw: func(string, string) string {
			other, _ := token.GenerateKey(time.Now())
			raw, _ := token.SignLoginAssertion(other, token.LoginAssertionClaims{ID: "x", Issuer: "gatehouse", Audience: "gatehouse", Subject: f.alice.ID,
				RedirectURI: callback, State: "s", Nonce: "n", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)})
			return raw
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, req := f.start("/api/me")
			loginCookie := f.c.Jar.Cookies(mustURL(f.srv.URL + "/login"))[0]
			rc := requestClaims(t, req)
			now := time.Now().Truncate(time.Second)
			c := token.LoginAssertionClaims{ID: "jti-" + strings.ReplaceAll(tc.name, " ", "-"), Issuer: "gatehouse", Audience: "gatehouse", Subject: f.alice.ID,
				RedirectURI: rc["redirect_uri"].(string), State: rc["state"].(string), Nonce: rc["nonce"].(string),
				IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
			if tc.mutate != nil {
				tc.mutate(&c)
			}
			raw := sign(c)
			if tc.raw != nil {
				raw = tc.raw(raw, req)
			}
			state := rc["state"].(string)
			if tc.state != nil {
				state = tc.state(state)
			}
			r := f.get(callback + "?" + url.Values{"assertion": {raw}, "state": {state}}.Encode())
			if tc.ok {
				if r.StatusCode != http.StatusSeeOther || cookieNamed(r.Response, api.SessionCookie) == nil {
					t.Fatalf("good assertion: %d\n%s", r.StatusCode, r.body)
				}
				// Accepted once: the same assertion, with the same login
				// cookie put back.
				f.c.Jar.SetCookies(mustURL(f.srv.URL+"/login"), []*http.Cookie{loginCookie})
				checkLoginFailed(t, "replayed assertion", f.get(callback+"?"+url.Values{"assertion": {raw}, "state": {state}}.Encode()))
				return
			}
			checkLoginFailed(t, tc.name, r)
		})
	}
}

// checkLoginFailed checks that r is the one answer of every refused
// callback: 400 login_failed with the generic message, no session, and the
// login cookie deleted.
func checkLoginFailed(t *testing.T, name string, r reply) {
	t.Helper()
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, `"code":"login_failed"`) || cookieNamed(r.Response, api.SessionCookie) != nil {
		t.Fatalf("%s: %d\n%s", name, r.StatusCode, r.body)
	}
	if !strings.Contains(r.body, "The login could not be completed.") {
		t.Fatalf("%s: not the generic message:\n%s", name, r.body)
	}
	if c := cookieNamed(r.Response, "gatehouse_login"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("%s: the login cookie is not deleted: %+v", name, c)
	}
}

func TestReplayRefusedAcrossServers(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	callback := f.loginAtPages(pagesURL, req, alicePassword)
	// Another API server over the same provider: it did not see the first
	// acceptance, but the provider's revocation list did.
	other := httptest.NewServer(api.New(api.Config{Login: api.LoginConfig{PublicURL: f.srv.URL, PagesURL: f.srv.URL + "/idsite"}}, f.p, nil))
	defer other.Close()
	login := f.c.Jar.Cookies(mustURL(f.srv.URL + "/login"))
	if r := f.get(callback); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d\n%s", r.StatusCode, r.body)
	}
	req2, _ := http.NewRequest(http.MethodGet, other.URL+strings.TrimPrefix(callback, f.srv.URL), nil)
	for _, c := range login {
		req2.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkLoginFailed(t, "replay on another server", reply{resp, string(b)})
}

// TestReplayRaceAcrossServers: one assertion handed to several API servers
// over the same provider at the same moment starts exactly one session,
// however slow the provider.
func TestReplayRaceAcrossServers(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	callback := strings.TrimPrefix(f.loginAtPages(pagesURL, req, alicePassword), f.srv.URL)
	login := f.c.Jar.Cookies(mustURL(f.srv.URL + "/login"))
	const n = 8
	urls := []string{f.srv.URL}
	for range n - 1 {
		other := httptest.NewServer(api.New(api.Config{Login: api.LoginConfig{PublicURL: f.srv.URL, PagesURL: f.srv.URL + "/idsite"}}, f.p, nil))
		defer other.Close()
		urls = append(urls, other.URL)
	}
	// Slow calls to the provider widen any window between checking an
	// assertion and recording it.
	for _, op := range []mock.Op{mock.OpTokenRevoked, mock.OpRevokeToken, mock.OpConsumeLoginAssertion} {
		f.p.Delay(op, 50*time.Millisecond)
	}
	sessions := make(chan bool, n)
	start := make(chan struct{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range urls {
		go func() {
			r, _ := http.NewRequest(http.MethodGet, u+callback, nil)
			for _, c := range login {
				r.AddCookie(c)
			}
			<-start
			resp, err := noRedirect.Do(r)
			if err != nil {
				t.Error(err)
				sessions <- false
				return
			}
			resp.Body.Close()
			sessions <- resp.StatusCode == http.StatusSeeOther && cookieNamed(resp, api.SessionCookie) != nil
		}()
	}
	close(start)
	started := 0
	for range n {
		if <-sessions {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("%d of %d servers started a session with one assertion, want exactly 1", started, n)
	}
}

func TestLoginStartRefusals(t *testing.T) {
	f := newLoginFixture(t)
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "relative", "/a\r\nb"} {
		if r := f.get("/login?next=" + url.QueryEscape(next)); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, `"field":"next"`) {
			t.Errorf("next %q: %d\n%s", next, r.StatusCode, r.body)
		}
	}
	// The callback is not on the allow-list: NewLoginRequest refuses it.
	if err := f.p.RemoveRedirectURI(t.Context(), f.srv.URL+api.CallbackPath); err != nil {
		t.Fatal(err)
	}
	if r := f.get("/login"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, `"field":"redirect_uri"`) {
		t.Errorf("unlisted callback: %d\n%s", r.StatusCode, r.body)
	}
	// Without a public URL, hosted login is off.
	off := httptest.NewServer(api.New(api.Config{}, f.p, nil))
	defer off.Close()
	for _, path := range []string{"/login", "/login/callback"} {
		resp, err := http.Get(off.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without login.public_url: %d", path, resp.StatusCode)
		}
	}
}

func TestSecureCookiesForHTTPSPublicURL(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	if _, err := p.AddRedirectURI(t.Context(), "https://api.example.com/login/callback"); err != nil {
		t.Fatal(err)
	}
	e := api.New(api.Config{Login: api.LoginConfig{PublicURL: "https://api.example.com", PagesURL: "https://dir.example.com/idsite"}}, p, nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "https://dir.example.com/idsite/login?request=") {
		t.Fatalf("GET /login: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	c := cookieNamed(&http.Response{Header: rec.Header()}, "gatehouse_login")
	if c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("login cookie under an https public URL: %+v", c)
	}
}

func TestSessionCookieIsNotCSRFable(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	if r := f.get(f.loginAtPages(pagesURL, req, alicePassword)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	put := func(header map[string]string) reply {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/api/me/custom-data", strings.NewReader(`{"color":"blue"}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := f.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{resp, string(b)}
	}
	for name, h := range map[string]map[string]string{
		"no origin":          nil,
		"cross-site":         {"Sec-Fetch-Site": "cross-site"},
		"same-site":          {"Sec-Fetch-Site": "same-site"},
		"foreign origin":     {"Origin": "https://evil.example"},
		"null origin":        {"Origin": "null"},
		"sec-fetch wins":     {"Sec-Fetch-Site": "cross-site", "Origin": f.srv.URL},
		"origin other port":  {"Origin": strings.Replace(f.srv.URL, "127.0.0.1:", "127.0.0.1:1", 1)},
		"origin other https": {"Origin": strings.Replace(f.srv.URL, "http://", "https://", 1)},
	} {
		if r := put(h); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, `"code":"forbidden"`) {
			t.Errorf("%s: %d\n%s", name, r.StatusCode, r.body)
		}
	}
	cd, err := f.p.CustomData(t.Context(), f.alice.ID)
	if err != nil || len(cd) != 0 {
		t.Fatalf("a refused request changed custom data: %v %v", cd, err)
	}
	for name, h := range map[string]map[string]string{
		"same-origin": {"Sec-Fetch-Site": "same-origin"},
		"own origin":  {"Origin": f.srv.URL},
	} {
		if r := put(h); r.StatusCode != http.StatusOK {
			t.Errorf("%s: %d\n%s", name, r.StatusCode, r.body)
		}
	}
	// Reads need no origin; an Authorization header takes precedence over
	// the cookie (and is not subject to the origin check).
	if r := f.get("/api/me/custom-data"); r.StatusCode != http.StatusOK {
		t.Errorf("GET with the cookie: %d", r.StatusCode)
	}
	if r := put(map[string]string{"Authorization": basic("alice", alicePassword)}); r.StatusCode != http.StatusOK {
		t.Errorf("PUT with Basic and the cookie: %d", r.StatusCode)
	}
	if r := put(map[string]string{"Authorization": basic("alice", "wrong"), "Sec-Fetch-Site": "same-origin"}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad Basic with a good cookie: %d", r.StatusCode)
	}
	// A bad cookie is the generic 401.
	f.c.Jar.SetCookies(mustURL(f.srv.URL), []*http.Cookie{{Name: api.SessionCookie, Value: "garbage"}})
	if r := f.get("/api/me"); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Authentication failed") {
		t.Errorf("bad cookie: %d\n%s", r.StatusCode, r.body)
	}
}

// TestSessionFailuresLookLikeNoCredentials: a session cookie that is not a
// token, whose token was logged out, or whose account was disabled gets the
// answer of a request without credentials, and of a wrong password: the
// same status, headers and body.
func TestSessionFailuresLookLikeNoCredentials(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	r := f.get(f.loginAtPages(pagesURL, req, alicePassword))
	session := cookieNamed(r.Response, api.SessionCookie)
	if r.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("login: %d", r.StatusCode)
	}
	bob, err := f.p.CreateAccount(t.Context(), identity.AccountCreate{Username: "bob", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	bobToken, err := f.p.IssueToken(t.Context(), bob.ID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	disabled := identity.StatusDisabled
	if _, err := f.p.UpdateAccount(t.Context(), bob.ID, identity.AccountUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	see := func(cookie, auth string) exchange {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/me", nil)
		req.Header.Set("X-Request-Id", fixedRequestID)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		h := resp.Header.Clone()
		h.Del("Date")
		return exchange{status: resp.StatusCode, header: h, body: string(b)}
	}
	if ok := see(session.Value, ""); ok.status != http.StatusOK {
		t.Fatalf("the session: %s", ok)
	}
	if lo := f.logout(""); lo.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", lo.StatusCode)
	}
	ref := see("", "")
	if ref.status != http.StatusUnauthorized || len(ref.header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("no credentials: %s", ref)
	}
	for name, x := range map[string]exchange{
		"wrong password":          see("", basic("alice", "wrong")),
		"garbage cookie":          see("garbage", ""),
		"tampered token":          see(session.Value[:len(session.Value)-4]+"AAAA", ""),
		"logged-out session":      see(session.Value, ""),
		"session of disabled bob": see(bobToken.Value, ""),
	} {
		if !same(ref, x) {
			t.Errorf("%s answers differently from no credentials:\n%s\n%s", name, x, ref)
		}
	}
}

func TestSessionMethodIsReported(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	f.get(f.loginAtPages(pagesURL, req, alicePassword))
	// API key management needs a password or a token given explicitly.
	if r := f.send(http.MethodGet, "/api/me/api-keys", nil, nil); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "session") {
		t.Errorf("api-keys with a session: %d\n%s", r.StatusCode, r.body)
	}
}

func TestExpiredAssertionRefusedByClock(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, req := f.start("/")
	callback := f.loginAtPages(pagesURL, req, alicePassword)
	later := time.Now().Add(identity.LoginAssertionTTL + time.Minute)
	f.now.Store(&later)
	if r := f.get(callback); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("expired assertion: %d\n%s", r.StatusCode, r.body)
	}
}

// TestLogout: GET /logout changes nothing and shows a button that posts
// the logout; a logout posted from another site is refused with the
// session intact (no logout CSRF); posted from the page, it revokes the
// session and goes to next, or to a logged-out page rather than to "/",
// where the browser would meet a Basic challenge.
func TestLogout(t *testing.T) {
	f := newLoginFixture(t)
	pagesURL, request := f.start("/api/me")
	cb := f.get(strings.TrimPrefix(f.loginAtPages(pagesURL, request, alicePassword), f.srv.URL))
	session := cookieNamed(cb.Response, api.SessionCookie)
	if session == nil {
		t.Fatalf("no session after login: %d", cb.StatusCode)
	}
	stillIn := func(what string) {
		t.Helper()
		if me := f.get("/api/me"); me.StatusCode != http.StatusOK {
			t.Fatalf("%s: the session ended (%d)", what, me.StatusCode)
		}
	}

	page := f.get("/logout?next=/api/me%3Fa%3D%22%3E")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `<form method="post" action="/logout">`) ||
		!strings.Contains(page.body, `value="/api/me?a=&#34;&gt;"`) ||
		!strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || page.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("logout page: %d %v\n%s", page.StatusCode, page.Header, page.body)
	}
	stillIn("GET /logout")
	if bad := f.get("/logout?next=https://evil.example.com/"); bad.StatusCode != http.StatusBadRequest {
		t.Fatalf("logout page with an off-site next: %d", bad.StatusCode)
	}

	for name, h := range map[string]map[string]string{
		"cross-site":          {"Origin": "https://evil.example.com", "Sec-Fetch-Site": "cross-site"},
		"cross-site, old":     {"Origin": "https://evil.example.com"},
		"no origin":           {},
		"same-site, not self": {"Sec-Fetch-Site": "same-site"},
	} {
		r := f.send(http.MethodPost, "/logout", url.Values{}, h)
		if r.StatusCode != http.StatusForbidden || cookieNamed(r.Response, api.SessionCookie) != nil {
			t.Errorf("%s logout: %d, cookie %v", name, r.StatusCode, cookieNamed(r.Response, api.SessionCookie))
		}
		stillIn(name + " logout")
	}

	if bad := f.logout("//evil.example.com"); bad.StatusCode != http.StatusBadRequest {
		t.Fatalf("logout with an off-site next: %d", bad.StatusCode)
	}
	stillIn("a refused next")

	done := f.logout("")
	if done.StatusCode != http.StatusOK || !strings.Contains(done.body, "You are logged out") || !strings.Contains(done.body, `href="/login"`) {
		t.Fatalf("logout without next: %d\n%s", done.StatusCode, done.body)
	}
	if c := cookieNamed(done.Response, api.SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout did not delete the cookie: %+v", c)
	}
	f.c.Jar.SetCookies(mustURL(f.srv.URL), []*http.Cookie{{Name: api.SessionCookie, Value: session.Value}})
	if r := f.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me with the logged-out token: %d", r.StatusCode)
	}
}
