package directory

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// healthz answers while the process serves requests.
func (s *server) healthz(c echo.Context) error {
	return send(c, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the store answers, 503 otherwise.
func (s *server) readyz(c echo.Context) error {
	if err := s.tenant.Ping(c.Request().Context()); err != nil {
		return identity.Unavailable(err)
	}
	return send(c, http.StatusOK, map[string]string{"status": "ok"})
}

// ownApplication checks that the :appId parameter names the caller's
// application. Another application's id is not found: a key sees only its
// own.
func ownApplication(c echo.Context) (*Application, error) {
	a := app(c)
	if pathParam(c, "appId") != a.ID {
		return nil, identity.NotFound("application")
	}
	return a, nil
}

// currentTenant redirects to the tenant, as Stormpath did; the SDKs start
// there.
func (s *server) currentTenant(c echo.Context) error {
	return c.Redirect(http.StatusFound, s.href(c, wire.TenantPath(TenantID)))
}

func (s *server) getTenant(c echo.Context) error {
	if pathParam(c, "tenantId") != TenantID {
		return identity.NotFound("tenant")
	}
	if _, err := query(c, "expand"); err != nil {
		return err
	}
	return send(c, http.StatusOK, s.tenantJSON(c))
}

func (s *server) tenantApplications(c echo.Context) error {
	if pathParam(c, "tenantId") != TenantID {
		return identity.NotFound("tenant")
	}
	return s.applications(c, wire.TenantPath(TenantID)+"/applications")
}

func (s *server) listApplications(c echo.Context) error {
	return s.applications(c, wire.ApplicationsPath)
}

// applications answers the collection of applications the caller sees:
// its own, if it matches the exact ?name=.
func (s *server) applications(c echo.Context, path string) error {
	q, p, err := pagedQuery(c, "name", "expand")
	if err != nil {
		return err
	}
	a := app(c)
	all := []wire.Application{}
	if name, ok := q["name"]; !ok || name[0] == a.Name {
		all = append(all, s.applicationJSON(c, a))
	}
	return send(c, http.StatusOK, collection(s, c, path, pageSlice(all, p), p, len(all)))
}

func (s *server) getApplication(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	if _, err := query(c, "expand"); err != nil {
		return err
	}
	return send(c, http.StatusOK, s.applicationJSON(c, a))
}

func (s *server) oAuthPolicy(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	ts, err := provider(c).TokenSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, wire.OAuthPolicy{
		Href:           s.href(c, wire.ApplicationPath(a.ID, "oAuthPolicy")),
		AccessTokenTTL: isoDuration(s.cfg.TokenTTL),
		Issuer:         ts.Issuer,
		Audience:       ts.Audience,
		JWKS:           s.link(c, wire.ApplicationPath(a.ID, "jwks")),
		Application:    s.link(c, wire.ApplicationPath(a.ID, "")),
	})
}

// isoDuration formats d as an ISO-8601 duration (PT1H30M, PT45S), the form
// of Stormpath's accessTokenTtl. Fractions of a second are dropped.
func isoDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if sec := d / time.Second; sec > 0 {
		fmt.Fprintf(&b, "%dS", sec)
	}
	return b.String()
}

// jwks answers the public signing keys as a JSON Web Key Set.
func (s *server) jwks(c echo.Context) error {
	if _, err := ownApplication(c); err != nil {
		return err
	}
	doc, err := provider(c).JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/jwk-set+json", doc)
}

// rotateSigningKey makes a new current signing key. It takes no body (an
// empty JSON object is accepted too).
func (s *server) rotateSigningKey(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	if _, err := decodeJSON(c, true, &struct{}{}); err != nil {
		return err
	}
	kid, err := provider(c).RotateSigningKey(c.Request().Context())
	if err != nil {
		return err
	}
	href := s.href(c, wire.ApplicationPath(a.ID, "signingKeys")+"/"+kid)
	return created(c, href, wire.SigningKey{Href: href, KID: kid})
}

// maxRevocationAhead bounds a revocation's expiry: no token lives longer,
// and a bound keeps absurd times out of the store.
const maxRevocationAhead = 100 * 365 * 24 * time.Hour

// readTokenExpiry reads a wire.TokenExpiry body, both members required;
// members named in ignored are accepted and dropped.
func readTokenExpiry(c echo.Context, ignored ...string) (jti string, exp time.Time, err error) {
	var in wire.TokenExpiry
	if _, err := decodeJSON(c, false, &in, ignored...); err != nil {
		return "", time.Time{}, err
	}
	if in.JTI == "" {
		return "", time.Time{}, identity.Invalid("jti", "The token id (jti) is required.")
	}
	if in.ExpiresAt == nil || time.Time(*in.ExpiresAt).IsZero() {
		return "", time.Time{}, identity.Invalid("expiresAt", "The token's expiry (expiresAt) is required.")
	}
	return in.JTI, time.Time(*in.ExpiresAt), nil
}

func (s *server) revokeToken(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	// href and revokedAt are read-only; a client sending a revocation back
	// is not wrong.
	jti, exp, err := readTokenExpiry(c, "href", "revokedAt")
	if err != nil {
		return err
	}
	if exp.After(s.cfg.Now().Add(maxRevocationAhead)) {
		return identity.Invalid("expiresAt", "The expiry is too far in the future.")
	}
	if err := provider(c).RevokeToken(c.Request().Context(), jti, exp); err != nil {
		return err
	}
	href := s.href(c, revocationPath(a.ID, jti))
	return created(c, href, wire.Revocation{Href: href, JTI: jti, ExpiresAt: wire.Time(exp.UTC().Truncate(time.Millisecond))})
}

func revocationPath(appID, jti string) string {
	return wire.ApplicationPath(appID, "revocations") + "/" + escapePath(jti)
}

// getRevocation answers 200 when the token id is revoked and 404 when it is
// not (or no longer needs to be). The Provider tells only whether a token is
// revoked, so expiresAt is null here.
func (s *server) getRevocation(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	jti := pathParam(c, "jti")
	revoked, err := provider(c).TokenRevoked(c.Request().Context(), jti)
	if err != nil {
		return err
	}
	if !revoked {
		return identity.NotFound("revocation")
	}
	return send(c, http.StatusOK, wire.Revocation{Href: s.href(c, revocationPath(a.ID, jti)), JTI: jti})
}
