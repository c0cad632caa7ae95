package idsite

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// Messages shown to people. Every failed login shows loginFailed, whatever
// the cause, so the pages tell no one whether an account exists.
const (
	loginFailed       = "Login failed: the username or email and password do not match an account that can log in."
	currentPwdFailed  = "The current password is not correct."
	badRequestMessage = "This login link is not valid or has expired. Go back to the application and start again from its login link."
	csrfMessage       = "This form has expired or was not sent from this page. Go back, reload the page and try again."
	throttledMessage  = "Too many failed attempts. Wait a little and try again later."
	unavailableMsg    = "The identity service is unavailable right now. Try again in a moment."
	internalMessage   = "Something went wrong on our side. Try again later."
)

// page is what the templates render.
type page struct {
	Title      string
	AppName    string
	Prefix     string
	Notice     string
	Error      string
	CSRF       string
	Request    string
	Account    string
	Paragraphs []string
	values     url.Values
	errors     map[string]string
}

// Value returns a submitted value to show again (never a password).
func (p *page) Value(name string) string { return p.values.Get(name) }

// field is one labelled input of a form.
type field struct {
	Name, Label, Type, Autocomplete string
	Required                        bool
	Value, Error                    string
}

// Field describes an input for the "field" template.
func (p *page) Field(name, label, typ, autocomplete string, required bool) field {
	f := field{Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Required: required, Error: p.errors[name]}
	if typ != "password" {
		f.Value = p.values.Get(name)
	}
	return f
}

// render writes a page with status; the template is executed into a
// buffer first, so a template failure never sends half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Prefix = h.cfg.Prefix
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "base", p); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "idsite: render", "page", name, "error", err)
		http.Error(w, internalMessage, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page of text only.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title string, paragraphs ...string) {
	h.render(w, r, status, "message", &page{Title: title, Paragraphs: paragraphs})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
}

// fail renders the page for an error that is not the person's input: the
// service being down, throttling, or an internal error (logged).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, identity.ErrThrottled):
		secs := int(math.Ceil(identity.RetryAfter(err).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
		h.message(w, r, http.StatusTooManyRequests, "Try again later", throttledMessage)
	case errors.Is(err, identity.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, "Service unavailable", unavailableMsg)
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "idsite: internal error", "path", r.URL.Path, "error", err)
		h.message(w, r, http.StatusInternalServerError, "Something went wrong", internalMessage)
	}
}

// loginRequest is a verified login request and what serves its application.
type loginRequest struct {
	raw    string
	claims *identity.LoginRequestClaims
	p      identity.Provider
	hl     identity.HostedLogin
}

// verify finds the request's application and verifies the request with its
// keys. ok is false when an answer was written.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, raw string) (*loginRequest, bool) {
	if raw == "" {
		h.message(w, r, http.StatusBadRequest, "Invalid login link", badRequestMessage)
		return nil, false
	}
	ctx := r.Context()
	p, err := h.cfg.Resolve(ctx, token.ReadLoginRequestApplication(raw))
	if errors.Is(err, identity.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "Invalid login link", badRequestMessage)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	hl, ok := identity.FindHostedLogin(p)
	if !ok {
		h.fail(w, r, errors.New("idsite: the provider does not implement identity.HostedLogin"))
		return nil, false
	}
	claims, err := hl.VerifyLoginRequest(ctx, raw)
	if errors.Is(err, identity.ErrInvalidInput) {
		h.message(w, r, http.StatusBadRequest, "Invalid login link", badRequestMessage)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	// Only now is the redirect URI known to be the application's: forms
	// on this page may lead there.
	w.Header().Set("Content-Security-Policy", csp(identity.RedirectOrigin(claims.RedirectURI)))
	return &loginRequest{raw: raw, claims: claims, p: p, hl: hl}, true
}

// postForm parses a posted form and checks its CSRF token. ok is false
// when an answer was written.
func (h *Handler) postForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.message(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form sent is too large.")
			return false
		}
		h.message(w, r, http.StatusBadRequest, "Invalid form", "The form could not be read.")
		return false
	}
	if !h.checkCSRF(r) {
		h.message(w, r, http.StatusForbidden, "Form refused", csrfMessage)
		return false
	}
	return true
}

