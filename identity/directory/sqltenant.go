package directory

import (
	"context"
	"sync"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// SQLTenant returns the Tenant of a SQL store: every application in db,
// the admin keys made by db.CreateAdminKey (gatehouse directory bootstrap),
// and idempotent answers kept in db, so that every directory process
// sharing the database honours them.
//
// Each application gets a store.Provider with opts, its Application option
// set to the application's name (the audience of its tokens). Providers are
// made once per application and kept: they cache signing keys.
func SQLTenant(db *sqlstore.DB, opts store.Options) Tenant {
	return &sqlTenant{db: db, opts: opts, providers: map[string]*store.Provider{}}
}

type sqlTenant struct {
	db   *sqlstore.DB
	opts store.Options

	mu        sync.Mutex
	providers map[string]*store.Provider // by application id
}

// AuthenticateAdmin implements Tenant.
func (t *sqlTenant) AuthenticateAdmin(ctx context.Context, keyID, secret string) (string, error) {
	return t.db.AuthenticateAdminKey(ctx, keyID, secret)
}

// Application implements Tenant. The application is read on every call, so
// a deleted application stops being served at once.
func (t *sqlTenant) Application(ctx context.Context, appID string) (*Application, identity.Provider, error) {
	a, err := t.db.ApplicationByID(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.providers[a.ID]
	if !ok {
		opts := t.opts
		opts.Application = a.Name
		p = store.New(t.db.Backend(a.ID), opts)
		t.providers[a.ID] = p
	}
	return &Application{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt}, p, nil
}

// Idempotency implements Tenant.
func (t *sqlTenant) Idempotency() IdempotencyStore { return sqlIdempotency{t.db} }

// Ping implements Tenant.
func (t *sqlTenant) Ping(ctx context.Context) error { return t.db.Ping(ctx) }

// sqlIdempotency adapts the SQL store's idempotency methods to
// IdempotencyStore.
type sqlIdempotency struct{ db *sqlstore.DB }

func (s sqlIdempotency) Begin(ctx context.Context, appID, key string, fp []byte) (*SavedResponse, error) {
	r, err := s.db.BeginIdempotent(ctx, appID, key, fp)
	if err != nil || r == nil {
		return nil, err
	}
	return &SavedResponse{Status: r.Status, Location: r.Location, Body: r.Body}, nil
}

func (s sqlIdempotency) Complete(ctx context.Context, appID, key string, r SavedResponse) error {
	return s.db.CompleteIdempotent(ctx, appID, key, sqlstore.IdempotentResponse{Status: r.Status, Location: r.Location, Body: r.Body})
}

func (s sqlIdempotency) Abandon(ctx context.Context, appID, key string) error {
	return s.db.AbandonIdempotent(ctx, appID, key)
}
