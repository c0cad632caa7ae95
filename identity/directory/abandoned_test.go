package directory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// TestAbandonedLoginsSpendNoKDF: login attempts queued behind the KDF whose
// callers hang up are dropped without a key derivation, recorded as 499 and
// not logged as an error or an outage. Before, every abandoned attempt was
// still verified, ahead of the callers that were still waiting: under load,
// a queue of orphans burned the CPU for seconds.
func TestAbandonedLoginsSpendNoKDF(t *testing.T) {
	// The real parameters: a KDF run must last long enough for a queue to
	// form behind it.
	hasher := password.NewHasher(password.DefaultParams)
	m := mock.New(mock.WithStoreOptions(store.Options{Hasher: hasher}))
	logs := &syncBuffer{}
	h := newStaticWith(t, m, logs)
	h.mustAccount("jane", "jane@example.com")
	srv := httptest.NewServer(h.e)
	defer srv.Close()

	const n = 32
	body, _ := json.Marshal(map[string]string{"type": "basic", "value": b64("jane:correct horse battery")})
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	before := hasher.Verifications()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rq, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+h.appPath("loginAttempts"), bytes.NewReader(body))
			rq.Header.Set("Content-Type", "application/json")
			rq.Header.Set("Authorization", basic(h.keyID, h.secret))
			if resp, err := srv.Client().Do(rq); err == nil {
				resp.Body.Close()
			}
		})
	}
	// Hang up once every attempt has reached the provider: at most one per
	// core can be deriving a key, the rest are queued.
	waitFor(t, "every attempt to reach the provider", func() bool { return m.Calls(mock.OpAuthenticate) == n })
	hangUp()
	wg.Wait()
	// The server finishes each request on its own time; each writes one
	// request line.
	waitFor(t, "a request line for every attempt", func() bool { return strings.Count(logs.String(), `"msg":"request"`) == n })

	ran := int(hasher.Verifications() - before)
	abandoned := strings.Count(logs.String(), `"status":499`)
	t.Logf("%d of %d attempts derived a key; %d recorded as abandoned", ran, n, abandoned)
	if ran > n/2 {
		t.Errorf("%d of %d abandoned attempts still derived a key", ran, n)
	}
	if ran+abandoned != n {
		t.Errorf("%d derived a key and %d were abandoned, of %d", ran, abandoned, n)
	}
	for _, bad := range []string{`"level":"ERROR"`, `"level":"WARN"`} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("an abandoned attempt was logged at %s:\n%s", bad, logs)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
