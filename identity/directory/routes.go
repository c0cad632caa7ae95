package directory

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes lists every endpoint of the directory in one place. Everything
// under /v1 needs an admin key, except the OpenAPI document. Writes marked
// idem honour an Idempotency-Key; API key creation and token issuance
// deliberately do not, because their answers hold credentials that must not
// be stored (protocol.md, Idempotency).
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/v1/openapi.json", s.openAPI)
	s.mountPages(e) // the hosted login pages, under /idsite/

	// Not e.Group("/v1", s.authenticate): a group with middleware claims
	// every unknown path under it, which turns 405 into 404.
	v1 := &authGroup{e: e, prefix: "/v1", auth: s.authenticate}
	// Routes that read a query check it themselves; noQuery marks those
	// that take none, so that a parameter they would ignore is a 400.
	idem := s.idempotent

	v1.GET("/tenants/current", s.currentTenant)
	v1.GET("/tenants/:tenantId", s.getTenant)
	v1.GET("/tenants/:tenantId/applications", s.tenantApplications)

	v1.GET("/applications", s.listApplications)
	v1.GET("/applications/:appId", s.getApplication)
	v1.GET("/applications/:appId/accounts", s.listAccounts)
	v1.POST("/applications/:appId/accounts", s.createAccount, idem)
	v1.POST("/applications/:appId/loginAttempts", s.loginAttempt)
	v1.POST("/applications/:appId/apiKeyAttempts", s.apiKeyAttempt)
	v1.GET("/applications/:appId/apiKeys", s.findAPIKey)
	v1.GET("/applications/:appId/groups", s.listGroups)
	v1.POST("/applications/:appId/groups", s.createGroup, idem)
	v1.GET("/applications/:appId/oAuthPolicy", s.oAuthPolicy, noQuery)
	v1.GET("/applications/:appId/jwks", s.jwks, noQuery)
	v1.POST("/applications/:appId/signingKeys", s.rotateSigningKey, noQuery, idem)
	v1.POST("/applications/:appId/revocations", s.revokeToken, noQuery, idem)
	v1.GET("/applications/:appId/revocations", s.listRevocations)
	v1.GET("/applications/:appId/revocations/:jti", s.getRevocation, noQuery)
	v1.GET("/applications/:appId/redirectUris", s.listRedirectURIs)
	v1.POST("/applications/:appId/redirectUris", s.addRedirectURI, noQuery, idem)
	v1.DELETE("/applications/:appId/redirectUris", s.removeRedirectURI, idem)
	v1.POST("/applications/:appId/loginRequests", s.createLoginRequest, noQuery)
	v1.POST("/applications/:appId/loginRequestVerifications", s.verifyLoginRequest, noQuery)
	v1.POST("/applications/:appId/loginAssertions", s.createLoginAssertion, noQuery)
	v1.POST("/applications/:appId/loginAssertionConsumptions", s.consumeLoginAssertion, noQuery, idem)

	v1.GET("/accounts/:id", s.getAccount)
	v1.POST("/accounts/:id", s.updateAccount, idem)
	v1.DELETE("/accounts/:id", s.deleteAccount, idem)
	v1.GET("/accounts/:id/customData", s.getCustomData)
	v1.POST("/accounts/:id/customData", s.postCustomData, idem)
	v1.PUT("/accounts/:id/customData", s.replaceCustomData, idem)
	v1.DELETE("/accounts/:id/customData", s.deleteCustomData, idem)
	v1.DELETE("/accounts/:id/customData/:key", s.deleteCustomDataKey, idem)
	v1.GET("/accounts/:id/apiKeys", s.listAPIKeys)
	v1.POST("/accounts/:id/apiKeys", s.createAPIKey)
	v1.GET("/accounts/:id/groups", s.accountGroups)
	v1.GET("/accounts/:id/groupMemberships", s.accountMemberships)
	v1.GET("/accounts/:id/applications", s.accountApplications)
	v1.POST("/accounts/:id/accessTokens", s.issueToken)

	v1.GET("/apiKeys/:id", s.getAPIKey)
	v1.POST("/apiKeys/:id", s.updateAPIKey, idem)
	v1.DELETE("/apiKeys/:id", s.deleteAPIKey, idem)

	v1.GET("/groups/:id", s.getGroup)
	v1.DELETE("/groups/:id", s.deleteGroup, idem)
	v1.GET("/groups/:id/accounts", s.groupAccounts)
	v1.GET("/groups/:id/accountMemberships", s.groupMemberships)

	v1.POST("/groupMemberships", s.createMembership, idem)
	v1.GET("/groupMemberships/:id", s.getMembership)
	v1.DELETE("/groupMemberships/:id", s.deleteMembership, idem)
}

// authGroup registers routes under a prefix with the authentication
// middleware first.
type authGroup struct {
	e      *echo.Echo
	prefix string
	auth   echo.MiddlewareFunc
}

func (g *authGroup) add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.e.Add(method, g.prefix+path, h, append([]echo.MiddlewareFunc{g.auth}, m...)...)
}

func (g *authGroup) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodGet, path, h, m...)
}

func (g *authGroup) POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodPost, path, h, m...)
}

func (g *authGroup) PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodPut, path, h, m...)
}

func (g *authGroup) DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.add(http.MethodDelete, path, h, m...)
}
