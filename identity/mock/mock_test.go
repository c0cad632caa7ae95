package mock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

func TestConformance(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) identity.Provider {
		return mock.New(mock.WithFastHashing())
	})
}

// calls invokes every Provider method once, with harmless arguments, and
// returns the error of each by operation.
func calls(ctx context.Context, p identity.Provider) map[mock.Op]error {
	out := map[mock.Op]error{}
	_, out[mock.OpCreateAccount] = p.CreateAccount(ctx, identity.AccountCreate{Username: "probe", Password: identitytest.Password})
	_, out[mock.OpAccount] = p.Account(ctx, "x")
	_, out[mock.OpFindAccount] = p.FindAccount(ctx, "x")
	_, out[mock.OpListAccounts] = p.ListAccounts(ctx, identity.AccountFilter{})
	_, out[mock.OpUpdateAccount] = p.UpdateAccount(ctx, "x", identity.AccountUpdate{})
	out[mock.OpDeleteAccount] = p.DeleteAccount(ctx, "x")
	_, out[mock.OpAuthenticate] = p.Authenticate(ctx, "x", "y")
	_, out[mock.OpCreateAPIKey] = p.CreateAPIKey(ctx, "x", "")
	_, out[mock.OpAPIKey] = p.APIKey(ctx, "x")
	_, out[mock.OpListAPIKeys] = p.ListAPIKeys(ctx, "x")
	_, out[mock.OpSetAPIKeyStatus] = p.SetAPIKeyStatus(ctx, "x", identity.StatusEnabled)
	out[mock.OpDeleteAPIKey] = p.DeleteAPIKey(ctx, "x")
	_, _, out[mock.OpAuthenticateAPIKey] = p.AuthenticateAPIKey(ctx, "x", "y")
	_, out[mock.OpCustomData] = p.CustomData(ctx, "x")
	_, out[mock.OpReplaceCustomData] = p.ReplaceCustomData(ctx, "x", nil)
	_, out[mock.OpMergeCustomData] = p.MergeCustomData(ctx, "x", nil)
	out[mock.OpDeleteCustomDataKey] = p.DeleteCustomDataKey(ctx, "x", "k")
	_, out[mock.OpCreateGroup] = p.CreateGroup(ctx, identity.GroupCreate{Name: "probe"})
	_, out[mock.OpGroup] = p.Group(ctx, "x")
	_, out[mock.OpListGroups] = p.ListGroups(ctx, identity.GroupFilter{})
	out[mock.OpDeleteGroup] = p.DeleteGroup(ctx, "x")
	out[mock.OpAddToGroup] = p.AddToGroup(ctx, "x", "y")
	out[mock.OpRemoveFromGroup] = p.RemoveFromGroup(ctx, "x", "y")
	_, out[mock.OpAccountGroups] = p.AccountGroups(ctx, "x")
	_, out[mock.OpGroupMembers] = p.GroupMembers(ctx, "x", identity.Page{})
	_, out[mock.OpIssueToken] = p.IssueToken(ctx, "x", identity.TokenRequest{})
	out[mock.OpRevokeToken] = p.RevokeToken(ctx, "x", time.Now().Add(time.Hour))
	_, out[mock.OpTokenRevoked] = p.TokenRevoked(ctx, "x")
	_, out[mock.OpJWKS] = p.JWKS(ctx)
	_, out[mock.OpTokenSettings] = p.TokenSettings(ctx)
	_, out[mock.OpRotateSigningKey] = p.RotateSigningKey(ctx)
	return out
}

// allOps is every operation, as calls exercises them.
var allOps = func() []mock.Op {
	var ops []mock.Op
	for op := range calls(context.Background(), mock.New(mock.WithFastHashing())) {
		ops = append(ops, op)
	}
	return ops
}()

func TestCallsCoversEveryMethod(t *testing.T) {
	// 31 methods in identity.Provider; calls must try each once.
	if len(allOps) != 31 {
		t.Fatalf("calls exercises %d operations, want 31", len(allOps))
	}
}

var errInjected = errors.New("injected failure")

func TestFailOneOp(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	p.Fail(mock.OpAuthenticate, errInjected)

	_, err := p.Authenticate(t.Context(), "alice", identitytest.Password)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Authenticate: %v, want the injected error", err)
	}
	// Other operations are unaffected.
	if _, err := p.Account(t.Context(), a.ID); err != nil {
		t.Fatalf("Account: %v", err)
	}
	identitytest.MustCreateAccount(t, p, "bob")
	k := identitytest.MustCreateAPIKey(t, p, a.ID, "")
	if _, _, err := p.AuthenticateAPIKey(t.Context(), k.ID, k.Secret); err != nil {
		t.Fatalf("AuthenticateAPIKey: %v", err)
	}

	// A domain error can be injected too, and is matched by its sentinel.
	p.Fail(mock.OpFindAccount, identity.ErrUnavailable)
	_, err = p.FindAccount(t.Context(), "alice")
	if !errors.Is(err, identity.ErrUnavailable) || identity.ErrorCode(err) != identity.CodeUnavailable {
		t.Fatalf("FindAccount: %v, want ErrUnavailable", err)
	}

	// Fail(op, nil) removes the failure.
	p.Fail(mock.OpAuthenticate, nil)
	if _, err := p.Authenticate(t.Context(), "alice", identitytest.Password); err != nil {
		t.Fatalf("Authenticate after Fail(op, nil): %v", err)
	}
	if _, err := p.FindAccount(t.Context(), "alice"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("FindAccount: %v; removing one failure removed another", err)
	}
}

