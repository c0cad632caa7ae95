package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/idsite"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// MethodSession: the session cookie set after a hosted login. It carries
// an access token, and is accepted wherever Bearer tokens are, for requests
// without an Authorization header; requests that change something must
// come from the API's own origin.
const MethodSession Method = "session"

// Cookies of hosted login.
const (
	// SessionCookie holds the access token of a browser session.
	SessionCookie = "gatehouse_session"
	// loginCookie holds the signed login request between /login and
	// /login/callback (and the path to return to).
	loginCookie = "gatehouse_login"
)

// CodeLoginFailed is the code of every failed /login/callback: one answer,
// whatever was wrong with the assertion, so nothing is learnt by probing.
const CodeLoginFailed = "login_failed"

const loginFailedMessage = "The login could not be completed. Start again from /login."

// LoginConfig configures hosted login: GET /login sends the browser to the
// hosted pages with a signed request, /login/callback accepts the assertion
// they send back and starts a session, and POST /logout (from the page at
// GET /logout) ends it.
type LoginConfig struct {
	// PublicURL is this server's external base URL (https://api.example.com).
	// The callback URL is PublicURL + "/login/callback", which must be on
	// the application's redirect URI allow-list. Hosted login is off
	// without it.
	PublicURL string
	// PagesURL is the base URL of the hosted pages, e.g. the directory's
	// https://directory.example.com/idsite. Default: PublicURL + "/idsite"
	// when Pages is set.
	PagesURL string
	// Pages, when set, are served by this server (with the local
	// provider, which has no directory to serve them).
	Pages *idsite.Handler
	// SessionTTL is the lifetime of a session, and of its token.
	// Default 1 hour.
	SessionTTL time.Duration
}

// CallbackPath is the path of the callback, under LoginConfig.PublicURL.
const CallbackPath = "/login/callback"

// login is the state of hosted login: its settings and the assertions
// already accepted.
type login struct {
	s *server
	// hl is the provider's HostedLogin; nil when it has none, and then
	// hosted login is off.
	hl         identity.HostedLogin
	callback   string
	pages      string
	secure     bool
	sessionTTL time.Duration

	mu       sync.Mutex
	consumed map[string]time.Time // assertion jti -> expiry
}

// loginRoutes adds the hosted-login endpoints, and the pages when this
// server serves them.
func (s *server) loginRoutes(e *echo.Echo) {
	cfg := s.cfg.Login
	l := &login{s: s, sessionTTL: cfg.SessionTTL, consumed: map[string]time.Time{}}
	l.hl, _ = identity.FindHostedLogin(s.p)
	if l.sessionTTL <= 0 {
		l.sessionTTL = time.Hour
	}
	if base := strings.TrimRight(cfg.PublicURL, "/"); base != "" {
		l.callback = base + CallbackPath
		l.secure = strings.HasPrefix(strings.ToLower(base), "https://")
		l.pages = strings.TrimRight(cfg.PagesURL, "/")
		if l.pages == "" && cfg.Pages != nil {
			l.pages = base + cfg.Pages.Prefix()
		}
	}
	e.GET("/login", l.start)
	e.GET(CallbackPath, l.finish)
	e.GET("/logout", l.logoutPage)
	e.POST("/logout", l.logout)
	if cfg.Pages != nil {
		h := echo.WrapHandler(cfg.Pages)
		for _, rt := range cfg.Pages.Routes() {
			e.Add(rt.Method, rt.Path, h)
		}
	}
}

// notConfigured is the answer of the login endpoints when hosted login is
// off.
func notConfigured() error {
	return newError(http.StatusNotFound, string(identity.CodeNotFound),
		"Hosted login is not configured on this server (login.public_url, login.pages_url).")
}

// randomValue returns 32 random bytes, base64url-encoded.
func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNext returns next if it is a path on this server ("/" if empty):
// absolute, and neither scheme-relative ("//host") nor anything a browser
// could read as another host ("/\host"), so it is no open redirect.
func checkNext(next string) (string, error) {
	if next == "" {
		return "/", nil
	}
	bad := identity.Invalid("next", "next must be a path on this server, starting with a single '/'.")
	if len(next) > 1024 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "", bad
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", bad
	}
	for i := 0; i < len(next); i++ {
		if next[i] < 0x20 || next[i] == 0x7f {
			return "", bad
		}
	}
	return next, nil
}

