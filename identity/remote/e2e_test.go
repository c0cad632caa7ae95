package remote

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// lossyProxy forwards to the directory but, for the first request that
// matches, lets the directory do the work and then loses its answer,
// replying 502 as a failing gateway would.
type lossyProxy struct {
	next  http.Handler
	match func(*http.Request) bool

	mu       sync.Mutex
	lost     bool
	replayed []string // the Idempotent-Replayed header of each forwarded answer
	keys     []string
}

func (l *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.match(r) {
		l.next.ServeHTTP(w, r)
		return
	}
	l.mu.Lock()
	l.keys = append(l.keys, r.Header.Get("Idempotency-Key"))
	lose := !l.lost
	l.lost = true
	l.mu.Unlock()
	if lose {
		rec := httptest.NewRecorder()
		l.next.ServeHTTP(rec, r) // the write happens...
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>bad gateway</html>")) // ...but its answer is lost
		return
	}
	l.next.ServeHTTP(w, r)
	l.mu.Lock()
	l.replayed = append(l.replayed, w.Header().Get("Idempotent-Replayed"))
	l.mu.Unlock()
}

// lossyStack is remote → lossyProxy → directory → mock.
func lossyStack(t *testing.T, match func(*http.Request) bool) (*Provider, *lossyProxy) {
	t.Helper()
	app := directory.Application{ID: ids.New(), Name: "lossy"}
	keyID, secret := apikey.NewID(), apikey.NewSecret()
	tenant := directory.StaticTenant(app, mock.New(mock.WithFastHashing()), keyID, secret)
	proxy := &lossyProxy{next: directory.New(directory.Config{}, tenant, nil), match: match}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	p, err := New(t.Context(), Config{URL: srv.URL, APIKeyID: keyID, APIKeySecret: secret, Application: app.Name, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, proxy
}

// TestIdempotentRetryEndToEnd proves the point of the Idempotency-Key: a
// write whose answer was lost is retried, the directory replays its first
// answer instead of writing again, and the caller sees one success.
func TestIdempotentRetryEndToEnd(t *testing.T) {
	t.Run("CreateAccount", func(t *testing.T) {
		p, proxy := lossyStack(t, func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/accounts")
		})
		a, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: identitytest.Password})
		if err != nil {
			t.Fatalf("CreateAccount through a lossy gateway: %v (a retry without the key would be a conflict)", err)
		}
		l, err := p.ListAccounts(t.Context(), identity.AccountFilter{})
		if err != nil || l.Total != 1 || l.Items[0].ID != a.ID {
			t.Fatalf("after one logical create: %+v, %v", l, err)
		}
		if len(proxy.keys) != 2 || proxy.keys[0] == "" || proxy.keys[0] != proxy.keys[1] {
			t.Fatalf("Idempotency-Keys %q", proxy.keys)
		}
		if len(proxy.replayed) != 1 || proxy.replayed[0] != "true" {
			t.Fatalf("the retry was not answered from the stored answer: Idempotent-Replayed %q", proxy.replayed)
		}
	})
	t.Run("DeleteAccount", func(t *testing.T) {
		p, _ := lossyStack(t, func(r *http.Request) bool { return r.Method == http.MethodDelete })
		a := identitytest.MustCreateAccount(t, p, "alice")
		if err := p.DeleteAccount(t.Context(), a.ID); err != nil {
			t.Fatalf("DeleteAccount through a lossy gateway: %v (a retry without the key would be a 404)", err)
		}
		if _, err := p.Account(t.Context(), a.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("the account survived: %v", err)
		}
	})
	t.Run("CreateAPIKeyIsNotRetried", func(t *testing.T) {
		p, proxy := lossyStack(t, func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/apiKeys")
		})
		a := identitytest.MustCreateAccount(t, p, "alice")
		if _, err := p.CreateAPIKey(t.Context(), a.ID, "laptop"); !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("CreateAPIKey with its answer lost: %v, want ErrUnavailable", err)
		}
		if len(proxy.keys) != 1 || proxy.keys[0] != "" {
			t.Fatalf("API key creation was sent %d times, keys %q", len(proxy.keys), proxy.keys)
		}
		// The key the directory made is listed (without its secret): the
		// caller can see it and delete it.
		keys, err := p.ListAPIKeys(t.Context(), a.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys after the lost answer: %d, %v", len(keys), err)
		}
	})
}

// TestRemoteErrorsRoundTrip checks through the real directory that a
// domain error keeps its sentinel, field and message.
func TestRemoteErrorsRoundTrip(t *testing.T) {
	p := newMockStack(t)
	ctx := context.Background()
	identitytest.MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: identitytest.Password, Email: "alice@example.com"})
	_, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "bob", Password: identitytest.Password, Email: "ALICE@example.com"})
	if !errors.Is(err, identity.ErrConflict) || identity.ErrorField(err) != "email" || identity.ErrorMessage(err) != "The email is already in use." {
		t.Fatalf("conflict: %v (field %q, message %q)", err, identity.ErrorField(err), identity.ErrorMessage(err))
	}
	_, err = p.Authenticate(ctx, "alice", "wrong password here")
	if !errors.Is(err, identity.ErrInvalidCredentials) || err.Error() != identity.ErrInvalidCredentials.Error() {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestBodyOverDirectoryLimit: a body past the directory's body limit (413,
// request_too_large) is a size limit for the caller, as with a local
// provider, not an invalid input.
func TestBodyOverDirectoryLimit(t *testing.T) {
	p := newMockStack(t)
	a := identitytest.MustCreateAccount(t, p, "alice")
	_, err := p.ReplaceCustomData(t.Context(), a.ID, identity.CustomData{"big": strings.Repeat("x", 2<<20)})
	if !errors.Is(err, identity.ErrLimitExceeded) {
		t.Fatalf("2 MiB of custom data: %v (code %s), want ErrLimitExceeded", err, identity.ErrorCode(err))
	}
	_, err = p.Authenticate(t.Context(), "alice", strings.Repeat("x", 2<<20))
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("a 2 MiB password: %v, want ErrInvalidCredentials", err)
	}
}
