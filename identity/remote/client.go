package remote

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// Defaults and bounds of the HTTP client.
const (
	// DefaultTimeout bounds one attempt when Config.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// DefaultRetries is the number of retries when Config.Retries is zero.
	DefaultRetries = 2

	retryWaitMin = 50 * time.Millisecond
	retryWaitMax = time.Second
	// maxRetryAfter is the longest Retry-After the provider waits for; a
	// directory asking for more ends the retries (it is down for longer than
	// a caller should be kept waiting).
	maxRetryAfter = 5 * time.Second

	// maxResponse bounds the answers read into memory.
	maxResponse = 8 << 20
	// pageSize is the page size used to read whole collections.
	pageSize = identity.MaxLimit

	// maxPeek bounds how much of a 429's body is read to tell throttling
	// from overload before the retry decision.
	maxPeek = 64 << 10

	contentJSON       = "application/json"
	contentMergePatch = "application/merge-patch+json"
	userAgent         = "gatehouse-remote/1"

	// HeaderClientIP carries the IP address of the client on whose behalf
	// a call is made (identity.ClientIP of the call's context). The
	// directory does not regulate by it (see the package documentation).
	HeaderClientIP = "Gatehouse-Client-IP"
	// HeaderRequestID carries the request id of the call's context
	// (identity.RequestID), which the directory adopts as its own.
	HeaderRequestID = "X-Request-Id"
)

// ErrAdminKeyRejected is returned (wrapped) when the directory answers 401
// or 403: the admin API key in Config is wrong, revoked, or belongs to
// another application. It is an internal error (identity.ErrorCode reports
// identity.CodeInternal), not a credentials failure of the end user.
var ErrAdminKeyRejected = errors.New("remote: the directory rejected the admin API key")

// Provider is an identity.Provider backed by a Gatehouse directory over
// HTTP. It is safe for concurrent use. Create it with New and release its
// idle connections with Close.
type Provider struct {
	base    string // the directory's base URL without a trailing slash
	appName string
	appID   string
	auth    string // the Authorization header value
	timeout time.Duration
	retries int
	log     *slog.Logger

	transport http.RoundTripper
	http      *http.Client
	rc        *retryablehttp.Client
	breaker   *breaker // nil when disabled
}

// keepIdle is a RoundTripper without CloseIdleConnections.
type keepIdle struct{ rt http.RoundTripper }

func (k keepIdle) RoundTrip(r *http.Request) (*http.Response, error) { return k.rt.RoundTrip(r) }

var _ identity.Provider = (*Provider)(nil)

