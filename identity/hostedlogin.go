package identity

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// LoginPath is the hosted page a login request opens.
type LoginPath string

// Hosted pages a request may open.
const (
	LoginPathLogin    LoginPath = "login"
	LoginPathRegister LoginPath = "register"
)

// LoginRequest asks for a signed request to send a browser to the hosted
// login pages with.
type LoginRequest struct {
	// RedirectURI is where the pages send the browser back with the
	// assertion; it must be on the application's allow-list.
	RedirectURI string
	// State is the application's opaque value, returned unchanged with the
	// assertion (1 to 256 printable ASCII characters, no space).
	State string
	// Nonce is bound into the assertion, so the application can tell its
	// own login from a replayed one (same rules as State).
	Nonce string
	// Path is the page to open; empty means LoginPathLogin.
	Path LoginPath
	// ApplicationID, set by a directory serving several applications, is
	// carried unsigned-readable in the request so its pages can find the
	// application whose keys verify it.
	ApplicationID string
}

// SignedLoginRequest is a signed login request: a JWT of type
// "gatehouse-login-request+jwt".
type SignedLoginRequest struct {
	Value     string    `json:"request"`
	ID        string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LoginRequestClaims are what a verified login request says.
type LoginRequestClaims struct {
	ID            string    `json:"jti"`
	Application   string    `json:"application"`
	ApplicationID string    `json:"application_id,omitempty"`
	RedirectURI   string    `json:"redirect_uri"`
	State         string    `json:"state"`
	Nonce         string    `json:"nonce"`
	Path          LoginPath `json:"path"`
	IssuedAt      time.Time `json:"iat"`
	ExpiresAt     time.Time `json:"exp"`
}

// LoginAssertion is a signed statement that an account logged in for a
// login request: a JWT of type "gatehouse-login-assertion+jwt" whose
// audience is the application.
type LoginAssertion struct {
	Value     string    `json:"assertion"`
	ID        string    `json:"jti"`
	AccountID string    `json:"sub"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Lifetimes of hosted-login tokens. A request lives as long as a person may
// take to fill in the form; an assertion only as long as one redirect takes.
const (
	LoginRequestTTL   = 10 * time.Minute
	LoginAssertionTTL = 90 * time.Second
)

// MaxRedirectURILength bounds a redirect URI in bytes.
const MaxRedirectURILength = 2048

// CheckLoginValue checks a state or nonce (field names it in the error):
// 1 to 256 printable ASCII characters without space.
func CheckLoginValue(field, v string) error {
	if v == "" || len(v) > 256 {
		return Invalid(field, "The %s must be 1 to 256 characters.", field)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return Invalid(field, "The %s must be printable ASCII without spaces.", field)
		}
	}
	return nil
}

// CheckLoginPath checks a login path and returns it, LoginPathLogin for "".
func CheckLoginPath(p LoginPath) (LoginPath, error) {
	switch p {
	case "":
		return LoginPathLogin, nil
	case LoginPathLogin, LoginPathRegister:
		return p, nil
	}
	return "", Invalid("path", "The path must be %q or %q.", LoginPathLogin, LoginPathRegister)
}

// NormalizeRedirectURI returns the one spelling of a redirect URI that the
// allow-list stores and compares: an absolute https URI (or http to a
// loopback host, for development), without user information or fragment,
// with the scheme and host in lower case, no default port, and "/" for an
// empty path. It refuses wildcards, dot segments and backslashes rather
// than guess what they mean: matching is exact, so there is nothing to
// widen.
func NormalizeRedirectURI(raw string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", Invalid("redirect_uri", format, args...)
	}
	if raw == "" || len(raw) > MaxRedirectURILength {
		return bad("The redirect URI must be 1 to %d bytes.", MaxRedirectURILength)
	}
	if !utf8.ValidString(raw) {
		return bad("The redirect URI must be valid UTF-8.")
	}
	for _, r := range raw {
		if r <= 0x20 || r == 0x7f || r == '\\' || r == '*' || r == '#' || (r >= 0x80 && r < 0xa0) {
			return bad("The redirect URI must not contain spaces, control characters, '\\', '*' or a fragment.")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("The redirect URI is not a valid URI.")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return bad("The redirect URI must be an absolute http or https URI.")
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("The redirect URI must have a host.")
	}
	if u.User != nil {
		return bad("The redirect URI must not contain user information.")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if !validHost(host) {
		return bad("The redirect URI's host %q is not a host name or IP address.", host)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("The redirect URI's port must be 1 to 65535.")
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	if scheme == "http" && !loopbackHost(host) {
		return bad("The redirect URI must use https (http is allowed for loopback hosts only).")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") {
			return bad("The redirect URI must not contain dot segments.")
		}
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	out := scheme + "://" + hostport + path
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// RedirectOrigin returns the origin (scheme://host[:port]) of a normalised
// redirect URI, or "" if it is not one.
func RedirectOrigin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func loopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
