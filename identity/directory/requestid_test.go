package directory_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// seenIDs is a Provider that records the request id of the contexts its
// Account calls get.
type seenIDs struct {
	*mock.Provider
	mu  sync.Mutex
	ids []string
}

func (p *seenIDs) Account(ctx context.Context, id string) (*identity.Account, error) {
	p.mu.Lock()
	p.ids = append(p.ids, identity.RequestID(ctx))
	p.mu.Unlock()
	return p.Provider.Account(ctx, id)
}

func (p *seenIDs) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return ""
	}
	return p.ids[len(p.ids)-1]
}

// TestRequestIDAdopted: a well-formed X-Request-Id from the caller (an API
// server passing on its own request's id) becomes the directory's request
// id: in Request-Id, Stormpath-Request-Id, the error body's requestId, the
// access log line and the context the provider sees.
func TestRequestIDAdopted(t *testing.T) {
	p := &seenIDs{Provider: mock.New(mock.WithFastHashing())}
	logs := &syncBuffer{}
	h := newStaticWith(t, p, logs)

	const id = "api-req-42.A_b"
	r := h.do(req{method: "GET", path: "/v1/accounts/" + strings.Repeat("x", 22), header: map[string]string{"X-Request-Id": id}})
	r.expect(404, "not_found")
	if r.Header.Get("Request-Id") != id || r.Header.Get("Stormpath-Request-Id") != id || r.Str("requestId") != id {
		t.Fatalf("request id: Request-Id %q, Stormpath-Request-Id %q, requestId %q; want %q",
			r.Header.Get("Request-Id"), r.Header.Get("Stormpath-Request-Id"), r.Str("requestId"), id)
	}
	if got := p.last(); got != id {
		t.Errorf("the provider's context carries request id %q, want %q", got, id)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" && m["request_id"] == id {
			found = true
			if _, ok := m["latency"].(float64); !ok || m["status"] != float64(404) || m["method"] != "GET" || m["route"] == "" || m["route"] == nil {
				t.Errorf("access line %v lacks method, route, status or latency", m)
			}
		}
	}
	if !found {
		t.Errorf("no access line with request_id %q:\n%s", id, logs)
	}

	// Ids that are not plain are replaced by a fresh one, never echoed.
	for _, bad := range []string{
		`x","admin":true,"y":"`,
		"id with spaces",
		"id\u00e9",
		strings.Repeat("a", identity.MaxRequestIDLength+1),
		"\x1b[31mred",
	} {
		r := h.do(req{method: "GET", path: "/v1/accounts/" + strings.Repeat("x", 22), header: map[string]string{"X-Request-Id": bad}})
		got := r.Header.Get("Request-Id")
		if got == bad || got == "" || !identity.ValidRequestID(got) || r.Str("requestId") != got {
			t.Errorf("X-Request-Id %q: Request-Id %q, requestId %q; want a fresh id", bad, got, r.Str("requestId"))
		}
		if p.last() != got {
			t.Errorf("X-Request-Id %q: the provider saw %q, the answer says %q", bad, p.last(), got)
		}
	}
	if strings.Contains(logs.String(), `"admin":true`) {
		t.Errorf("a hostile request id reached the log:\n%s", logs)
	}

	// Without one, every request gets its own.
	a := h.do(req{method: "GET", path: "/healthz", noAuth: true}).Header.Get("Request-Id")
	b := h.do(req{method: "GET", path: "/healthz", noAuth: true}).Header.Get("Request-Id")
	if a == "" || a == b {
		t.Errorf("request ids without X-Request-Id: %q, %q", a, b)
	}
}

// TestReadyzDatabaseClosed: /readyz of a directory over SQL answers 503
// with Retry-After once its database is closed, while /healthz (the
// process lives) still answers 200.
func TestReadyzDatabaseClosed(t *testing.T) {
	db, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: directory.New(directory.Config{}, directory.SQLTenant(db, store.Options{}), nil)}
	h.do(req{method: "GET", path: "/readyz", noAuth: true}).expect(200)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r := h.do(req{method: "GET", path: "/readyz", noAuth: true}).expect(503, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Error("readyz 503 without Retry-After")
	}
	h.do(req{method: "GET", path: "/healthz", noAuth: true}).expect(200)
}
