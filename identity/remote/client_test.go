package remote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// testKeyAttemptID is the API key id of opKeyAttempt.
const testKeyAttemptID = "gk_" + "AAAAAAAAAAAAAAAAAAAAAA"

// op is one Provider call used by the retry tests.
type op struct {
	name string
	call func(ctx context.Context, p *Provider) error
	ok   http.HandlerFunc // a successful answer
	// idempotent: a write that must carry one Idempotency-Key on every
	// attempt; read: a request that must carry none.
	idempotent, read bool
}

var (
	opGet = op{
		name: "GET account",
		call: func(ctx context.Context, p *Provider) error { _, err := p.Account(ctx, testAccID); return err },
		ok:   accountHandler(http.StatusOK), read: true,
	}
	opCreateAccount = op{
		name: "POST account",
		call: func(ctx context.Context, p *Provider) error {
			_, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: "correct horse battery staple"})
			return err
		},
		ok: accountHandler(http.StatusCreated), idempotent: true,
	}
	opDeleteAccount = op{
		name: "DELETE account",
		call: func(ctx context.Context, p *Provider) error { return p.DeleteAccount(ctx, testAccID) },
		ok:   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, idempotent: true,
	}
	opLogin = op{
		name: "POST loginAttempts",
		call: func(ctx context.Context, p *Provider) error { _, err := p.Authenticate(ctx, "alice", "pw"); return err },
		ok: func(w http.ResponseWriter, r *http.Request) {
			acc := wireAccount(r.Host, testAccID, "alice")
			writeJSON(w, http.StatusOK, map[string]any{"account": acc})
		},
		read: true,
	}
	opKeyAttempt = op{
		name: "POST apiKeyAttempts",
		call: func(ctx context.Context, p *Provider) error {
			_, _, err := p.AuthenticateAPIKey(ctx, testKeyAttemptID, "secret")
			return err
		},
		ok: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{
				"account": wireAccount(r.Host, testAccID, "alice"),
				"apiKey": wire.APIKey{Href: "http://" + r.Host + wire.APIKeyPath(testKeyAttemptID), ID: testKeyAttemptID, Status: "ENABLED",
					CreatedAt: wire.Time(time.Now()),
					Account:   wire.Link{Href: "http://" + r.Host + wire.AccountPath(testAccID, "")}},
			})
		},
		read: true,
	}
	opCreateKey = op{
		name: "POST apiKeys",
		call: func(ctx context.Context, p *Provider) error {
			_, err := p.CreateAPIKey(ctx, testAccID, "laptop")
			return err
		},
		ok: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusCreated, wire.APIKey{
				Href: "http://" + r.Host + wire.APIKeyPath("gk_abc"), ID: "gk_abc", Secret: "gs_secret", Status: "ENABLED",
				Account: wire.Link{Href: "http://" + r.Host + wire.AccountPath(testAccID, "")},
			})
		},
	}
	opIssueToken = op{
		name: "POST accessTokens",
		call: func(ctx context.Context, p *Provider) error {
			_, err := p.IssueToken(ctx, testAccID, identity.TokenRequest{})
			return err
		},
		ok: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusCreated, wire.AccessToken{Href: "http://x/v1/accessTokens/jti", JWT: "a.b.c"})
		},
	}
)

