package directory_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
	"github.com/gatehouse-id/gatehouse/identity/store"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

const hlCallback = "https://api.example.com/login/callback"

// TestHostedLoginEndpoints: the allow-list, requests and assertions over
// HTTP, and that another application's key reaches none of them.
func TestHostedLoginEndpoints(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		h.post(h.appPath("redirectUris"), map[string]string{"uri": "HTTPS://API.example.com/login/callback"}).expect(201)
		h.post(h.appPath("redirectUris"), map[string]string{"uri": "http://evil.example.com/cb"}).expect(400)
		h.post(h.appPath("redirectUris"), map[string]any{"uri": hlCallback, "extra": 1}).expect(400)
		if n := h.get(h.appPath("redirectUris")).expect(200).Num("size"); n != 1 {
			t.Fatalf("allow-list size %v", n)
		}
		r := h.post(h.appPath("loginRequests"), map[string]string{"redirectUri": hlCallback, "state": "s1", "nonce": "n1"}).expect(201)
		var lr struct{ Request, JTI string }
		r.Decode(&lr)
		if token.ReadLoginRequestApplication(lr.Request) != h.appID {
			t.Errorf("the request does not name its application %s", h.appID)
		}
		h.post(h.appPath("loginRequests"), map[string]string{"redirectUri": "https://evil.example.com/cb", "state": "s", "nonce": "n"}).expect(400)
		h.post(h.appPath("loginRequestVerifications"), map[string]string{"request": lr.Request}).expect(200)
		h.post(h.appPath("loginRequestVerifications"), map[string]string{"request": lr.Request + "x"}).expect(400)
		acc := h.mustAccount("alice", "alice@example.com")
		h.post(h.appPath("loginAssertions"), map[string]string{"request": lr.Request, "accountId": acc.ID}).expect(201)
		h.post(h.appPath("loginAssertions"), map[string]string{"request": lr.Request, "accountId": "nope"}).expect(404)

		// Another application's key: not found, and nothing learnt.
		o := h.other
		for _, rq := range []req{
			{method: "GET", path: h.appPath("redirectUris")},
			{method: "POST", path: h.appPath("redirectUris"), body: map[string]string{"uri": "https://x.example.com/cb"}},
			{method: "DELETE", path: h.appPath("redirectUris") + "?uri=" + url.QueryEscape(hlCallback)},
			{method: "POST", path: h.appPath("loginRequests"), body: map[string]string{"redirectUri": hlCallback, "state": "s", "nonce": "n"}},
			{method: "POST", path: h.appPath("loginRequestVerifications"), body: map[string]string{"request": lr.Request}},
			{method: "POST", path: h.appPath("loginAssertions"), body: map[string]string{"request": lr.Request, "accountId": acc.ID}},
		} {
			if r := o.do(rq); r.Code != 404 {
				t.Errorf("%s %s with another application's key: %d", rq.method, rq.path, r.Code)
			}
		}
		// The other application cannot use the request either: its keys
		// do not verify it.
		o.post(o.appPath("loginRequestVerifications"), map[string]string{"request": lr.Request}).expect(400)

		h.del(h.appPath("redirectUris") + "?uri=" + url.QueryEscape(hlCallback)).expect(204)
		h.del(h.appPath("redirectUris") + "?uri=" + url.QueryEscape(hlCallback)).expect(404)
		h.post(h.appPath("loginRequestVerifications"), map[string]string{"request": lr.Request}).expect(400)
	})
}

