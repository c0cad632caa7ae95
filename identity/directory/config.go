package directory

import (
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
)

// Config configures the directory server. Zero fields take the defaults
// named on them.
type Config struct {
	// BaseURL is the external base URL of the directory, without /v1 (for
	// example https://directory.example.com). Hrefs in answers start with
	// it. Default: built from each request's scheme (TLS or not) and Host
	// header. Set it behind a proxy that changes the scheme or host:
	// Stormpath's SDKs follow hrefs only when they start with the base URL
	// the client was given.
	BaseURL string
	// BodyLimit bounds request bodies in bytes; larger bodies answer 413.
	// Default 1 MiB.
	BodyLimit int64
	// Realm is the realm of the WWW-Authenticate challenge sent with 401.
	// Default "gatehouse-directory".
	Realm string
	// TokenTTL is the lifetime of access tokens requested without one. It is
	// what oAuthPolicy shows as accessTokenTtl, and the directory passes it
	// to the Provider explicitly, so the two always agree. It must not exceed
	// the Provider's maximum token lifetime. Default 10 minutes (the
	// Provider's own default).
	TokenTTL time.Duration
	// Metrics, when set, records HTTP requests, login attempts and API key
	// verifications (as authentications) and provider calls, and serves
	// them at GET /metrics without credentials. Default: none.
	Metrics *metrics.Metrics
	// PageProvider, when set, wraps the provider the hosted login pages
	// use for an application (appID), for example in a regulator with a
	// limit per login and client IP: browsers reach the pages directly,
	// whereas the protocol's callers are API servers, which apply that
	// limit themselves. It is called for every page request; the result
	// should keep whatever state it has per application. Default: the
	// tenant's provider as is.
	PageProvider func(appID string, p identity.Provider) identity.Provider
	// IPExtractor finds a page request's client IP, which failed-login
	// regulation counts under. Behind a reverse proxy, use one that reads
	// X-Forwarded-For from trusted proxies only (api.IPExtractor).
	// Default: the connection's peer.
	IPExtractor echo.IPExtractor
	// PagesKey signs the hosted pages' CSRF tokens and page sessions (at
	// least 32 bytes; New panics on a shorter one). Replicas behind one load balancer need the same key,
	// or a form loaded from one and posted to another is refused. Default:
	// random for each process (then replicas need sticky sessions).
	PagesKey []byte
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultBodyLimit = 1 << 20
	DefaultRealm     = "gatehouse-directory"
	DefaultTokenTTL  = 10 * time.Minute
)

// TenantID is the id of the directory's one tenant. It appears in tenant
// hrefs only; a directory has no other tenant.
const TenantID = "gatehouseDefaultTenant"

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.IPExtractor == nil {
		c.IPExtractor = echo.ExtractIPDirect()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