func TestRetryPolicy(t *testing.T) {
	cases := []struct {
		name         string
		op           op
		answers      []http.HandlerFunc // then the last one repeats
		wantAttempts int
		wantCode     identity.Code // "" for success
	}{
		{"GetRetriedOn503ThenSucceeds", opGet, []http.HandlerFunc{status(503), status(503), opGet.ok}, 3, ""},
		{"GetRetriedOn502", opGet, []http.HandlerFunc{status(502), opGet.ok}, 2, ""},
		{"GetRetriedOn504", opGet, []http.HandlerFunc{status(504), opGet.ok}, 2, ""},
		{"GetRetriedOn429", opGet, []http.HandlerFunc{status(429), opGet.ok}, 2, ""},
		{"GetGivesUpAfterRetries", opGet, []http.HandlerFunc{status(503)}, 3, identity.CodeUnavailable},
		{"GetNotRetriedOn500", opGet, []http.HandlerFunc{status(500), opGet.ok}, 1, identity.CodeUnavailable},
		{"GetNotRetriedOn501", opGet, []http.HandlerFunc{status(501), opGet.ok}, 1, identity.CodeUnavailable},
		{"GetNotRetriedOn400", opGet, []http.HandlerFunc{status(400), opGet.ok}, 1, identity.CodeInvalidInput},
		{"GetNotRetriedOn404", opGet, []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			writeDomainError(w, identity.NotFound("account"), 0)
		}, opGet.ok}, 1, identity.CodeNotFound},
		{"CreateAccountRetriedWithIdempotencyKey", opCreateAccount, []http.HandlerFunc{status(503), status(502), opCreateAccount.ok}, 3, ""},
		{"CreateAccountNotRetriedOn409", opCreateAccount, []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			writeDomainError(w, identity.Conflict("username"), 0)
		}, opCreateAccount.ok}, 1, identity.CodeConflict},
		{"CreateAccountNotRetriedOn400", opCreateAccount, []http.HandlerFunc{status(400), opCreateAccount.ok}, 1, identity.CodeInvalidInput},
		{"DeleteRetriedWithIdempotencyKey", opDeleteAccount, []http.HandlerFunc{status(503), opDeleteAccount.ok}, 2, ""},
		{"LoginAttemptRetriedOn503", opLogin, []http.HandlerFunc{status(503), opLogin.ok}, 2, ""},
		{"LoginAttemptRetriedOnOverload429", opLogin, []http.HandlerFunc{status(429), opLogin.ok}, 2, ""},
		// A gateway's 502 or 504 may follow a verification the directory
		// made and counted.
		{"LoginAttemptNotRetriedOn502", opLogin, []http.HandlerFunc{status(502), opLogin.ok}, 1, identity.CodeUnavailable},
		{"LoginAttemptNotRetriedOn504", opLogin, []http.HandlerFunc{status(504), opLogin.ok}, 1, identity.CodeUnavailable},
		{"APIKeyAttemptRetriedOn503", opKeyAttempt, []http.HandlerFunc{status(503), opKeyAttempt.ok}, 2, ""},
		{"APIKeyAttemptNotRetriedOn504", opKeyAttempt, []http.HandlerFunc{status(504), opKeyAttempt.ok}, 1, identity.CodeUnavailable},
		{"LoginFailureNotRetried", opLogin, []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			writeDomainError(w, identity.ErrInvalidCredentials, wire.CodeLoginFailed)
		}, opLogin.ok}, 1, identity.CodeInvalidCredentials},
		{"APIKeyCreationNeverRetriedOn503", opCreateKey, []http.HandlerFunc{status(503), opCreateKey.ok}, 1, identity.CodeUnavailable},
		{"APIKeyCreationNeverRetriedOn429", opCreateKey, []http.HandlerFunc{status(429), opCreateKey.ok}, 1, identity.CodeUnavailable},
		{"TokenIssuanceNeverRetried", opIssueToken, []http.HandlerFunc{status(502), opIssueToken.ok}, 1, identity.CodeUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, rec := newDirectory(t, sequence(c.answers...))
			p := newTestProvider(t, srv.URL)
			err := c.op.call(t.Context(), p)
			if c.wantCode == "" && err != nil {
				t.Fatalf("%s: %v", c.op.name, err)
			}
			if c.wantCode != "" && identity.ErrorCode(err) != c.wantCode {
				t.Fatalf("%s: error %v (code %s), want code %s", c.op.name, err, identity.ErrorCode(err), c.wantCode)
			}
			if n := rec.count(); n != c.wantAttempts {
				t.Fatalf("%s: %d attempts, want %d", c.op.name, n, c.wantAttempts)
			}
			keys := rec.headers("Idempotency-Key")
			switch {
			case c.op.idempotent:
				for i, k := range keys {
					if k == "" || k != keys[0] {
						t.Fatalf("attempt %d sent Idempotency-Key %q, attempt 1 sent %q", i+1, k, keys[0])
					}
				}
				if len(keys[0]) < 22 {
					t.Fatalf("Idempotency-Key %q is too short for 128 random bits", keys[0])
				}
			default:
				for i, k := range keys {
					if k != "" {
						t.Fatalf("attempt %d of %s sent Idempotency-Key %q", i+1, c.op.name, k)
					}
				}
			}
		})
	}
}

