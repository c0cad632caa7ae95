package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
)

// API error codes beyond the identity domain's. Together with identity's
// codes they are the stable `code` values clients can rely on.
const (
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeInsufficientScope    = "insufficient_scope"
	CodeBadRequest           = "bad_request"
	CodeMalformedJSON        = "malformed_json"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRequestTooLarge      = "request_too_large"
	CodeRouteNotFound        = "route_not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	// CodeClientClosedRequest marks a request its client abandoned; it is
	// recorded (status 499) but never read by anyone.
	CodeClientClosedRequest = "client_closed_request"
)

// statusOf is the one place where domain codes become HTTP statuses.
var statusOf = map[identity.Code]int{
	identity.CodeInvalidInput:       http.StatusBadRequest,
	identity.CodeNotFound:           http.StatusNotFound,
	identity.CodeConflict:           http.StatusConflict,
	identity.CodeInvalidCredentials: http.StatusUnauthorized,
	identity.CodeLimitExceeded:      http.StatusBadRequest,
	identity.CodeUnavailable:        http.StatusServiceUnavailable,
	identity.CodeThrottled:          http.StatusTooManyRequests,
	identity.CodeInternal:           http.StatusInternalServerError,
}

// retryAfterSeconds is what a 503 tells clients to wait.
const retryAfterSeconds = 5

// Problem is the JSON body of every error: an RFC 9457 problem document
// (type, title, status, detail) extended with a stable machine-readable
// `code`, the human `message` (the same text as detail), the `field` an input
// error concerns, and the request id to quote when reporting it.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Error is an API error raised by handlers and middleware: a status, a
// stable code and a client-safe message, plus headers to send with it
// (WWW-Authenticate, Retry-After).
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	Header  http.Header
	// Err is the cause, for logs only.
	Err error
}

// Error implements error; the text is for logs, never for clients.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// ErrorHandler returns Echo's HTTPErrorHandler for Gatehouse: it turns
// identity errors, API errors and Echo's own errors into Problem bodies with
// the right status, and logs internal errors once with the request id. No
// internal detail ever reaches the client. A nil logger discards logs.
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var e *Error
		if identity.CallerGone(c.Request().Context(), err) {
			// The client hung up or its deadline passed while the request
			// waited: not an outage, not a bug, and nothing to log but the
			// request line.
			e = &Error{Status: identity.StatusClientClosedRequest, Code: CodeClientClosedRequest,
				Message: "The client closed the request before it was answered.", Err: err}
		} else {
			e = toError(err)
		}
		reqID := c.Response().Header().Get(echo.HeaderXRequestID)
		if e.Status >= 500 && e.Status != http.StatusServiceUnavailable {
			logger.ErrorContext(c.Request().Context(), "internal error",
				"request_id", reqID, "method", c.Request().Method, "path", c.Path(), "error", err)
		} else if e.Status == http.StatusServiceUnavailable {
			logger.WarnContext(c.Request().Context(), "identity provider unavailable",
				"request_id", reqID, "path", c.Path(), "error", err)
		}
		for k, vs := range e.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		p := Problem{
			Type:      "about:blank",
			Title:     http.StatusText(e.Status),
			Status:    e.Status,
			Detail:    e.Message,
			Code:      e.Code,
			Message:   e.Message,
			Field:     e.Field,
			RequestID: reqID,
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(e.Status)
			return
		}
		_ = c.JSON(e.Status, p)
	}
}

// toError classifies any error into an *Error.
func toError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// A wait inside this server ended (the client's own context is
		// answered by the error handler): nothing was decided, so it may be
		// retried.
		err = identity.Unavailable(err)
	}
	code := identity.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	e := &Error{Status: status, Code: string(code), Message: identity.ErrorMessage(err), Field: identity.ErrorField(err), Err: err}
	if code == identity.CodeNotFound || code == identity.CodeInternal {
		e.Field = ""
	}
	switch code {
	case identity.CodeUnavailable:
		e.Header = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	case identity.CodeThrottled:
		e.Header = http.Header{"Retry-After": {strconv.Itoa(ceilSeconds(identity.RetryAfter(err)))}}
	}
	return e
}

func fromEchoError(he *echo.HTTPError) *Error {
	e := &Error{Status: he.Code, Err: he}
	switch he.Code {
	case http.StatusNotFound:
		e.Code, e.Message = CodeRouteNotFound, "No such endpoint."
	case http.StatusMethodNotAllowed:
		e.Code, e.Message = CodeMethodNotAllowed, "The method is not allowed on this endpoint."
	case http.StatusRequestEntityTooLarge:
		e.Code, e.Message = CodeRequestTooLarge, "The request body is too large."
	case http.StatusUnsupportedMediaType:
		e.Code, e.Message = CodeUnsupportedMediaType, "The request body must be JSON."
	case http.StatusUnauthorized:
		e.Code, e.Message = CodeUnauthorized, authFailedMessage
	case http.StatusForbidden:
		e.Code, e.Message = CodeForbidden, "You are not allowed to do this."
	default:
		if he.Code >= 500 {
			e.Code, e.Message = string(identity.CodeInternal), identity.ErrorMessage(he)
		} else {
			e.Code, e.Message = CodeBadRequest, http.StatusText(he.Code)
		}
	}
	return e
}

// ceilSeconds rounds a wait up to whole seconds, at least 1, for Retry-After.
func ceilSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
