// Package idsite serves the hosted login pages (Stormpath called them the
// "ID Site"): log in, register, change password, and a page explaining how
// to recover a forgotten password. The pages are rendered on the server with
// html/template and work without JavaScript.
//
// An application sends a browser here with a login request signed for it
// (identity.HostedLogin.NewLoginRequest): the request names the redirect
// URI, which is on the application's allow-list, so the pages never redirect
// anywhere else. After a successful login they redirect there with a
// short-lived signed assertion (and the application's state) that the
// application verifies and accepts once.
//
// Every form carries a CSRF token bound to a cookie (an HMAC of the cookie's
// random value), checked in constant time; every page is sent with a strict
// Content-Security-Policy, X-Frame-Options DENY, no-store caching and no
// referrer. Logins go through the Provider the pages are given, so the
// failed-login regulation wrapping it applies to them as to any other login.
package idsite

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var stylesheet []byte

// Config configures the pages. Resolve is required; zero fields take the
// defaults named on them.
type Config struct {
	// Resolve returns the provider of the application with id appID, as a
	// login request's app_id claim or a page session names it; appID is ""
	// when the caller serves one application. Errors matching
	// identity.ErrNotFound make the page answer that the link is not valid.
	Resolve func(ctx context.Context, appID string) (identity.Provider, error)
	// Prefix is the path the pages are served under. Default "/idsite".
	Prefix string
	// Key signs CSRF tokens and page sessions (at least 32 bytes). Default:
	// random for each process, so a form loaded from one process must be
	// posted to the same one, and a restart ends page sessions.
	Key []byte
	// SessionTTL is how long a login at the pages lets the password be
	// changed there. Default 15 minutes.
	SessionTTL time.Duration
	// SecureCookies marks the pages' cookies Secure on every answer, also
	// to a request that came over plain HTTP: set it when the pages'
	// public URL is https and TLS ends at a proxy in front of them. By
	// default the cookies are Secure only when the request came over TLS.
	SecureCookies bool
	// Logger records failures (never credentials). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultPrefix is where the pages are served when Config.Prefix is empty.
const DefaultPrefix = "/idsite"

// Handler serves the pages.
type Handler struct {
	cfg    Config
	pages  map[string]*template.Template
	mux    *http.ServeMux
	routes []Route
}

// New returns the handler of the pages.
func New(cfg Config) (*Handler, error) {
	if cfg.Resolve == nil {
		return nil, errors.New("idsite: Config.Resolve is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if len(cfg.Key) == 0 {
		cfg.Key = make([]byte, 32)
		if _, err := rand.Read(cfg.Key); err != nil {
			return nil, fmt.Errorf("idsite: key: %w", err)
		}
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("idsite: Config.Key must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "register", "change", "message"} {
		t, err := template.New(name).ParseFS(templateFiles, "templates/base.html", "templates/field.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("idsite: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	mux := http.NewServeMux()
	for _, rt := range []struct {
		method, path string
		fn           http.HandlerFunc
	}{
		{http.MethodGet, "/style.css", h.style},
		{http.MethodGet, "/login", h.loginPage},
		{http.MethodPost, "/login", h.login},
		{http.MethodGet, "/register", h.registerPage},
		{http.MethodPost, "/register", h.register},
		{http.MethodGet, "/password/forgot", h.forgot},
		{http.MethodGet, "/password/change", h.changePage},
		{http.MethodPost, "/password/change", h.change},
		{http.MethodPost, "/logout", h.logout},
	} {
		mux.HandleFunc(rt.method+" "+cfg.Prefix+rt.path, rt.fn)
		h.routes = append(h.routes, Route{Method: rt.method, Path: cfg.Prefix + rt.path})
	}
	mux.HandleFunc(cfg.Prefix+"/", h.notFound)
	h.mux = mux
	return h, nil
}

// Route is a method and path the pages answer.
type Route struct {
	Method, Path string
}

// Routes lists the pages' routes, for servers that register each route
// (and document it) rather than a whole prefix.
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

// Prefix returns the path the pages are served under.
func (h *Handler) Prefix() string { return h.cfg.Prefix }

// ServeHTTP implements http.Handler. The security headers are set before
// anything else, so every answer has them, errors included.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp(""))
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	// A method the mux does not know for a known path gets its 405; the
	// body is bounded before any handler reads it.
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	h.mux.ServeHTTP(w, r)
}

// maxForm bounds a posted form: a login request, a token and a few fields.
const maxForm = 64 << 10

// csp is the Content-Security-Policy of the pages: nothing but the
// stylesheet loads, no script runs, nothing frames them, and forms post
// only to the pages themselves, plus the origin of the verified redirect
// URI, since browsers apply form-action to the redirect that answers a
// form post.
func csp(redirectOrigin string) string {
	formAction := "'self'"
	if redirectOrigin != "" {
		formAction += " " + redirectOrigin
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

func (h *Handler) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(stylesheet)
}