func TestRetriesConfig(t *testing.T) {
	for _, c := range []struct {
		retries, want int
	}{{0, DefaultRetries + 1}, {-1, 1}, {4, 5}} {
		srv, rec := newDirectory(t, status(503))
		p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = c.retries })
		_, err := p.Account(t.Context(), testAccID)
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Retries %d: %v", c.retries, err)
		}
		if n := rec.count(); n != c.want {
			t.Fatalf("Retries %d: %d attempts, want %d", c.retries, n, c.want)
		}
	}
}

func TestIdempotencyKeysDifferPerCall(t *testing.T) {
	srv, rec := newDirectory(t, opCreateAccount.ok)
	p := newTestProvider(t, srv.URL)
	for range 3 {
		if err := opCreateAccount.call(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	keys := rec.headers("Idempotency-Key")
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" || seen[k] {
			t.Fatalf("keys %q: each logical call needs its own key", keys)
		}
		seen[k] = true
	}
}

func TestHeaders(t *testing.T) {
	srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/customData"):
			writeJSON(w, http.StatusOK, map[string]any{"a": 1, "href": "x", "createdAt": "2026-01-01T00:00:00.000Z", "modifiedAt": "2026-01-01T00:00:00.000Z"})
		case r.Method == http.MethodPut:
			writeJSON(w, http.StatusOK, map[string]any{"b": 2})
		default:
			opGet.ok(w, r)
		}
	})
	p := newTestProvider(t, srv.URL)
	if _, err := p.Account(t.Context(), testAccID); err != nil {
		t.Fatal(err)
	}
	d, err := p.MergeCustomData(t.Context(), testAccID, identity.CustomData{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d["a"] == nil {
		t.Fatalf("custom data %v still has the read-only members", d)
	}
	if _, err := p.ReplaceCustomData(t.Context(), testAccID, nil); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, r := range rec.requests {
		if id, secret, ok := r.BasicAuth(); !ok || id != testKeyID || secret != testSecret {
			t.Fatalf("request %d lacks the admin key", i)
		}
		if r.Header.Get("Accept") != "application/json" {
			t.Fatalf("request %d: Accept %q", i, r.Header.Get("Accept"))
		}
	}
	if ct := rec.requests[0].Header.Get("Content-Type"); ct != "" {
		t.Fatalf("GET sent Content-Type %q", ct)
	}
	if ct := rec.requests[1].Header.Get("Content-Type"); ct != "application/merge-patch+json" {
		t.Fatalf("MergeCustomData sent Content-Type %q", ct)
	}
	if ct, body := rec.requests[2].Header.Get("Content-Type"), rec.bodies[2]; ct != "application/json" || body != "{}" {
		t.Fatalf("ReplaceCustomData(nil) sent %q %s", ct, body)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv, _ := newDirectory(t, opGet.ok)
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Retries = 1 })
	srv.Close()
	_, err := p.FindAccount(t.Context(), "secret.person@example.com")
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("FindAccount with the directory down: %v, want ErrUnavailable", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("the cause is lost: %v", err)
	}
	if strings.Contains(err.Error(), "secret.person") || strings.Contains(err.Error(), "email=") {
		t.Fatalf("the error shows the query string: %v", err)
	}
	// New fails the same way.
	_, err = New(t.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: testApp, Retries: -1})
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("New with the directory down: %v, want ErrUnavailable", err)
	}
}

func TestAttemptTimeout(t *testing.T) {
	srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	const timeout = 100 * time.Millisecond
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Timeout = timeout; c.Retries = 2 })
	start := time.Now()
	_, err := p.Account(t.Context(), testAccID)
	elapsed := time.Since(start)
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Account: %v, want ErrUnavailable", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an attempt timeout looks like the caller's deadline: %v", err)
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("%d attempts, want 3 (retries + 1)", n)
	}
	// 3 attempts of 100 ms and two waits of at most 50 and 100 ms.
	if elapsed > 3*timeout+150*time.Millisecond+time.Second {
		t.Fatalf("took %v", elapsed)
	}
}

