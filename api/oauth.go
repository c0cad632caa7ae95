package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	Status      int
	Code        string // error
	Description string // error_description
	Header      http.Header
	Err         error
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }
func (e *oauthError) Unwrap() error { return e.Err }

func (s *server) writeOAuthError(c echo.Context, e *oauthError) error {
	h := c.Response().Header()
	for k, vs := range e.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// oauthFail converts provider errors on the token endpoints: an unreachable
// provider is a 503 to retry, never an invalid grant.
func (s *server) oauthFail(c echo.Context, err error) error {
	var oe *oauthError
	if errors.As(err, &oe) {
		return s.writeOAuthError(c, oe)
	}
	if errors.Is(err, identity.ErrThrottled) {
		// RFC 6749 has no error for this. slow_down (RFC 8628 §3.5: "wait
		// and retry later") says what the client must do, and keeps
		// temporarily_unavailable for an unreachable identity service
		// (503): a client can tell "you, slow down" from "we are down".
		s.log.InfoContext(c.Request().Context(), "token request throttled",
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"ip", realIP(c), "retry_after", identity.RetryAfter(err).String())
		return s.writeOAuthError(c, &oauthError{
			Status: http.StatusTooManyRequests, Code: "slow_down",
			Description: identity.ErrThrottled.Message,
			Header:      http.Header{"Retry-After": {strconv.Itoa(ceilSeconds(identity.RetryAfter(err)))}},
		})
	}
	if errors.Is(err, identity.ErrUnavailable) {
		s.log.WarnContext(c.Request().Context(), "identity provider unavailable", "path", c.Path(), "error", err)
		return s.writeOAuthError(c, &oauthError{
			Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "The identity service is unavailable; try again later.",
			Header:      http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}},
		})
	}
	return err // internal: the error handler logs it and answers 500
}

func invalidRequest(desc string) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

// oauthForm parses a form-encoded body, refusing other media types and
// repeated parameters (RFC 6749 §3.2).
func oauthForm(c echo.Context) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationForm {
		return nil, invalidRequest("The request must be application/x-www-form-urlencoded.")
	}
	b, err := readBody(c, echo.MIMEApplicationForm)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, invalidRequest("The request body is not a valid form.")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, invalidRequest(fmt.Sprintf("The parameter %q is repeated.", k))
		}
	}
	return form, nil
}

// oauthToken is the RFC 6749 token endpoint: grant types client_credentials
// (an API key) and password.
func (s *server) oauthToken(c echo.Context) error {
	form, err := oauthForm(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	scopes, err := s.grantableScopes(form.Get("scope"))
	if err != nil {
		return s.oauthFail(c, err)
	}
	ctx := c.Request().Context()
	var acc *identity.Account
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
		acc, err = s.clientCredentials(c, form)
	case "password":
		if form.Get("username") == "" || form.Get("password") == "" {
			return s.oauthFail(c, invalidRequest("The password grant needs username and password."))
		}
		acc, err = s.p.Authenticate(ctx, form.Get("username"), form.Get("password"))
		if errors.Is(err, identity.ErrInvalidCredentials) {
			err = &oauthError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "Invalid username or password.", Err: err}
		}
	case "":
		err = invalidRequest("The grant_type parameter is required.")
	default:
		err = &oauthError{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Description: "Supported grant types are client_credentials and password."}
	}
	if err != nil {
		return s.oauthFail(c, err)
	}
	t, err := s.p.IssueToken(ctx, acc.ID, identity.TokenRequest{TTL: s.cfg.TokenTTL, Scopes: scopes})
	if err != nil {
		return s.oauthFail(c, err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	resp := map[string]any{
		"access_token": t.Value,
		"token_type":   "Bearer",
		"expires_in":   int(t.ExpiresAt.Sub(t.IssuedAt).Seconds()),
	}
	if len(scopes) > 0 {
		resp["scope"] = strings.Join(scopes, " ")
	}
	return c.JSON(http.StatusOK, resp)
}

// clientCredentials authenticates the client by its API key, given either
// in HTTP Basic (RFC 6749 §2.3.1, form-encoded) or as client_id and
// client_secret (apiKeyId and apiKeySecret, as Stormpath's SDKs sent them,
// are accepted too) — but not both.
func (s *server) clientCredentials(c echo.Context, form url.Values) (*identity.Account, error) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if id == "" && secret == "" {
		id, secret = form.Get("apiKeyId"), form.Get("apiKeySecret")
	}
	header := c.Request().Header.Get(echo.HeaderAuthorization)
	failed := &oauthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "Client authentication failed.",
		Header: http.Header{echo.HeaderWWWAuthenticate: {fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, s.cfg.Realm)}}}
	if header != "" {
		if id != "" || secret != "" {
			return nil, invalidRequest("Authenticate the client in the Authorization header or in the body, not both.")
		}
		scheme, rest, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return nil, failed
		}
		user, pass, ok := parseBasic(rest)
		if !ok {
			return nil, failed
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, failed
		}
	}
	if id == "" || secret == "" {
		return nil, failed
	}
	acc, _, err := s.p.AuthenticateAPIKey(c.Request().Context(), id, secret)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		failed.Err = err
		return nil, failed
	}
	return acc, err
}

// grantableScopes parses the scope parameter; every scope must be allowed
// by the configuration.
func (s *server) grantableScopes(param string) ([]string, error) {
	var out []string
	for _, sc := range strings.Fields(param) {
		if !slices.Contains(s.cfg.AllowedScopes, sc) {
			if len(sc) > 64 { // do not echo a huge parameter back
				sc = sc[:64] + "..."
			}
			return nil, &oauthError{Status: http.StatusBadRequest, Code: "invalid_scope",
				Description: fmt.Sprintf("The scope %q is not available.", sc)}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// oauthRevoke is the RFC 7009 revocation endpoint. Holding a token is
// authority enough to revoke it; the answer is 200 whether or not the token
// was valid, so the endpoint reveals nothing.
func (s *server) oauthRevoke(c echo.Context) error {
	form, err := oauthForm(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	raw := form.Get("token")
	if raw == "" {
		return s.oauthFail(c, invalidRequest("The token parameter is required."))
	}
	err = s.tokens.Revoke(c.Request().Context(), raw)
	if err != nil && !errors.Is(err, token.ErrInvalidToken) {
		return s.oauthFail(c, err)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.NoContent(http.StatusOK)
}
