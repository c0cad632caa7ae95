package api_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func issue(t *testing.T, p identity.Provider, accountID string) *identity.Token {
	t.Helper()
	tok, err := p.IssueToken(context.Background(), accountID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenVerifierRevocations(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{RevocationTTL: 5 * time.Second, Now: clk.Now})

	t.Run("a revocation made elsewhere is seen once the answer is stale", func(t *testing.T) {
		tok := issue(t, p, acc.ID)
		if _, err := tv.Verify(ctx, tok.Value); err != nil {
			t.Fatal(err)
		}
		if err := p.RevokeToken(ctx, tok.ID, tok.ExpiresAt); err != nil { // not through tv
			t.Fatal(err)
		}
		if _, err := tv.Verify(ctx, tok.Value); err != nil {
			t.Fatalf("fresh cached answer should still accept: %v", err)
		}
		clk.Add(6 * time.Second)
		if _, err := tv.Verify(ctx, tok.Value); !errors.Is(err, token.ErrInvalidToken) {
			t.Fatalf("revocation not seen after the TTL: %v", err)
		}
	})

	t.Run("a revocation through the verifier is seen at once", func(t *testing.T) {
		tok := issue(t, p, acc.ID)
		if _, err := tv.Verify(ctx, tok.Value); err != nil {
			t.Fatal(err)
		}
		if err := tv.Revoke(ctx, tok.Value); err != nil {
			t.Fatal(err)
		}
		if _, err := tv.Verify(ctx, tok.Value); !errors.Is(err, token.ErrInvalidToken) {
			t.Fatalf("revoked token accepted: %v", err)
		}
	})

	t.Run("provider unavailable: known tokens keep working, unknown ones are 503", func(t *testing.T) {
		known, revoked, unseen := issue(t, p, acc.ID), issue(t, p, acc.ID), issue(t, p, acc.ID)
		if _, err := tv.Verify(ctx, known.Value); err != nil {
			t.Fatal(err)
		}
		if err := tv.Revoke(ctx, revoked.Value); err != nil {
			t.Fatal(err)
		}
		p.Fail(mock.OpTokenRevoked, identity.ErrUnavailable)
		defer p.Clear(mock.OpTokenRevoked)
		clk.Add(time.Minute) // every cached answer is stale now
		if _, err := tv.Verify(ctx, known.Value); err != nil {
			t.Errorf("known token failed during the outage: %v", err)
		}
		if _, err := tv.Verify(ctx, revoked.Value); !errors.Is(err, token.ErrInvalidToken) {
			t.Errorf("revoked token accepted during the outage: %v", err)
		}
		if _, err := tv.Verify(ctx, unseen.Value); !errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("unseen token during the outage = %v, want unavailable", err)
		}
	})

	t.Run("provider down: a known token still authenticates with its account", func(t *testing.T) {
		tok := issue(t, p, acc.ID)
		if _, got, err := tv.Authenticate(ctx, tok.Value); err != nil || got.ID != acc.ID {
			t.Fatalf("Authenticate = %v, %v", got, err)
		}
		p.Fail(mock.AllOps, identity.ErrUnavailable)
		defer p.Clear(mock.AllOps)
		clk.Add(time.Minute)
		if _, got, err := tv.Authenticate(ctx, tok.Value); err != nil || got.Username != "alice" {
			t.Fatalf("during the outage: %v, %v", got, err)
		}
	})

	t.Run("answers are cached: one provider call per token per TTL", func(t *testing.T) {
		tok := issue(t, p, acc.ID)
		before := p.Calls(mock.OpTokenRevoked)
		for range 10 {
			if _, err := tv.Verify(ctx, tok.Value); err != nil {
				t.Fatal(err)
			}
		}
		if got := p.Calls(mock.OpTokenRevoked) - before; got != 1 {
			t.Errorf("TokenRevoked called %d times for 10 verifications, want 1", got)
		}
	})
}

func TestTokenVerifierPicksUpRotation(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{MinRefreshInterval: 10 * time.Second, Now: clk.Now})
	old := issue(t, p, acc.ID)
	if _, err := tv.Verify(ctx, old.Value); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := issue(t, p, acc.ID)
	// The JWKS was fetched less than MinRefreshInterval ago: a token from an
	// unknown key does not trigger a refetch yet.
	if _, err := tv.Verify(ctx, fresh.Value); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("before the refetch interval: %v, want unknown key", err)
	}
	clk.Add(11 * time.Second)
	if _, err := tv.Verify(ctx, fresh.Value); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := tv.Verify(ctx, old.Value); err != nil {
		t.Fatalf("a token of the rotated-out key must still verify: %v", err)
	}
}

func TestTokenVerifierRemembersVerifiedTokensUntilExpiry(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{Leeway: time.Second, Now: clk.Now})
	tok, err := p.IssueToken(ctx, acc.ID, identity.TokenRequest{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tv.Verify(ctx, tok.Value); err != nil {
			t.Fatal(err)
		}
	}
	// A tampered copy is not the remembered token.
	if _, err := tv.Verify(ctx, tok.Value[:len(tok.Value)-2]+"xx"); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("tampered token = %v", err)
	}
	clk.Add(time.Minute + 2*time.Second)
	if _, err := tv.Verify(ctx, tok.Value); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("remembered token past its expiry = %v, want expired", err)
	}
}

func BenchmarkTokenVerifierWarm(b *testing.B) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := p.IssueToken(ctx, acc.ID, identity.TokenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{})
	if _, _, err := tv.Authenticate(ctx, tok.Value); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := tv.Authenticate(ctx, tok.Value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
