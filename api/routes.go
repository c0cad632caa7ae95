package api

import (
	"github.com/labstack/echo/v4"
)

// routes lists every endpoint of the API in one place.
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.json", s.openAPI)
	if s.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics.Handler()))
	}

	e.GET("/", s.root, s.auth)

	e.POST("/api/users", s.createUser)
	e.GET("/api/users/:id", s.getUser, s.auth)
	e.GET("/api/token", s.newToken, s.auth)
	e.GET("/api/resource", s.resource, s.auth)

	me := e.Group("/api/me", s.auth)
	me.GET("", s.me)
	me.GET("/custom-data", s.getCustomData)
	me.PUT("/custom-data", s.replaceCustomData)
	me.PATCH("/custom-data", s.patchCustomData)
	me.DELETE("/custom-data/:key", s.deleteCustomDataKey)

	// A leaked API key must not be able to mint or list more keys, so key
	// management needs a password or a token.
	keys := me.Group("/api-keys", RequireMethod(MethodPassword, MethodToken, MethodBearer))
	keys.POST("", s.createAPIKey)
	keys.GET("", s.listAPIKeys)
	keys.DELETE("/:id", s.deleteAPIKey)

	e.POST("/oauth/token", s.oauthToken)
	e.POST("/oauth/revoke", s.oauthRevoke)

	s.loginRoutes(e)
}
