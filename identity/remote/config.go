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
	// Transport overrides the HTTP transport (tests, custom TLS). Default: a
	// pooled keep-alive transport.
	Transport http.RoundTripper
}
