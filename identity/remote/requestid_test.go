package remote

import (
	"context"
	"net/http"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// TestRequestIDForwarded: the request id of the call's context goes to the
// directory as X-Request-Id on every attempt, retries included, so both
// processes log one id; a malformed one is never sent.
func TestRequestIDForwarded(t *testing.T) {
	srv, rec := newDirectory(t, sequence(status(http.StatusServiceUnavailable), opLogin.ok))
	p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = 2 })
	ctx := identity.WithRequestID(t.Context(), "req-abc.123_X")
	if _, err := p.Authenticate(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	got := rec.headers(HeaderRequestID)
	if len(got) != 2 || got[0] != "req-abc.123_X" || got[1] != "req-abc.123_X" {
		t.Fatalf("X-Request-Id on the attempts: %q, want the context's id on both", got)
	}

	for _, c := range []struct {
		what string
		ctx  context.Context
	}{
		{"no id", context.Background()},
		{"header injection", identity.WithRequestID(context.Background(), "id\r\nX-Evil: 1")},
		{"too long", identity.WithRequestID(context.Background(), string(make([]byte, identity.MaxRequestIDLength+1)))},
	} {
		srv, rec := newDirectory(t, opLogin.ok)
		if _, err := newTestProvider(t, srv.URL).Authenticate(c.ctx, "alice", "pw"); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		last := rec.requests[len(rec.requests)-1].Header
		rec.mu.Unlock()
		if v, ok := last["X-Request-Id"]; ok || last.Get("X-Evil") != "" {
			t.Errorf("%s: X-Request-Id sent as %q", c.what, v)
		}
	}
}
