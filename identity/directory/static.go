package directory

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/ids"
)

// StaticTenant returns a Tenant serving one application over any Provider,
// with one admin key: a directory in front of the mock (tests, demos) or of
// any other Provider. Idempotent answers are kept in memory, with the same
// semantics as the SQL store's.
//
// An empty app.ID gets a random id, an empty app.Name "gatehouse" and a
// zero app.CreatedAt the current time. The admin secret is kept only as its
// SHA-256 and compared in constant time, as the SQL store does.
func StaticTenant(app Application, p identity.Provider, adminKeyID, adminSecret string) Tenant {
	if app.ID == "" {
		app.ID = ids.New()
	}
	if app.Name == "" {
		app.Name = "gatehouse"
	}
	if app.CreatedAt.IsZero() {
		app.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	}
	return &staticTenant{
		app:        app,
		p:          p,
		keyID:      adminKeyID,
		secretHash: apikey.HashSecret(adminSecret),
		idem:       newMemoryIdempotency(nil),
	}
}

type staticTenant struct {
	app        Application
	p          identity.Provider
	keyID      string
	secretHash []byte
	idem       *memoryIdempotency
}

// AuthenticateAdmin implements Tenant. The id and the secret are both
// compared, in constant time, whatever the outcome of the first.
func (t *staticTenant) AuthenticateAdmin(_ context.Context, keyID, secret string) (string, error) {
	idOK := subtle.ConstantTimeCompare([]byte(keyID), []byte(t.keyID)) == 1 && keyID != ""
	secretOK := apikey.Matches(t.secretHash, secret)
	switch {
	case !idOK:
		return "", identity.InvalidCredentials(identity.ReasonUnknownKey)
	case !secretOK:
		return "", identity.InvalidCredentials(identity.ReasonWrongSecret)
	}
	return t.app.ID, nil
}

// Application implements Tenant.
func (t *staticTenant) Application(_ context.Context, appID string) (*Application, identity.Provider, error) {
	if appID != t.app.ID {
		return nil, nil, identity.NotFound("application")
	}
	a := t.app
	return &a, t.p, nil
}

// Idempotency implements Tenant.
func (t *staticTenant) Idempotency() IdempotencyStore { return t.idem }

// Ping implements Tenant: it asks the Provider if it can (a Provider with a
// Ping(context.Context) error method), and is always ready otherwise.
func (t *staticTenant) Ping(ctx context.Context) error {
	if pinger, ok := t.p.(interface{ Ping(context.Context) error }); ok {
		return pinger.Ping(ctx)
	}
	return nil
}
