package directory_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

func idem(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }

const createBody = `{"username":"jane","password":"` + pw + `"}`

func TestIdempotentReplay(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		create := func(key, body string) *resp {
			return h.do(req{method: "POST", path: h.appPath("accounts"), body: body, header: idem(key)})
		}
		first := create("key-1", createBody).expect(201)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("a first answer says it is replayed")
		}
		again := create("key-1", createBody).expect(201)
		if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Location") != first.Header.Get("Location") {
			t.Fatalf("replay: %v %s", again.Header, again.Body)
		}
		if again.Header.Get("Request-Id") == first.Header.Get("Request-Id") {
			t.Fatal("a replay reuses the request id")
		}
		expectAccountCount(t, h, 1)

		// Same key, another request.
		r := create("key-1", `{"username":"john","password":"`+pw+`"}`).expect(400, "invalid_input")
		if r.Str("field") != "Idempotency-Key" {
			t.Fatalf("field %q", r.Str("field"))
		}
		h.do(req{method: "POST", path: h.appPath("groups"), body: `{"name":"g"}`, header: idem("key-1")}).expect(400, "invalid_input")
		expectAccountCount(t, h, 1)

		// Without a key, a repeat is a new request (and here a conflict).
		h.post(h.appPath("accounts"), createBody).expect(409)
		// A 4xx answer is kept like any other.
		c1 := create("key-2", createBody).expect(409)
		c2 := create("key-2", createBody).expect(409)
		if c2.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(c1.Body, c2.Body) {
			t.Fatal("a 409 was not replayed")
		}

		// Deletes replay their 204 instead of answering 404.
		id := idOf(first.Str("href"))
		h.do(req{method: "DELETE", path: "/v1/accounts/" + id, header: idem("del-1")}).expect(204)
		d := h.do(req{method: "DELETE", path: "/v1/accounts/" + id, header: idem("del-1")}).expect(204)
		if d.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("delete not replayed")
		}

		// API key creation ignores the key: a stored answer would be a
		// stored secret.
		acc := h.mustAccount("keys", "")
		k1 := h.do(req{method: "POST", path: "/v1/accounts/" + acc.ID + "/apiKeys", header: idem("k")}).expect(201)
		k2 := h.do(req{method: "POST", path: "/v1/accounts/" + acc.ID + "/apiKeys", header: idem("k")}).expect(201)
		if k1.Str("id") == k2.Str("id") || k2.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("API key creation was replayed")
		}
	})
}

func TestIdempotencyKeyHeader(t *testing.T) {
	h := newStatic(t)
	for name, key := range map[string]string{
		"empty":         "",
		"too long":      strings.Repeat("k", 256),
		"control":       "a\x01b",
		"not ASCII":     "clé",
		"DEL character": "a\x7f",
	} {
		r := h.do(req{method: "POST", path: h.appPath("groups"), body: `{"name":"g"}`, header: idem(key)})
		r.expect(400, "invalid_input")
		if r.Str("field") != "Idempotency-Key" {
			t.Fatalf("%s: field %q", name, r.Str("field"))
		}
		checkErrorShape(t, r)
	}
	h.do(req{method: "POST", path: h.appPath("groups"), body: `{"name":"g"}`, header: idem(strings.Repeat("k", 255))}).expect(201)
	if h.get(h.appPath("groups")).Num("size") != 1 {
		t.Fatal("a refused key created something")
	}
}

// TestIdempotentServerErrorIsNotKept: a 5xx releases the key, so a retry
// runs the write.
func TestIdempotentServerErrorIsNotKept(t *testing.T) {
	m := mock.New(mock.WithFastHashing())
	h := newStaticWith(t, m, nil)
	m.Fail(mock.OpCreateAccount, errors.New("boom"))
	h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("k")}).expect(500)
	m.Fail(mock.OpCreateAccount, identity.Unavailable(errors.New("down")))
	h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("k")}).expect(503)
	m.Clear(mock.OpCreateAccount)
	r := h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("k")}).expect(201)
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry was a replay")
	}
	expectAccountCount(t, h, 1)
}

