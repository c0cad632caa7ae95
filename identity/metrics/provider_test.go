package metrics_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

func TestProviderCountsCallsByOutcome(t *testing.T) {
	ctx := context.Background()
	m, reg := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	p := metrics.Provider(inner, m)

	if _, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: "alice's long password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "ALICE", Password: "alice's long password"}); !errors.Is(err, identity.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := p.Authenticate(ctx, "alice", "alice's long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := p.Account(ctx, "nobody"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	inner.Fail(mock.OpTokenSettings, identity.Unavailable(errors.New("connection refused")))
	if _, err := p.TokenSettings(ctx); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("TokenSettings: %v", err)
	}
	inner.Fail(mock.OpJWKS, errors.New("disk on fire"))
	if _, err := p.JWKS(ctx); err == nil {
		t.Fatal("JWKS did not fail")
	}
	// A code outside the domain's table (a confused peer) is not a label.
	inner.Fail(mock.OpTokenRevoked, &identity.Error{Code: "made_up_code"})
	if _, err := p.TokenRevoked(ctx, "jti"); err == nil {
		t.Fatal("TokenRevoked did not fail")
	}
	inner.Fail(mock.OpRotateSigningKey, identity.Throttled(time.Second))
	if _, err := p.RotateSigningKey(ctx); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("RotateSigningKey: %v", err)
	}

	for _, c := range []struct {
		op, outcome string
		want        float64
	}{
		{"create_account", "ok", 1},
		{"create_account", "conflict", 1},
		{"authenticate", "ok", 1},
		{"authenticate", "invalid_credentials", 1},
		{"account", "not_found", 1},
		{"token_settings", "unavailable", 1},
		{"jwks", "error", 1},
		{"token_revoked", "error", 1},
		{"rotate_signing_key", "throttled", 1},
	} {
		if got := value(t, reg, "gatehouse_provider_calls_total", "operation", c.op, "outcome", c.outcome); got != c.want {
			t.Errorf("%s/%s = %v, want %v", c.op, c.outcome, got, c.want)
		}
	}
	if _, ok := sample(t, reg, "gatehouse_provider_calls_total", "operation", "token_revoked", "outcome", "made_up_code"); ok {
		t.Error("an unknown code became a label")
	}
	for op, want := range map[string]float64{"authenticate": 2, "create_account": 2, "jwks": 1} {
		if got := value(t, reg, "gatehouse_provider_call_duration_seconds", "operation", op); got != want {
			t.Errorf("%s duration samples = %v, want %v", op, got, want)
		}
	}
	// Without WithAuthentications, logins are not authentications here:
	// the API's auth middleware counts those.
	if got := value(t, reg, "gatehouse_authentications_total", "method", "password", "outcome", "success"); got != 0 {
		t.Errorf("password/success = %v, want 0", got)
	}
	noRawPath(t, reg, "alice", "jti")
}

func TestProviderWithAuthentications(t *testing.T) {
	ctx := context.Background()
	m, reg := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	p := metrics.Provider(inner, m, metrics.WithAuthentications())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "bob", Password: "bob's long password"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.CreateAPIKey(ctx, acc.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Authenticate(ctx, "bob", "bob's long password")
	_, _ = p.Authenticate(ctx, "bob", "nope")
	_, _, _ = p.AuthenticateAPIKey(ctx, key.ID, key.Secret)
	_, _, _ = p.AuthenticateAPIKey(ctx, key.ID, "gks_wrong")
	inner.Fail(mock.OpAuthenticate, identity.Throttled(time.Second))
	_, _ = p.Authenticate(ctx, "bob", "bob's long password")
	inner.Fail(mock.OpAuthenticateAPIKey, identity.Unavailable(errors.New("down")))
	_, _, _ = p.AuthenticateAPIKey(ctx, key.ID, key.Secret)

	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{"password", "success", 1},
		{"password", "failure", 1},
		{"password", "throttled", 1},
		{"api_key", "success", 1},
		{"api_key", "failure", 1},
		{"api_key", "unavailable", 1},
		{"token", "success", 0},
	} {
		if got := value(t, reg, "gatehouse_authentications_total", "method", c.method, "outcome", c.outcome); got != c.want {
			t.Errorf("%s/%s = %v, want %v", c.method, c.outcome, got, c.want)
		}
	}
	noRawPath(t, reg, key.ID, "bob")
}

func TestProviderUnwrap(t *testing.T) {
	m, _ := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	p := metrics.Provider(inner, m)
	u, ok := p.(interface{ Unwrap() identity.Provider })
	if !ok || u.Unwrap() != identity.Provider(inner) {
		t.Fatal("Unwrap does not return the wrapped provider")
	}
	if _, ok := identity.FindRevocationFeed(p); !ok {
		t.Fatal("the mock's revocation feed is not found through the decorator")
	}
}

// TestProviderCountsEveryOperation calls every method of identity.Provider
// through the decorator, and expects one operation label each, all
// different.
func TestProviderCountsEveryOperation(t *testing.T) {
	m, reg := newMetrics(t)
	p := metrics.Provider(mock.New(mock.WithFastHashing()), m)
	iface := reflect.TypeFor[identity.Provider]()
	v := reflect.ValueOf(p)
	ctx := reflect.ValueOf(context.Background())
	for i := range iface.NumMethod() {
		meth := v.MethodByName(iface.Method(i).Name)
		args := []reflect.Value{ctx}
		for j := 1; j < meth.Type().NumIn(); j++ {
			args = append(args, reflect.Zero(meth.Type().In(j)))
		}
		meth.Call(args)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "gatehouse_provider_call_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			ops[s.GetLabel()[0].GetValue()] = true
		}
	}
	if len(ops) != iface.NumMethod() {
		t.Fatalf("%d operations labelled for %d methods: %v", len(ops), iface.NumMethod(), ops)
	}
}

// TestProviderSuccessDoesNotAllocate: the decorator adds no allocation to
// a successful call.
func TestProviderSuccessDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	m, _ := newMetrics(t)
	inner := mock.New(mock.WithFastHashing())
	p := metrics.Provider(inner, m)
	_, _ = p.TokenSettings(ctx)
	bare := testing.AllocsPerRun(100, func() { _, _ = inner.TokenSettings(ctx) })
	wrapped := testing.AllocsPerRun(100, func() { _, _ = p.TokenSettings(ctx) })
	if wrapped > bare {
		t.Fatalf("%v allocations through the decorator, %v without", wrapped, bare)
	}
}
