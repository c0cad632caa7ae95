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

// noFeed hides a provider's revocation feed, to test the verifier's
// per-token mode.
type noFeed struct{ identity.Provider }

// TestTokenVerifierRevocations covers providers without a revocation feed:
// the verifier asks about each token, and remembers the answer.
func TestTokenVerifierRevocations(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	tv := api.NewTokenVerifier(noFeed{p}, api.TokenVerifierConfig{RevocationTTL: 5 * time.Second, Now: clk.Now})

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

// eventually retries check until it succeeds or a generous deadline passes:
// the feed is polled in the background.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTokenVerifierRevocationFeed covers providers with a revocation feed:
// one poll per interval, whatever the number of tokens; revocations made
// elsewhere take effect after the next poll; tokens keep verifying while
// the feed is unreachable.
func TestTokenVerifierRevocationFeed(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{RevocationPoll: 5 * time.Second, Now: clk.Now})
	toks := make([]*identity.Token, 20)
	for i := range toks {
		toks[i] = issue(t, p, acc.ID)
	}
	revokedEarly := issue(t, p, acc.ID)
	if err := p.RevokeToken(ctx, revokedEarly.ID, revokedEarly.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if _, err := tv.Verify(ctx, tok.Value); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tv.Verify(ctx, revokedEarly.Value); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("token revoked before the first load = %v", err)
	}
	if got := p.Calls(mock.OpRevokedSince); got != 1 {
		t.Errorf("feed polled %d times for 21 tokens within one interval, want 1", got)
	}
	if got := p.Calls(mock.OpTokenRevoked); got != 0 {
		t.Errorf("per-token revocation checks with a feed: %d", got)
	}

	// A revocation made elsewhere is seen after the next poll.
	if err := p.RevokeToken(ctx, toks[0].ID, toks[0].ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.Verify(ctx, toks[0].Value); err != nil {
		t.Fatalf("before the poll is due: %v", err)
	}
	clk.Add(6 * time.Second)
	eventually(t, "revocation after the next poll", func() error {
		if _, err := tv.Verify(ctx, toks[0].Value); !errors.Is(err, token.ErrInvalidToken) {
			return errors.New("still accepted")
		}
		return nil
	})

	// The feed goes away: known revocations hold, other tokens verify,
	// tokens never seen before included.
	p.Fail(mock.OpRevokedSince, identity.ErrUnavailable)
	p.Fail(mock.OpTokenRevoked, identity.ErrUnavailable)
	clk.Add(time.Minute)
	unseen := issue(t, p, acc.ID)
	for range 3 {
		if _, err := tv.Verify(ctx, unseen.Value); err != nil {
			t.Fatalf("unseen token during a feed outage: %v", err)
		}
		if _, err := tv.Verify(ctx, toks[0].Value); !errors.Is(err, token.ErrInvalidToken) {
			t.Fatalf("revoked token accepted during a feed outage: %v", err)
		}
	}
}

// TestTokenVerifierFeedNeverLoaded: while the feed has never answered, the
// verifier asks about each token instead.
func TestTokenVerifierFeedNeverLoaded(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	p.Fail(mock.OpRevokedSince, identity.ErrUnavailable)
	tv := api.NewTokenVerifier(p, api.TokenVerifierConfig{})
	tok := issue(t, p, acc.ID)
	if err := p.RevokeToken(ctx, tok.ID, tok.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.Verify(ctx, tok.Value); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("revoked token accepted while the feed never loaded: %v", err)
	}
	if p.Calls(mock.OpTokenRevoked) != 1 {
		t.Errorf("per-token check not used: %d calls", p.Calls(mock.OpTokenRevoked))
	}
}
