package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/seal"
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

// TestSealedSigningKeys: with an encryption key configured, signing keys'
// private parts are sealed at rest; keys stored in the clear before keep
// working until resealed; a key sealed with a secret the process does not
// hold, or moved onto another row, does not load.
func TestSealedSigningKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		app := newTestApp(t, db)
		ctx := context.Background()
		secretA := "first encryption secret, 32 bytes or more"
		secretB := "second encryption secret, 32 bytes or more"
		provider := func(s *seal.Sealer) *store.Provider { // a new one has no cached keys
			return store.New(db.Backend(app.ID), store.Options{Application: app.Name, Sealer: s})
		}
		sealer := func(current string, previous ...string) *seal.Sealer {
			s, err := seal.New(current, previous...)
			must(t, "seal.New", err)
			return s
		}
		stored := func() map[string][]byte {
			rows, err := db.sql.Query(`SELECT id, private_key FROM signing_keys WHERE app_id = $1`, app.ID)
			must(t, "read signing_keys", err)
			defer rows.Close()
			out := map[string][]byte{}
			for rows.Next() {
				var id string
				var b []byte
				must(t, "scan", rows.Scan(&id, &b))
				out[id] = b
			}
			must(t, "rows", rows.Err())
			return out
		}
		jwks := func(p *store.Provider) string {
			b, err := p.JWKS(ctx)
			must(t, "JWKS", err)
			return string(b)
		}

		// Before any secret: the first key is stored in the clear (DER).
		plain := provider(nil)
		before := jwks(plain)
		first := stored()
		if len(first) != 1 {
			t.Fatalf("%d keys stored", len(first))
		}
		var kid1 string
		var der1 []byte
		for kid1, der1 = range first {
		}
		if seal.IsSealed(der1) || der1[0] != 0x30 {
			t.Fatalf("key stored without a secret is not DER: %x", der1[:4])
		}

		// With secret A, the clear key still loads; resealing seals it and
		// the published key is the same.
		pa := provider(sealer(secretA))
		if got := jwks(pa); got != before {
			t.Fatalf("JWKS changed by configuring a secret:\n%s\n%s", before, got)
		}
		if r, err := pa.ResealSigningKeys(ctx); err != nil || r != (store.ResealResult{Resealed: 1}) {
			t.Fatalf("reseal: %+v, %v", r, err)
		}
		if b := stored()[kid1]; !seal.IsSealed(b) || bytes.Contains(b, der1[16:]) {
			t.Fatalf("after resealing, the key is stored as %x", b)
		}
		if got := jwks(provider(sealer(secretA))); got != before {
			t.Fatalf("JWKS changed by resealing:\n%s\n%s", before, got)
		}
		if _, err := provider(sealer(secretA)).IssueToken(ctx, mustAccountID(t, db, app), identity.TokenRequest{}); err != nil {
			t.Fatalf("issue with the sealed key: %v", err)
		}
		// A rotation with a secret seals the new key as it is written.
		kid2, err := pa.RotateSigningKey(ctx)
		must(t, "rotate", err)
		if b := stored()[kid2]; !seal.IsSealed(b) {
			t.Fatalf("new key stored as %x", b[:4])
		}
		if r, err := pa.ResealSigningKeys(ctx); err != nil || r != (store.ResealResult{Unchanged: 2}) {
			t.Fatalf("second reseal: %+v, %v", r, err)
		}

		// Without the secret, or with another, sealed keys do not load.
		for name, s := range map[string]*seal.Sealer{"no secret": nil, "another secret": sealer(secretB)} {
			if _, err := provider(s).JWKS(ctx); !errors.Is(err, seal.ErrUnknownKey) {
				t.Errorf("%s: JWKS error %v, want ErrUnknownKey", name, err)
			}
			if err := provider(s).CheckSigningKeys(ctx); !errors.Is(err, seal.ErrUnknownKey) {
				t.Errorf("%s: CheckSigningKeys error %v, want ErrUnknownKey", name, err)
			}
		}
		must(t, "CheckSigningKeys with the secret", provider(sealer(secretA)).CheckSigningKeys(ctx))
		if _, err := provider(nil).ResealSigningKeys(ctx); err == nil {
			t.Error("reseal without a secret succeeded")
		}
		// Nor may a process without the secret add a key in the clear.
		if _, err := provider(nil).RotateSigningKey(ctx); !errors.Is(err, seal.ErrUnknownKey) {
			t.Errorf("rotation without the secret: %v, want ErrUnknownKey", err)
		}
		if len(stored()) != 2 {
			t.Fatalf("a refused rotation stored a key: %d keys", len(stored()))
		}

		// Rotating the secret: B current, A previous opens; resealing moves
		// every key to B, after which A can go.
		pb := provider(sealer(secretB, secretA))
		want := jwks(pb)
		if r, err := pb.ResealSigningKeys(ctx); err != nil || r != (store.ResealResult{Resealed: 2}) {
			t.Fatalf("reseal to B: %+v, %v", r, err)
		}
		if got := jwks(provider(sealer(secretB))); got != want {
			t.Fatalf("JWKS after moving to secret B:\n%s\n%s", want, got)
		}

		// A sealed value copied onto another key's row, or onto another
		// application's, does not open: the current key here is kid2.
		rows := stored()
		other := newTestApp(t, db)
		otherProvider := store.New(db.Backend(other.ID), store.Options{Application: other.Name, Sealer: sealer(secretB)})
		otherKid, err := otherProvider.RotateSigningKey(ctx)
		must(t, "other application's key", err)
		_, err = db.sql.Exec(`UPDATE signing_keys SET private_key = $1 WHERE app_id = $2 AND id = $3`, rows[kid2], other.ID, otherKid)
		must(t, "copy to another application", err)
		otherProvider = store.New(db.Backend(other.ID), store.Options{Application: other.Name, Sealer: sealer(secretB)})
		if _, err := otherProvider.JWKS(ctx); !errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("a value copied to another application: JWKS error %v, want ErrCorrupt", err)
		}
		_, err = db.sql.Exec(`UPDATE signing_keys SET private_key = $1 WHERE app_id = $2 AND id = $3`, rows[kid1], app.ID, kid2)
		must(t, "swap", err)
		if _, err := provider(sealer(secretB)).JWKS(ctx); !errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("moved value: JWKS error %v, want ErrCorrupt", err)
		}
	})
}

