package directory

import (
	"github.com/labstack/echo/v4"
)

// securityHeaders sets two headers on every answer of the directory,
// errors and unknown routes included:
//
//   - X-Content-Type-Options: nosniff, so that no browser reads a JSON
//     answer as HTML or script.
//   - Cache-Control: no-store, unless the handler sets its own. The
//     directory's answers hold accounts, API key secrets (key creation),
//     tokens (accessTokens), accounts expanded into login attempts, and
//     live status; an API server keeps what it needs (the JWKS, token
//     settings) itself, so nothing is worth an HTTP cache's risk.
//
// It sets them before the handler runs, so they are in place whoever
// writes the answer.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		h.Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}