// TestAttemptTimeoutEndsACredentialsCheck: a login or API key attempt that
// timed out is not sent again: the directory may have verified it and
// counted a failure.
func TestAttemptTimeoutEndsACredentialsCheck(t *testing.T) {
	for _, o := range []op{opLogin, opKeyAttempt} {
		t.Run(o.name, func(t *testing.T) {
			srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			})
			p := newTestProvider(t, srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.Retries = 2 })
			err := o.call(t.Context(), p)
			if !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("%s: %v, want ErrUnavailable", o.name, err)
			}
			if n := rec.count(); n != 1 {
				t.Fatalf("%s: %d attempts, want 1", o.name, n)
			}
		})
	}
}

// TestCredentialsCheckRetriedOnlyWhenNeverSent holds the retry decision
// for credentials checks to the kind of transport error: a connection that
// was never made is retried; a timeout or a connection that broke after
// the request went out is not. Reads retry both.
func TestCredentialsCheckRetriedOnlyWhenNeverSent(t *testing.T) {
	srv, _ := newDirectory(t, opGet.ok)
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Retries = 2 })
	dial := &url.Error{Op: "Post", URL: "http://dir", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	reset := &url.Error{Op: "Post", URL: "http://dir", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	timeout := &url.Error{Op: "Post", URL: "http://dir", Err: context.DeadlineExceeded}
	for _, c := range []struct {
		name string
		kind retryKind
		err  error
		want bool
	}{
		{"attempt, connection refused", retryAttempt, dial, true},
		{"attempt, connection reset", retryAttempt, reset, false},
		{"attempt, timed out", retryAttempt, timeout, false},
		{"read, connection refused", retryRead, dial, true},
		{"read, connection reset", retryRead, reset, true},
		{"read, timed out", retryRead, timeout, true},
	} {
		ctx := context.WithValue(t.Context(), attemptsKey{}, &attempts{kind: c.kind})
		got, err := p.checkRetry(ctx, nil, c.err)
		if err != nil || got != c.want {
			t.Errorf("%s: checkRetry = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestRetryAfterPastDeadline(t *testing.T) {
	srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		writeError(w, http.StatusServiceUnavailable, "unavailable", 503, "")
	})
	p := newTestProvider(t, srv.URL)
	const deadline = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	_, err := p.Account(ctx, testAccID)
	elapsed := time.Since(start)
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Account: %v, want the directory's 503 as ErrUnavailable", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the provider waited for the deadline: %v", err)
	}
	if elapsed > deadline+300*time.Millisecond {
		t.Fatalf("returned after %v; the deadline was %v", elapsed, deadline)
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		writeError(w, http.StatusTooManyRequests, "unavailable", 429, "")
	})
	p := newTestProvider(t, srv.URL)
	start := time.Now()
	_, err := p.Account(t.Context(), testAccID) // no deadline at all
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Account: %v", err)
	}
	if d := time.Since(start); d > time.Second || rec.count() != 1 {
		t.Fatalf("took %v and %d attempts; a Retry-After of an hour must end the retries", d, rec.count())
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv, rec := newDirectory(t, sequence(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "unavailable", 503, "")
	}, opGet.ok))
	p := newTestProvider(t, srv.URL)
	start := time.Now()
	if _, err := p.Account(t.Context(), testAccID); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || rec.count() != 2 {
		t.Fatalf("retried after %v (%d attempts); Retry-After asked for 1s", d, rec.count())
	}
}

