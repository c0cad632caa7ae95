package api_test

// Fault tests: the API server on the remote provider, wired as `gatehouse
// serve` wires it (api.New over cache.New(remote)), against a real
// directory (directory.New over the mock) behind a handler that injects one
// fault at a time. Whatever the fault, the API answers 503 with
// Retry-After, or serves a success it still trusts, and never 401 or 500,
// and never holds a request past the remote's timeouts.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/remote"
)

const (
	faultKeyID  = "gk_faultfaultfaultfault1"
	faultSecret = "gks_fault-admin-secret-0123456789abcdefghijklmn"
	faultApp    = "faultapp"
	// The remote's settings in these tests: attempts of 250 ms, one retry.
	faultTimeout = 250 * time.Millisecond
	faultRetries = 1
)

// faultStack is an API server over cache(remote) over a directory whose
// answers a fault can replace.
type faultStack struct {
	e       *echo.Echo
	rp      *remote.Provider
	srv     *httptest.Server
	backing *mock.Provider

	fault   atomic.Pointer[http.HandlerFunc] // nil: the real directory answers
	reached atomic.Int64                     // requests that reached the directory

	alice      *identity.Account
	aliceKey   *identity.NewAPIKey
	unseenKey  *identity.NewAPIKey // never presented to the API
	aliceToken string              // verified by the API before the fault
}

type faultOption func(*remote.Config, *cache.Config)

func newFaultStack(t *testing.T, opts ...faultOption) *faultStack {
	t.Helper()
	ctx := context.Background()
	s := &faultStack{backing: mock.New(mock.WithFastHashing())}
	var err error
	if s.alice, err = s.backing.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	if _, err = s.backing.CreateAccount(ctx, identity.AccountCreate{Username: "bob", Password: bobPassword}); err != nil {
		t.Fatal(err)
	}
	if s.aliceKey, err = s.backing.CreateAPIKey(ctx, s.alice.ID, "seen"); err != nil {
		t.Fatal(err)
	}
	if s.unseenKey, err = s.backing.CreateAPIKey(ctx, s.alice.ID, "unseen"); err != nil {
		t.Fatal(err)
	}
	dir := directory.New(directory.Config{},
		directory.StaticTenant(directory.Application{ID: "faultAppfaultAppfault1", Name: faultApp}, s.backing, faultKeyID, faultSecret), nil)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reached.Add(1)
		if f := s.fault.Load(); f != nil {
			(*f)(w, r)
			return
		}
		dir.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)

	rc := remote.Config{
		URL: s.srv.URL, APIKeyID: faultKeyID, APIKeySecret: faultSecret, Application: faultApp,
		Timeout: faultTimeout, Retries: faultRetries,
		// One fault at a time: the breaker has its own test below.
		BreakerThreshold: -1,
	}
	// Entries turn stale at once, so that every authentication asks the
	// directory and a cached success is served only as stale-if-error.
	cc := cache.Config{TTL: time.Millisecond, StaleTTL: 5 * time.Minute}
	for _, o := range opts {
		o(&rc, &cc)
	}
	if s.rp, err = remote.New(ctx, rc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.rp.Close() })
	s.e = api.New(api.Config{Ready: readyFunc(s.rp)}, cache.New(s.rp, cc), nil)

	// Before the fault: alice's password and key work (and are cached), and
	// a token of hers is verified (JWKS, revocations and account cached).
	for _, auth := range []string{basic("alice", alicePassword), basic(s.aliceKey.ID, s.aliceKey.Secret)} {
		if rec := s.do(t, http.MethodGet, "/api/resource", auth, ""); rec.Code != http.StatusOK {
			t.Fatalf("before the fault: %d %s", rec.Code, rec.Body)
		}
	}
	rec := s.do(t, http.MethodGet, "/api/token", basic("alice", alicePassword), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var tok struct{ Token string }
	_ = json.Unmarshal(rec.Body.Bytes(), &tok)
	s.aliceToken = tok.Token
	if rec := s.do(t, http.MethodGet, "/api/resource", "Bearer "+s.aliceToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("bearer before the fault: %d %s", rec.Code, rec.Body)
	}
	time.Sleep(5 * time.Millisecond) // the cached logins are now stale
	return s
}

