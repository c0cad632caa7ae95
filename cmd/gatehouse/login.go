package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
)

// LoginConfig configures hosted login on the API server (GET /login,
// /login/callback, /logout).
type LoginConfig struct {
	// PublicURL is the API server's external base URL; the callback the
	// hosted pages redirect to is PublicURL/login/callback. Hosted login is
	// off while it is empty.
	PublicURL string `mapstructure:"public_url"`
	// PagesURL is the base URL of the hosted pages. Default: the
	// directory's (identity.remote.url + /idsite) with the remote provider,
	// this server's (PublicURL + /idsite) otherwise.
	PagesURL string `mapstructure:"pages_url"`
	// SessionTTL is the lifetime of a browser session (and its token).
	SessionTTL time.Duration `mapstructure:"session_ttl"`
}

// Bounds of login.session_ttl: tokens live at most 24 h.
const (
	minSessionTTL = time.Minute
	maxSessionTTL = 24 * time.Hour
)

func (l LoginConfig) validate(provider string, bad func(key, format string, args ...any)) {
	if l.PublicURL != "" {
		if err := checkBaseURL(l.PublicURL); err != nil {
			bad("login.public_url", "%v", err)
		} else if u, _ := url.Parse(l.PublicURL); strings.Trim(u.Path, "/") != "" {
			bad("login.public_url", "must be an origin without a path (the callback is served at /login/callback)")
		} else if _, err := identity.NormalizeRedirectURI(callbackURL(l.PublicURL)); err != nil {
			bad("login.public_url", "the callback %s cannot be a redirect URI: %s", callbackURL(l.PublicURL), identity.ErrorMessage(err))
		}
	}
	if l.PagesURL != "" {
		if err := checkBaseURL(l.PagesURL); err != nil {
			bad("login.pages_url", "%v", err)
		}
	}
	if l.SessionTTL < minSessionTTL || l.SessionTTL > maxSessionTTL {
		bad("login.session_ttl", "must be between %s and %s (got %s)", minSessionTTL, "24h", l.SessionTTL)
	}
}

func callbackURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + api.CallbackPath
}

// hostedLogin returns the API's hosted-login settings for provider p (fully
// decorated, so logins at the pages are regulated as any other).
//
// With the local or mock provider this server is its own directory: it
// serves the pages under /idsite/ and puts its own callback on the
// allow-list, since login.public_url is the operator's statement of where
// it lives. With the remote provider the directory serves the pages, and
// its operator keeps the allow-list (gatehouse directory redirect-uris).
func hostedLogin(ctx context.Context, cfg *Config, p identity.Provider, logger *slog.Logger) (api.LoginConfig, error) {
	lc := cfg.Login
	out := api.LoginConfig{PublicURL: strings.TrimRight(lc.PublicURL, "/"), PagesURL: strings.TrimRight(lc.PagesURL, "/"), SessionTTL: lc.SessionTTL}
	if out.PublicURL == "" {
		return out, nil
	}
	if cfg.Identity.Provider == "remote" {
		if out.PagesURL == "" {
			out.PagesURL = strings.TrimRight(cfg.Identity.Remote.URL, "/") + idsite.DefaultPrefix
		}
		return out, nil
	}
	hl, ok := identity.FindHostedLogin(p)
	if !ok {
		return out, errors.New("login.public_url: the identity provider cannot serve hosted login")
	}
	uri, err := hl.AddRedirectURI(ctx, callbackURL(out.PublicURL))
	if err != nil {
		return out, fmt.Errorf("login.public_url: allow %s: %w", callbackURL(out.PublicURL), describe(err))
	}
	if out.PagesURL == "" {
		out.PagesURL = out.PublicURL + idsite.DefaultPrefix
	}
	pages, err := idsite.New(idsite.Config{
		Resolve: func(context.Context, string) (identity.Provider, error) { return p, nil },
		// Behind a proxy that ends TLS the request itself is plain HTTP;
		// an https address of the pages says the browser's side is not.
		SecureCookies: strings.HasPrefix(strings.ToLower(out.PagesURL), "https://"),
		Key:           cfg.Encryption.pagesKey(),
		Logger:        logger.With("component", "idsite"),
	})
	if err != nil {
		return out, err
	}
	out.Pages = pages
	logger.Debug("hosted login", "callback", uri, "pages", out.PagesURL)
	return out, nil
}
