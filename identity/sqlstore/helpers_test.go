package sqlstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// postgresEnv names the environment variable holding the DSN of a
// PostgreSQL database the tests may create applications (and schemas) in.
const postgresEnv = "GATEHOUSE_TEST_POSTGRES"

// dialects are the databases every backend test runs against.
var dialects = []string{DialectSQLite, DialectPostgres}

// postgresDSN returns the test database's DSN, or skips the test when none
// is configured (and fails it under CI, which must not skip silently).
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", postgresEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to a DSN, e.g. postgres://postgres@127.0.0.1:5432/gatehouse_dev?sslmode=disable", postgresEnv)
	}
	return dsn
}

// testDSN returns a DSN for a fresh database of the dialect: a new SQLite
// file in a temporary directory, or the shared PostgreSQL test database
// (isolation there comes from a fresh application per test).
func testDSN(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case DialectSQLite:
		return filepath.Join(t.TempDir(), "gatehouse.db")
	case DialectPostgres:
		return postgresDSN(t)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// openTestDB opens a database of the dialect, closed when the test ends.
func openTestDB(t testing.TB, dialect string, opts ...Option) *DB {
	t.Helper()
	return openDSN(t, testDSN(t, dialect), opts...)
}

func openDSN(t testing.TB, dsn string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestApp creates an application with a random name in db, deleted with
// everything it holds when the test ends.
func newTestApp(t testing.TB, db *DB) *Application {
	t.Helper()
	name := "test-" + strings.ToLower(ids.New())
	app, err := db.Application(context.Background(), name, true)
	if err != nil {
		t.Fatalf("Application: %v", err)
	}
	t.Cleanup(func() {
		if err := db.DeleteApplication(context.Background(), name); err != nil && !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("DeleteApplication: %v", err)
		}
	})
	return app
}

// newTestBackend returns the backend of a fresh application in a fresh (or,
// for PostgreSQL, shared) database of the dialect.
func newTestBackend(t testing.TB, dialect string) (*DB, store.Backend) {
	t.Helper()
	db := openTestDB(t, dialect)
	return db, db.Backend(newTestApp(t, db).ID)
}

// forEachDialect runs fn as a subtest per dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// now is the current time at the stored precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newAccount returns a record as the Provider would build it.
func newAccount(username, email string) *store.AccountRecord {
	t := now()
	r := &store.AccountRecord{
		Account: identity.Account{
			ID: ids.New(), Username: username, Email: email, Status: identity.StatusEnabled,
			CreatedAt: t, ModifiedAt: t, PasswordModifiedAt: t,
		},
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		UsernameKey:  identity.FoldKey(username),
	}
	if email != "" {
		r.EmailKey = identity.FoldKey(email)
	}
	return r
}

func mustInsertAccount(t testing.TB, b store.Backend, username, email string) *store.AccountRecord {
	t.Helper()
	r := newAccount(username, email)
	if err := b.InsertAccount(context.Background(), r); err != nil {
		t.Fatalf("InsertAccount(%q, %q): %v", username, email, err)
	}
	return r
}

func newGroup(name string) *store.GroupRecord {
	t := now()
	return &store.GroupRecord{
		Group:   identity.Group{ID: ids.New(), Name: name, CreatedAt: t, ModifiedAt: t},
		NameKey: identity.FoldKey(name),
	}
}

func mustInsertGroup(t testing.TB, b store.Backend, name string) *store.GroupRecord {
	t.Helper()
	g := newGroup(name)
	if err := b.InsertGroup(context.Background(), g); err != nil {
		t.Fatalf("InsertGroup(%q): %v", name, err)
	}
	return g
}

func newKey(accountID string) *store.APIKeyRecord {
	return &store.APIKeyRecord{
		APIKey: identity.APIKey{
			ID: identity.APIKeyIDPrefix + ids.New(), AccountID: accountID, Status: identity.StatusEnabled, CreatedAt: now(),
		},
		SecretHash: []byte("hash-of-" + ids.New()),
	}
}

// wantErr fails the test unless err matches target (errors.Is, so a
// identity.Conflict("email") target also checks the field).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !isErr(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func isErr(err, target error) bool {
	if err == nil {
		return target == nil
	}
	return target != nil && errors.Is(err, target)
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
