package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// TestLocalPagesCookiesFollowTheirURL: the pages a local API server serves
// itself mark their cookies Secure when their public address is https,
// although the request reaching them (from a proxy that ends TLS) is plain
// HTTP; under an http address they do not.
func TestLocalPagesCookiesFollowTheirURL(t *testing.T) {
	for _, c := range []struct {
		public string
		want   bool
	}{{"http://127.0.0.1:5000", false}, {"https://api.example.com", true}} {
		cfg, err := load(t, "", env{"GATEHOUSE_LOGIN_PUBLIC_URL": c.public})
		if err != nil {
			t.Fatal(err)
		}
		p := mock.New(mock.WithFastHashing())
		lc, err := hostedLogin(context.Background(), cfg, p, slog.New(slog.DiscardHandler))
		if err != nil || lc.Pages == nil {
			t.Fatalf("%s: hostedLogin: %v (pages %v)", c.public, err, lc.Pages)
		}
		srv := httptest.NewServer(lc.Pages)
		defer srv.Close()
		lr, err := p.NewLoginRequest(t.Context(), identity.LoginRequest{RedirectURI: c.public + "/login/callback", State: "s", Nonce: "n"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Get(srv.URL + idsite.DefaultPrefix + "/login?request=" + url.QueryEscape(lr.Value))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(resp.Cookies()) == 0 {
			t.Fatalf("%s: no cookie (status %d)", c.public, resp.StatusCode)
		}
		for _, ck := range resp.Cookies() {
			if ck.Secure != c.want {
				t.Errorf("%s: cookie %s Secure = %v, want %v", c.public, ck.Name, ck.Secure, c.want)
			}
		}
	}
}
