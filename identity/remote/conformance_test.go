package remote

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/api/openapitest"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/identitytest"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// postgresEnv names the DSN of a PostgreSQL database the tests may create
// applications in, as in the sqlstore tests.
const postgresEnv = "GATEHOUSE_TEST_POSTGRES"

// TestConformance runs the provider conformance suite through the whole
// stack: remote provider → HTTP → directory server → a backend, for each
// backend the directory serves in production or tests. Each factory call
// starts its own directory (or application), so every subtest gets a fresh,
// isolated provider.
func TestConformance(t *testing.T) {
	t.Run("Mock", func(t *testing.T) {
		identitytest.Run(t, newMockStack)
	})
	t.Run("SQLite", func(t *testing.T) {
		identitytest.Run(t, newSQLiteStack)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := os.Getenv(postgresEnv)
		if dsn == "" {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not set: CI must run the PostgreSQL tests", postgresEnv)
			}
			t.Skipf("PostgreSQL skipped: set %s to a DSN, e.g. postgres://postgres@127.0.0.1:5432/gatehouse_dev?sslmode=disable", postgresEnv)
		}
		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open(%s): %v", postgresEnv, err)
		}
		t.Cleanup(func() { db.Close() })
		identitytest.Run(t, func(t *testing.T) identity.Provider { return newSQLStack(t, db) })
	})
}

// newMockStack serves a fresh mock through a directory.
func newMockStack(t *testing.T) identity.Provider {
	t.Helper()
	app := directory.Application{ID: ids.New(), Name: "conformance-mock"}
	keyID, secret := apikey.NewID(), apikey.NewSecret()
	tenant := directory.StaticTenant(app, mock.New(mock.WithFastHashing()), keyID, secret)
	return connect(t, tenant, keyID, secret, app.Name)
}

// newSQLiteStack serves a fresh SQLite database through a directory.
func newSQLiteStack(t *testing.T) identity.Provider {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return newSQLStack(t, db)
}

// newSQLStack creates an application with a random name in db (deleted at
// the end of the test) and serves it through a directory.
func newSQLStack(t *testing.T, db *sqlstore.DB) identity.Provider {
	t.Helper()
	ctx := context.Background()
	name := "conformance-" + strings.ToLower(ids.New())
	app, err := db.Application(ctx, name, true)
	if err != nil {
		t.Fatalf("Application: %v", err)
	}
	t.Cleanup(func() {
		if err := db.DeleteApplication(context.Background(), name); err != nil && !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("DeleteApplication: %v", err)
		}
	})
	keyID, secret, err := db.CreateAdminKey(ctx, app.ID)
	if err != nil {
		t.Fatalf("CreateAdminKey: %v", err)
	}
	tenant := directory.SQLTenant(db, store.Options{Hasher: password.NewHasher(password.InsecureFastParams)})
	return connect(t, tenant, keyID, secret, name)
}

// connect starts a directory over tenant and returns a remote provider
// talking to it with the admin key. Every exchange is validated against
// the directory's OpenAPI document: the conformance suite drives the whole
// protocol, errors included, as the remote provider speaks it.
func connect(t *testing.T, tenant directory.Tenant, keyID, secret, app string) identity.Provider {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	srv := httptest.NewServer(directory.New(directory.Config{}, tenant, logger))
	t.Cleanup(srv.Close)
	doc, err := directoryDocument()
	if err != nil {
		t.Fatalf("directory OpenAPI document: %v", err)
	}
	v := doc.Clone()
	t.Cleanup(func() {
		if err := v.Require(); err != nil {
			t.Error(err)
		}
	})
	p, err := New(context.Background(), Config{
		URL: srv.URL, APIKeyID: keyID, APIKeySecret: secret, Application: app,
		Transport: v.RoundTripper(srv.Client().Transport),
		// Generous: the race detector slows the directory down, and an
		// attempt timeout would show up as a spurious ErrUnavailable.
		Timeout: 30 * time.Second,
		Logger:  logger,
	})
	if err != nil {
		t.Fatalf("remote.New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// directoryDocument is the directory's OpenAPI document, parsed once for
// every provider the suite connects.
var directoryDocument = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.New(directory.OpenAPI())
})

// testWriter sends the directory's error logs (internal errors) to the
// test's log, where a failure can be read next to them.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