// hostedAlice allows hlCallback for h's application and makes alice, with
// password pw, for the tests that log in at the pages.
func hostedAlice(t *testing.T, h *harness) *identity.Account {
	t.Helper()
	hl, _ := identity.FindHostedLogin(h.p)
	if _, err := hl.AddRedirectURI(context.Background(), hlCallback); err != nil {
		t.Fatal(err)
	}
	acc := h.mustAccount("alice", "alice@example.com")
	if _, err := h.p.UpdateAccount(context.Background(), acc.ID, identity.AccountUpdate{Password: ptr(pw)}); err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestHostedPagesServeEveryApplication: the directory's pages find the
// application a request names and verify it with that application's keys;
// naming another application in a request signed by the first fails.
func TestHostedPagesServeEveryApplication(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		hostedAlice(t, h)
		var lr struct{ Request string }
		h.post(h.appPath("loginRequests"), map[string]string{"redirectUri": hlCallback, "state": "s1", "nonce": "n1"}).expect(201).Decode(&lr)

		resp, err := c.Get(srv.URL + "/idsite/login?request=" + url.QueryEscape(lr.Request))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("login page: %d\n%s", resp.StatusCode, body)
		}
		if !strings.Contains(body, h.app) {
			t.Errorf("the page does not name the application %s", h.app)
		}
		resp, err = c.PostForm(srv.URL+"/idsite/login", url.Values{"csrf_token": {m[1]}, "request": {lr.Request}, "login": {"alice"}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), hlCallback+"?") {
			t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		jwks, _ := h.p.JWKS(ctx)
		keys, _ := token.ParseJWKS(jwks)
		settings, _ := h.p.TokenSettings(ctx)
		if _, err := token.NewVerifier(keys, settings.Issuer, settings.Audience, 0).VerifyLoginAssertion(loc.Query().Get("assertion"), time.Now()); err != nil {
			t.Fatalf("assertion: %v", err)
		}

		// A request signed by this application but naming the other one.
		sk := signingKeyOf(t, h)
		forged, err := token.SignLoginRequest(sk, token.LoginRequestClaims{ID: "f", Issuer: settings.Issuer, Audience: h.other.app, ApplicationID: h.other.appID,
			RedirectURI: hlCallback, State: "s", Nonce: "n", Path: "login", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = c.Get(srv.URL + "/idsite/login?request=" + url.QueryEscape(forged))
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not valid or has expired") {
			t.Fatalf("a request naming another application: %d\n%s", resp.StatusCode, body)
		}
		// And one naming no application at all.
		p2, err := c.Get(srv.URL + "/idsite/register?request=" + url.QueryEscape(strings.Replace(lr.Request, ".", "x.", 1)))
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, p2); p2.StatusCode != http.StatusBadRequest {
			t.Fatalf("a mangled request: %d", p2.StatusCode)
		}
	})
}

// TestHostedPagesRegulatePairs: Config.PageProvider wraps the pages'
// logins (here in a regulator with the pair limit on), and the client IP it
// counts under is the browser's, as Config.IPExtractor finds it: five wrong
// passwords for one login from one address refuse the sixth attempt from
// there, right password or not, with the throttled page; the same login
// from another address still gets in. Without an IPExtractor,
// X-Forwarded-For is not believed.
func TestHostedPagesRegulatePairs(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		hostedAlice(t, h)
		loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		t.Run("trusted proxy", func(t *testing.T) {
			wrapped := map[string]bool{}
			pages := pagesWithRegulation(t, h, api.IPExtractor(loopback), wrapped)
			lr := pages.loginRequest()
			const attacker, user = "203.0.113.7", "198.51.100.9"
			for i := range 5 {
				code, body, _ := pages.login(lr, attacker, "not the password")
				if code != http.StatusOK || !strings.Contains(body, "Login failed") {
					t.Fatalf("wrong password %d: %d\n%s", i+1, code, body)
				}
			}
			code, body, hdr := pages.login(lr, attacker, pw)
			if code != http.StatusTooManyRequests || !strings.Contains(body, "Try again later") {
				t.Fatalf("sixth attempt from %s: %d\n%s", attacker, code, body)
			}
			if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 1 {
				t.Errorf("Retry-After %q", hdr.Get("Retry-After"))
			}
			if code, body, hdr := pages.login(lr, user, pw); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), hlCallback+"?") {
				t.Fatalf("the same login from %s: %d %s\n%s", user, code, hdr.Get("Location"), body)
			}
			if !wrapped[h.appID] || len(wrapped) != 1 {
				t.Errorf("PageProvider called for %v; want only %s", wrapped, h.appID)
			}
		})
		t.Run("no IPExtractor", func(t *testing.T) {
			pages := pagesWithRegulation(t, h, nil, map[string]bool{})
			lr := pages.loginRequest()
			for i := range 5 {
				if code, body, _ := pages.login(lr, "203.0.113."+strconv.Itoa(i+1), "not the password"); code != http.StatusOK {
					t.Fatalf("wrong password %d: %d\n%s", i+1, code, body)
				}
			}
			// Every attempt came from the test's own address, whatever
			// X-Forwarded-For said.
			if code, body, _ := pages.login(lr, "198.51.100.9", pw); code != http.StatusTooManyRequests {
				t.Fatalf("X-Forwarded-For believed from an untrusted peer: %d\n%s", code, body)
			}
		})
	})
}