// readyFunc is the API's readiness check on the remote provider, as
// `gatehouse serve` builds it: the directory answers its token settings,
// and when it does not, the answer says what the circuit breaker does.
func readyFunc(rp *remote.Provider) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := rp.TokenSettings(ctx); err != nil {
			return &api.Error{
				Status:  http.StatusServiceUnavailable,
				Code:    string(identity.CodeUnavailable),
				Message: fmt.Sprintf("The identity directory is not answering (circuit breaker %s).", rp.BreakerState()),
				Header:  http.Header{"Retry-After": {"5"}},
				Err:     err,
			}
		}
		return nil
	}
}

func (s *faultStack) inject(h http.HandlerFunc) { s.fault.Store(&h) }
func (s *faultStack) heal()                     { s.fault.Store(nil) }

func (s *faultStack) do(t *testing.T, method, path, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	return rec
}

// faultRequest is one API request made while the directory is failing,
// with what it must get: 503 with Retry-After, or 200 from what the API
// still trusts.
type faultRequest struct {
	name, method, path, auth, body string
	want                           int
	// calls is how many directory calls (each with its retries) the
	// request may make, for the time bound.
	calls int
}

func (s *faultStack) requests() []faultRequest {
	alice := basic("alice", alicePassword)
	return []faultRequest{
		{"unseen password", "GET", "/api/resource", basic("bob", bobPassword), "", 503, 1},
		{"wrong password", "GET", "/api/resource", basic("bob", "not bob's password"), "", 503, 1},
		{"unknown user", "GET", "/api/resource", basic("nobody", "whatever it is"), "", 503, 1},
		{"unseen API key", "GET", "/api/resource", basic(s.unseenKey.ID, s.unseenKey.Secret), "", 503, 1},
		{"registration", "POST", "/api/users", "", `{"username":"carol","password":"carol's long password"}`, 503, 1},
		{"readiness", "GET", "/readyz", "", "", 503, 1},
		{"cached password (stale-if-error)", "GET", "/api/resource", alice, "", 200, 1},
		{"cached API key (stale-if-error)", "GET", "/api/resource", basic(s.aliceKey.ID, s.aliceKey.Secret), "", 200, 1},
		{"verified token", "GET", "/api/resource", "Bearer " + s.aliceToken, "", 200, 2},
		{"custom data behind a cached login", "GET", "/api/me/custom-data", alice, "", 503, 2},
		{"key creation behind a cached login", "POST", "/api/me/api-keys", alice, `{"name":"x"}`, 503, 2},
		{"token issuance behind a cached login", "GET", "/api/token", alice, "", 503, 2},
	}
}

// perCall bounds one directory call: every attempt's timeout, the backoff
// between them (at most 50 ms, then 100 ms, ...), and extra, a Retry-After
// the directory asked for.
func perCall(extra time.Duration) time.Duration {
	backoff := time.Duration(0)
	for i := range faultRetries {
		backoff += 50 * time.Millisecond << i
	}
	return faultTimeout*(faultRetries+1) + backoff + extra*faultRetries
}

// checkFaulted runs every request against the failing directory.
func (s *faultStack) checkFaulted(t *testing.T, extra time.Duration) {
	t.Helper()
	const slack = 1500 * time.Millisecond // scheduling, -race, the mock's hashing
	reqs := s.requests()
	type result struct {
		rec  *httptest.ResponseRecorder
		took time.Duration
	}
	results := make([]result, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		// Concurrently, as clients would arrive; each is timed alone.
		wg.Go(func() {
			start := time.Now()
			rec := s.do(t, r.method, r.path, r.auth, r.body)
			results[i] = result{rec, time.Since(start)}
		})
	}
	wg.Wait()
	for i, r := range reqs {
		rec, took := results[i].rec, results[i].took
		switch {
		case rec.Code == http.StatusUnauthorized:
			t.Errorf("%s: 401 while the directory is failing: an outage is not a wrong password\n%s", r.name, rec.Body)
		case rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable:
			t.Errorf("%s: %d\n%s", r.name, rec.Code, rec.Body)
		case rec.Code != r.want:
			t.Errorf("%s: %d, want %d\n%s", r.name, rec.Code, r.want, rec.Body)
		case rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "":
			t.Errorf("%s: 503 without Retry-After", r.name)
		case rec.Code == http.StatusServiceUnavailable && !strings.Contains(rec.Body.String(), `"code":"unavailable"`):
			t.Errorf("%s: 503 body %s", r.name, rec.Body)
		}
		if bound := time.Duration(r.calls)*perCall(extra) + slack; took > bound {
			t.Errorf("%s: took %v, more than the remote's timeouts allow (%v)", r.name, took, bound)
		}
	}
}

