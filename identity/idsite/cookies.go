package idsite

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Cookie names. Both cookies are host-only (no Domain), HttpOnly,
// SameSite=Lax, limited to the pages' path, and Secure under TLS or with
// Config.SecureCookies.
const (
	// csrfCookie holds a random value the CSRF token of every form is an
	// HMAC of: a page from another site can make a browser post to the
	// pages, but it cannot read the token that goes with the cookie.
	csrfCookie = "gatehouse_idsite_csrf"
	// sessionCookie says which account logged in at the pages, for the
	// change-password page.
	sessionCookie = "gatehouse_idsite_session"
)

// csrfField is the form field of the CSRF token.
const csrfField = "csrf_token"

var b64 = base64.RawURLEncoding

// mac returns the HMAC-SHA256 of msg under the handler's key, separated by
// purpose so that a value made for one use is worthless for another.
func (h *Handler) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, h.cfg.Key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     h.cfg.Prefix + "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   h.cfg.SecureCookies || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}
}

// csrfToken returns the token for the request's CSRF cookie, setting a new
// cookie when there is none (or a malformed one).
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(csrfCookie); err == nil && validRandom(c.Value) {
		v = c.Value
	} else {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = b64.EncodeToString(b[:])
		// A session cookie (no Max-Age): it lasts as long as the browser.
		http.SetCookie(w, h.cookie(r, csrfCookie, v, 0))
	}
	return b64.EncodeToString(h.mac("csrf", v))
}

// checkCSRF reports whether the posted token matches the CSRF cookie,
// comparing in constant time.
func (h *Handler) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validRandom(c.Value) {
		return false
	}
	got, err := b64.DecodeString(r.PostFormValue(csrfField))
	if err != nil {
		return false
	}
	return hmac.Equal(got, h.mac("csrf", c.Value))
}

// validRandom reports whether v looks like a value csrfToken made.
func validRandom(v string) bool {
	b, err := b64.DecodeString(v)
	return err == nil && len(b) == 32
}

// session is who logged in at the pages, for which application, until when.
type session struct {
	App       string `json:"app"`
	AccountID string `json:"sub"`
	Expires   int64  `json:"exp"`
}

// setSession sets the page session cookie: the session as JSON and its
// HMAC. It only lets the password be changed, which asks for the current
// password again.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, s session) {
	raw, _ := json.Marshal(s)
	payload := b64.EncodeToString(raw)
	v := payload + "." + b64.EncodeToString(h.mac("session", payload))
	http.SetCookie(w, h.cookie(r, sessionCookie, v, int(h.cfg.SessionTTL/time.Second)))
}

// readSession returns the page session, if the cookie is there, authentic
// and not expired.
func (h *Handler) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, false
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac("session", payload)) {
		return session{}, false
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := json.Unmarshal(raw, &s); err != nil || s.AccountID == "" || h.cfg.Now().Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

func (h *Handler) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
}
