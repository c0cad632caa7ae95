package directory

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// hostedLogin returns the caller's application and its HostedLogin.
func hostedLogin(c echo.Context) (*Application, identity.HostedLogin, error) {
	a, err := ownApplication(c)
	if err != nil {
		return nil, nil, err
	}
	hl, ok := identity.FindHostedLogin(provider(c))
	if !ok {
		return nil, nil, identity.NotFound("hosted login")
	}
	return a, hl, nil
}

// listRedirectURIs is the application's allow-list, whole (it is short).
func (s *server) listRedirectURIs(c echo.Context) error {
	a, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	uris, err := hl.RedirectURIs(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]wire.RedirectURI, 0, len(uris))
	for _, u := range uris {
		items = append(items, wire.RedirectURI{URI: u})
	}
	return send(c, http.StatusOK, wire.Collection[wire.RedirectURI]{
		Href: s.href(c, wire.ApplicationPath(a.ID, "redirectUris")), Limit: len(items), Size: len(items), Items: items,
	})
}

// addRedirectURI adds a URI to the allow-list (again is not an error) and
// answers with its normalised form.
func (s *server) addRedirectURI(c echo.Context) error {
	a, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	var in wire.RedirectURI
	if _, err := decodeJSON(c, false, &in); err != nil {
		return err
	}
	uri, err := hl.AddRedirectURI(c.Request().Context(), in.URI)
	if err != nil {
		return err
	}
	return created(c, s.href(c, wire.ApplicationPath(a.ID, "redirectUris")), wire.RedirectURI{URI: uri})
}

// removeRedirectURI removes ?uri= from the allow-list. The URI is a query
// parameter, not a path segment: it is a URL itself, and escaped slashes in
// paths are mangled by proxies.
func (s *server) removeRedirectURI(c echo.Context) error {
	_, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	q, err := query(c, "uri")
	if err != nil {
		return err
	}
	if err := hl.RemoveRedirectURI(c.Request().Context(), q.Get("uri")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// createLoginRequest signs a login request for an allow-listed redirect
// URI. The request carries the application's id, so the hosted pages of a
// directory serving several applications know whose keys verify it.
func (s *server) createLoginRequest(c echo.Context) error {
	a, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	var in wire.LoginRequestWrite
	if _, err := decodeJSON(c, false, &in); err != nil {
		return err
	}
	r, err := hl.NewLoginRequest(c.Request().Context(), identity.LoginRequest{
		RedirectURI: in.RedirectURI, State: in.State, Nonce: in.Nonce, Path: identity.LoginPath(in.Path), ApplicationID: a.ID,
	})
	if err != nil {
		return err
	}
	return created(c, s.href(c, wire.ApplicationPath(a.ID, "loginRequests")+"/"+escapePath(r.ID)),
		wire.LoginRequest{Request: r.Value, JTI: r.ID, ExpiresAt: wire.Time(r.ExpiresAt)})
}

// verifyLoginRequest checks a login request for hosted pages served
// elsewhere.
func (s *server) verifyLoginRequest(c echo.Context) error {
	_, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	var in wire.LoginRequestVerification
	if _, err := decodeJSON(c, false, &in); err != nil {
		return err
	}
	cl, err := hl.VerifyLoginRequest(c.Request().Context(), in.Request)
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, wire.LoginRequestClaims{
		JTI: cl.ID, Application: cl.Application, ApplicationID: cl.ApplicationID, RedirectURI: cl.RedirectURI,
		State: cl.State, Nonce: cl.Nonce, Path: string(cl.Path), IssuedAt: wire.Time(cl.IssuedAt), ExpiresAt: wire.Time(cl.ExpiresAt),
	})
}

// createLoginAssertion signs the assertion that an account logged in for a
// request. Like token issuance it is not idempotent: its answer is a
// credential, which is never stored.
func (s *server) createLoginAssertion(c echo.Context) error {
	a, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	var in wire.LoginAssertionWrite
	if _, err := decodeJSON(c, false, &in); err != nil {
		return err
	}
	if !validID(in.AccountID) {
		return identity.NotFound("account")
	}
	as, err := hl.NewLoginAssertion(c.Request().Context(), in.Request, in.AccountID)
	if err != nil {
		return err
	}
	return created(c, s.href(c, wire.ApplicationPath(a.ID, "loginAssertions")+"/"+escapePath(as.ID)),
		wire.LoginAssertion{Assertion: as.Value, JTI: as.ID, AccountID: as.AccountID, ExpiresAt: wire.Time(as.ExpiresAt)})
}

// consumeLoginAssertion accepts a login assertion that an API server has
// verified, once: 204 for the first call with its id, from whichever API
// server, and 409 for every later one. The database decides between racing
// calls. With an Idempotency-Key, a retry of a call whose answer was lost
// gets that answer again, not a 409.
func (s *server) consumeLoginAssertion(c echo.Context) error {
	_, hl, err := hostedLogin(c)
	if err != nil {
		return err
	}
	jti, exp, err := readTokenExpiry(c)
	if err != nil {
		return err
	}
	if err := hl.ConsumeLoginAssertion(c.Request().Context(), jti, exp); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// mountPages serves the hosted login pages of the directory, for every
// application it serves: a request names its application (and is verified
// with that application's keys), a page session remembers it. Logins there
// go through the tenant's providers, regulated like the directory's login
// attempts, and through Config.PageProvider, with the browser's address
// (Config.IPExtractor) as the client IP.
//
// The pages' CSRF tokens and sessions are signed with Config.PagesKey, or
// a key made for each process when it is not set.
func (s *server) mountPages(e *echo.Echo) {
	h, err := idsite.New(idsite.Config{
		Resolve: func(ctx context.Context, appID string) (identity.Provider, error) {
			if appID == "" || !validID(appID) {
				return nil, identity.NotFound("application")
			}
			app, p, err := s.tenant.Application(ctx, appID)
			if err != nil {
				return nil, err
			}
			if s.cfg.PageProvider != nil {
				p = s.cfg.PageProvider(app.ID, p)
			}
			return p, nil
		},
		Key:        s.cfg.PagesKey,
		SessionTTL: 15 * time.Minute,
		// Behind a proxy that ends TLS the request itself is plain HTTP;
		// an https base URL says the browser's side is not.
		SecureCookies: strings.HasPrefix(strings.ToLower(s.cfg.BaseURL), "https://"),
		Logger:        s.log.With("component", "idsite"),
		Now:           s.cfg.Now,
	})
	if err != nil {
		// The templates are embedded: only a broken build, or a PagesKey
		// shorter than its documented minimum, gets here.
		panic(err)
	}
	wrapped := echo.WrapHandler(h)
	for _, rt := range h.Routes() {
		e.Add(rt.Method, rt.Path, wrapped, s.pageClientIP)
	}
}

// pageClientIP puts the browser's address in the request's context
// (identity.WithClientIP), where the pages' regulation reads it.
func (s *server) pageClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(identity.WithClientIP(req.Context(), s.cfg.IPExtractor(req))))
		return next(c)
	}
}
