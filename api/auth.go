package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// Method is how a request authenticated.
type Method string

// Authentication methods.
const (
	// MethodPassword: HTTP Basic with a username or email and a password.
	MethodPassword Method = "password"
	// MethodAPIKey: HTTP Basic with an API key id and secret.
	MethodAPIKey Method = "api_key"
	// MethodToken: HTTP Basic with a Gatehouse token as the user-id (the
	// password is ignored), as in REST-auth.
	MethodToken Method = "token"
	// MethodBearer: an OAuth2 Bearer token (RFC 6750).
	MethodBearer Method = "bearer"
)

// Principal is who a request authenticated as, and how.
type Principal struct {
	Account *identity.Account
	Method  Method
	// APIKey is the key used, for MethodAPIKey.
	APIKey *identity.APIKey
	// Claims are the verified token's claims, for MethodToken and
	// MethodBearer.
	Claims *token.Claims
}

// principalKey is the echo.Context key of the Principal.
const principalKey = "gatehouse.principal"

// PrincipalFrom returns the Principal that the auth middleware stored in c.
func PrincipalFrom(c echo.Context) (*Principal, bool) {
	p, ok := c.Get(principalKey).(*Principal)
	return p, ok && p != nil
}

// AccountFrom returns the authenticated account of the request.
func AccountFrom(c echo.Context) (*identity.Account, bool) {
	p, ok := PrincipalFrom(c)
	if !ok {
		return nil, false
	}
	return p.Account, true
}

// AuthConfig configures the authentication middleware.
//
// Password logins go to the Provider with the client IP in the context
// (identity.WithClientIP), for failed-login regulation: the one set by the
// ClientIP middleware if it ran, otherwise the one the Echo instance's
// IPExtractor finds (the connection's peer without one). A throttled login
// answers 429 with Retry-After.
type AuthConfig struct {
	// Skipper skips the middleware for some requests.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Provider decides on credentials. Required.
	Provider identity.Provider
	// Realm is the realm of the WWW-Authenticate challenges.
	// Optional. Default value "gatehouse".
	Realm string
	// Methods are the accepted methods.
	// Optional. Default value: all four.
	Methods []Method
	// Tokens verifies tokens locally.
	// Optional. Default value: NewTokenVerifier(Provider, TokenVerifierConfig{}).
	Tokens *TokenVerifier
	// Logger records failures (never credentials).
	// Optional. Default value: discard.
	Logger *slog.Logger
	// OnResult, when set, is told of every authentication attempt: the
	// method tried and the error the middleware answers with, nil for a
	// success (a failure is a 401 *Error; a throttled login
	// identity.ErrThrottled; an unreachable provider
	// identity.ErrUnavailable). Requests without credentials, with an
	// Authorization header that cannot be read, or with a session cookie
	// refused for the request's origin, are not attempts. It runs on the
	// request's goroutine, for metrics: keep it fast.
	// Optional. Default value: none.
	OnResult func(c echo.Context, m Method, err error)
}

// DefaultAuthConfig is the default configuration; Provider must be set.
var DefaultAuthConfig = AuthConfig{
	Skipper: middleware.DefaultSkipper,
	Realm:   DefaultRealm,
	Methods: []Method{MethodPassword, MethodAPIKey, MethodToken, MethodBearer},
}

// Auth returns the authentication middleware for p with default settings.
func Auth(p identity.Provider) echo.MiddlewareFunc {
	cfg := DefaultAuthConfig
	cfg.Provider = p
	return AuthWithConfig(cfg)
}

// AuthWithConfig returns the authentication middleware. It panics when the
// configuration is invalid, as Echo's own middleware does; ToMiddleware
// returns the error instead.
func AuthWithConfig(cfg AuthConfig) echo.MiddlewareFunc {
	mw, err := cfg.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates the configuration and returns the middleware.
func (cfg AuthConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Provider == nil {
		return nil, errors.New("api: auth middleware requires a Provider")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultAuthConfig.Skipper
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultAuthConfig.Realm
	}
	if strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, fmt.Errorf("api: realm %q must not contain quotes, backslashes or line breaks", cfg.Realm)
	}
	if len(cfg.Methods) == 0 {
		cfg.Methods = DefaultAuthConfig.Methods
	}
	if cfg.Tokens == nil {
		cfg.Tokens = NewTokenVerifier(cfg.Provider, TokenVerifierConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &authenticator{cfg: cfg, allowed: map[Method]bool{}}
	for _, m := range cfg.Methods {
		a.allowed[m] = true
	}
	a.basicChallenge = fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, cfg.Realm)
	a.bearerChallenge = fmt.Sprintf(`Bearer realm=%q`, cfg.Realm)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			p, err := a.authenticate(c)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}, nil
}

