package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// Error codes (wire.Error's `error` member) of the protocol's own errors,
// besides identity's codes.
const (
	codeUnauthorized         = "unauthorized"
	codeMethodNotAllowed     = "method_not_allowed"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeRequestTooLarge      = "request_too_large"
	codeClientClosedRequest  = "client_closed_request"
)

// retryAfterSeconds is what a 503 tells the caller to wait before retrying.
const retryAfterSeconds = 2

// Messages of the fixed-body errors.
const (
	msgUnauthorized  = "Authentication with a valid admin API key is required."
	msgLoginFailed   = "Invalid username or password."
	msgAPIKeyFailed  = "Invalid API key."
	msgInternal      = "An internal error occurred."
	msgUnavailable   = "The identity service is unavailable."
	msgRouteNotFound = "The resource does not exist."
)

// httpError is an error with its wire body already decided: the
// protocol's own errors (401, 405, 413, 415) and the fixed-body credentials
// failures. Handlers return identity errors; those are translated by
// wire.ErrorFrom in the error handler.
type httpError struct {
	body   wire.Error
	header http.Header
	// err is the cause, for the log only.
	err error
}

func (e *httpError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.body.Status, e.body.ErrorCode, e.body.Message)
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *httpError) Unwrap() error { return e.err }

// newHTTPError returns an error answered with status, Stormpath code and
// Gatehouse error code errCode.
func newHTTPError(status, code int, errCode, message string) *httpError {
	return &httpError{body: wire.Error{
		Status:           status,
		Code:             code,
		Message:          message,
		DeveloperMessage: message,
		MoreInfo:         wire.MoreInfo,
		ErrorCode:        errCode,
	}}
}

// credentialsFailure is the one answer to every failed login or API key
// attempt, whatever the cause: the same status, code and message, so that
// nothing tells an unknown login from a wrong password or a disabled
// account. cause is logged (with its reason), never shown.
func credentialsFailure(code int, message string, cause error) *httpError {
	e := newHTTPError(http.StatusBadRequest, code, string(identity.CodeInvalidCredentials), message)
	e.err = cause
	return e
}

// unauthorized is the answer to a request without valid admin credentials.
func (s *server) unauthorized(cause error) *httpError {
	e := newHTTPError(http.StatusUnauthorized, http.StatusUnauthorized, codeUnauthorized, msgUnauthorized)
	e.header = http.Header{echo.HeaderWWWAuthenticate: {fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, s.cfg.Realm)}}
	e.err = cause
	return e
}

// toHTTPError classifies any error a handler, middleware or Echo returned.
func toHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		return fromEcho(ee)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The request's context ended (the caller went away, or a wait
		// timed out): nothing was decided, so it may be retried.
		err = identity.Unavailable(err)
	}
	// A credentials failure that reaches here came from a Provider call
	// other than an attempt (a token for a disabled account): the attempts
	// answer their own fixed bodies.
	body := wire.ErrorFrom(err, wire.CodeLoginFailed, "")
	out := &httpError{body: body, err: err}
	switch body.Status {
	case http.StatusServiceUnavailable:
		out.body.Message, out.body.DeveloperMessage = msgUnavailable, msgUnavailable
	case http.StatusInternalServerError:
		out.body.Message, out.body.DeveloperMessage = msgInternal, msgInternal
	}
	return out
}

// fromEcho maps Echo's own errors (no route, wrong method, body too large,
// a bad bind) to protocol errors.
func fromEcho(ee *echo.HTTPError) *httpError {
	var e *httpError
	switch ee.Code {
	case http.StatusNotFound:
		e = newHTTPError(http.StatusNotFound, http.StatusNotFound, string(identity.CodeNotFound), msgRouteNotFound)
	case http.StatusMethodNotAllowed:
		e = newHTTPError(http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"The method is not allowed on this resource.")
	case http.StatusRequestEntityTooLarge:
		e = tooLarge()
	case http.StatusUnsupportedMediaType:
		e = unsupportedMediaType("application/json")
	case http.StatusUnauthorized:
		e = newHTTPError(http.StatusUnauthorized, http.StatusUnauthorized, codeUnauthorized, msgUnauthorized)
	default:
		if ee.Code >= 500 {
			e = newHTTPError(http.StatusInternalServerError, http.StatusInternalServerError, string(identity.CodeInternal), msgInternal)
		} else {
			e = newHTTPError(http.StatusBadRequest, wire.CodeInvalidValue, string(identity.CodeInvalidInput), "The request is not valid.")
		}
	}
	e.err = ee
	return e
}

func tooLarge() *httpError {
	return newHTTPError(http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, codeRequestTooLarge,
		"The request body is too large.")
}

func unsupportedMediaType(types string) *httpError {
	return newHTTPError(http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
		"The request body must be "+types+".")
}

// errorHandler is the server's echo.HTTPErrorHandler: it writes every error
// as a wire.Error body carrying the request id, adds Retry-After to 503s and
// the challenge to 401s, and logs internal errors once. No internal detail
// reaches the client.
func (s *server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ctx := c.Request().Context()
	var e *httpError
	if identity.CallerGone(ctx, err) {
		// The caller hung up or its deadline passed while the request
		// waited: not an outage, not a bug, and nothing to log but the
		// request line.
		e = newHTTPError(identity.StatusClientClosedRequest, identity.StatusClientClosedRequest, codeClientClosedRequest,
			"The client closed the request before it was answered.")
		e.err = err
	} else {
		e = toHTTPError(err)
	}
	reqID := c.Response().Header().Get(headerRequestID)
	e.body.RequestID = reqID
	switch status := e.body.Status; {
	case status == http.StatusServiceUnavailable:
		s.log.WarnContext(ctx, "identity store unavailable", "request_id", reqID, "route", c.Path(), "error", err)
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case status == http.StatusTooManyRequests && e.body.RetryAfter > 0:
		c.Response().Header().Set("Retry-After", strconv.Itoa(e.body.RetryAfter))
	case status >= 500:
		s.log.ErrorContext(ctx, "internal error", "request_id", reqID, "method", c.Request().Method,
			"route", c.Path(), "error", err)
	case e.body.ErrorCode == string(identity.CodeInvalidCredentials):
		// The reason is for the log only; it never reaches the body.
		s.log.InfoContext(ctx, "credentials rejected", "request_id", reqID, "route", c.Path(),
			"reason", string(identity.ReasonOf(err)))
	case status == http.StatusUnauthorized:
		s.log.InfoContext(ctx, "admin authentication failed", "request_id", reqID,
			"reason", string(identity.ReasonOf(err)))
	}
	for k, vs := range e.header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	b, mErr := json.Marshal(e.body)
	if mErr != nil { // cannot happen: the body is strings and ints
		b = []byte(`{"status":500,"code":500}`)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderCacheControl, "no-store")
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(e.body.Status)
		return
	}
	_ = c.Blob(e.body.Status, echo.MIMEApplicationJSON, b)
}

// discardLogger is the logger of a server given none.
var discardLogger = slog.New(slog.DiscardHandler)
