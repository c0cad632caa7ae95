package remote

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://127.8.9.10:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://[::ffff:127.0.0.1]:8080", false, true},
		{"http://localhost:8080", false, true},
		{"http://LocalHost", false, true},
		{"https://directory.example.com", false, true},
		{"https://10.1.2.3:8443", false, true},
		{"http://directory.example.com:8080", false, false},
		{"http://10.1.2.3:8080", false, false},
		{"http://192.168.1.1", false, false},
		{"http://0.0.0.0:8080", false, false},
		{"http://[::]:8080", false, false},
		{"http://localhost.example.com", false, false},
		{"http://127.0.0.1.example.com", false, false},
		{"http://[fe80::1%25lo]:8080", false, false},
		{"http://directory.example.com:8080", true, true},
		{"http://10.1.2.3:8080", true, true},
	} {
		_, err := checkURL(c.url, c.insecure)
		switch {
		case c.ok && err != nil:
			t.Errorf("checkURL(%q, insecure=%v): %v", c.url, c.insecure, err)
		case !c.ok && err == nil:
			t.Errorf("checkURL(%q, insecure=%v) accepted plain HTTP to a remote host", c.url, c.insecure)
		case !c.ok && (!strings.Contains(err.Error(), c.url) || !strings.Contains(err.Error(), "InsecureHTTP")):
			t.Errorf("checkURL(%q): the error %q must name the URL and the way out", c.url, err)
		}
	}
	// New refuses it before any network traffic, and without showing a
	// password a URL might carry (refused for that reason anyway).
	_, err := New(t.Context(), Config{URL: "http://directory.example.com:8080", APIKeyID: "id", APIKeySecret: "s", Application: "app"})
	if err == nil || errors.Is(err, identity.ErrUnavailable) || !strings.Contains(err.Error(), "http://directory.example.com:8080") {
		t.Fatalf("New with a plain-HTTP remote URL: %v", err)
	}
}

// throttledAnswer is the directory's failed-login regulation answer.
func throttledAnswer(retryAfter int, header string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if header != "" {
			w.Header().Set("Retry-After", header)
		}
		writeJSON(w, http.StatusTooManyRequests, wire.Error{
			Status: 429, Code: wire.CodeThrottled, Message: identity.ErrThrottled.Message, DeveloperMessage: identity.ErrThrottled.Message,
			MoreInfo: wire.MoreInfo, RequestID: "req-test", ErrorCode: string(identity.CodeThrottled), RetryAfter: retryAfter,
		})
	}
}

func TestThrottledIsAnAnswer(t *testing.T) {
	for _, c := range []struct {
		name string
		h    http.HandlerFunc
		want time.Duration
	}{
		{"BodyRetryAfter", throttledAnswer(42, "42"), 42 * time.Second},
		{"HeaderOnly", throttledAnswer(0, "7"), 7 * time.Second},
		{"NoWaitGiven", throttledAnswer(0, ""), time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, o := range []op{opLogin, opGet, opCreateAccount, opCreateKey} {
				srv, rec := newDirectory(t, sequence(c.h, o.ok))
				p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = 3; cfg.BreakerThreshold = 1 })
				start := time.Now()
				err := o.call(t.Context(), p)
				if !errors.Is(err, identity.ErrThrottled) || identity.ErrorCode(err) != identity.CodeThrottled {
					t.Fatalf("%s: %v, want identity.ErrThrottled", o.name, err)
				}
				if errors.Is(err, identity.ErrUnavailable) || errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("%s: a throttled answer reads as %v", o.name, err)
				}
				if got := identity.RetryAfter(err); got != c.want {
					t.Fatalf("%s: RetryAfter %v, want %v", o.name, got, c.want)
				}
				if n := rec.count(); n != 1 {
					t.Fatalf("%s: %d attempts; a throttled answer must not be retried", o.name, n)
				}
				if d := time.Since(start); d > time.Second {
					t.Fatalf("%s: took %v: the Retry-After was waited for", o.name, d)
				}
				// Regulation shows the directory is up: the breaker
				// (threshold 1) stays closed.
				if s := p.BreakerState(); s != BreakerClosed {
					t.Fatalf("%s: breaker %s after a throttled answer", o.name, s)
				}
			}
		})
	}
}

