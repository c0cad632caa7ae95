package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

func TestNormalizeRedirectURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com/cb":                "https://app.example.com/cb",
		"HTTPS://App.Example.COM/cb":                "https://app.example.com/cb",
		"https://app.example.com:443/cb":            "https://app.example.com/cb",
		"https://app.example.com:8443/cb":           "https://app.example.com:8443/cb",
		"https://app.example.com":                   "https://app.example.com/",
		"https://app.example.com/cb?x=1&y=2":        "https://app.example.com/cb?x=1&y=2",
		"https://app.example.com/a%20b":             "https://app.example.com/a%20b",
		"http://localhost:5000/login/callback":      "http://localhost:5000/login/callback",
		"http://127.0.0.1:80/cb":                    "http://127.0.0.1/cb",
		"http://[::1]:8080/cb":                      "http://[::1]:8080/cb",
		"http://api.localhost/cb":                   "http://api.localhost/cb",
		"https://192.0.2.10/cb":                     "https://192.0.2.10/cb",
		"https://app.example.com/Case/Is/Kept.html": "https://app.example.com/Case/Is/Kept.html",
	} {
		got, err := identity.NormalizeRedirectURI(in)
		if err != nil || got != want {
			t.Errorf("NormalizeRedirectURI(%q) = %q, %v; want %q", in, got, err, want)
		}
		// Normalising is idempotent: the stored form matches itself.
		if again, err := identity.NormalizeRedirectURI(got); err != nil || again != got {
			t.Errorf("NormalizeRedirectURI(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
	for _, in := range []string{
		"", "cb", "/cb", "//app.example.com/cb", "app.example.com/cb",
		"ftp://app.example.com/cb", "javascript:alert(1)", "data:text/html,x", "mailto:a@example.com",
		"http://app.example.com/cb", "http://10.0.0.1/cb",
		"https://*.example.com/cb", "https://app.example.com/*",
		"https://user@app.example.com/cb", "https://user:pw@app.example.com/cb",
		"https://app.example.com/cb#x", "https://app.example.com/cb#",
		"https://app.example.com/../cb", "https://app.example.com/a/./cb", "https://app.example.com/a/%2e%2e/cb",
		"https://app.example.com\\evil.example/cb", "https://app.example.com/ cb", "https://app.example.com/\tcb",
		"https://app.example.com:0/cb", "https://app.example.com:65536/cb", "https://app.example.com:x/cb",
		"https://-bad.example.com/cb", "https://bad_host.example.com/cb", "https:///cb",
		"https://app.example.com/" + strings.Repeat("x", identity.MaxRedirectURILength),
		"https://app.example.com/\xff",
	} {
		_, err := identity.NormalizeRedirectURI(in)
		if !errors.Is(err, identity.ErrInvalidInput) || identity.ErrorField(err) != "redirect_uri" {
			t.Errorf("NormalizeRedirectURI(%q) = %v, want invalid redirect_uri", in, err)
		}
	}
}

func TestRedirectOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com/cb?x=1":   "https://app.example.com",
		"http://127.0.0.1:5000/cb":         "http://127.0.0.1:5000",
		"http://[::1]:8080/login/callback": "http://[::1]:8080",
		"/relative":                        "",
		"":                                 "",
	} {
		if got := identity.RedirectOrigin(in); got != want {
			t.Errorf("RedirectOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckLoginValue(t *testing.T) {
	for _, ok := range []string{"a", "state-123_~.!", strings.Repeat("s", 256)} {
		if err := identity.CheckLoginValue("state", ok); err != nil {
			t.Errorf("CheckLoginValue(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a b", "tab\t", "é", strings.Repeat("s", 257), "nul\x00"} {
		if err := identity.CheckLoginValue("nonce", bad); identity.ErrorField(err) != "nonce" {
			t.Errorf("CheckLoginValue(%q) = %v, want invalid nonce", bad, err)
		}
	}
}

func TestCheckLoginPath(t *testing.T) {
	if p, err := identity.CheckLoginPath(""); err != nil || p != identity.LoginPathLogin {
		t.Errorf("CheckLoginPath(\"\") = %q, %v", p, err)
	}
	if p, err := identity.CheckLoginPath(identity.LoginPathRegister); err != nil || p != identity.LoginPathRegister {
		t.Errorf("CheckLoginPath(register) = %q, %v", p, err)
	}
	if _, err := identity.CheckLoginPath("admin"); identity.ErrorField(err) != "path" {
		t.Errorf("CheckLoginPath(admin) = %v", err)
	}
}

// wrapper is a decorator: it hides the methods of what it wraps but the
// Provider's, and unwraps to it.
type wrapper struct {
	identity.Provider
	inner identity.Provider
}

func (w wrapper) Unwrap() identity.Provider { return w.inner }

func TestFindHostedLoginLooksThroughDecorators(t *testing.T) {
	if _, ok := identity.FindHostedLogin(nil); ok {
		t.Error("found a HostedLogin in nil")
	}
	var plain identity.Provider = wrapper{}
	if _, ok := identity.FindHostedLogin(plain); ok {
		t.Error("found a HostedLogin in a provider without one")
	}
	m := mock.New()
	w := wrapper{Provider: m, inner: wrapper{Provider: m, inner: m}}
	if _, ok := any(w).(identity.HostedLogin); ok {
		t.Fatal("the wrapper itself implements HostedLogin; the test proves nothing")
	}
	h, ok := identity.FindHostedLogin(w)
	if !ok || h != identity.HostedLogin(m) {
		t.Errorf("FindHostedLogin through two decorators = %v, %v; want the mock", h, ok)
	}
}
