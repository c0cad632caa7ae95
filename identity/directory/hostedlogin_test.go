package directory_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
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
		hl, _ := identity.FindHostedLogin(h.p)
		if _, err := hl.AddRedirectURI(ctx, hlCallback); err != nil {
			t.Fatal(err)
		}
		acc := h.mustAccount("alice", "alice@example.com")
		if _, err := h.p.UpdateAccount(ctx, acc.ID, identity.AccountUpdate{Password: ptr(pw)}); err != nil {
			t.Fatal(err)
		}
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