// TestLostEncryptionKey: when the secret that sealed the keys is lost, a
// rotation with a new secret makes the application usable at once; the old
// keys, which nothing can open, are left out of the JWKS (the tokens they
// signed are refused) rather than failing every call until they retire.
func TestLostEncryptionKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		app := newTestApp(t, db)
		ctx := context.Background()
		sealer := func(secret string) *seal.Sealer {
			s, err := seal.New(secret)
			must(t, "seal.New", err)
			return s
		}
		lost, fresh := sealer("the secret that will be lost, 32+ bytes"), sealer("the secret that replaces it, 32+ bytes")
		provider := func(s *seal.Sealer) *store.Provider {
			return store.New(db.Backend(app.ID), store.Options{Application: app.Name, Sealer: s})
		}
		oldKid, err := provider(lost).RotateSigningKey(ctx)
		must(t, "first key", err)

		p := provider(fresh)
		if err := p.CheckSigningKeys(ctx); !errors.Is(err, seal.ErrUnknownKey) {
			t.Fatalf("the current key sealed with a lost secret: %v, want ErrUnknownKey", err)
		}
		newKid, err := p.RotateSigningKey(ctx)
		must(t, "rotate with the new secret", err)
		p = provider(fresh)
		must(t, "CheckSigningKeys after the rotation", p.CheckSigningKeys(ctx))
		if kids := publishedKIDs(t, p); !slices.Equal(kids, []string{newKid}) {
			t.Fatalf("published %v, want only %s (not %s, which cannot be opened)", kids, newKid, oldKid)
		}
		if _, err := p.IssueToken(ctx, mustAccountID(t, db, app), identity.TokenRequest{}); err != nil {
			t.Fatalf("issue after the rotation: %v", err)
		}
		// Resealing cannot move a key nothing opens: it counts it.
		if r, err := p.ResealSigningKeys(ctx); err != nil || r != (store.ResealResult{Unchanged: 1, Unreadable: 1}) {
			t.Fatalf("reseal with a lost key stored: %+v, %v", r, err)
		}
		// But a current key that does not open is an error.
		if _, err := provider(lost).ResealSigningKeys(ctx); !errors.Is(err, seal.ErrUnknownKey) {
			t.Fatalf("reseal whose current key does not open: %v", err)
		}
	})
}

// mustAccountID creates an account in app and returns its id.
func mustAccountID(t *testing.T, db *DB, app *Application) string {
	t.Helper()
	p := store.New(db.Backend(app.ID), store.Options{Application: app.Name, Hasher: password.NewHasher(password.InsecureFastParams)})
	acc, err := p.CreateAccount(context.Background(), identity.AccountCreate{Username: "sealer-" + ids.RandomString(6), Password: "a long enough password"})
	must(t, "create account", err)
	return acc.ID
}