// New checks cfg, builds the HTTP client and resolves cfg.Application by
// name. It fails with an error matching identity.ErrNotFound (naming the
// application) when the directory has no such application visible to the
// admin key, with identity.ErrUnavailable when the directory cannot be
// reached, and with ErrAdminKeyRejected when it refuses the key.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	base, err := checkURL(cfg.URL, cfg.InsecureHTTP)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.APIKeyID == "":
		return nil, errors.New("remote: Config.APIKeyID is required")
	case cfg.APIKeySecret == "":
		return nil, errors.New("remote: Config.APIKeySecret is required")
	case strings.ContainsRune(cfg.APIKeyID, ':'):
		return nil, errors.New("remote: Config.APIKeyID must not contain ':'")
	case cfg.Application == "":
		return nil, errors.New("remote: Config.Application is required")
	case cfg.Timeout < 0:
		return nil, errors.New("remote: Config.Timeout must not be negative")
	case cfg.BreakerCooldown < 0:
		return nil, errors.New("remote: Config.BreakerCooldown must not be negative")
	}
	p := &Provider{
		base:    base,
		appName: cfg.Application,
		auth:    "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.APIKeyID+":"+cfg.APIKeySecret)),
		timeout: cfg.Timeout,
		retries: cfg.Retries,
		log:     cfg.Logger,
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	switch {
	case p.retries == 0:
		p.retries = DefaultRetries
	case p.retries < 0:
		p.retries = 0
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.breaker = newBreaker(cfg, p.log)
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport()
	}
	p.transport = transport
	p.http = &http.Client{
		// go-retryablehttp closes the client's idle connections whenever a
		// call ends in an error, a caller's cancellation included; on a busy
		// API server that would empty the pool again and again. The wrapper
		// hides CloseIdleConnections from it; Close reaches the transport.
		Transport: keepIdle{transport},
		Timeout:   p.timeout,
		// The protocol never redirects an API call; following one would
		// only hide a misconfigured URL (http to https, say).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p.rc = &retryablehttp.Client{
		HTTPClient:     p.http,
		Logger:         leveledLogger{p.log},
		RetryWaitMin:   retryWaitMin,
		RetryWaitMax:   retryWaitMax,
		RetryMax:       p.retries,
		CheckRetry:     p.checkRetry,
		Backoff:        backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: p.logRetry,
	}
	if err := p.resolveApplication(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// checkURL validates the directory's base URL and returns it without a
// trailing slash. Plain HTTP is refused unless the host is loopback or
// insecure is set.
func checkURL(raw string, insecure bool) (string, error) {
	if raw == "" {
		return "", errors.New("remote: Config.URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("remote: Config.URL is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("remote: Config.URL must be an http or https URL")
	case u.Host == "":
		return "", errors.New("remote: Config.URL has no host")
	case u.User != nil:
		return "", errors.New("remote: Config.URL must not hold credentials; use APIKeyID and APIKeySecret")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("remote: Config.URL must not have a query or a fragment")
	case u.Scheme == "http" && !insecure && !loopback(u.Hostname()):
		return "", fmt.Errorf("remote: Config.URL %s is plain HTTP to a host that is not loopback: the admin key and every "+
			"password sent to the directory would cross the network in clear; use https, or allow it knowingly "+
			"with Config.InsecureHTTP (identity.remote.insecure_http)", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// loopback reports whether host (a URL's Hostname) is localhost or a
// loopback address: 127.0.0.0/8 or ::1 (an IPv4-mapped 127.x included).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// newTransport returns a pooled keep-alive transport: http.DefaultTransport's
// settings with enough idle connections per host for a busy API server,
// which talks to one directory only.
func newTransport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}
	}
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

// Close releases the provider's idle connections. Calls made after Close
// still work; they open new connections.
func (p *Provider) Close() error {
	if c, ok := p.transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// Application returns the name of the application the provider serves.
func (p *Provider) Application() string { return p.appName }

// ApplicationID returns the directory's id of the application.
func (p *Provider) ApplicationID() string { return p.appID }

func (p *Provider) resolveApplication(ctx context.Context) error {
	var col wire.Collection[wire.Application]
	q := url.Values{"name": {p.appName}}
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.ApplicationsPath, query: q, retry: retryRead}, &col); err != nil {
		return err
	}
	for _, app := range col.Items {
		if app.Name == p.appName {
			if id := wire.LastSegment(app.Href); validID(id) {
				p.appID = id
				return nil
			}
			return identity.Unavailable(fmt.Errorf("the directory answered application %q without a valid href", p.appName))
		}
	}
	return &identity.Error{
		Code:    identity.CodeNotFound,
		Field:   "application",
		Message: fmt.Sprintf("The application %q does not exist in the directory, or the admin key cannot see it.", p.appName),
	}
}

// retryKind says whether a request may be repeated.
type retryKind int

const (
	// retryNever: a write whose answer the directory does not keep.
	retryNever retryKind = iota
	// retryRead: a request that changes nothing.
	retryRead
	// retryIdempotent: a write sent with an Idempotency-Key.
	retryIdempotent
	// retryAttempt: a credentials check (loginAttempts, apiKeyAttempts). It
	// writes nothing but the directory's count of failed logins, and costs
	// it a KDF run; so it is repeated only when the directory surely did not
	// decide it: the connection was never made, or the directory said 503
	// or 429 (overload). After an attempt timeout, a connection broken
	// mid-request, a 502 or a 504, the directory may have verified (and
	// counted) it: a repeat would count one wrong password twice, and send
	// a second KDF run to a directory that is already slow.
	retryAttempt
)

// call is one logical request to the directory.
type call struct {
	method      string
	path        string     // escaped, from the wire path helpers
	query       url.Values // never logged
	body        any        // encoded as JSON; nil for no body
	raw         []byte     // an already encoded body, used instead of body
	contentType string     // of the body; JSON by default
	accept      string     // JSON by default
	retry       retryKind
}

// attempts is the per-call state the retry policy keeps in the request's
// context (go-retryablehttp's CheckRetry sees the context, not the request).
type attempts struct {
	kind retryKind
	n    int // attempts made so far
}

type attemptsKey struct{}

// do sends c, with retries as its kind allows, and decodes a successful
// answer into out: a *[]byte receives the raw body, anything else is
// decoded as JSON, and nil discards the body. The circuit breaker sees the
// outcome of the whole call; while it is open, do fails at once.
func (p *Provider) do(ctx context.Context, c *call, out any) error {
	if err := ctx.Err(); err != nil {
		return p.contextError(c, err)
	}
	done, err := p.breaker.allow(c)
	if err != nil {
		return err
	}
	err = p.send(ctx, c, out)
	done(err)
	return err
}

// send is do without the circuit breaker.
func (p *Provider) send(ctx context.Context, c *call, out any) error {
	var body any // nil interface, not a typed nil, when there is none
	switch {
	case c.raw != nil:
		body = c.raw
	case c.body != nil:
		b, err := encodeJSON(c.body)
		if err != nil {
			return fmt.Errorf("remote: %s %s: encoding the request: %w", c.method, c.path, err)
		}
		body = b
	}
	target := p.base + c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	st := &attempts{kind: c.retry}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, attemptsKey{}, st), c.method, target, body)
	if err != nil {
		// The URL was checked in New and paths are escaped: only a bad
		// method could get here.
		return fmt.Errorf("remote: %s %s: %w", c.method, c.path, err)
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("User-Agent", userAgent)
	accept := c.accept
	if accept == "" {
		accept = contentJSON
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		ct := c.contentType
		if ct == "" {
			ct = contentJSON
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.retry == retryIdempotent {
		req.Header.Set("Idempotency-Key", crand.Text())
	}
	if ip := clientIP(ctx); ip != "" {
		req.Header.Set(HeaderClientIP, ip)
	}
	// The caller's request id, so the directory logs (and answers errors
	// with) the same id as the API server.
	if id := identity.RequestID(ctx); identity.ValidRequestID(id) {
		req.Header.Set(HeaderRequestID, id)
	}

	start := time.Now()
	resp, err := p.rc.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if cerr := ctx.Err(); cerr != nil {
			return p.contextError(c, cerr)
		}
		uerr := identity.Unavailable(fmt.Errorf("%s %s: %w", c.method, c.path, p.sanitize(err)))
		p.log.WarnContext(ctx, "directory request failed", "method", c.method, "path", c.path,
			"attempts", max(st.n, 1), "duration", time.Since(start), "error", uerr.Err.Error())
		return uerr
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return p.contextError(c, cerr)
		}
		return identity.Unavailable(fmt.Errorf("%s %s: reading the answer: %w", c.method, c.path, p.sanitize(err)))
	}
	if len(raw) > maxResponse {
		return identity.Unavailable(fmt.Errorf("%s %s: the answer is larger than %d bytes", c.method, c.path, maxResponse))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := p.statusError(c, resp, raw)
		if errors.Is(err, identity.ErrUnavailable) || errors.Is(err, ErrAdminKeyRejected) {
			p.log.WarnContext(ctx, "directory request failed", "method", c.method, "path", c.path, "status", resp.StatusCode,
				"request_id", requestID(resp), "attempts", max(st.n, 1), "duration", time.Since(start))
		}
		return err
	}
	switch out := out.(type) {
	case nil:
		// The status is the answer, but a body cut short or garbled says
		// the exchange went wrong (a 200 from a revocation lookup must not
		// read as "revoked" when it is half a body).
		if len(bytes.TrimSpace(raw)) > 0 && !json.Valid(raw) {
			return identity.Unavailable(fmt.Errorf("%s %s: the answer (status %d, request id %q) is not JSON",
				c.method, c.path, resp.StatusCode, requestID(resp)))
		}
		return nil
	case *[]byte:
		*out = raw
		return nil
	default:
		if err := json.Unmarshal(raw, out); err != nil {
			return identity.Unavailable(fmt.Errorf("%s %s: the answer (status %d, request id %q) is not the expected JSON: %w",
				c.method, c.path, resp.StatusCode, requestID(resp), err))
		}
		return nil
	}
}

// contextError reports the caller's cancellation or deadline: an error
// wrapping context.Canceled or context.DeadlineExceeded, never
// identity.ErrUnavailable.
func (p *Provider) contextError(c *call, err error) error {
	return fmt.Errorf("remote: %s %s: %w", c.method, c.path, err)
}

// statusError turns an answer that is not a success into an error.
func (p *Provider) statusError(c *call, resp *http.Response, raw []byte) error {
	status := resp.StatusCode
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return fmt.Errorf("%w (%s %s: status %d, request id %q)", ErrAdminKeyRejected, c.method, c.path, status, requestID(resp))
	}
	var we wire.Error
	isWire := json.Unmarshal(raw, &we) == nil && (we.ErrorCode != "" || we.Code != 0)
	if status == http.StatusTooManyRequests && isWire && we.ErrorCode == string(identity.CodeThrottled) {
		// The end user's failed logins are being regulated: an answer, not
		// an overloaded directory. Never retried (see checkRetry).
		if we.RetryAfter <= 0 {
			if ra, ok := retryAfter(resp); ok {
				we.RetryAfter = int((ra + time.Second - 1) / time.Second)
			}
		}
		return we.Err()
	}
	if status >= 500 || status == http.StatusTooManyRequests || status < 400 || !isWire {
		what := "a non-protocol answer"
		if isWire {
			what = fmt.Sprintf("error %q", we.ErrorCode)
		}
		return identity.Unavailable(fmt.Errorf("%s %s: status %d (%s), request id %q", c.method, c.path, status, what, requestID(resp)))
	}
	if we.Status == 0 {
		we.Status = status
	}
	return we.Err()
}

// clientIP returns the client IP of ctx in its canonical form, or "" when
// there is none or it is not an IP address (it is never sent then).
func clientIP(ctx context.Context) string {
	raw := identity.ClientIP(ctx)
	if raw == "" {
		return ""
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		// An "IP:port" from a caller that did not split it.
		host, _, serr := net.SplitHostPort(raw)
		if serr != nil {
			return ""
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return ""
		}
	}
	return ip.WithZone("").Unmap().String()
}

func requestID(resp *http.Response) string {
	if id := resp.Header.Get("Request-Id"); id != "" {
		return id
	}
	return resp.Header.Get("Stormpath-Request-Id")
}

// errAttemptTimeout replaces the context error inside an attempt that
// timed out, so the provider's error does not look like the caller's own
// deadline.
type errAttemptTimeout struct{ timeout time.Duration }

func (e errAttemptTimeout) Error() string {
	return "no answer within " + e.timeout.String() + " (the attempt timed out)"
}

// sanitize returns err without the URL's query or any credential: a
// *url.Error is rebuilt around the path, and an attempt timeout no longer
// matches context.DeadlineExceeded.
func (p *Provider) sanitize(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return errors.New(scrub(err.Error()))
	}
	inner := ue.Err
	if ue.Timeout() || errors.Is(inner, context.DeadlineExceeded) {
		inner = errAttemptTimeout{p.timeout}
	}
	return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: inner}
}

