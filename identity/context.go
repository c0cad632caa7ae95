package identity

import (
	"context"
	"errors"
)

type clientIPKey struct{}

// WithClientIP returns ctx carrying the IP address of the client on whose
// behalf a call is made. The HTTP layers set it from the connection (or a
// trusted proxy's X-Forwarded-For); failed-login regulation counts per
// account and client IP with it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client IP carried by ctx, or "" if none.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

type requestIDKey struct{}

// MaxRequestIDLength bounds a request id taken from a caller.
const MaxRequestIDLength = 64

// WithRequestID returns ctx carrying the id of the HTTP request a call is
// made for. The API server sets it; the remote provider sends it to the
// directory as X-Request-Id, so one id follows a request through the logs
// of both processes.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ValidRequestID reports whether id, received from a caller, may be used as
// a request id: 1 to MaxRequestIDLength letters, digits, '-', '_' or '.'.
// Anything else could forge log fields or split headers, so the servers mint
// their own id instead.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// StatusClientClosedRequest is the status both servers record (in the
// request log and the metrics) for a request whose client went away before
// it was answered. Nobody reads it; it is nginx's code for the same thing,
// so that a burst of impatient clients reads as what it is, not as an
// outage (503) or a bug (500).
const StatusClientClosedRequest = 499

// CallerGone reports whether err ended a request only because the request's
// own context ended: its client hung up, or its deadline passed, while the
// request waited (for the database, the directory, or a turn at the KDF).
// Nothing failed and nothing was decided.
func CallerGone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