type authenticator struct {
	cfg             AuthConfig
	allowed         map[Method]bool
	basicChallenge  string
	bearerChallenge string
}

// authFailedMessage is the one message of every authentication failure, so
// a client cannot tell an unknown user from a wrong password.
const authFailedMessage = "Authentication failed: valid credentials are required."

// unauthorized is the 401 for a request with no usable credentials: both
// challenges, and no error code in the Bearer one (RFC 6750 §3).
func (a *authenticator) unauthorized() *Error {
	h := http.Header{}
	if a.allowed[MethodPassword] || a.allowed[MethodAPIKey] || a.allowed[MethodToken] {
		h.Add(echo.HeaderWWWAuthenticate, a.basicChallenge)
	}
	if a.allowed[MethodBearer] {
		h.Add(echo.HeaderWWWAuthenticate, a.bearerChallenge)
	}
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: authFailedMessage, Header: h}
}

// basicFailed is the 401 for bad Basic credentials.
func (a *authenticator) basicFailed(cause error) *Error {
	e := a.unauthorized()
	e.Err = cause
	return e
}

// bearerFailed is the 401 for a bad Bearer token (RFC 6750 §3.1).
func (a *authenticator) bearerFailed(cause error) *Error {
	return &Error{
		Status:  http.StatusUnauthorized,
		Code:    CodeUnauthorized,
		Message: authFailedMessage,
		Header:  http.Header{echo.HeaderWWWAuthenticate: {a.bearerChallenge + `, error="invalid_token"`}},
		Err:     cause,
	}
}