// start is GET /login: it makes a state and a nonce, has the provider sign
// a login request for the callback with them, keeps the request in a
// short-lived cookie and sends the browser to the hosted pages.
//
// The cookie holds the signed request itself rather than the state and
// nonce under a key of this process: any replica can verify it with the
// application's published keys, and it expires with the request.
func (l *login) start(c echo.Context) error {
	if l.callback == "" || l.pages == "" || l.hl == nil {
		return notConfigured()
	}
	next, err := checkNext(c.QueryParam("next"))
	if err != nil {
		return err
	}
	path := identity.LoginPath(c.QueryParam("path"))
	req, err := l.hl.NewLoginRequest(c.Request().Context(), identity.LoginRequest{
		RedirectURI: l.callback, State: randomValue(), Nonce: randomValue(), Path: path,
	})
	if err != nil {
		return err
	}
	maxAge := int(time.Until(req.ExpiresAt) / time.Second)
	c.SetCookie(l.cookie(c, loginCookie, req.Value+"~"+base64.RawURLEncoding.EncodeToString([]byte(next)), "/login", max(maxAge, 1)))
	target := l.pages + "/login?" + url.Values{"request": {req.Value}}.Encode()
	return c.Redirect(http.StatusSeeOther, target)
}

// cookie returns a host-only, HttpOnly, SameSite=Lax cookie, Secure under
// TLS or when the public URL is https. A negative maxAge deletes it.
func (l *login) cookie(c echo.Context, name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   l.secure || c.IsTLS(),
		SameSite: http.SameSiteLaxMode,
	}
}

// failed is the answer of every refused callback; cause goes to the log.
func (l *login) failed(c echo.Context, cause error) error {
	c.SetCookie(l.cookie(c, loginCookie, "", "/login", -1))
	return &Error{Status: http.StatusBadRequest, Code: CodeLoginFailed, Message: loginFailedMessage, Err: cause}
}

