package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// BenchmarkServer measures the whole server in process (routing,
// middleware, authentication, handler), warm: the baseline /healthz and each
// way of authenticating /api/resource.
func BenchmarkServer(b *testing.B) {
	ctx := context.Background()
	m := mock.New(mock.WithFastHashing())
	acc, err := m.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		b.Fatal(err)
	}
	key, err := m.CreateAPIKey(ctx, acc.ID, "")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := m.IssueToken(ctx, acc.ID, identity.TokenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	e := api.New(api.Config{}, cache.New(m, cache.Config{}), nil)
	cases := []struct{ name, path, auth string }{
		{"baseline healthz", "/healthz", ""},
		{"basic password", "/api/resource", basic("alice", alicePassword)},
		{"basic api key", "/api/resource", basic(key.ID, key.Secret)},
		{"bearer", "/api/resource", "Bearer " + tok.Value},
		{"token in basic", "/api/resource", basic(tok.Value, "x")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
