package identity

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Codes are part of the public
// contract: the API and the directory put them on the wire, and the remote
// provider turns them back into the same errors, so a domain error survives a
// round trip through HTTP.
type Code string

// The error codes of the identity domain. Anything that is not one of these is
// an internal error.
const (
	CodeInvalidInput       Code = "invalid_input"
	CodeNotFound           Code = "not_found"
	CodeConflict           Code = "conflict"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeLimitExceeded      Code = "limit_exceeded"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// Error is a domain error: a code, the field it concerns (for invalid input
// and conflicts) and a human message safe to show to a client.
//
// Sentinels (ErrNotFound, ErrConflict, …) are *Error values with only a Code;
// errors.Is matches any *Error with the same code, so
// errors.Is(identity.Invalid("email", "…"), identity.ErrInvalidInput) holds.
type Error struct {
	Code    Code
	Field   string
	Message string
	// Err is an optional cause, kept for logs; it is never shown to clients.
	Err error
}

// Sentinel errors, checked with errors.Is.
var (
	// ErrInvalidInput: a value broke a rule; Field names it.
	ErrInvalidInput = &Error{Code: CodeInvalidInput, Message: "The request is not valid."}
	// ErrNotFound: the resource does not exist (in this application).
	ErrNotFound = &Error{Code: CodeNotFound, Message: "The resource does not exist."}
	// ErrConflict: a unique value (username, email, group name) is taken.
	ErrConflict = &Error{Code: CodeConflict, Message: "The value is already in use."}
	// ErrInvalidCredentials: authentication failed. Every cause (unknown
	// login, wrong password, disabled account, disabled key) is this one
	// error; FailureReason tells them apart for logs only.
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "Invalid credentials."}
	// ErrLimitExceeded: a size or count limit was passed.
	ErrLimitExceeded = &Error{Code: CodeLimitExceeded, Message: "A limit was exceeded."}
	// ErrUnavailable: the backend cannot be reached; the caller may retry.
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: "The identity service is unavailable."}
)

// Error implements error: the field, the message and the cause.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is an *Error with the same code, which makes every
// coded error match its sentinel.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Field == "" || t.Field == e.Field)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns an ErrInvalidInput for field with a human message.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns an ErrConflict for field.
func Conflict(field string) *Error {
	return &Error{Code: CodeConflict, Field: field, Message: "The " + field + " is already in use."}
}

// NotFound returns an ErrNotFound naming the kind of resource.
func NotFound(kind string) *Error {
	return &Error{Code: CodeNotFound, Field: kind, Message: "The " + kind + " does not exist."}
}

// LimitExceeded returns an ErrLimitExceeded for field.
func LimitExceeded(field, format string, args ...any) *Error {
	return &Error{Code: CodeLimitExceeded, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps cause as an ErrUnavailable.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: ErrUnavailable.Message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for any other error (and "" for nil).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorField returns the field named by the first *Error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns the client-safe message of err: the message of its
// *Error, or a generic text for internal errors so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "An internal error occurred."
}

// FailureReason says why an authentication failed. It is for logs and
// metrics only: callers outside this process must never see it, or they could
// tell an unknown login from a wrong password.
type FailureReason string

// Reasons an authentication can fail.
const (
	ReasonUnknownLogin   FailureReason = "unknown_login"
	ReasonWrongPassword  FailureReason = "wrong_password"
	ReasonDisabled       FailureReason = "account_disabled"
	ReasonUnverified     FailureReason = "account_unverified"
	ReasonUnknownKey     FailureReason = "unknown_api_key"
	ReasonWrongSecret    FailureReason = "wrong_api_key_secret"
	ReasonKeyDisabled    FailureReason = "api_key_disabled"
	ReasonInvalidRequest FailureReason = "invalid_request"
)

// credentialsError is an ErrInvalidCredentials that remembers its reason.
// Its Error text is the generic one, so printing it reveals nothing.
type credentialsError struct{ reason FailureReason }

func (e *credentialsError) Error() string        { return ErrInvalidCredentials.Message }
func (e *credentialsError) Is(target error) bool { return target == ErrInvalidCredentials }

// As lets errors.As(err, **Error) find the sentinel, so ErrorCode works.
func (e *credentialsError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = ErrInvalidCredentials
		return true
	}
	return false
}

// InvalidCredentials returns an ErrInvalidCredentials carrying reason.
func InvalidCredentials(reason FailureReason) error { return &credentialsError{reason: reason} }

// ReasonOf returns the FailureReason carried by err, or "" if it has none.
func ReasonOf(err error) FailureReason {
	var e *credentialsError
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}

// CodeThrottled is the code of ErrThrottled.
const CodeThrottled Code = "throttled"

// ErrThrottled: too many failed logins for this account (from this client,
// or from anywhere); the caller must wait. ThrottledError carries how long.
var ErrThrottled = &Error{Code: CodeThrottled, Message: "Too many failed attempts; try again later."}

// ThrottledError is an ErrThrottled that says how long to wait.
type ThrottledError struct {
	RetryAfter time.Duration
}

// Error implements error with the generic message.
func (e *ThrottledError) Error() string { return ErrThrottled.Message }

// Is makes a ThrottledError match ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// As lets errors.As(err, **Error) find the sentinel, so ErrorCode works.
func (e *ThrottledError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = ErrThrottled
		return true
	}
	return false
}

// Throttled returns an ErrThrottled asking to retry after d.
func Throttled(d time.Duration) error { return &ThrottledError{RetryAfter: d} }

// RetryAfter returns how long err asks the caller to wait (for a
// ThrottledError), or 0.
func RetryAfter(err error) time.Duration {
	var t *ThrottledError
	if errors.As(err, &t) {
		return t.RetryAfter
	}
	return 0
}
