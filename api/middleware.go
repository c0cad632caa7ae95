package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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

// IPExtractor returns the echo.IPExtractor that finds a request's client
// IP: the connection's peer, or, when the peer is in one of the trusted
// proxy networks, the nearest address of X-Forwarded-For that is not
// (reading from the right, so a client cannot choose its address by
// sending its own header through the proxies).
//
// Echo's own ExtractIPFromXFFHeader trusts loopback, link-local and private
// addresses by default, so any client on the local network, or any local
// process, could pick the IP regulation counts it under; here only the
// listed networks are trusted. With none, X-Forwarded-For is ignored.
func IPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: echo compares IPv4
			// addresses in their 4-byte form.
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ClientIP is the middleware that puts the request's client IP in its
// context (identity.WithClientIP), where failed-login regulation reads it.
// The IP is c.RealIP(), so the Echo instance's IPExtractor decides; New
// installs IPExtractor(Config.TrustedProxies). Without an IPExtractor the
// connection's peer is used: Echo's fallback believes any client's
// X-Forwarded-For.
func ClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(identity.WithClientIP(req.Context(), realIP(c))))
		return next(c)
	}
}

// realIP is c.RealIP() when the Echo instance has an IPExtractor, and the
// connection's peer otherwise.
func realIP(c echo.Context) string {
	if e := c.Echo(); e != nil && e.IPExtractor != nil {
		return c.RealIP()
	}
	return echo.ExtractIPDirect()(c.Request())
}

// requestID gives every request an id, in the response's X-Request-Id, in
// logs and in the request's context (identity.WithRequestID), from where the
// remote provider passes it on to the directory. A client's own id is kept
// only if it is short and plain (identity.ValidRequestID), so it cannot
// inject into logs.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !identity.ValidRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.SetRequest(req.WithContext(identity.WithRequestID(req.Context(), id)))
		return next(c)
	}
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
				slog.String("ip", realIP(c)),
			)
			return nil
		}
	}
}
