package wire

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Error is the protocol's error body, Stormpath's shape
// {status, code, message, developerMessage, moreInfo, requestId} plus two
// Gatehouse members that make the error exact on the client side: `error`,
// the identity error code, and `field`, the input it concerns.
type Error struct {
	Status           int    `json:"status"`
	Code             int    `json:"code"`
	Message          string `json:"message"`
	DeveloperMessage string `json:"developerMessage"`
	MoreInfo         string `json:"moreInfo"`
	RequestID        string `json:"requestId"`
	ErrorCode        string `json:"error"`
	Field            string `json:"field,omitempty"`
	// RetryAfter is, for a throttled request, how many seconds to wait (as
	// in the Retry-After header).
	RetryAfter int `json:"retryAfter,omitempty"`
}

// Stormpath's numeric error codes that Gatehouse uses.
const (
	CodePropertyRequired   = 2000
	CodeDuplicate          = 2001 // a unique value is taken
	CodeInvalidValue       = 2002
	CodeValueTooLong       = 2007
	CodeCustomDataField    = 3001 // a custom data field name is invalid or reserved
	CodeCustomDataTooLarge = 3004
	CodeLoginFailed        = 7100 // every login failure, whatever the cause
	CodeThrottled          = 7103 // too many failed attempts: wait retryAfter seconds
	CodeAPIKeyFailed       = 7105 // every API key verification failure
)

// MoreInfo is where an error's moreInfo points: the protocol document.
const MoreInfo = "https://github.com/gatehouse-id/gatehouse/blob/main/identity/wire/protocol.md#errors"

// statuses maps identity codes to HTTP statuses on the wire. Credentials
// failures are 400, as Stormpath's login attempts answered: the caller (an
// API server holding an admin key) is authenticated; the credentials it
// relays are what failed.
var statuses = map[identity.Code]int{
	identity.CodeInvalidInput:       http.StatusBadRequest,
	identity.CodeNotFound:           http.StatusNotFound,
	identity.CodeConflict:           http.StatusConflict,
	identity.CodeInvalidCredentials: http.StatusBadRequest,
	identity.CodeLimitExceeded:      http.StatusBadRequest,
	identity.CodeUnavailable:        http.StatusServiceUnavailable,
	identity.CodeThrottled:          http.StatusTooManyRequests,
	identity.CodeInternal:           http.StatusInternalServerError,
}

// ErrorFrom builds the wire error for err. credentialsCode is the numeric
// code to use if err is a credentials failure (CodeLoginFailed or
// CodeAPIKeyFailed). Internal errors get a generic message: their detail is
// for the server's log.
func ErrorFrom(err error, credentialsCode int, requestID string) Error {
	code := identity.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
		code = identity.CodeInternal
	}
	e := Error{
		Status:    status,
		Code:      status,
		Message:   identity.ErrorMessage(err),
		MoreInfo:  MoreInfo,
		RequestID: requestID,
		ErrorCode: string(code),
		Field:     identity.ErrorField(err),
	}
	switch code {
	case identity.CodeConflict:
		e.Code = CodeDuplicate
	case identity.CodeInvalidInput:
		e.Code = CodeInvalidValue
		if strings.HasPrefix(e.Field, "customData") {
			e.Code = CodeCustomDataField
		}
	case identity.CodeLimitExceeded:
		e.Code = CodeValueTooLong
		if strings.HasPrefix(e.Field, "customData") {
			e.Code = CodeCustomDataTooLarge
		}
	case identity.CodeInvalidCredentials:
		e.Code = credentialsCode
		e.Field = ""
	case identity.CodeNotFound:
		e.Field = "" // the kind is in the message
	case identity.CodeThrottled:
		e.Code = CodeThrottled
		e.RetryAfter = max(1, int((identity.RetryAfter(err)+time.Second-1)/time.Second))
	}
	e.DeveloperMessage = e.Message
	return e
}

// Err turns a wire error back into the identity error it came from: the
// same sentinel (via its code), field and message. A body without a known
// code is classified by its status. Any 5xx, the directory's internal errors
// included, becomes identity.ErrUnavailable: to an API server, a failing
// directory is an unavailable one, to be retried, never a wrong password.
func (e *Error) Err() error {
	code := identity.Code(e.ErrorCode)
	if _, known := statuses[code]; !known {
		code = codeForStatus(e.Status)
	}
	switch code {
	case identity.CodeInvalidCredentials:
		return identity.InvalidCredentials("")
	case identity.CodeThrottled:
		return identity.Throttled(time.Duration(max(1, e.RetryAfter)) * time.Second)
	case identity.CodeUnavailable:
		return identity.Unavailable(errors.New(e.DeveloperMessage))
	case identity.CodeInternal:
		return identity.Unavailable(&remoteInternal{status: e.Status, requestID: e.RequestID})
	}
	return &identity.Error{Code: code, Field: e.Field, Message: e.Message}
}

// remoteInternal is a directory-side internal error. Its text carries the
// request id, so the two logs can be joined.
type remoteInternal struct {
	status    int
	requestID string
}

func (e *remoteInternal) Error() string {
	return "directory internal error (status " + http.StatusText(e.status) + ", request id " + e.requestID + ")"
}

// codeForStatus classifies a status from a body that carries no code (a
// proxy's error page, say).
func codeForStatus(status int) identity.Code {
	switch {
	case status == http.StatusNotFound:
		return identity.CodeNotFound
	case status == http.StatusConflict:
		return identity.CodeConflict
	case status == http.StatusRequestEntityTooLarge:
		// request_too_large: a body over the directory's limit is a size
		// limit, as the Provider contract names it (custom data too big).
		return identity.CodeLimitExceeded
	case status == http.StatusTooManyRequests, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return identity.CodeUnavailable
	case status >= 500:
		return identity.CodeInternal
	default:
		return identity.CodeInvalidInput
	}
}