func TestCallerCancellation(t *testing.T) {
	block := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	t.Run("DuringAttempt", func(t *testing.T) {
		srv, rec := newDirectory(t, block)
		p := newTestProvider(t, srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := p.Account(ctx, testAccID)
		if !errors.Is(err, context.Canceled) || errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Account: %v, want context.Canceled and not ErrUnavailable", err)
		}
		if n := rec.count(); n != 1 {
			t.Fatalf("%d attempts after cancellation, want 1", n)
		}
	})
	t.Run("DuringWait", func(t *testing.T) {
		srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			writeError(w, http.StatusServiceUnavailable, "unavailable", 503, "")
		})
		p := newTestProvider(t, srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Account(ctx, testAccID)
		if !errors.Is(err, context.Canceled) || errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Account: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > time.Second || rec.count() != 1 {
			t.Fatalf("took %v, %d attempts", d, rec.count())
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		srv, _ := newDirectory(t, block)
		p := newTestProvider(t, srv.URL)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := p.Account(ctx, testAccID)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("Account: %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("Before", func(t *testing.T) {
		srv, rec := newDirectory(t, opCreateAccount.ok)
		p := newTestProvider(t, srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := opCreateAccount.call(ctx, p); !errors.Is(err, context.Canceled) {
			t.Fatalf("CreateAccount: %v", err)
		}
		if rec.count() != 0 {
			t.Fatal("a cancelled call was sent")
		}
	})
}

func TestErrorMapping(t *testing.T) {
	html := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			w.Write([]byte("<html><body><h1>Bad Gateway</h1></body></html>"))
		}
	}
	domain := func(err error, cred int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { writeDomainError(w, err, cred) }
	}
	cases := []struct {
		name    string
		h       http.HandlerFunc
		op      op
		want    error
		field   string
		message string
	}{
		{"ConflictWithField", domain(identity.Conflict("email"), 0), opCreateAccount, identity.ErrConflict, "email", "The email is already in use."},
		{"InvalidInput", domain(identity.Invalid("given_name", "Too long."), 0), opCreateAccount, identity.ErrInvalidInput, "given_name", "Too long."},
		{"LimitExceeded", domain(identity.LimitExceeded("api_keys", "Too many keys."), 0), opCreateKey, identity.ErrLimitExceeded, "api_keys", "Too many keys."},
		{"NotFound", domain(identity.NotFound("account"), 0), opGet, identity.ErrNotFound, "", "The account does not exist."},
		{"LoginFailed7100", domain(identity.InvalidCredentials(identity.ReasonWrongPassword), wire.CodeLoginFailed), opLogin, identity.ErrInvalidCredentials, "", identity.ErrInvalidCredentials.Message},
		{"LoginMalformed", domain(identity.Invalid("value", "bad"), 0), opLogin, identity.ErrInvalidCredentials, "", identity.ErrInvalidCredentials.Message},
		{"DisabledAccountToken", domain(identity.InvalidCredentials(identity.ReasonDisabled), wire.CodeLoginFailed), opIssueToken, identity.ErrInvalidCredentials, "", identity.ErrInvalidCredentials.Message},
		{"HTML502", html(http.StatusBadGateway), opGet, identity.ErrUnavailable, "", identity.ErrUnavailable.Message},
		{"HTML404FromAProxy", html(http.StatusNotFound), opGet, identity.ErrUnavailable, "", identity.ErrUnavailable.Message},
		{"Internal500", domain(errors.New("disk on fire"), 0), opGet, identity.ErrUnavailable, "", identity.ErrUnavailable.Message},
		{"Unavailable503", domain(identity.ErrUnavailable, 0), opGet, identity.ErrUnavailable, "", identity.ErrUnavailable.Message},
		{"SuccessNotJSON", html(http.StatusOK), opGet, identity.ErrUnavailable, "", identity.ErrUnavailable.Message},
		{"AdminKeyRejected", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusUnauthorized, "unauthorized", 401, "")
		}, opGet, ErrAdminKeyRejected, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := newDirectory(t, c.h)
			p := newTestProvider(t, srv.URL, func(cfg *Config) { cfg.Retries = -1 })
			err := c.op.call(t.Context(), p)
			if !errors.Is(err, c.want) {
				t.Fatalf("%s: %v, want %v", c.op.name, err, c.want)
			}
			if c.want == ErrAdminKeyRejected {
				if identity.ErrorCode(err) != identity.CodeInternal {
					t.Fatalf("a rejected admin key has code %s, want internal", identity.ErrorCode(err))
				}
				return
			}
			if f := identity.ErrorField(err); f != c.field {
				t.Fatalf("field %q, want %q", f, c.field)
			}
			if m := identity.ErrorMessage(err); m != c.message {
				t.Fatalf("message %q, want %q", m, c.message)
			}
			if c.want == identity.ErrInvalidCredentials && err.Error() != identity.ErrInvalidCredentials.Error() {
				t.Fatalf("credentials error text %q is not the generic one", err)
			}
		})
	}
}