// checkHealed checks that the API serves normally once the directory is
// back, cold credentials included.
func (s *faultStack) checkHealed(t *testing.T) {
	t.Helper()
	s.heal()
	for _, r := range []faultRequest{
		{"unseen password after", "GET", "/api/resource", basic("bob", bobPassword), "", 200, 1},
		{"wrong password after", "GET", "/api/resource", basic("bob", "not bob's password"), "", 401, 1},
		{"readiness after", "GET", "/readyz", "", "", 200, 1},
	} {
		if rec := s.do(t, r.method, r.path, r.auth, r.body); rec.Code != r.want {
			t.Errorf("%s: %d, want %d\n%s", r.name, rec.Code, r.want, rec.Body)
		}
	}
}

// slowAnswer answers nothing for longer than any attempt waits. It reads
// the request first: the server notices a client that gave up (and
// cancels r's context) only once the body is consumed.
func slowAnswer(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(3 * time.Second):
	}
}

// (a) The directory is down: nothing listens on its port.
func TestDirectoryDown(t *testing.T) {
	s := newFaultStack(t)
	s.srv.Close() // connections are refused from now on
	s.checkFaulted(t, 0)
}

// (b) The directory answers after the attempt timeout.
func TestDirectorySlowerThanTimeout(t *testing.T) {
	s := newFaultStack(t)
	s.inject(slowAnswer)
	s.checkFaulted(t, 0)
	s.checkHealed(t)
}

// (c) The directory (or a proxy in front of it) answers 500, 502 or 503.
func TestDirectoryServerErrors(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{"500Internal", 500, "application/json", `{"status":500,"code":500,"message":"An internal error occurred.","error":"internal","requestId":"r"}`},
		{"502ProxyPage", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{"503Unavailable", 503, "application/json", `{"status":503,"code":503,"message":"The identity service is unavailable.","error":"unavailable","requestId":"r"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newFaultStack(t)
			s.inject(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			})
			s.checkFaulted(t, 0)
			s.checkHealed(t)
		})
	}
}

// (d) The directory (or a proxy) is overloaded: 429 with Retry-After,
// without the protocol's `throttled` error. The remote honours the wait
// (bounded) and retries, then gives up: 503.
func TestDirectoryOverloaded429(t *testing.T) {
	s := newFaultStack(t)
	before := s.reached.Load()
	s.inject(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "rate limit exceeded")
	})
	start := time.Now()
	rec := s.do(t, "GET", "/api/resource", basic("bob", bobPassword), "")
	if rec.Code != http.StatusServiceUnavailable || time.Since(start) < time.Second {
		t.Fatalf("overload: %d after %v; want 503 after waiting the Retry-After once", rec.Code, time.Since(start))
	}
	if n := s.reached.Load() - before; n != faultRetries+1 {
		t.Fatalf("%d attempts, want %d", n, faultRetries+1)
	}
	s.checkFaulted(t, time.Second)
	s.checkHealed(t)
}

// The protocol's `throttled` 429 is the opposite case: the user's failed
// logins are regulated. The API passes it on (429 with the directory's
// Retry-After), the remote does not retry it, and it is not an outage.
func TestDirectoryThrottledIsPassedOn(t *testing.T) {
	s := newFaultStack(t, func(rc *remote.Config, _ *cache.Config) { rc.BreakerThreshold = 1 })
	before := s.reached.Load()
	s.inject(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"status":429,"code":7103,"message":"Too many failed attempts; try again later.","error":"throttled","retryAfter":120,"requestId":"r"}`)
	})
	for range 3 {
		rec := s.do(t, "GET", "/api/resource", basic("bob", "guess"), "")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "120" {
			t.Fatalf("throttled login: %d Retry-After %q\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if n := s.reached.Load() - before; n != 3 {
		t.Fatalf("%d requests reached the directory for 3 throttled logins: a throttled answer must not be retried", n)
	}
	if st := s.rp.BreakerState(); st != remote.BreakerClosed {
		t.Fatalf("breaker %s: throttling is not an outage", st)
	}
}

// (e) The directory's answers are not JSON, or are cut JSON.
func TestDirectoryMalformedJSON(t *testing.T) {
	for name, body := range map[string]string{
		"Truncated": `{"account":{"href":"http://127.0.0.1/v1/accounts/`,
		"NotJSON":   `<html>maintenance</html>`,
		"WrongType": `[1,2,3]`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newFaultStack(t)
			s.inject(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				status := http.StatusOK
				if r.Method == http.MethodPost && !strings.HasSuffix(r.URL.Path, "Attempts") {
					status = http.StatusCreated
				}
				w.WriteHeader(status)
				io.WriteString(w, body)
			})
			s.checkFaulted(t, 0)
			s.checkHealed(t)
		})
	}
}

