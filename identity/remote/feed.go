package remote

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

var _ identity.RevocationFeed = (*Provider)(nil)

// RevokedSince implements identity.RevocationFeed: GET the application's
// revocations since a watermark. API servers poll it to learn revocations
// made anywhere with one call per interval.
func (p *Provider) RevokedSince(ctx context.Context, since time.Time, limit int) ([]identity.Revocation, error) {
	q := url.Values{"limit": {strconv.Itoa(max(1, min(limit, 1000)))}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	var page wire.Collection[wire.Revocation]
	// The query goes in query, not in the path: paths are logged, queries never.
	c := &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "revocations"), query: q, retry: retryRead}
	if err := p.do(ctx, c, &page); err != nil {
		return nil, err
	}
	out := make([]identity.Revocation, 0, len(page.Items))
	for _, r := range page.Items {
		out = append(out, identity.Revocation{TokenID: r.JTI, ExpiresAt: time.Time(r.ExpiresAt), RevokedAt: time.Time(r.RevokedAt)})
	}
	return out, nil
}
