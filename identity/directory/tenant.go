package directory

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Application is an application the directory serves: the scope of an
// admin key, and of everything reached through it.
type Application struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Tenant is what the directory serves: its applications, the admin keys
// that API servers authenticate with, one identity.Provider per application,
// and the store of idempotent answers. The SQL store implements it
// (SQLTenant); StaticTenant serves one application over any Provider (the
// mock, in tests). Implementations are safe for concurrent use.
type Tenant interface {
	// AuthenticateAdmin checks an admin key and returns the id of the
	// application it belongs to. Errors: identity.ErrInvalidCredentials for
	// every failure; identity.ErrUnavailable.
	AuthenticateAdmin(ctx context.Context, keyID, secret string) (appID string, err error)
	// Application returns an application and its provider.
	// Errors: identity.ErrNotFound.
	Application(ctx context.Context, appID string) (*Application, identity.Provider, error)
	// Idempotency returns the store of idempotent answers.
	Idempotency() IdempotencyStore
	// Ping reports whether the store answers (for /readyz).
	Ping(ctx context.Context) error
}

// IdempotencyStore keeps the answers of writes sent with an Idempotency-Key,
// per application, so a retried write is answered without being repeated.
// Answers are kept at least 24 hours; older ones count as absent.
type IdempotencyStore interface {
	// Begin claims key for a request whose fingerprint (a hash of method,
	// path and body) is fp. If the key is new, it returns (nil, nil) and the
	// caller must later call Complete or Abandon. If an answer is stored for
	// the same fingerprint, it returns it. If the first request with the key
	// is still running, Begin waits for it (until ctx ends). A different
	// fingerprint under the same key is identity.ErrInvalidInput with field
	// "Idempotency-Key".
	Begin(ctx context.Context, appID, key string, fp []byte) (*SavedResponse, error)
	// Complete stores the answer for key (kept at least 24 hours).
	Complete(ctx context.Context, appID, key string, r SavedResponse) error
	// Abandon releases key without an answer (after a 5xx), so a retry runs.
	Abandon(ctx context.Context, appID, key string) error
}

// SavedResponse is a stored answer to an idempotent write.
type SavedResponse struct {
	Status   int
	Location string
	Body     []byte
}