// regulatedPages is a directory over h's database whose pages' logins are
// regulated per login and client IP, served on loopback.
type regulatedPages struct {
	t   *testing.T
	h   *harness
	url string
	c   *http.Client
}

// pagesWithRegulation serves h's database in a directory whose
// PageProvider regulates pairs (5 failures an hour, no login-wide limit)
// and records the applications it was called for in wrapped.
func pagesWithRegulation(t *testing.T, h *harness, ipx echo.IPExtractor, wrapped map[string]bool) *regulatedPages {
	t.Helper()
	counters := regulate.NewMemory(regulate.MemoryConfig{})
	var mu sync.Mutex
	e := directory.New(directory.Config{
		PageProvider: func(appID string, p identity.Provider) identity.Provider {
			mu.Lock()
			wrapped[appID] = true
			mu.Unlock()
			return regulate.New(p, regulate.Config{PairMaxFailures: 5, PairWindow: time.Hour, AccountMaxFailures: -1, Namespace: appID + ":pages"}, counters)
		},
		IPExtractor: ipx,
	}, directory.SQLTenant(h.db, store.Options{Hasher: password.NewHasher(password.InsecureFastParams)}), nil)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &regulatedPages{t: t, h: h, url: srv.URL, c: c}
}

// loginRequest is a new login request of h's application.
func (p *regulatedPages) loginRequest() string {
	var lr struct{ Request string }
	p.h.post(p.h.appPath("loginRequests"), map[string]string{"redirectUri": hlCallback, "state": "s", "nonce": "n"}).expect(201).Decode(&lr)
	return lr.Request
}

