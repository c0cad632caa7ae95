package directory

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// feedLimit is the largest page of the revocation feed.
const feedLimit = 1000

// listRevocations is the revocation feed: the live revocations made at or
// after ?since, oldest first, so API servers poll one cheap call per
// interval instead of asking about each token.
func (s *server) listRevocations(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	q, err := query(c, "since", "limit")
	if err != nil {
		return err
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return identity.Invalid("since", "The since parameter must be an RFC 3339 time.")
		}
	}
	limit := feedLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > feedLimit {
			return identity.Invalid("limit", "The limit must be an integer from 1 to %d.", feedLimit)
		}
	}
	feed, ok := identity.FindRevocationFeed(provider(c))
	if !ok {
		return identity.NotFound("revocation feed")
	}
	revs, err := feed.RevokedSince(c.Request().Context(), since, limit)
	if err != nil {
		return err
	}
	items := make([]wire.Revocation, 0, len(revs))
	for _, r := range revs {
		items = append(items, wire.Revocation{
			Href: s.href(c, revocationPath(a.ID, r.TokenID)), JTI: r.TokenID,
			ExpiresAt: wire.Time(r.ExpiresAt), RevokedAt: wire.Time(r.RevokedAt),
		})
	}
	return send(c, http.StatusOK, wire.Collection[wire.Revocation]{
		Href: s.href(c, wire.ApplicationPath(a.ID, "revocations")), Limit: limit, Size: len(items), Items: items,
	})
}