func TestFailEveryOpIndividually(t *testing.T) {
	for _, op := range allOps {
		t.Run(string(op), func(t *testing.T) {
			p := mock.New(mock.WithFastHashing())
			p.Fail(op, errInjected)
			for got, err := range calls(t.Context(), p) {
				if failed := errors.Is(err, errInjected); failed != (got == op) {
					t.Errorf("%s: err %v (failed %v) with only %s failing", got, err, failed, op)
				}
			}
		})
	}
}

func TestFailAllOps(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	p.Fail(mock.AllOps, identity.ErrUnavailable)
	for op, err := range calls(t.Context(), p) {
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", op, err)
		}
	}
	// A per-operation error takes precedence over the AllOps one.
	p.Fail(mock.OpAccount, errInjected)
	if _, err := p.Account(t.Context(), a.ID); !errors.Is(err, errInjected) {
		t.Fatalf("Account: %v, want the per-operation error", err)
	}
	p.Clear(mock.AllOps)
	if _, err := p.Account(t.Context(), a.ID); !errors.Is(err, errInjected) {
		t.Fatalf("Account: %v; clearing AllOps removed a per-operation failure", err)
	}
	if _, err := p.FindAccount(t.Context(), "alice"); err != nil {
		t.Fatalf("FindAccount after Clear(AllOps): %v", err)
	}
	// Nothing was changed while failing: the probe account does not exist.
	if _, err := p.FindAccount(t.Context(), "probe"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("FindAccount(probe): %v; a failed CreateAccount created it", err)
	}
}

func TestClear(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	p.Fail(mock.OpAccount, errInjected)
	p.Delay(mock.OpAccount, time.Hour)
	p.Fail(mock.OpFindAccount, errInjected)
	p.Clear(mock.OpAccount)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := p.Account(ctx, a.ID); err != nil {
		t.Fatalf("Account after Clear: %v (its failure or delay survived)", err)
	}
	if _, err := p.FindAccount(t.Context(), "alice"); !errors.Is(err, errInjected) {
		t.Fatalf("FindAccount: %v; Clear of another op removed its failure", err)
	}
}