// (f) The directory closes the connection in the middle of its answer.
func TestDirectoryClosesMidAnswer(t *testing.T) {
	for name, partial := range map[string]string{
		"MidBody":    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"account\":{\"href\":",
		"MidHeaders": "HTTP/1.1 200 OK\r\nContent-Type: appli",
		"NoAnswer":   "",
	} {
		t.Run(name, func(t *testing.T) {
			s := newFaultStack(t)
			s.inject(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				buf.WriteString(partial)
				buf.Flush()
				conn.Close()
			})
			s.checkFaulted(t, 0)
			s.checkHealed(t)
		})
	}
}

// The circuit breaker through the API: after the threshold of failed
// calls the API stops calling the directory and answers 503 at once;
// /readyz says the breaker is open; after the cool-down one probe
// recovers it.
func TestDirectoryBreakerThroughAPI(t *testing.T) {
	const cooldown = 600 * time.Millisecond
	s := newFaultStack(t, func(rc *remote.Config, _ *cache.Config) {
		rc.BreakerThreshold = 3
		rc.BreakerCooldown = cooldown
	})
	s.inject(slowAnswer)
	bob := basic("bob", bobPassword)
	for range 3 {
		if rec := s.do(t, "GET", "/api/resource", bob, ""); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%d", rec.Code)
		}
	}
	opened := time.Now()
	if st := s.rp.BreakerState(); st != remote.BreakerOpen {
		t.Fatalf("breaker %s after 3 failed logins", st)
	}
	before := s.reached.Load()
	for _, r := range s.requests() {
		start := time.Now()
		rec := s.do(t, r.method, r.path, r.auth, r.body)
		if rec.Code != r.want {
			t.Errorf("%s with the breaker open: %d, want %d", r.name, rec.Code, r.want)
		}
		// The count of requests below is the exact check; this one only
		// says that no request waited for a whole call.
		if d := time.Since(start); d > perCall(0) {
			t.Errorf("%s with the breaker open took %v: it must not wait for the directory", r.name, d)
		}
	}
	if n := s.reached.Load() - before; n != 0 {
		t.Fatalf("%d requests reached the directory while the breaker was open", n)
	}
	rec := s.do(t, "GET", "/readyz", "", "")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "circuit breaker open") {
		t.Fatalf("readyz with the breaker open: %d %s", rec.Code, rec.Body)
	}

	// The directory comes back; after the cool-down the next call probes.
	s.heal()
	time.Sleep(time.Until(opened.Add(cooldown + 50*time.Millisecond)))
	if st := s.rp.BreakerState(); st != remote.BreakerHalfOpen {
		t.Fatalf("breaker %s after the cool-down", st)
	}
	if rec := s.do(t, "GET", "/readyz", "", ""); rec.Code != http.StatusOK {
		t.Fatalf("readyz probe: %d %s", rec.Code, rec.Body)
	}
	if st := s.rp.BreakerState(); st != remote.BreakerClosed {
		t.Fatalf("breaker %s after a good probe", st)
	}
	s.checkHealed(t)
}

// TestDirectoryFaultsNeverLeakDetail: the 503 bodies say nothing about the
// fault (no URL, no status of the directory, no error text).
func TestDirectoryFaultsNeverLeakDetail(t *testing.T) {
	s := newFaultStack(t)
	s.inject(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		io.WriteString(w, "upstream secret-host.internal failed")
	})
	rec := s.do(t, "GET", "/api/resource", basic("bob", bobPassword), "")
	body := rec.Body.String()
	for _, bad := range []string{"secret-host", "127.0.0.1", "502", "/v1/"} {
		if strings.Contains(body, bad) {
			t.Fatalf("503 body shows %q: %s", bad, body)
		}
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != "unavailable" {
		t.Fatalf("%v %s", err, body)
	}
}
