package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// logSink is a log destination safe for the server's goroutines.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAbandonedLoginsSpendNoKDF: logins queued behind the KDF whose
// clients hang up are dropped without a key derivation, recorded as 499,
// and logged neither as an error nor as an outage; with the credential
// cache off, and with it on (each login its own shared call, cancelled
// when its only caller leaves).
func TestAbandonedLoginsSpendNoKDF(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache=%v", cached), func(t *testing.T) {
			hasher := password.NewHasher(password.DefaultParams)
			m := mock.New(mock.WithStoreOptions(store.Options{Hasher: hasher}))
			if _, err := m.CreateAccount(context.Background(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
				t.Fatal(err)
			}
			counted := &inFlight{Provider: m}
			var p identity.Provider = counted
			if cached {
				p = cache.New(counted, cache.Config{})
			}
			abandonLogins(t, m, hasher, counted, p)
		})
	}
}

// inFlight counts the password logins under way in the provider it wraps.
type inFlight struct {
	identity.Provider
	n atomic.Int64
}

func (f *inFlight) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	f.n.Add(1)
	defer f.n.Add(-1)
	return f.Provider.Authenticate(ctx, login, password)
}

// abandonLogins sends 32 logins (each with its own wrong password, so that
// no two share a call) to an API server over p, hangs up once all have
// reached the mock m, waits for every login under way in counted to end,
// and checks what the hasher did.
func abandonLogins(t *testing.T, m *mock.Provider, hasher *password.Hasher, counted *inFlight, p identity.Provider) {
	logs := &logSink{}
	e := api.New(api.Config{}, p, slog.New(slog.NewJSONHandler(logs, nil)))
	srv := httptest.NewServer(e)
	defer srv.Close()

	const n = 32
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	before := hasher.Verifications()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/resource", nil)
			rq.Header.Set("Authorization", basic("alice", fmt.Sprintf("wrong password %d", i)))
			if resp, err := srv.Client().Do(rq); err == nil {
				resp.Body.Close()
			}
		})
	}
	eventually(t, "every login reaches the provider", func() error {
		if c := m.Calls(mock.OpAuthenticate); c != n {
			return fmt.Errorf("%d of %d", c, n)
		}
		return nil
	})
	hangUp()
	wg.Wait()
	eventually(t, "a request line for every login", func() error {
		if c := strings.Count(logs.String(), `"msg":"request"`); c != n {
			return fmt.Errorf("%d of %d", c, n)
		}
		return nil
	})
	// A call the cache detached from its caller may still be queued for
	// the KDF: wait for every call to end.
	eventually(t, "every login under way to end", func() error {
		if n := counted.n.Load(); n != 0 {
			return fmt.Errorf("%d under way", n)
		}
		return nil
	})
	ran := int(hasher.Verifications() - before)
	abandoned := strings.Count(logs.String(), `"status":499`)
	t.Logf("%d of %d logins derived a key; %d recorded as abandoned", ran, n, abandoned)
	if ran > n/2 {
		t.Errorf("%d of %d abandoned logins still derived a key", ran, n)
	}
	for _, bad := range []string{`"level":"ERROR"`, `"level":"WARN"`} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("an abandoned login was logged at %s:\n%s", bad, logs)
		}
	}
	// The metrics say the same as the access lines.
	exposition := scrape(t, e)
	if got := counter(exposition, "gatehouse_http_requests_total", "route", "/api/resource", "method", "GET", "code", "499"); int(got) != abandoned {
		t.Errorf("gatehouse_http_requests_total{code=499} = %v, want the %d access lines with 499", got, abandoned)
	}
	// And the authentications they carried were abandoned, not errors.
	if got := counter(exposition, "gatehouse_authentications_total", "method", "password", "outcome", "abandoned"); int(got) != abandoned {
		t.Errorf("gatehouse_authentications_total{outcome=abandoned} = %v, want %d", got, abandoned)
	}
	if got := counter(exposition, "gatehouse_authentications_total", "method", "password", "outcome", "error"); got != 0 {
		t.Errorf("gatehouse_authentications_total{outcome=error} = %v for abandoned logins", got)
	}
}

// TestContextErrorOfTheServerIs503: a wait inside the server that ran out
// (a context error while the client's own context is live) decided
// nothing: 503 with Retry-After, like an unreachable provider, not a 500.
func TestContextErrorOfTheServerIs503(t *testing.T) {
	f := newFixture(t)
	for _, cause := range []error{context.DeadlineExceeded, context.Canceled} {
		f.p.Fail(mock.OpAuthenticate, fmt.Errorf("directory call: %w", cause))
		check(t, f.do(t, request{path: "/api/resource", auth: basic("alice", alicePassword)}),
			expect{status: 503, code: "unavailable", header: map[string]string{"Retry-After": "5"}})
	}
}
