package remote

import (
	"log/slog"
	"net/http"
	"time"
)

// Config configures the remote provider.
type Config struct {
	// URL is the directory's base URL, without /v1 (for example
	// http://127.0.0.1:8080). Required.
	URL string
	// APIKeyID and APIKeySecret are the admin key from
	// `gatehouse directory bootstrap`. Required.
	APIKeyID     string
	APIKeySecret string
	// Application is the application's name, resolved at New. Required.
	Application string
	// Timeout bounds one attempt of one request. Default 5 s.
	Timeout time.Duration
	// Retries is how many times a failed safe request is retried (reads,
	// and writes carrying an Idempotency-Key). Default 2; negative means 0.
	Retries int
	// Logger receives request failures and retries, never a secret, query
	// string or Authorization header. Default: discard.
	Logger *slog.Logger
	// Transport overrides the HTTP transport (tests, custom TLS: a
	// *http.Transport whose TLSClientConfig.RootCAs trusts a private CA).
	// Default: a pooled keep-alive transport trusting the system's roots.
	Transport http.RoundTripper
	// InsecureHTTP allows a plain-HTTP URL whose host is not loopback. The
	// admin key and every password relayed to the directory would cross the
	// network in clear, so New refuses such a URL unless this is set
	// (identity.remote.insecure_http). Loopback hosts (127.0.0.0/8, ::1,
	// localhost) are always allowed over HTTP.
	InsecureHTTP bool
	// BreakerThreshold is how many consecutive calls must fail with
	// identity.ErrUnavailable (connection errors, attempt timeouts, 5xx,
	// 429s that are not throttling, unreadable answers), each after its
	// retries, before the circuit breaker opens. Default 5; negative
	// disables the breaker.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker fails every call at once,
	// without sending it, before it lets one probe through (half-open): a
	// success closes it, a failure opens it for another cool-down.
	// Default 5 s.
	BreakerCooldown time.Duration
}