func TestNewUnknownApplication(t *testing.T) {
	srv, _ := newDirectory(t, opGet.ok)
	_, err := New(t.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: "no-such-app"})
	if !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("New: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "no-such-app") {
		t.Fatalf("the error %q does not name the application", err)
	}
	_, err = New(t.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: "wrong", Application: testApp})
	if !errors.Is(err, ErrAdminKeyRejected) {
		t.Fatalf("New with a wrong secret: %v, want ErrAdminKeyRejected", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error shows the secret: %v", err)
	}
	p := newTestProvider(t, srv.URL)
	if p.ApplicationID() != testAppID || p.Application() != testApp {
		t.Fatalf("application %q id %q", p.Application(), p.ApplicationID())
	}
}

func TestNewConfig(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:1", APIKeyID: "id", APIKeySecret: "s", Application: "app"}
	for name, mod := range map[string]func(*Config){
		"NoURL":          func(c *Config) { c.URL = "" },
		"Scheme":         func(c *Config) { c.URL = "ftp://host" },
		"NoHost":         func(c *Config) { c.URL = "http://" },
		"UserInfo":       func(c *Config) { c.URL = "http://u:p@host" },
		"Query":          func(c *Config) { c.URL = "http://host/?a=b" },
		"NoKeyID":        func(c *Config) { c.APIKeyID = "" },
		"NoSecret":       func(c *Config) { c.APIKeySecret = "" },
		"NoApplication":  func(c *Config) { c.Application = "" },
		"NegativeTimout": func(c *Config) { c.Timeout = -time.Second },
	} {
		cfg := good
		mod(&cfg)
		_, err := New(t.Context(), cfg)
		if err == nil || errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("%s: New(%+v) = %v, want a configuration error", name, cfg, err)
		}
	}
}

func TestLogsNeverShowSecrets(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, _ := newDirectory(t, sequence(status(503), status(503), status(503), func(w http.ResponseWriter, r *http.Request) {
		// Make the transport fail mid-answer: a connection error.
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("cannot hijack")
			return
		}
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Logger = logger })
	errs := []error{}
	_, err := p.FindAccount(t.Context(), "secret.person@example.com") // 3 × 503
	errs = append(errs, err)
	_, err = p.ListAccounts(t.Context(), identity.AccountFilter{Email: "secret.person@example.com"}) // connection errors
	errs = append(errs, err)
	_, err = p.Authenticate(t.Context(), "secret.person@example.com", "hunter2-password")
	errs = append(errs, err)
	srv.Close()
	_, err = p.ListAccounts(t.Context(), identity.AccountFilter{Query: "secret.person"}) // connection refused
	errs = append(errs, err)

	out := buf.String()
	if !strings.Contains(out, "retrying") || !strings.Contains(out, "/v1/applications/"+testAppID+"/accounts") {
		t.Fatalf("the retries were not logged with their path:\n%s", out)
	}
	texts := out
	for _, err := range errs {
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("error %v, want ErrUnavailable", err)
		}
		texts += "\n" + err.Error()
	}
	for _, bad := range []string{"secret.person", "email=", "q=", "?", testSecret, "Basic ", "Authorization", "hunter2", testKeyID} {
		if strings.Contains(texts, bad) {
			t.Fatalf("logs or errors contain %q:\n%s", bad, texts)
		}
	}
}

func TestScrub(t *testing.T) {
	in := `Get "http://user:pw@host:8080/v1/applications/x/accounts?email=a%40b&q=c#frag": dial tcp: refused`
	got := scrub(in)
	want := `Get "http://host:8080/v1/applications/x/accounts": dial tcp: refused`
	if got != want {
		t.Fatalf("scrub:\n got  %s\n want %s", got, want)
	}
	if p := urlPath("http://h/v1/x?y=z"); p != "/v1/x" {
		t.Fatalf("urlPath = %q", p)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 8 {
		ceil := expCeil(retryWaitMin, retryWaitMax, attempt)
		if ceil > retryWaitMax || ceil < retryWaitMin {
			t.Fatalf("ceiling %v after attempt %d", ceil, attempt)
		}
		for range 100 {
			w := backoff(retryWaitMin, retryWaitMax, attempt, nil)
			if w < ceil/2 || w > ceil {
				t.Fatalf("backoff %v after attempt %d, ceiling %v", w, attempt, ceil)
			}
		}
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"2"}}}
	if w := backoff(retryWaitMin, retryWaitMax, 0, resp); w != 2*time.Second {
		t.Fatalf("backoff with Retry-After: 2 = %v", w)
	}
	if w, ok := maxWait(0, resp); !ok || w != 2*time.Second {
		t.Fatalf("maxWait = %v, %v", w, ok)
	}
	date := &http.Response{Header: http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}}
	if _, ok := maxWait(0, date); ok {
		t.Fatal("a Retry-After date an hour away must end the retries")
	}
}