func TestReset(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	p.Fail(mock.AllOps, errInjected)
	p.Fail(mock.OpAccount, errInjected)
	p.Delay(mock.OpFindAccount, time.Hour)
	p.Reset()
	if n := p.Calls(mock.AllOps); n != 0 {
		t.Fatalf("Calls(AllOps) = %d after Reset", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := p.Account(ctx, a.ID); err != nil {
		t.Fatalf("Account after Reset: %v", err)
	}
	if _, err := p.FindAccount(ctx, "alice"); err != nil {
		t.Fatalf("FindAccount after Reset: %v", err)
	}
	// Reset clears faults and counts, not data.
	if _, err := p.Authenticate(ctx, "alice", identitytest.Password); err != nil {
		t.Fatalf("Authenticate after Reset: %v", err)
	}
}

func TestCalls(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	if n := p.Calls(mock.AllOps); n != 0 {
		t.Fatalf("a new mock counts %d calls", n)
	}
	a := identitytest.MustCreateAccount(t, p, "alice")
	for range 3 {
		p.Account(t.Context(), a.ID)
	}
	p.Authenticate(t.Context(), "alice", "wrong password!!")
	p.Fail(mock.OpAccount, errInjected)
	p.Account(t.Context(), a.ID) // failed calls count too
	for op, want := range map[mock.Op]int{
		mock.OpCreateAccount: 1,
		mock.OpAccount:       4,
		mock.OpAuthenticate:  1,
		mock.OpFindAccount:   0,
		mock.AllOps:          6,
	} {
		if got := p.Calls(op); got != want {
			t.Errorf("Calls(%s) = %d, want %d", op, got, want)
		}
	}
	calls(t.Context(), p)
	for _, op := range allOps {
		if p.Calls(op) < 1 {
			t.Errorf("Calls(%s) = 0 after calling it", op)
		}
	}
	if got, want := p.Calls(mock.AllOps), 6+len(allOps); got != want {
		t.Errorf("Calls(AllOps) = %d, want %d", got, want)
	}
}

func TestDelayRespectsContext(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	p.Delay(mock.OpAccount, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Account(ctx, a.ID)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Account: %v, want context.DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("Account returned after %v; the delay ignored the context", elapsed)
	}
	// Cancellation, not only deadlines.
	cctx, ccancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, ccancel)
	if _, err := p.Account(cctx, a.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Account: %v, want context.Canceled", err)
	}
	// Other operations are not delayed.
	fctx, fcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer fcancel()
	if _, err := p.FindAccount(fctx, "alice"); err != nil {
		t.Fatalf("FindAccount: %v", err)
	}
}

func TestDelayThenRuns(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	const d = 30 * time.Millisecond
	p.Delay(mock.AllOps, d)
	start := time.Now()
	got, err := p.Account(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if got.ID != a.ID {
		t.Fatalf("Account returned %s", got.ID)
	}
	if elapsed := time.Since(start); elapsed < d {
		t.Fatalf("Account returned after %v, before the %v delay", elapsed, d)
	}
	// A delay and a failure combine: wait, then fail.
	p.Fail(mock.OpAccount, errInjected)
	start = time.Now()
	if _, err := p.Account(t.Context(), a.ID); !errors.Is(err, errInjected) {
		t.Fatalf("Account: %v, want the injected error", err)
	}
	if elapsed := time.Since(start); elapsed < d {
		t.Fatalf("failing Account returned after %v, before the %v delay", elapsed, d)
	}
}

func TestDefaultHasher(t *testing.T) {
	if got := mock.New().Hasher().Params(); got != password.DefaultParams {
		t.Fatalf("default hasher params %+v, want password.DefaultParams %+v", got, password.DefaultParams)
	}
	if got := mock.New(mock.WithFastHashing()).Hasher().Params(); got != password.InsecureFastParams {
		t.Fatalf("WithFastHashing params %+v, want password.InsecureFastParams", got)
	}
}

func TestDefaultHasherImportsUpgrade(t *testing.T) {
	// An argon2id hash made with the fast parameters verifies with the
	// default hasher and is then upgraded: it keeps working.
	p := mock.New()
	hash, err := password.NewHasher(password.InsecureFastParams).Hash(identitytest.Password)
	if err != nil {
		t.Fatal(err)
	}
	a := identitytest.MustCreate(t, p, identity.AccountCreate{Username: "alice", PasswordHash: hash})
	for range 2 {
		got, err := p.Authenticate(t.Context(), "alice", identitytest.Password)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if got.ID != a.ID {
			t.Fatalf("Authenticate returned %s", got.ID)
		}
	}
}

func TestWithStoreOptions(t *testing.T) {
	so := store.Options{
		Application: "billing",
		Issuer:      "https://id.example.com",
		Limits:      identity.Limits{APIKeysPerAccount: 2},
	}
	for name, p := range map[string]*mock.Provider{
		"FastFirst": mock.New(mock.WithFastHashing(), mock.WithStoreOptions(so)),
		"FastLast":  mock.New(mock.WithStoreOptions(so), mock.WithFastHashing()),
	} {
		t.Run(name, func(t *testing.T) {
			if got := p.Hasher().Params(); got != password.InsecureFastParams {
				t.Fatalf("hasher params %+v; WithStoreOptions lost WithFastHashing", got)
			}
			s, err := p.TokenSettings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if s.Audience != "billing" || s.Issuer != "https://id.example.com" {
				t.Fatalf("TokenSettings = %+v", s)
			}
			a := identitytest.MustCreateAccount(t, p, "alice")
			identitytest.MustCreateAPIKey(t, p, a.ID, "")
			identitytest.MustCreateAPIKey(t, p, a.ID, "")
			if _, err := p.CreateAPIKey(t.Context(), a.ID, ""); !errors.Is(err, identity.ErrLimitExceeded) {
				t.Fatalf("third key: %v, want ErrLimitExceeded with a limit of 2", err)
			}
			// Other limits keep their defaults.
			if _, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "bob", Password: "short"}); !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("short password: %v, want ErrInvalidInput", err)
			}
		})
	}
}

func TestClock(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", 3600))
	p := mock.New(mock.WithFastHashing(), mock.WithStoreOptions(store.Options{Now: func() time.Time { return now }}))
	a := identitytest.MustCreateAccount(t, p, "alice")
	want := now.UTC().Truncate(time.Millisecond)
	if !a.CreatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", a.CreatedAt, want)
	}
	tok, err := p.IssueToken(t.Context(), a.ID, identity.TokenRequest{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.IssuedAt.Equal(now.Truncate(time.Second)) {
		t.Fatalf("IssuedAt = %v, want %v", tok.IssuedAt, now.Truncate(time.Second))
	}
}

func TestConcurrentFaultInjection(t *testing.T) {
	// Configuring faults while calls run must be race-free.
	p := mock.New(mock.WithFastHashing())
	a := identitytest.MustCreateAccount(t, p, "alice")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if i%2 == 0 {
				p.Fail(mock.OpAccount, errInjected)
			} else {
				p.Clear(mock.OpAccount)
			}
			p.Calls(mock.AllOps)
		}
	}()
	for range 200 {
		if _, err := p.Account(t.Context(), a.ID); err != nil && !errors.Is(err, errInjected) {
			t.Fatalf("Account: %v", err)
		}
	}
	<-done
}