// login fetches the login page and posts the form as alice, both through a
// proxy that says the browser is at ip.
func (p *regulatedPages) login(request, ip, password string) (int, string, http.Header) {
	p.t.Helper()
	send := func(method, path string, form url.Values) (*http.Response, string) {
		p.t.Helper()
		rq, err := http.NewRequest(method, p.url+path, strings.NewReader(form.Encode()))
		if err != nil {
			p.t.Fatal(err)
		}
		if form != nil {
			rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rq.Header.Set("X-Forwarded-For", ip)
		resp, err := p.c.Do(rq)
		if err != nil {
			p.t.Fatal(err)
		}
		return resp, readAll(p.t, resp)
	}
	resp, body := send(http.MethodGet, "/idsite/login?request="+url.QueryEscape(request), nil)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		p.t.Fatalf("login page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = send(http.MethodPost, "/idsite/login", url.Values{"csrf_token": {m[1]}, "request": {request}, "login": {"alice"}, "password": {password}})
	return resp.StatusCode, body, resp.Header
}

// signingKeyOf returns the current signing key of h's application, read
// from its database.
func signingKeyOf(t *testing.T, h *harness) token.SigningKey {
	t.Helper()
	recs, err := h.db.Backend(h.appID).SigningKeys(context.Background(), time.Now())
	if err != nil || len(recs) == 0 {
		t.Fatalf("SigningKeys: %v (%d)", err, len(recs))
	}
	priv, err := token.ParsePrivate(recs[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return token.SigningKey{ID: recs[0].ID, Private: priv, CreatedAt: recs[0].CreatedAt}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestPagesCookiesSecureUnderHTTPSBaseURL: behind a proxy that ends TLS the
// pages see plain HTTP, but an https directory.base_url makes their
// cookies Secure all the same; without it they are Secure only under TLS.
func TestPagesCookiesSecureUnderHTTPSBaseURL(t *testing.T) {
	for _, c := range []struct {
		base string
		want bool
	}{{"", false}, {"https://id.example.com", true}} {
		p := mock.New(mock.WithFastHashing())
		appID := ids.New()
		tenant := directory.StaticTenant(directory.Application{ID: appID, Name: "app"}, p, "gk_"+ids.New(), "gks_"+ids.RandomString(43))
		srv := httptest.NewServer(directory.New(directory.Config{BaseURL: c.base}, tenant, nil))
		defer srv.Close()
		if _, err := p.AddRedirectURI(t.Context(), hlCallback); err != nil {
			t.Fatal(err)
		}
		lr, err := p.NewLoginRequest(t.Context(), identity.LoginRequest{RedirectURI: hlCallback, State: "s", Nonce: "n", ApplicationID: appID})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Get(srv.URL + "/idsite/login?request=" + url.QueryEscape(lr.Value))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(resp.Cookies()) == 0 {
			t.Fatalf("base URL %q: no cookie (status %d)", c.base, resp.StatusCode)
		}
		for _, ck := range resp.Cookies() {
			if ck.Secure != c.want {
				t.Errorf("base URL %q: cookie %s Secure = %v, want %v", c.base, ck.Name, ck.Secure, c.want)
			}
		}
	}
}

// TestHostedPagesAcrossReplicas: two directory processes on one database
// behind a load balancer. With the same Config.PagesKey, a login form
// loaded from one is accepted by the other; with the default (a key per
// process), it is refused as a forged form, which is why replicas without
// a shared key need sticky sessions.
func TestHostedPagesAcrossReplicas(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		hostedAlice(t, h)
		shared := []byte("a pages key shared by the replicas, 32+ bytes")
		for _, tc := range []struct {
			name       string
			keyA, keyB []byte
			want       int
		}{
			{"shared key", shared, shared, http.StatusSeeOther},
			{"a key per process", nil, nil, http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				replica := func(key []byte) *httptest.Server {
					opts := store.Options{Hasher: password.NewHasher(password.InsecureFastParams)}
					srv := httptest.NewServer(directory.New(directory.Config{PagesKey: key}, directory.SQLTenant(h.db, opts), nil))
					t.Cleanup(srv.Close)
					return srv
				}
				a, b := replica(tc.keyA), replica(tc.keyB)
				var lr struct{ Request string }
				h.post(h.appPath("loginRequests"), map[string]string{"redirectUri": hlCallback, "state": "s", "nonce": "n"}).expect(201).Decode(&lr)
				jar, _ := cookiejar.New(nil)
				// One browser: the load balancer sends the GET to a, the
				// POST to b; cookies are per host name, and both are
				// 127.0.0.1.
				c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Get(a.URL + "/idsite/login?request=" + url.QueryEscape(lr.Request))
				if err != nil {
					t.Fatal(err)
				}
				m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp))
				if resp.StatusCode != 200 || m == nil {
					t.Fatalf("login page: %d", resp.StatusCode)
				}
				resp, err = c.PostForm(b.URL+"/idsite/login", url.Values{"csrf_token": {m[1]}, "request": {lr.Request}, "login": {"alice"}, "password": {pw}})
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
				if resp.StatusCode != tc.want {
					t.Fatalf("form from replica a posted to b: %d, want %d", resp.StatusCode, tc.want)
				}
			})
		}
	})
}