func (a *authenticator) authenticate(c echo.Context) (*Principal, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if h == "" {
		if p, found, err := a.session(c); found {
			return p, err
		}
		return nil, a.unauthorized()
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := parseBasic(rest)
		if !ok {
			return nil, a.basicFailed(errors.New("malformed basic credentials"))
		}
		p, m, err := a.basic(c, user, pass)
		a.report(c, m, err)
		return p, err
	case strings.EqualFold(scheme, "Bearer") && a.allowed[MethodBearer]:
		raw := strings.TrimSpace(rest)
		if raw == "" {
			return nil, a.bearerFailed(errors.New("empty bearer token"))
		}
		p, err := a.token(c, raw, MethodBearer)
		if err != nil && isAuthFailure(err) {
			err = a.bearerFailed(err)
		}
		a.report(c, MethodBearer, err)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, a.unauthorized()
}

// report tells Config.OnResult, if any, how an attempt ended.
func (a *authenticator) report(c echo.Context, m Method, err error) {
	if a.cfg.OnResult != nil {
		a.cfg.OnResult(c, m, err)
	}
}

// basic dispatches on the shape of the user-id: an API key id, a token, or
// else a login. It returns the method it dispatched to, also on failure.
func (a *authenticator) basic(c echo.Context, user, pass string) (*Principal, Method, error) {
	ctx := c.Request().Context()
	var (
		p         *Principal
		err       error
		tokenHash [32]byte
		m         Method
	)
	switch {
	case apikey.IsID(user):
		m = MethodAPIKey
		if !a.allowed[MethodAPIKey] {
			return nil, m, a.basicFailed(errors.New("api key authentication not allowed"))
		}
		var acc *identity.Account
		var key *identity.APIKey
		acc, key, err = a.cfg.Provider.AuthenticateAPIKey(ctx, user, pass)
		if err == nil {
			p = &Principal{Account: acc, Method: MethodAPIKey, APIKey: key}
		}
	case isToken(a.cfg.Tokens, user, &tokenHash):
		m = MethodToken
		if !a.allowed[MethodToken] {
			return nil, m, a.basicFailed(errors.New("token authentication not allowed"))
		}
		p, err = a.tokenHashed(c, user, tokenHash, MethodToken)
	default:
		m = MethodPassword
		if !a.allowed[MethodPassword] {
			return nil, m, a.basicFailed(errors.New("password authentication not allowed"))
		}
		if identity.ClientIP(ctx) == "" {
			ctx = identity.WithClientIP(ctx, realIP(c))
		}
		var acc *identity.Account
		acc, err = a.cfg.Provider.Authenticate(ctx, user, pass)
		if err == nil {
			p = &Principal{Account: acc, Method: MethodPassword}
		}
	}
	if err != nil {
		if errors.Is(err, identity.ErrThrottled) {
			// The error handler answers 429 with Retry-After, the same for
			// every login, known or not.
			a.cfg.Logger.InfoContext(ctx, "authentication throttled",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"ip", realIP(c), "retry_after", identity.RetryAfter(err).String())
			return nil, m, err
		}
		if isAuthFailure(err) {
			a.cfg.Logger.InfoContext(ctx, "authentication failed",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"reason", reasonOf(err), "ip", realIP(c))
			return nil, m, a.basicFailed(err)
		}
		return nil, m, err
	}
	return p, m, nil
}

// token verifies a token and loads its account, which must still exist and
// be ENABLED: disabling an account ends its tokens too.
func (a *authenticator) token(c echo.Context, raw string, m Method) (*Principal, error) {
	return a.tokenHashed(c, raw, token.Hash(raw), m)
}

// tokenHashed is token for a caller that has already hashed raw.
func (a *authenticator) tokenHashed(c echo.Context, raw string, h [32]byte, m Method) (*Principal, error) {
	claims, acc, err := a.cfg.Tokens.authenticate(c.Request().Context(), raw, h)
	if err != nil {
		return nil, err
	}
	return &Principal{Account: acc, Method: m, Claims: claims}, nil
}

// isToken reports whether a Basic user-id is a token, and leaves its hash in
// *h. A token this process verified before is recognised by its hash alone;
// only a new one pays for the shape check, which decodes and parses the
// token's header. A user-id without exactly two dots is never a token.
func isToken(tv *TokenVerifier, user string, h *[32]byte) bool {
	if strings.Count(user, ".") != 2 {
		return false
	}
	*h = token.Hash(user)
	return tv.remembered(*h) || token.LooksLikeJWT(user)
}

// isAuthFailure reports whether err means "these credentials are not good"
// rather than "we could not decide" (which must not look like a wrong
// password).
func isAuthFailure(err error) bool {
	return errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, token.ErrInvalidToken)
}

func reasonOf(err error) string {
	if r := identity.ReasonOf(err); r != "" {
		return string(r)
	}
	if errors.Is(err, token.ErrInvalidToken) {
		return "invalid_token"
	}
	return "invalid_credentials"
}

// hasControl reports whether valid UTF-8 b holds a control character
// (Unicode Cc: C0, DEL and C1), byte by byte: it runs on every request, and
// in UTF-8 a C1 character is 0xC2 followed by 0x80 to 0x9F.
func hasControl(b []byte) bool {
	for i, c := range b {
		if c < 0x20 || c == 0x7f || (c == 0xc2 && i+1 < len(b) && b[i+1] <= 0x9f) {
			return true
		}
	}
	return false
}

// basicBuf is the size of parseBasic's stack buffer.
const basicBuf = 2048

// parseBasic decodes RFC 7617 credentials: base64 of user-id ":" password,
// split at the first colon, valid UTF-8, no control characters.
func parseBasic(encoded string) (user, pass string, ok bool) {
	encoded = strings.TrimSpace(encoded)
	// Credentials of up to basicBuf bytes (a token in the user-id included)
	// decode on the stack; only the strings returned are allocated.
	var buf [basicBuf]byte
	var raw []byte
	if n := base64.StdEncoding.DecodedLen(len(encoded)); n <= len(buf) {
		raw = buf[:n]
	} else {
		raw = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(raw, []byte(encoded))
	if err != nil {
		return "", "", false
	}
	raw = raw[:n]
	if !utf8.Valid(raw) || hasControl(raw) {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return "", "", false
	}
	return user, pass, true
}