// TestIdempotentConcurrentRepeats: repeats that arrive while the first
// request runs wait for it, and nothing is written twice.
func TestIdempotentConcurrentRepeats(t *testing.T) {
	check := func(t *testing.T, h *harness) {
		const n = 6
		var wg sync.WaitGroup
		answers := make([]*resp, n)
		for i := range n {
			wg.Go(func() {
				answers[i] = h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("same")})
			})
		}
		wg.Wait()
		replayed := 0
		for _, r := range answers {
			if r.Code != 201 || !bytes.Equal(r.Body, answers[0].Body) {
				t.Fatalf("answer %d: %s", r.Code, r.Body)
			}
			if r.Header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		}
		if replayed != n-1 {
			t.Fatalf("%d replays, want %d", replayed, n-1)
		}
		expectAccountCount(t, h, 1)
	}
	t.Run("static", func(t *testing.T) {
		m := mock.New(mock.WithFastHashing())
		m.Delay(mock.OpCreateAccount, 100*time.Millisecond) // make the repeats overlap
		check(t, newStaticWith(t, m, nil))
	})
	sqlTenants(t, func(t *testing.T, h *harness) { check(t, h) })
}

// TestIdempotencyPerApplication: keys of two applications never meet.
func TestIdempotencyPerApplication(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("shared")}).expect(201)
		o := h.other
		r := o.do(req{method: "POST", path: o.appPath("accounts"), body: createBody, header: idem("shared")}).expect(201)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("another application's answer was replayed")
		}
	})
}

// TestStaticIdempotencyStore checks the in-memory store's semantics
// directly, through the Tenant interface.
func TestStaticIdempotencyStore(t *testing.T) {
	ctx := context.Background()
	tn := directory.StaticTenant(directory.Application{ID: "a"}, mock.New(), "gk_x", "s")
	st := tn.Idempotency()
	fp := []byte("fp")
	if r, err := st.Begin(ctx, "a", "k", fp); r != nil || err != nil {
		t.Fatalf("Begin = %v, %v", r, err)
	}
	if _, err := st.Begin(ctx, "a", "k", []byte("other")); !errors.Is(err, identity.ErrInvalidInput) || identity.ErrorField(err) != "Idempotency-Key" {
		t.Fatalf("different fingerprint: %v", err)
	}
	waited := make(chan *directory.SavedResponse)
	go func() {
		r, err := st.Begin(ctx, "a", "k", fp)
		if err != nil {
			t.Error(err)
		}
		waited <- r
	}()
	select {
	case <-waited:
		t.Fatal("did not wait for the running request")
	case <-time.After(50 * time.Millisecond):
	}
	if err := st.Complete(ctx, "a", "k", directory.SavedResponse{Status: 201, Location: "l", Body: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if r := <-waited; r == nil || r.Status != 201 || string(r.Body) != "b" || r.Location != "l" {
		t.Fatalf("waiter got %+v", r)
	}
	// Abandon releases the key to the next caller.
	if _, err := st.Begin(ctx, "a", "k2", fp); err != nil {
		t.Fatal(err)
	}
	if err := st.Abandon(ctx, "a", "k2"); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Begin(ctx, "a", "k2", []byte("anything")); r != nil || err != nil {
		t.Fatalf("after Abandon: %v, %v", r, err)
	}
	// Waiting ends with the context.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := st.Begin(cctx, "a", "k2", []byte("anything")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin with an ending context: %v", err)
	}
	// Keys are per application.
	if r, err := st.Begin(ctx, "b", "k", []byte("other")); r != nil || err != nil {
		t.Fatalf("another application: %v, %v", r, err)
	}
}

// panicky is a Provider whose CreateAccount panics while panics is set.
type panicky struct {
	*mock.Provider
	mu     sync.Mutex
	panics bool
}

func (p *panicky) CreateAccount(ctx context.Context, in identity.AccountCreate) (*identity.Account, error) {
	p.mu.Lock()
	doPanic := p.panics
	p.mu.Unlock()
	if doPanic {
		panic("handler bug")
	}
	return p.Provider.CreateAccount(ctx, in)
}

// TestIdempotentPanicReleasesKey: a handler that panics answers 500 and
// leaves the key free, so the retry runs instead of waiting forever.
func TestIdempotentPanicReleasesKey(t *testing.T) {
	p := &panicky{Provider: mock.New(mock.WithFastHashing()), panics: true}
	logs := &syncBuffer{}
	h := newStaticWith(t, p, logs)
	h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("k")}).expect(500, "internal")
	if !strings.Contains(logs.String(), "handler bug") {
		t.Fatalf("the panic was not logged:\n%s", logs)
	}
	p.mu.Lock()
	p.panics = false
	p.mu.Unlock()
	done := make(chan *resp, 1)
	go func() {
		done <- h.do(req{method: "POST", path: h.appPath("accounts"), body: createBody, header: idem("k")})
	}()
	select {
	case r := <-done:
		r.expect(201)
	case <-time.After(5 * time.Second):
		t.Fatal("the retry waits for a request that panicked")
	}
}