func TestInvalidIDsStayLocal(t *testing.T) {
	srv, rec := newDirectory(t, opGet.ok)
	p := newTestProvider(t, srv.URL)
	for _, id := range []string{"", "..", "a/b", "a?b", "x%2F", strings.Repeat("a", 300)} {
		if _, err := p.Account(t.Context(), id); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("Account(%q): %v", id, err)
		}
		if err := p.DeleteCustomDataKey(t.Context(), testAccID, id); !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("DeleteCustomDataKey(%q): %v", id, err)
		}
	}
	if _, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "ali\xffce", Password: "x"}); !errors.Is(err, identity.ErrInvalidInput) || identity.ErrorField(err) != "username" {
		t.Fatalf("invalid UTF-8 username: %v", err)
	}
	if _, err := p.IssueToken(t.Context(), testAccID, identity.TokenRequest{Scopes: []string{"read", "has space"}}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("scope with a space: %v", err)
	}
	if _, err := p.IssueToken(t.Context(), testAccID, identity.TokenRequest{TTL: 500 * time.Millisecond}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("TTL 500ms: %v", err)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d requests reached the directory", n)
	}
}

func TestPagination(t *testing.T) {
	const total = 230
	srv, rec := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		off, _ := strconv.Atoi(q.Get("offset"))
		lim, _ := strconv.Atoi(q.Get("limit"))
		col := wire.Collection[wire.APIKey]{Offset: off, Limit: lim, Size: total}
		for i := off; i < min(off+lim, total); i++ {
			id := "gk_" + strings.Repeat("k", 3) + strconv.Itoa(i)
			col.Items = append(col.Items, wire.APIKey{
				Href: "http://" + r.Host + wire.APIKeyPath(id), ID: id, Status: "ENABLED",
				Account: wire.Link{Href: "http://" + r.Host + wire.AccountPath(testAccID, "")},
			})
		}
		writeJSON(w, http.StatusOK, col)
	})
	p := newTestProvider(t, srv.URL)
	keys, err := p.ListAPIKeys(t.Context(), testAccID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != total || keys[total-1].ID != "gk_kkk229" {
		t.Fatalf("%d keys", len(keys))
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("%d pages fetched, want 3", n)
	}
	for _, r := range rec.requests {
		if r.URL.Query().Get("limit") != "100" {
			t.Fatalf("page request %s", r.URL.RawQuery)
		}
	}
}

func TestClose(t *testing.T) {
	srv, _ := newDirectory(t, opGet.ok)
	p := newTestProvider(t, srv.URL)
	if _, err := p.Account(t.Context(), testAccID); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Account(t.Context(), testAccID); err != nil {
		t.Fatalf("a call after Close: %v", err)
	}
}

func TestTransportDefaults(t *testing.T) {
	tr := newTransport()
	if tr.MaxIdleConnsPerHost < 64 || tr.IdleConnTimeout != 90*time.Second || !tr.ForceAttemptHTTP2 {
		t.Fatalf("transport: %d idle per host, idle timeout %v, HTTP/2 %v", tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.ForceAttemptHTTP2)
	}
	srv, _ := newDirectory(t, opGet.ok)
	p := newTestProvider(t, srv.URL)
	if _, ok := p.http.Transport.(interface{ CloseIdleConnections() }); ok {
		t.Fatal("go-retryablehttp can empty the connection pool")
	}
	if p.http.Timeout != 2*time.Second {
		t.Fatalf("attempt timeout %v", p.http.Timeout)
	}
}