// finish is GET /login/callback?assertion=…&state=…: it checks the
// assertion against the request this browser started (signature, type,
// audience, expiry, state, nonce, redirect URI), accepts it once, and
// starts a session for its account.
func (l *login) finish(c echo.Context) error {
	if l.callback == "" || l.hl == nil {
		return notConfigured()
	}
	ctx := c.Request().Context()
	ck, err := c.Cookie(loginCookie)
	if err != nil {
		return l.failed(c, errors.New("no login cookie"))
	}
	rawReq, encNext, _ := strings.Cut(ck.Value, "~")
	nextBytes, err := base64.RawURLEncoding.DecodeString(encNext)
	if err != nil {
		return l.failed(c, errors.New("malformed login cookie"))
	}
	next, err := checkNext(string(nextBytes))
	if err != nil {
		return l.failed(c, err)
	}
	now := l.s.cfg.Now()
	var req token.LoginRequestClaims
	var as token.LoginAssertionClaims
	err = l.s.tokens.withVerifier(ctx, func(v *token.Verifier) error {
		var err error
		if req, err = v.VerifyLoginRequest(rawReq, now); err != nil {
			return fmt.Errorf("login request: %w", err)
		}
		if as, err = v.VerifyLoginAssertion(c.QueryParam("assertion"), now); err != nil {
			return fmt.Errorf("assertion: %w", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, token.ErrInvalidToken):
		return l.failed(c, err)
	case err != nil:
		return err // the keys could not be fetched: 503, not a bad login
	}
	if !equal(as.State, req.State) || !equal(c.QueryParam("state"), req.State) {
		return l.failed(c, errors.New("state does not match"))
	}
	if !equal(as.Nonce, req.Nonce) {
		return l.failed(c, errors.New("nonce does not match"))
	}
	if as.RedirectURI != req.RedirectURI || req.RedirectURI != l.callback {
		return l.failed(c, errors.New("redirect URI does not match"))
	}
	if err := l.consume(ctx, as.ID, as.ExpiresAt); errors.Is(err, errReplayed) {
		return l.failed(c, err)
	} else if err != nil {
		return err
	}
	tok, err := l.s.p.IssueToken(ctx, as.Subject, identity.TokenRequest{TTL: l.sessionTTL})
	if errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrInvalidCredentials) {
		return l.failed(c, fmt.Errorf("session for account %s: %w", as.Subject, err))
	}
	if err != nil {
		return err
	}
	c.SetCookie(l.cookie(c, loginCookie, "", "/login", -1))
	c.SetCookie(l.cookie(c, SessionCookie, tok.Value, "/", int(l.sessionTTL/time.Second)))
	return c.Redirect(http.StatusSeeOther, next)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// errReplayed is consume's answer for an assertion already accepted.
var errReplayed = errors.New("assertion replayed")

// consume accepts an assertion id once. The provider decides, atomically,
// for every server sharing it (identity.HostedLogin.ConsumeLoginAssertion);
// this process also remembers the ids it accepted until they expire, so a
// replay to the same server is refused without a round trip.
func (l *login) consume(ctx context.Context, jti string, exp time.Time) error {
	now := l.s.cfg.Now()
	l.mu.Lock()
	for id, e := range l.consumed {
		if now.After(e) {
			delete(l.consumed, id)
		}
	}
	if _, seen := l.consumed[jti]; seen {
		l.mu.Unlock()
		return errReplayed
	}
	l.consumed[jti] = exp
	l.mu.Unlock()

	err := l.hl.ConsumeLoginAssertion(ctx, jti, exp)
	if errors.Is(err, identity.ErrConflict) {
		return fmt.Errorf("%w on another server", errReplayed)
	}
	if err != nil {
		// Not accepted after all: the same assertion may be tried again
		// once the provider answers.
		l.mu.Lock()
		delete(l.consumed, jti)
		l.mu.Unlock()
		return err
	}
	return nil
}

// logoutPage is GET /logout: a page whose one button posts the logout.
// Logging out by GET would let any site log its visitors out of this one
// with an image tag (logout CSRF), and would be undone by link prefetching.
func (l *login) logoutPage(c echo.Context) error {
	next, err := checkLogoutNext(c.QueryParam("next"))
	if err != nil {
		return err
	}
	return htmlPage(c, http.StatusOK, "Log out", next)
}

// logout is POST /logout, from this server's own page: it revokes the
// session's token (so it is dead on every server that polls the provider's
// revocations), deletes the cookie and redirects to next, or says it is
// done. A cross-site POST is refused, with the session untouched.
func (l *login) logout(c echo.Context) error {
	if !sameOrigin(c) {
		return newError(http.StatusForbidden, CodeForbidden, "A logout must be posted from this server's own /logout page.")
	}
	next := c.QueryParam("next")
	if f, err := c.FormParams(); err == nil && f.Get("next") != "" {
		next = f.Get("next")
	}
	next, err := checkLogoutNext(next)
	if err != nil {
		return err
	}
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		err := l.s.tokens.Revoke(c.Request().Context(), ck.Value)
		if err != nil && !errors.Is(err, token.ErrInvalidToken) {
			// Keep the cookie: the browser can try again, and the token
			// must not outlive a logout that looked successful.
			return err
		}
	}
	c.SetCookie(l.cookie(c, SessionCookie, "", "/", -1))
	if next == "" {
		return htmlPage(c, http.StatusOK, "Logged out", "")
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// checkLogoutNext is checkNext where no next is "" (the logged-out page)
// rather than "/": after a logout, "/" would answer 401 with a Basic
// challenge, and the browser would show its password dialog.
func checkLogoutNext(next string) (string, error) {
	if next == "" {
		return "", nil
	}
	return checkNext(next)
}

// logoutPages are the two pages of a browser logout: the button, and what
// follows it when there is nowhere to go back to.
var logoutPages = template.Must(template.New("").Parse(`
{{- define "Log out" -}}
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Log out</title></head>
<body><main><h1>Log out</h1>
<form method="post" action="/logout">{{if .}}<input type="hidden" name="next" value="{{.}}">{{end}}<button type="submit">Log out</button></form>
</main></body></html>
{{end -}}
{{- define "Logged out" -}}
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Logged out</title></head>
<body><main><h1>You are logged out</h1><p><a href="/login">Log in again</a></p></main></body></html>
{{end -}}
`))

// htmlPage writes one of logoutPages. The policy allows nothing but the
// page itself and forms posted to this origin, and no framing (which would
// let another site trick a click on the button).
func htmlPage(c echo.Context, status int, name, data string) error {
	var b strings.Builder
	if err := logoutPages.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	return c.HTML(status, b.String())
}

// session authenticates a request by its session cookie, for requests
// without an Authorization header. found is false when there is no cookie
// (or sessions are not among the allowed methods). A request that changes
// something must come from this server's own origin: cookies are sent with
// cross-site requests too, and the API must not be CSRF-able. A cookie
// refused for that reason was never checked, so it is not reported as an
// attempt.
func (a *authenticator) session(c echo.Context) (p *Principal, found bool, err error) {
	if !a.allowed[MethodSession] && !a.allowed[MethodBearer] {
		return nil, false, nil
	}
	ck, err := c.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return nil, false, nil
	}
	if !safeMethod(c.Request().Method) && !sameOrigin(c) {
		return nil, true, newError(http.StatusForbidden, CodeForbidden,
			"A request authenticated by the session cookie that changes data must come from this server's own pages.")
	}
	p, err = a.token(c, ck.Value, MethodSession)
	if err != nil && isAuthFailure(err) {
		err = a.basicFailed(err)
	}
	a.report(c, MethodSession, err)
	if err != nil {
		return nil, true, err
	}
	return p, true, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser says the request comes from this
// origin: Sec-Fetch-Site when the browser sends it, else Origin, which must
// name the host the request was sent to. A request with neither is refused:
// every browser that sends cookies on a cross-site POST sends one of them.
func sameOrigin(c echo.Context) bool {
	r := c.Request()
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" {
		return sfs == "same-origin"
	}
	origin := r.Header.Get(echo.HeaderOrigin)
	if origin == "" || origin == "null" {
		return false
	}
	return strings.EqualFold(origin, c.Scheme()+"://"+r.Host)
}
