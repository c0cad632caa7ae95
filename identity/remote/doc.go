// Package remote is an identity.Provider that delegates every call to a
// Gatehouse directory (`gatehouse directory serve`) over the directory
// protocol (identity/wire/protocol.md). API servers configured with
// `identity.provider: remote` use it; it passes the same conformance suite
// (identitytest) as the in-process providers, so callers cannot tell the
// difference except by latency and by identity.ErrUnavailable.
//
//	p, err := remote.New(ctx, remote.Config{
//		URL:          "http://127.0.0.1:8080",
//		APIKeyID:     id,
//		APIKeySecret: secret,
//		Application:  "my-app",
//	})
//	if err != nil { ... }
//	defer p.Close()
//
// # Errors
//
// The directory answers domain errors with the protocol's error body, which
// carries Gatehouse's stable error code and the field concerned; the
// provider turns it back into the same identity error (wire.Error.Err), so
// errors.Is(err, identity.ErrConflict) and identity.ErrorField work exactly
// as with a local provider. A 429 whose error is `throttled` is the
// directory's failed-login regulation of the end user: it becomes
// identity.Throttled with the directory's retryAfter (an answer, never
// retried). Everything that is not a domain answer becomes
// identity.ErrUnavailable: a connection failure, an attempt that timed
// out, any 5xx or other 429, and any answer that is not a protocol error body (a
// proxy's HTML error page, say, even with status 404: a proxy that cannot
// route is not evidence that an account does not exist). The caller's own
// cancellation or deadline is reported as such (errors.Is(err,
// context.Canceled) or context.DeadlineExceeded), never as unavailability.
// A directory that refuses the admin key (401 or 403) gives
// ErrAdminKeyRejected, an internal error: a misconfiguration, not a
// transient failure and certainly not a wrong password. No error text ever
// contains a URL's query string or a credential.
//
// # Retries
//
// The HTTP client is hashicorp/go-retryablehttp, with every default that is
// unsafe for an identity service replaced. A request is retried only when
// repeating it cannot change the outcome:
//
//   - Reads: every GET, and the POST that verifies a hosted-login request.
//   - Credentials checks (loginAttempts and apiKeyAttempts), but only when
//     the directory surely did not decide them: the connection was never
//     made, or it answered 503 or 429 (overload, not regulation). After an
//     attempt timeout, a connection broken mid-request, a 502 or a 504 the
//     directory may already have verified the attempt and counted a
//     failure against the login; a repeat would count it twice, and ask a
//     directory that is already slow for a second KDF run.
//   - Writes that carry an Idempotency-Key: every other write (creating,
//     updating or deleting accounts, groups, memberships, custom data, key
//     status, revocations, signing key rotation). The key is 128 random
//     bits, one per logical call and the same on each of its attempts; the
//     directory keeps the answer to the first attempt for 24 hours and
//     replays it to the repeats, so a retried create does not create twice
//     and a retried delete does not turn into a 404.
//   - Never: API key creation and token issuance. Their answers hold a
//     secret or a token, which the directory refuses to store, so it cannot
//     replay them; a repeat would mint a second credential, which the
//     caller would never see. They are sent once.
//
// Any other retryable request is retried only after a connection error, an
// attempt that timed out (Config.Timeout), or the statuses 429 (unless
// throttled), 502, 503 and 504.
// Any other status, and every 4xx in particular, is an answer and is
// returned at once; so are TLS certificate errors, which do not heal. The
// caller's cancellation or deadline stops everything immediately.
//
// At most Config.Retries retries follow the first attempt. Between them the
// provider waits a jittered exponential backoff (from 50 ms, doubling, at
// most 1 s), or longer when the directory says so with Retry-After. Waits
// are bounded: a Retry-After of more than 5 s, or any wait that would end
// after the request's context deadline, ends the retries at once, and the
// last answer (a 503, say) is returned rather than a deadline error, so the
// caller still learns what the directory said. The library's defaults
// (four retries, waits of up to 30 s, retries of every POST, an uncapped
// Retry-After, a lost status code after the last try, and logs of every URL
// with its query string) are all replaced.
//
// Each attempt is bounded by Config.Timeout (http.Client.Timeout, which
// includes reading the answer); the whole call is bounded by the caller's
// context.
//
// # Circuit breaker
//
// A directory that keeps failing is not called for a while
// (sony/gobreaker). After Config.BreakerThreshold (default 5) consecutive
// calls that ended in identity.ErrUnavailable, each after its retries, the
// breaker opens: for Config.BreakerCooldown (default 5 s) every call fails
// at once with an identity.ErrUnavailable wrapping ErrBreakerOpen, without
// touching the network, so API servers answer 503 (or a cached success)
// immediately instead of holding every request for the timeouts. Then one
// call is let through as a probe (half-open; concurrent calls still fail
// fast): its success closes the breaker, its failure opens it for another
// cool-down. Every answer other than unavailability (a 4xx, throttling, a
// rejected admin key) counts as a success: the directory is up. The
// caller's own cancellation or deadline is not counted either way.
// BreakerState reports the state for readiness checks. A negative
// threshold disables the breaker.
//
// # Transport security and the client IP
//
// New refuses a plain-HTTP URL unless its host is loopback (127.0.0.0/8,
// ::1, localhost) or Config.InsecureHTTP is set: the admin key and the
// passwords relayed in login attempts would otherwise cross the network in
// clear. For a directory with a certificate from a private CA, pass a
// Config.Transport whose TLS configuration trusts it (or set SSL_CERT_FILE
// for the process). Certificate errors are never retried.
//
// Every request carries the IP address of the client on whose behalf it is
// made, from identity.ClientIP of the call's context, in the
// Gatehouse-Client-IP header. The directory does not regulate by it: the
// limit per login and client IP is the API server's (identity/regulate
// around this provider), the directory applies only the login-wide one.
//
// # Logging
//
// Retries and failures go to Config.Logger (log/slog) with the method and
// the path only: never a query string (which can hold an email address), a
// credential or the Authorization header. The go-retryablehttp logger is
// an adapter that rewrites every URL it is given the same way.
package remote
