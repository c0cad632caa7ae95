package api

import (
	"github.com/labstack/echo/v4"
)

// securityHeaders sets two headers on every answer of the API, errors and
// unknown routes included:
//
//   - X-Content-Type-Options: nosniff, so that no browser reads a JSON
//     answer (which may echo a client's input) as HTML or script.
//   - Cache-Control: no-store, unless the handler sets its own. Every
//     answer of this API is about an account (authenticated), carries a
//     credential (a token, an API key secret) or is a live status (health,
//     readiness); none may be kept by a browser or a shared cache. A
//     handler serving something public and static may override it.
//
// It sets them before the handler runs, so they are in place whoever
// writes the answer (a handler, the error handler, Recover).
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		h.Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}
