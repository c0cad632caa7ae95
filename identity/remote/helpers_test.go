package remote

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

const (
	testKeyID  = "testadminkeyid"
	testSecret = "TOPSECRET-admin-key-secret"
	testApp    = "test-app"
	testAppID  = "AppAppAppAppAppAppApp1"
	testAccID  = "AccAccAccAccAccAccAcc1"
)

// recorder keeps what a fake directory received.
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func (r *recorder) add(req *http.Request, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, body)
}

// count returns how many requests reached path (applications lookups
// excluded).
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func (r *recorder) headers(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, req := range r.requests {
		out = append(out, req.Header.Get(name))
	}
	return out
}

// newDirectory starts a fake directory that answers the application lookup
// itself and hands every other request to h, after recording it.
func newDirectory(t testing.TB, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != testKeyID || secret != testSecret {
			writeError(w, http.StatusUnauthorized, "unauthorized", 401, "")
			return
		}
		if r.URL.Path == wire.ApplicationsPath {
			col := wire.Collection[wire.Application]{Offset: 0, Limit: 25}
			if r.URL.Query().Get("name") == testApp {
				col.Items = []wire.Application{{Href: "http://" + r.Host + wire.ApplicationPath(testAppID, ""), Name: testApp}}
				col.Size = 1
			}
			writeJSON(w, http.StatusOK, col)
			return
		}
		var body strings.Builder
		if r.Body != nil {
			buf := make([]byte, 1<<16)
			for {
				n, err := r.Body.Read(buf)
				body.Write(buf[:n])
				if err != nil {
					break
				}
			}
		}
		rec.add(r, body.String())
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// newTestProvider connects a provider to url with fast settings.
func newTestProvider(t testing.TB, url string, mods ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{URL: url, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: testApp, Timeout: 2 * time.Second}
	for _, m := range mods {
		m(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req-test")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers a protocol error body.
func writeError(w http.ResponseWriter, status int, code string, numeric int, field string) {
	writeJSON(w, status, wire.Error{
		Status: status, Code: numeric, Message: "message for " + code, DeveloperMessage: "message for " + code,
		MoreInfo: wire.MoreInfo, RequestID: "req-test", ErrorCode: code, Field: field,
	})
}

// writeDomainError answers err the way the directory does.
func writeDomainError(w http.ResponseWriter, err error, credentialsCode int) {
	e := wire.ErrorFrom(err, credentialsCode, "req-test")
	writeJSON(w, e.Status, e)
}

func wireAccount(host, id, username string) wire.Account {
	now := wire.Time(time.Date(2026, 11, 22, 19, 47, 8, 604e6, time.UTC))
	return wire.Account{
		Href: "http://" + host + wire.AccountPath(id, ""), Username: username, Status: string(identity.StatusEnabled),
		CreatedAt: now, ModifiedAt: now, PasswordModifiedAt: now,
	}
}

// accountHandler answers every request with the test account.
func accountHandler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, wireAccount(r.Host, testAccID, "alice"))
	}
}

// sequence answers the i-th request with steps[i] (the last step repeats).
func sequence(steps ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		step := steps[min(i, len(steps)-1)]
		i++
		mu.Unlock()
		step(w, r)
	}
}

// status answers a bare status with a protocol error body.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code >= 500 || code == http.StatusTooManyRequests {
			writeError(w, code, "unavailable", code, "")
			return
		}
		writeError(w, code, "invalid_input", 2002, "username")
	}
}