// withClientIP puts the browser's address in the context, for failed-login
// regulation: the one an enclosing server found (behind its trusted
// proxies), or else the connection's peer.
func withClientIP(r *http.Request) context.Context {
	ctx := r.Context()
	if identity.ClientIP(ctx) != "" {
		return ctx
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return identity.WithClientIP(ctx, host)
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	req, ok := h.verify(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	pg := &page{Title: "Log in", AppName: req.claims.Application, Request: req.raw, CSRF: h.csrfToken(w, r)}
	if r.URL.Query().Get("registered") == "1" {
		pg.Notice = "Your account was created. Log in to continue."
	}
	if req.claims.Path == identity.LoginPathRegister && r.URL.Query().Get("registered") == "" {
		h.registerForm(w, r, http.StatusOK, req, &page{})
		return
	}
	h.render(w, r, http.StatusOK, "login", pg)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.postForm(w, r) {
		return
	}
	req, ok := h.verify(w, r, r.PostFormValue("request"))
	if !ok {
		return
	}
	login, password := r.PostFormValue("login"), r.PostFormValue("password")
	failed := func() {
		pg := &page{Title: "Log in", AppName: req.claims.Application, Request: req.raw, CSRF: h.csrfToken(w, r),
			Error: loginFailed, values: url.Values{"login": {login}}}
		h.render(w, r, http.StatusOK, "login", pg)
	}
	if login == "" || password == "" {
		failed()
		return
	}
	ctx := withClientIP(r)
	acc, err := req.p.Authenticate(ctx, login, password)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		h.cfg.Logger.InfoContext(ctx, "idsite: login failed", "reason", string(identity.ReasonOf(err)), "ip", identity.ClientIP(ctx))
		failed()
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := req.hl.NewLoginAssertion(ctx, req.raw, acc.ID)
	if errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrNotFound) {
		// Disabled or deleted between the two calls: a failed login.
		failed()
		return
	}
	if errors.Is(err, identity.ErrInvalidInput) {
		h.message(w, r, http.StatusBadRequest, "Invalid login link", badRequestMessage)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setSession(w, r, session{App: req.claims.ApplicationID, AccountID: acc.ID, Expires: h.cfg.Now().Add(h.cfg.SessionTTL).Unix()})
	http.Redirect(w, r, callbackURL(req.claims.RedirectURI, a.Value, req.claims.State), http.StatusSeeOther)
}

// callbackURL adds the assertion and the state to the redirect URI's query.
func callbackURL(redirectURI, assertion, state string) string {
	u, err := url.Parse(redirectURI)
	if err != nil { // the URI was normalised when it was allowed
		return redirectURI
	}
	q := u.Query()
	q.Set("assertion", assertion)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) {
	req, ok := h.verify(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	h.registerForm(w, r, http.StatusOK, req, &page{})
}

func (h *Handler) registerForm(w http.ResponseWriter, r *http.Request, status int, req *loginRequest, pg *page) {
	pg.Title, pg.AppName, pg.Request, pg.CSRF = "Create an account", req.claims.Application, req.raw, h.csrfToken(w, r)
	h.render(w, r, status, "register", pg)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	if !h.postForm(w, r) {
		return
	}
	req, ok := h.verify(w, r, r.PostFormValue("request"))
	if !ok {
		return
	}
	in := identity.AccountCreate{
		Username:  r.PostFormValue("username"),
		Email:     r.PostFormValue("email"),
		GivenName: r.PostFormValue("given_name"),
		Surname:   r.PostFormValue("surname"),
		Password:  r.PostFormValue("password"),
	}
	values := url.Values{"username": {in.Username}, "email": {in.Email}, "given_name": {in.GivenName}, "surname": {in.Surname}}
	_, err := req.p.CreateAccount(withClientIP(r), in)
	if err == nil {
		q := url.Values{"request": {req.raw}, "registered": {"1"}}
		http.Redirect(w, r, h.cfg.Prefix+"/login?"+q.Encode(), http.StatusSeeOther)
		return
	}
	status, field, msg := http.StatusBadRequest, identity.ErrorField(err), identity.ErrorMessage(err)
	switch {
	case errors.Is(err, identity.ErrConflict):
		status = http.StatusConflict
		msg = "This " + strings.ReplaceAll(field, "_", " ") + " is already in use."
	case errors.Is(err, identity.ErrInvalidInput), errors.Is(err, identity.ErrLimitExceeded):
	default:
		h.fail(w, r, err)
		return
	}
	switch field {
	case "username", "email", "given_name", "surname", "password":
	default:
		field = ""
	}
	pg := &page{values: values, errors: map[string]string{}}
	if field != "" {
		pg.errors[field] = msg
		pg.Error = "The account was not created: correct the field marked below."
	} else {
		pg.Error = "The account was not created: " + msg
	}
	h.registerForm(w, r, status, req, pg)
}

func (h *Handler) forgot(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusOK, "Forgot your password?",
		"This service does not send e-mail, so a forgotten password cannot be reset from this page.",
		"Ask the operator of the application to set a new password for your account. Once you can log in again, you can change it yourself on the change-password page.")
}

// sessionAccount returns the account of the page session and its
// application's provider. ok is false when an answer was written.
func (h *Handler) sessionAccount(w http.ResponseWriter, r *http.Request) (identity.Provider, *identity.Account, bool) {
	s, ok := h.readSession(r)
	if !ok {
		h.message(w, r, http.StatusUnauthorized, "Change password",
			"You are not logged in here. Log in through your application first, then come back to this page within a few minutes.")
		return nil, nil, false
	}
	p, err := h.cfg.Resolve(r.Context(), s.App)
	if err == nil {
		var acc *identity.Account
		acc, err = p.Account(r.Context(), s.AccountID)
		if err == nil && acc.Status == identity.StatusEnabled {
			return p, acc, true
		}
	}
	if err == nil || errors.Is(err, identity.ErrNotFound) {
		h.clearSession(w, r)
		h.message(w, r, http.StatusUnauthorized, "Change password", "Your session here has ended. Log in through your application again.")
		return nil, nil, false
	}
	h.fail(w, r, err)
	return nil, nil, false
}

func (h *Handler) changePage(w http.ResponseWriter, r *http.Request) {
	_, acc, ok := h.sessionAccount(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "change", &page{Title: "Change password", Account: acc.Username, CSRF: h.csrfToken(w, r)})
}

func (h *Handler) change(w http.ResponseWriter, r *http.Request) {
	if !h.postForm(w, r) {
		return
	}
	p, acc, ok := h.sessionAccount(w, r)
	if !ok {
		return
	}
	form := func(status int, field, msg string) {
		pg := &page{Title: "Change password", Account: acc.Username, CSRF: h.csrfToken(w, r),
			Error: "The password was not changed.", errors: map[string]string{field: msg}}
		h.render(w, r, status, "change", pg)
	}
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	ctx := withClientIP(r)
	// The current password is asked again, through the same regulation as
	// any login: a page session alone (a borrowed browser) cannot take over
	// the account.
	if _, err := p.Authenticate(ctx, acc.Username, current); err != nil {
		if errors.Is(err, identity.ErrInvalidCredentials) {
			form(http.StatusOK, "current_password", currentPwdFailed)
			return
		}
		h.fail(w, r, err)
		return
	}
	if _, err := p.UpdateAccount(ctx, acc.ID, identity.AccountUpdate{Password: &next}); err != nil {
		if errors.Is(err, identity.ErrInvalidInput) {
			form(http.StatusBadRequest, "new_password", identity.ErrorMessage(err))
			return
		}
		h.fail(w, r, err)
		return
	}
	h.message(w, r, http.StatusOK, "Password changed", "Your password was changed. Use the new one from now on.")
}

// logout is POST /logout, the change page's button: a form with the CSRF
// token, so that no other site can end the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.postForm(w, r) {
		return
	}
	h.clearSession(w, r)
	h.message(w, r, http.StatusOK, "Logged out", "You are logged out of these pages.")
}
