package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// publishedKIDs returns the kids of p's JWKS.
func publishedKIDs(t *testing.T, p *store.Provider) []string {
	t.Helper()
	raw, err := p.JWKS(context.Background())
	must(t, "JWKS", err)
	var doc struct{ Keys []struct{ Kid string } }
	must(t, "parse JWKS", json.Unmarshal(raw, &doc))
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestRotateSigningKeyOverlap rotates with an overlap through the store
// provider: the previous key retires after the overlap (plus the key cache
// time of other replicas), never before the longest token lifetime, and
// SigningKeyHistory lists every key, retired ones too.
func TestRotateSigningKeyOverlap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		app := newTestApp(t, db)
		ctx := context.Background()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := t0
		provider := func() *store.Provider { // a new one has no cached keys
			return store.New(db.Backend(app.ID), store.Options{Application: app.Name, MaxTokenTTL: 2 * time.Hour, Now: func() time.Time { return clock }})
		}
		if h, err := db.SigningKeyHistory(ctx, app.ID); err != nil || h == nil || len(h) != 0 {
			t.Fatalf("history of a new application: %v, %v", h, err)
		}

		p := provider()
		if p.MaxTokenTTL() != 2*time.Hour {
			t.Fatalf("MaxTokenTTL %s", p.MaxTokenTTL())
		}
		first, err := p.RotateSigningKey(ctx)
		must(t, "first rotation", err)

		for _, bad := range []time.Duration{0, time.Hour, 2*time.Hour - time.Second, store.MaxSigningKeyOverlap + time.Hour} {
			_, err := p.RotateSigningKeyOverlap(ctx, bad)
			if !errors.Is(err, identity.ErrInvalidInput) || identity.ErrorField(err) != "overlap" {
				t.Errorf("overlap %s: %v, want an invalid overlap", bad, err)
			}
		}
		if h, _ := db.SigningKeyHistory(ctx, app.ID); len(h) != 1 {
			t.Fatalf("refused rotations made keys: %+v", h)
		}

		second, err := p.RotateSigningKeyOverlap(ctx, 5*time.Hour)
		must(t, "rotate with overlap", err)
		clock = t0.Add(time.Hour)
		third, err := provider().RotateSigningKeyOverlap(ctx, 2*time.Hour)
		must(t, "rotate with the minimum overlap", err)

		h, err := db.SigningKeyHistory(ctx, app.ID)
		must(t, "SigningKeyHistory", err)
		if len(h) != 3 || h[0].ID != third || h[1].ID != second || h[2].ID != first {
			t.Fatalf("history %+v, want %s, %s, %s", h, third, second, first)
		}
		const cache = 30 * time.Second
		if !h[0].RetireAt.IsZero() || !h[1].RetireAt.Equal(t0.Add(time.Hour+2*time.Hour+cache)) || !h[2].RetireAt.Equal(t0.Add(5*time.Hour+cache)) {
			t.Errorf("retire times %v, %v, %v", h[0].RetireAt, h[1].RetireAt, h[2].RetireAt)
		}
		if !h[2].CreatedAt.Equal(t0) {
			t.Errorf("created %v, want %v", h[2].CreatedAt, t0)
		}

		// The JWKS follows the retire times.
		for _, tt := range []struct {
			at   time.Time
			want []string
		}{
			{t0.Add(3*time.Hour + cache - time.Millisecond), []string{third, second, first}},
			{t0.Add(3*time.Hour + cache), []string{third, first}},
			{t0.Add(5*time.Hour + cache), []string{third}},
		} {
			clock = tt.at
			if got := publishedKIDs(t, provider()); !slices.Equal(got, tt.want) {
				t.Errorf("JWKS at %s: %v, want %v", tt.at, got, tt.want)
			}
		}
		// Retired keys stay in the history.
		if h, _ := db.SigningKeyHistory(ctx, app.ID); len(h) != 3 {
			t.Errorf("history after retirements: %+v", h)
		}
		if h, err := db.SigningKeyHistory(ctx, "no-such-app\x00"); err != nil || len(h) != 0 {
			t.Errorf("history of an impossible id: %v, %v", h, err)
		}
	})
}
