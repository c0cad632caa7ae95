package sqlstore

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// newTestProvider returns a fresh, empty, isolated provider over the
// dialect, with cheap password hashing, cleaned up when the test ends:
//
//   - DialectSQLite: a new database file in a temporary directory;
//   - DialectPostgres: a new application with a random name in the database
//     named by GATEHOUSE_TEST_POSTGRES (deleted, with its records, at the
//     end). The test is skipped when the variable is unset, and fails
//     instead when CI=true, so that CI never skips PostgreSQL silently.
func newTestProvider(t *testing.T, dialect string) identity.Provider {
	t.Helper()
	return newTestProviderWith(t, dialect, store.Options{})
}

// newTestProviderWith is newTestProvider with store options (a clock,
// limits, token lifetimes). A nil Hasher gets the cheap one.
func newTestProviderWith(t *testing.T, dialect string, opts store.Options) *store.Provider {
	t.Helper()
	db := openTestDB(t, dialect)
	app := newTestApp(t, db)
	if opts.Hasher == nil {
		opts.Hasher = password.NewHasher(password.InsecureFastParams)
	}
	p, err := db.Provider(context.Background(), app.Name, opts)
	if err != nil {
		t.Fatalf("Provider: %v", err)
	}
	return p
}

// TestConformance runs the shared conformance suite on SQLite, and on
// PostgreSQL when GATEHOUSE_TEST_POSTGRES is set (mandatory in CI).
func TestConformance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		identitytest.Run(t, func(t *testing.T) identity.Provider {
			return newTestProvider(t, dialect)
		})
	})
}

// TestProviderSmoke exercises the provider newTestProvider builds from
// account to token revocation, and checks that two of them are isolated.
func TestProviderSmoke(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		p := newTestProvider(t, dialect)
		ctx := context.Background()
		acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "smoke", Password: "a long enough password", Email: "smoke@example.com"})
		if err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		if _, err := p.Authenticate(ctx, "SMOKE@example.com", "a long enough password"); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		tok, err := p.IssueToken(ctx, acc.ID, identity.TokenRequest{})
		if err != nil {
			t.Fatalf("IssueToken: %v", err)
		}
		if err := p.RevokeToken(ctx, tok.ID, tok.ExpiresAt); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if revoked, err := p.TokenRevoked(ctx, tok.ID); err != nil || !revoked {
			t.Fatalf("TokenRevoked = %v, %v", revoked, err)
		}
		if _, err := p.RotateSigningKey(ctx); err != nil {
			t.Fatalf("RotateSigningKey: %v", err)
		}
		if jwks, err := p.JWKS(ctx); err != nil || len(jwks) == 0 {
			t.Fatalf("JWKS = %s, %v", jwks, err)
		}
		if _, err := p.MergeCustomData(ctx, acc.ID, identity.CustomData{"a": 1}); err != nil {
			t.Fatalf("MergeCustomData: %v", err)
		}
		// A second provider in its own application sees nothing of the first.
		q := newTestProvider(t, dialect)
		if _, err := q.Account(ctx, acc.ID); !isErr(err, identity.ErrNotFound) {
			t.Fatalf("account visible from another test provider: %v", err)
		}
	})
}
