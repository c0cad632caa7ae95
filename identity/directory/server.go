package directory

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Response headers of the protocol.
const (
	headerRequestID          = "Request-Id"
	headerStormpathRequestID = "Stormpath-Request-Id"
	headerIdempotencyKey     = "Idempotency-Key"
	headerReplayed           = "Idempotent-Replayed"
)

// server holds what the handlers share.
type server struct {
	cfg    Config
	tenant Tenant
	log    *slog.Logger
}

// New returns the directory server over t: every route of the protocol
// (see routes.go), its error handler and middleware. A nil logger discards
// logs. The result is an http.Handler; serve it with e.Start or an
// http.Server of your own (with timeouts).
func New(cfg Config, t Tenant, logger *slog.Logger) *echo.Echo {
	if logger == nil {
		logger = discardLogger
	}
	if cfg.Metrics != nil {
		t = newMeteredTenant(t, cfg.Metrics)
	}
	s := &server{cfg: cfg.withDefaults(), tenant: t, log: logger}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	if cfg.Metrics != nil {
		// First, so that it times the whole chain and sees every final
		// status.
		e.Use(cfg.Metrics.Middleware())
	}
	e.Use(s.requestID, securityHeaders, s.requestLogger, s.recover, s.bodyLimit)
	s.routes(e)
	if cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(cfg.Metrics.Handler()))
	}
	return e
}

// requestID gives every request an id, sent as Request-Id and as
// Stormpath's Stormpath-Request-Id, repeated in error bodies and logs, and
// put in the request's context (identity.WithRequestID). The caller's
// X-Request-Id is adopted when it is well formed (identity.ValidRequestID),
// so that the id of an API server's request follows it here; anything else
// gets a fresh id, as a hostile one could forge log fields or headers.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !identity.ValidRequestID(id) {
			id = newUUID()
		}
		h := c.Response().Header()
		h.Set(headerRequestID, id)
		h.Set(headerStormpathRequestID, id)
		c.SetRequest(req.WithContext(identity.WithRequestID(req.Context(), id)))
		return next(c)
	}
}

// newUUID returns a random (version 4) UUID, the form Stormpath's request
// ids had.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// requestLogger writes one line per request. It logs the path without the
// query string (which may hold an email address) and no header, so no
// credential or personal detail reaches the log.
func (s *server) requestLogger(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.cfg.Now()
		if err := next(c); err != nil {
			c.Error(err) // write the answer now, so its status is logged
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("request_id", c.Response().Header().Get(headerRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Duration("latency", s.cfg.Now().Sub(start)),
		}
		if a, ok := c.Get(ctxApp).(*Application); ok {
			attrs = append(attrs, slog.String("application", a.ID))
		}
		s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}

// recover turns a panic in a handler into an internal error (logged by the
// error handler with the request id, and with the stack here).
func (s *server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				buf := make([]byte, 8<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.log.ErrorContext(c.Request().Context(), "panic", "request_id", c.Response().Header().Get(headerRequestID),
					"panic", fmt.Sprint(r), "stack", string(buf))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// bodyLimit refuses bodies over the limit: at once when Content-Length
// says so, and while reading otherwise (readBody turns the reader's error
// into a 413).
func (s *server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.cfg.BodyLimit {
			return tooLarge()
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.BodyLimit)
		return next(c)
	}
}

// Context keys of what authenticate finds.
const (
	ctxApp         = "directory.application"
	ctxProvider    = "directory.provider"
	ctxAdminSecret = "directory.adminSecret"
)

// authenticate requires an admin API key in HTTP Basic and puts the key's
// application and its Provider in the context. Missing, malformed and wrong
// credentials all answer the same 401 with a challenge; a store that cannot
// be reached answers 503, never 401.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, secret, ok := parseBasic(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return s.unauthorized(identity.InvalidCredentials(identity.ReasonInvalidRequest))
		}
		ctx := c.Request().Context()
		appID, err := s.tenant.AuthenticateAdmin(ctx, id, secret)
		if errors.Is(err, identity.ErrInvalidCredentials) {
			return s.unauthorized(err)
		}
		if err != nil {
			return err
		}
		app, p, err := s.tenant.Application(ctx, appID)
		if errors.Is(err, identity.ErrNotFound) {
			// The key outlived its application.
			return s.unauthorized(identity.InvalidCredentials(identity.ReasonUnknownKey))
		}
		if err != nil {
			return err
		}
		c.Set(ctxApp, app)
		c.Set(ctxProvider, p)
		// Kept only for the Stormpath SDKs' encrypted API key secrets (see
		// encryptSecret); never logged.
		c.Set(ctxAdminSecret, secret)
		return next(c)
	}
}

// parseBasic reads HTTP Basic credentials (RFC 7617): the user-id is
// everything before the first colon. Credentials that are not UTF-8 or hold
// control characters are refused.
func parseBasic(h string) (user, pass string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false
	}
	user, pass, found = strings.Cut(string(raw), ":")
	if !found || user == "" || !printable(user) || !printable(pass) {
		return "", "", false
	}
	return user, pass, true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// app returns the caller's application (set by authenticate).
func app(c echo.Context) *Application { return c.Get(ctxApp).(*Application) }

// provider returns the caller's application's Provider.
func provider(c echo.Context) identity.Provider { return c.Get(ctxProvider).(identity.Provider) }