// checkRetry is the retry policy (see the package documentation). It runs
// after every attempt, with the request's context.
func (p *Provider) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if cerr := ctx.Err(); cerr != nil {
		return false, cerr // the caller gave up: never retry
	}
	st, _ := ctx.Value(attemptsKey{}).(*attempts)
	if st == nil {
		return false, nil
	}
	st.n++
	if st.kind == retryNever || st.n > p.retries {
		return false, nil
	}
	if err != nil {
		if !retryableError(err) || st.kind == retryAttempt && !neverSent(err) {
			return false, nil
		}
	} else if !retryableStatus(resp.StatusCode) || throttled(resp) || st.kind == retryAttempt && !undecided(resp.StatusCode) {
		return false, nil
	}
	wait, ok := maxWait(st.n-1, resp)
	if !ok {
		return false, nil // Retry-After is too far away
	}
	if deadline, has := ctx.Deadline(); has && time.Until(deadline) < wait {
		return false, nil // the wait would outlive the caller: answer now
	}
	return true, nil
}

// retryableStatus reports the statuses that mean "try again": rate limited,
// or a gateway or the directory temporarily unable to answer.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// throttled reports whether resp is a 429 whose protocol error is
// `throttled`: failed-login regulation of the end user, which waiting a
// little does not cure and retrying would only count against the user.
// Any other 429 is overload. It reads at most maxPeek bytes of the body and
// puts them back in front of the rest.
func throttled(resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Body == nil {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxPeek))
	rest := io.Reader(resp.Body)
	if err != nil {
		rest = errReader{err}
	}
	resp.Body = peekedBody{Reader: io.MultiReader(bytes.NewReader(buf), rest), Closer: resp.Body}
	var we wire.Error
	return json.Unmarshal(buf, &we) == nil && we.ErrorCode == string(identity.CodeThrottled)
}

