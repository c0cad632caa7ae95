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
	"testing"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
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

// TestAbandonedLoginsSpendNoKDF: with the credential cache off, logins
// queued behind the KDF whose clients hang up are dropped without a key
// derivation, recorded as 499, and logged neither as an error nor as an
// outage.
func TestAbandonedLoginsSpendNoKDF(t *testing.T) {
	hasher := password.NewHasher(password.DefaultParams)
	p := mock.New(mock.WithStoreOptions(store.Options{Hasher: hasher}))
	if _, err := p.CreateAccount(context.Background(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	logs := &logSink{}
	srv := httptest.NewServer(api.New(api.Config{}, p, slog.New(slog.NewJSONHandler(logs, nil))))
	defer srv.Close()

	const n = 32
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	before := hasher.Verifications()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/resource", nil)
			rq.Header.Set("Authorization", basic("alice", alicePassword))
			if resp, err := srv.Client().Do(rq); err == nil {
				resp.Body.Close()
			}
		})
	}
	eventually(t, "every login reaches the provider", func() error {
		if c := p.Calls(mock.OpAuthenticate); c != n {
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

	ran := int(hasher.Verifications() - before)
	abandoned := strings.Count(logs.String(), `"status":499`)
	t.Logf("%d of %d logins derived a key; %d recorded as abandoned", ran, n, abandoned)
	if ran > n/2 {
		t.Errorf("%d of %d abandoned logins still derived a key", ran, n)
	}
	if ran+abandoned != n {
		t.Errorf("%d derived a key and %d were abandoned, of %d", ran, abandoned, n)
	}
	for _, bad := range []string{`"level":"ERROR"`, `"level":"WARN"`} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("an abandoned login was logged at %s:\n%s", bad, logs)
		}
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