func TestOverload429StaysRetryable(t *testing.T) {
	overload := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		writeError(w, http.StatusTooManyRequests, "unavailable", 429, "")
	}
	proxy := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("slow down"))
	}
	for name, h := range map[string]http.HandlerFunc{"ProtocolBody": overload, "ProxyBody": proxy} {
		t.Run(name, func(t *testing.T) {
			srv, rec := newDirectory(t, sequence(h, h, opLogin.ok))
			p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = 2 })
			if err := opLogin.call(t.Context(), p); err != nil {
				t.Fatalf("a 429 that is not throttling must be retried: %v", err)
			}
			if n := rec.count(); n != 3 {
				t.Fatalf("%d attempts, want 3", n)
			}
			srv2, _ := newDirectory(t, h)
			p2 := newTestProvider(t, srv2.URL, func(cfg *Config) { cfg.Retries = -1 })
			if err := opLogin.call(t.Context(), p2); !errors.Is(err, identity.ErrUnavailable) {
				t.Fatalf("overload 429: %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestClientIPForwarded(t *testing.T) {
	srv, rec := newDirectory(t, opLogin.ok)
	p := newTestProvider(t, srv.URL)
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:DB8::1", "2001:db8::1"},
		{"::ffff:192.0.2.8", "192.0.2.8"},
		{"192.0.2.9:54321", "192.0.2.9"},
		{"[2001:db8::2]:443", "2001:db8::2"},
		{"", ""},
		{"not an ip", ""},
		{"192.0.2.7\r\nX-Evil: 1", ""},
	} {
		ctx := context.Background()
		if c.in != "" {
			ctx = identity.WithClientIP(ctx, c.in)
		}
		if _, err := p.Authenticate(ctx, "alice", "pw"); err != nil {
			t.Fatal(err)
		}
		got := rec.headers(HeaderClientIP)
		if last := got[len(got)-1]; last != c.want {
			t.Errorf("client IP %q sent as %q, want %q", c.in, last, c.want)
		}
		rec.mu.Lock()
		evil := rec.requests[len(rec.requests)-1].Header.Get("X-Evil")
		rec.mu.Unlock()
		if evil != "" {
			t.Fatalf("header injection through the client IP")
		}
	}
	// Writes carry it too.
	wsrv, wrec := newDirectory(t, opCreateAccount.ok)
	ctx := identity.WithClientIP(t.Context(), "198.51.100.1")
	if err := opCreateAccount.call(ctx, newTestProvider(t, wsrv.URL)); err != nil {
		t.Fatal(err)
	}
	if got := wrec.headers(HeaderClientIP); len(got) != 1 || got[0] != "198.51.100.1" {
		t.Fatalf("a write carried the client IP as %q", got)
	}
}

func TestBodylessSuccessMustBeJSON(t *testing.T) {
	// A 200 whose body is cut or not JSON is not the protocol's answer,
	// even where the provider reads only the status: a garbled revocation
	// lookup must not read as "revoked" (which would log users out) any
	// more than a garbled login may read as a success.
	srv, _ := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"href":"http://x/v1/app`))
	})
	p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = -1 })
	revoked, err := p.TokenRevoked(t.Context(), "jti123")
	if !errors.Is(err, identity.ErrUnavailable) || revoked {
		t.Fatalf("TokenRevoked on a garbled 200: %v, %v; want ErrUnavailable", revoked, err)
	}
	// An empty body (204, or a 200 without one) is fine.
	srv2, _ := newDirectory(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if err := newTestProvider(t, srv2.URL).DeleteAccount(t.Context(), testAccID); err != nil {
		t.Fatal(err)
	}
}
