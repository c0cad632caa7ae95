package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
)

// RequireMethod allows only requests authenticated with one of methods; it
// must run after the auth middleware. Others get 403.
func RequireMethod(methods ...Method) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalFrom(c)
			if !ok {
				return newError(http.StatusUnauthorized, CodeUnauthorized, authFailedMessage)
			}
			if !slices.Contains(methods, p.Method) {
				return newError(http.StatusForbidden, CodeForbidden,
					fmt.Sprintf("This endpoint cannot be used with %s authentication.", strings.ReplaceAll(string(p.Method), "_", " ")))
			}
			return next(c)
		}
	}
}

// RequireGroup allows only accounts that belong to at least one of the named
// groups (names compare ignoring case); it must run after the auth
// middleware. Others get 403.
func RequireGroup(p identity.Provider, groups ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			acc, ok := AccountFrom(c)
			if !ok {
				return newError(http.StatusUnauthorized, CodeUnauthorized, authFailedMessage)
			}
			have, err := p.AccountGroups(c.Request().Context(), acc.ID)
			if err != nil {
				return err
			}
			for _, g := range groups {
				for _, h := range have {
					if identity.FoldKey(g) == identity.FoldKey(h.Name) {
						return next(c)
					}
				}
			}
			return newError(http.StatusForbidden, CodeForbidden, "You are not a member of a group allowed here.")
		}
	}
}

// RequireScope allows token-authenticated requests only when the token
// carries every scope in scopes (RFC 6750 insufficient_scope, 403).
// Password and API key authentication are the account's full credentials
// and pass: scopes narrow what a token may do, not what an account may do.
func RequireScope(realm string, scopes ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalFrom(c)
			if !ok {
				return newError(http.StatusUnauthorized, CodeUnauthorized, authFailedMessage)
			}
			if p.Claims == nil || p.Claims.HasScopes(scopes...) {
				return next(c)
			}
			return &Error{
				Status:  http.StatusForbidden,
				Code:    CodeInsufficientScope,
				Message: "The token does not carry the scope this endpoint requires.",
				Header: http.Header{echo.HeaderWWWAuthenticate: {
					fmt.Sprintf(`Bearer realm=%q, error="insufficient_scope", scope=%q`, realm, strings.Join(scopes, " ")),
				}},
			}
		}
	}
}

// requestID gives every request an id, in the response's X-Request-Id and
// in logs. A client's own id is kept only if it is short and plain, so it
// cannot inject into logs.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bodyLimit refuses bodies over limit bytes: at once when Content-Length
// says so, and while reading otherwise (decodeJSON turns the reader's error
// into a 413).
func bodyLimit(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return newError(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "The request body is too large.")
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
			return next(c)
		}
	}
}

// requestLogger writes one structured line per request. It logs the path
// without the query string and never a header, so no credential reaches the
// log.
func requestLogger(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // write the response now, so its status is logged
			}
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			logger.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.String("route", c.Path()),
				slog.Int("status", status),
				slog.Duration("latency", time.Since(start)),
				slog.String("ip", c.RealIP()),
			)
			return nil
		}
	}
}
