package directory

import (
	"context"
	"sync"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
)

// meteredTenant is a Tenant whose applications' providers are wrapped with
// metrics.Provider: their calls are counted, and their Authenticate and
// AuthenticateAPIKey calls, which are exactly the directory's login
// attempts and API key verifications, count as authentications.
type meteredTenant struct {
	Tenant
	m *metrics.Metrics

	mu        sync.Mutex
	providers map[string]meteredProvider // by application id
}

// meteredProvider is a wrapped provider and the one it wraps.
type meteredProvider struct {
	inner, outer identity.Provider
}

func newMeteredTenant(t Tenant, m *metrics.Metrics) *meteredTenant {
	return &meteredTenant{Tenant: t, m: m, providers: map[string]meteredProvider{}}
}

// Application implements Tenant with a metered provider. Tenants keep one
// provider per application, so each is wrapped once; a tenant that hands out
// a new one gets it wrapped anew.
func (t *meteredTenant) Application(ctx context.Context, appID string) (*Application, identity.Provider, error) {
	app, p, err := t.Tenant.Application(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	mp, ok := t.providers[app.ID]
	if !ok || mp.inner != p {
		mp = meteredProvider{inner: p, outer: metrics.Provider(p, t.m, metrics.WithAuthentications())}
		t.providers[app.ID] = mp
	}
	return app, mp.outer, nil
}