// peekedBody is a response body part of which was read ahead.
type peekedBody struct {
	io.Reader
	io.Closer
}

// errReader fails every read with err (the error that cut a peek short).
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// retryableError reports whether a transport error may heal: connection
// errors and attempt timeouts do, certificate errors do not.
func retryableError(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		ciErr x509.CertificateInvalidError
		hnErr x509.HostnameError
	)
	return !errors.As(err, &verr) && !errors.As(err, &uaerr) && !errors.As(err, &ciErr) && !errors.As(err, &hnErr)
}

// neverSent reports whether err happened before the request left this
// process: the connection could not be made (refused, unreachable, no such
// host). net/http itself resends a request whose connection turned out dead
// before anything was written, so any other error may come after the
// directory read the request.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// undecided reports the statuses by which the directory itself says it did
// not handle a request: unavailable, or overloaded. A gateway's 502 or 504
// may come after the directory did.
func undecided(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
}

// expCeil is the exponential backoff ceiling after attempt (0-based).
func expCeil(minWait, maxWait time.Duration, attempt int) time.Duration {
	if attempt > 30 {
		return maxWait
	}
	d := minWait << attempt
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	return d
}

// maxWait is the longest backoff can return after attempt, or false when
// the directory asks for a wait longer than maxRetryAfter.
func maxWait(attempt int, resp *http.Response) (time.Duration, bool) {
	w := expCeil(retryWaitMin, retryWaitMax, attempt)
	if ra, ok := retryAfter(resp); ok {
		if ra > maxRetryAfter {
			return 0, false
		}
		w = max(w, ra)
	}
	return w, true
}

// backoff is a jittered exponential backoff ("equal jitter": between half
// the ceiling and the ceiling) that waits at least as long as Retry-After
// says. checkRetry has already refused a wait past the deadline or
// maxRetryAfter.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	ceil := expCeil(minWait, maxWait, attempt)
	w := ceil/2 + rand.N(ceil/2+1)
	if ra, ok := retryAfter(resp); ok && ra > w {
		w = ra
	}
	return w
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// logRetry is go-retryablehttp's RequestLogHook: it logs each retry with
// the method and path only.
func (p *Provider) logRetry(_ retryablehttp.Logger, req *http.Request, retry int) {
	if retry > 0 {
		p.log.InfoContext(req.Context(), "retrying directory request", "method", req.Method, "path", req.URL.EscapedPath(), "retry", retry)
	}
}

// encodeJSON encodes a request body without HTML escaping (so sizes match
// what the directory measures).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
