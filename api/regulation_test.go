package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// regulated is an API server over a regulated mock provider, with the
// networks 10.0.0.0/8 and 2001:db8:ffff::/48 as trusted proxies, and a
// route that shows the client IP the provider would see.
func regulated(t *testing.T) (*echo.Echo, *mock.Provider) {
	t.Helper()
	p := mock.New(mock.WithFastHashing())
	if _, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	e := api.New(api.Config{
		Realm:          "test",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")},
	}, regulate.New(p, regulate.Config{}, nil), nil)
	e.GET("/test/ip", func(c echo.Context) error {
		return c.String(http.StatusOK, identity.ClientIP(c.Request().Context()))
	})
	return e, p
}

func serve(e *echo.Echo, req *http.Request, peer string, xff ...string) *httptest.ResponseRecorder {
	req.RemoteAddr = peer
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// TestClientIP: X-Forwarded-For counts only from a trusted proxy, and then
// as its nearest untrusted address.
func TestClientIP(t *testing.T) {
	e, _ := regulated(t)
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"loopback is not trusted unless listed", "127.0.0.1:4000", []string{"198.51.100.1"}, "127.0.0.1"},
		{"private networks are not trusted unless listed", "192.168.1.10:4000", []string{"198.51.100.1"}, "192.168.1.10"},
		{"link-local is not trusted unless listed", "[fe80::1]:4000", []string{"198.51.100.1"}, "fe80::1"},
		{"trusted proxy", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"client's own header through the proxy", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"several header lines", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"IPv6 trusted proxy", "[2001:db8:ffff:1::1]:4000", []string{"2001:db8:1::7"}, "2001:db8:1::7"},
		{"IPv6 outside the trusted range", "[2001:db8:fffe::1]:4000", []string{"2001:db8:1::7"}, "2001:db8:fffe::1"},
		{"trusted proxy without a header", "10.1.2.3:4000", nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(e, httptest.NewRequest(http.MethodGet, "/test/ip", nil), tt.peer, tt.xff...)
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("client IP %q (%d), want %q", rec.Body, rec.Code, tt.want)
			}
		})
	}

	// Without trusted proxies, no header counts, whoever the peer is.
	plain := api.New(api.Config{}, mock.New(), nil)
	plain.GET("/test/ip", func(c echo.Context) error {
		return c.String(http.StatusOK, identity.ClientIP(c.Request().Context()))
	})
	for _, peer := range []string{"127.0.0.1:1", "10.1.2.3:1", "203.0.113.5:1"} {
		rec := serve(plain, httptest.NewRequest(http.MethodGet, "/test/ip", nil), peer, "198.51.100.1")
		if want, _, _ := strings.Cut(peer, ":"); rec.Body.String() != want {
			t.Errorf("no trusted proxies, peer %s: client IP %q", peer, rec.Body)
		}
	}
}

// TestRegulationBehindProxies: a client rotating X-Forwarded-For values
// from an untrusted address is still one client to regulation; clients
// behind a trusted proxy are told apart.
func TestRegulationBehindProxies(t *testing.T) {
	e, p := regulated(t)
	login := func(peer, xff string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", basic("alice", "wrong password"))
		return serve(e, req, peer, xff)
	}
	for i := 0; i < 5; i++ {
		check(t, login("203.0.113.5:4000", fmt.Sprintf("198.51.100.%d", i)), expect{status: 401})
	}
	rec := login("203.0.113.5:4000", "198.51.100.99")
	check(t, rec, expect{status: 429, code: "throttled", header: map[string]string{
		"Retry-After": "300", "Cache-Control": "no-store", "Content-Type": "application/problem+json",
	}})
	if p.Calls(mock.OpAuthenticate) != 5 {
		t.Errorf("provider calls %d, want 5", p.Calls(mock.OpAuthenticate))
	}

	// Behind the trusted proxy, ten clients each fail once: nobody is
	// throttled.
	for i := 0; i < 10; i++ {
		check(t, login("10.0.0.1:4000", fmt.Sprintf("192.0.2.%d", i)), expect{status: 401})
	}
}

// TestThrottledLooksTheSame: a throttled unknown login and a throttled
// existing one get the same answer, on the protected routes and on the
// password grant.
func TestThrottledLooksTheSame(t *testing.T) {
	answer := func(login string) []string {
		e, _ := regulated(t)
		var out []string
		for i := 0; i < 6; i++ {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", basic(login, "wrong password"))
			rec := serve(e, req, "203.0.113.5:4000")
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			delete(body, "request_id")
			out = append(out, fmt.Sprint(rec.Code, rec.Header().Get("Retry-After"), body))
		}
		return out
	}
	known, unknown := answer("alice"), answer("nobody")
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("existing login:\n%v\nunknown login:\n%v", known, unknown)
	}
}

// TestOAuthPasswordGrantThrottled: the password grant answers 429,
// slow_down, with Retry-After and no-store, in RFC 6749's error shape.
func TestOAuthPasswordGrantThrottled(t *testing.T) {
	e, p := regulated(t)
	grant := func(password string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(
			url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(e, req, "203.0.113.5:4000")
	}
	for i := 0; i < 5; i++ {
		check(t, grant("wrong password"), expect{status: 400, code: "invalid_grant"})
	}
	rec := grant(alicePassword)
	check(t, rec, expect{status: 429, code: "slow_down", header: map[string]string{
		"Retry-After": "300", "Cache-Control": "no-store", "Pragma": "no-cache",
	}})
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error_description"] == "" || len(body) != 2 {
		t.Errorf("body %s", rec.Body)
	}
	if p.Calls(mock.OpAuthenticate) != 5 {
		t.Errorf("provider calls %d, want 5", p.Calls(mock.OpAuthenticate))
	}

	// A throttle from further down (the directory) answers the same way.
	p2 := mock.New(mock.WithFastHashing())
	p2.Fail(mock.OpAuthenticate, identity.Throttled(42*time.Second))
	e2 := api.New(api.Config{}, p2, nil)
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=password&username=a&password=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	check(t, serve(e2, req, "203.0.113.5:4000"), expect{status: 429, code: "slow_down", header: map[string]string{"Retry-After": "42"}})
}

// TestAuthMiddlewareSetsClientIP: api.Auth on an application's own Echo,
// without the ClientIP middleware, still hands regulation the peer's
// address, and never an X-Forwarded-For the client chose.
func TestAuthMiddlewareSetsClientIP(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	if _, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	reg := regulate.New(p, regulate.Config{}, nil)
	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	e.GET("/hello", func(c echo.Context) error { return c.String(http.StatusOK, "hello") }, api.Auth(reg))
	for i := 0; i < 6; i++ {
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		req.Header.Set("Authorization", basic("alice", "wrong password"))
		rec := serve(e, req, "203.0.113.5:4000", fmt.Sprintf("198.51.100.%d", i))
		want := http.StatusUnauthorized
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, rec.Code, want)
		}
	}
}
