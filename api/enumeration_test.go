package api_test

// No enumeration: an unknown login, a wrong password, a disabled account and
// an unverified one must look the same from outside: the same status,
// headers and body, and the same work (one password verification, counted
// by the provider's hasher). BenchmarkFailedLogin measures the time of each
// path with the real argon2id parameters, side by side.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// hashingProvider is a Provider whose password work can be counted.
type hashingProvider interface {
	identity.Provider
	Hasher() *password.Hasher
}

const (
	enumPassword = "correct horse battery"
	enumWrong    = "wrong horse battery!"
)

// enumAccounts creates one account of each status, all with enumPassword,
// and an API key of each kind; it returns the key ids and secrets that must
// fail.
type enumKeys struct {
	good       *identity.NewAPIKey // alice's, enabled
	disabled   *identity.NewAPIKey // alice's, disabled
	ofDisabled *identity.NewAPIKey // carol's (carol is disabled)
}

func enumAccounts(tb testing.TB, p identity.Provider) enumKeys {
	tb.Helper()
	ctx := context.Background()
	var k enumKeys
	alice, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Email: "alice@example.com", Password: enumPassword})
	if err != nil {
		tb.Fatal(err)
	}
	carol, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "carol", Email: "carol@example.com", Password: enumPassword})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "dave", Email: "dave@example.com", Password: enumPassword, Status: identity.StatusUnverified}); err != nil {
		tb.Fatal(err)
	}
	if k.good, err = p.CreateAPIKey(ctx, alice.ID, "good"); err != nil {
		tb.Fatal(err)
	}
	if k.disabled, err = p.CreateAPIKey(ctx, alice.ID, "disabled"); err != nil {
		tb.Fatal(err)
	}
	if _, err := p.SetAPIKeyStatus(ctx, k.disabled.ID, identity.StatusDisabled); err != nil {
		tb.Fatal(err)
	}
	if k.ofDisabled, err = p.CreateAPIKey(ctx, carol.ID, "carol"); err != nil {
		tb.Fatal(err)
	}
	disabled := identity.StatusDisabled
	if _, err := p.UpdateAccount(ctx, carol.ID, identity.AccountUpdate{Status: &disabled}); err != nil {
		tb.Fatal(err)
	}
	return k
}

// loginFailures are the password failure paths: each must cost exactly one
// verification and answer exactly like the others.
var loginFailures = []struct{ name, login, password string }{
	{"unknown login", "nobody", enumPassword},
	{"unknown email", "nobody@example.com", enumPassword},
	{"wrong password", "alice", enumWrong},
	{"wrong password, by email", "ALICE@example.com", enumWrong},
	{"disabled, right password", "carol", enumPassword},
	{"disabled, wrong password", "carol", enumWrong},
	{"unverified, right password", "dave", enumPassword},
	{"unverified, wrong password", "dave", enumWrong},
	{"password over the maximum length", "alice", strings.Repeat("p", 200)},
	{"login over the maximum length", strings.Repeat("l", 20_000), enumPassword},
}

// exchange is what a client can observe of one answer.
type exchange struct {
	status int
	header http.Header
	body   string
	kdf    uint64
}

func (x exchange) String() string {
	return fmt.Sprintf("%d %v %s", x.status, x.header, x.body)
}

// fixedRequestID is sent as X-Request-Id, which the API keeps when it is
// plain, so that two answers can be compared byte for byte.
const fixedRequestID = "enumeration-test"

func observe(t *testing.T, e *echo.Echo, h *password.Hasher, req *http.Request) exchange {
	t.Helper()
	req.Header.Set(echo.HeaderXRequestID, fixedRequestID)
	before := h.Verifications()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return exchange{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.String(), kdf: h.Verifications() - before}
}

func same(a, b exchange) bool {
	return a.status == b.status && a.body == b.body && maps.EqualFunc(a.header, b.header, slices.Equal)
}

func TestNoEnumeration(t *testing.T) {
	providers := []struct {
		name string
		open func(t *testing.T) hashingProvider
	}{
		{"mock", func(t *testing.T) hashingProvider { return mock.New(mock.WithFastHashing()) }},
		{"sqlite", func(t *testing.T) hashingProvider {
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "enum.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Application(ctx, "enum", true); err != nil {
				t.Fatal(err)
			}
			p, err := db.Provider(ctx, "enum", store.Options{Hasher: password.NewHasher(password.InsecureFastParams)})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, pv := range providers {
		t.Run(pv.name, func(t *testing.T) {
			p := pv.open(t)
			keys := enumAccounts(t, p)
			h := p.Hasher()
			// As `gatehouse serve` builds it: the credential cache in front
			// (a fresh one per channel, so each channel's success pays).
			served := func() *echo.Echo { return api.New(api.Config{}, cache.New(p, cache.Config{}), nil) }

			channels := []struct {
				name string
				req  func(login, pw string) *http.Request
				// status and code every failure must have
				status int
				code   string
			}{
				{"basic", func(login, pw string) *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
					r.Header.Set(echo.HeaderAuthorization, basic(login, pw))
					return r
				}, http.StatusUnauthorized, `"code":"unauthorized"`},
				{"oauth password grant", func(login, pw string) *http.Request {
					r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(url.Values{
						"grant_type": {"password"}, "username": {login}, "password": {pw},
					}.Encode()))
					r.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
					return r
				}, http.StatusBadRequest, `"error":"invalid_grant"`},
			}
			for _, ch := range channels {
				t.Run(ch.name, func(t *testing.T) {
					e := served()
					// The right password works, at the cost of one
					// verification, so the failures are not failing for
					// another reason.
					ok := observe(t, e, h, ch.req("alice", enumPassword))
					if ok.status != http.StatusOK || ok.kdf != 1 {
						t.Fatalf("the right password: %s (%d verifications)", ok, ok.kdf)
					}
					var first exchange
					for i, f := range loginFailures {
						x := observe(t, e, h, ch.req(f.login, f.password))
						if x.kdf != 1 {
							t.Errorf("%s: %d password verifications, want exactly 1", f.name, x.kdf)
						}
						if x.status != ch.status || !strings.Contains(x.body, ch.code) {
							t.Errorf("%s: %s, want %d with %s", f.name, x, ch.status, ch.code)
						}
						if i == 0 {
							first = x
							continue
						}
						if !same(first, x) {
							t.Errorf("%s answers differently from %s:\n%s\n%s", f.name, loginFailures[0].name, x, first)
						}
					}
				})
			}

			// API keys are not passwords (a SHA-256 of a random secret, no
			// KDF), but their failures must look the same too.
			t.Run("api key", func(t *testing.T) {
				e := served()
				keyReq := func(id, secret string) *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
					r.Header.Set(echo.HeaderAuthorization, basic(id, secret))
					return r
				}
				if ok := observe(t, e, h, keyReq(keys.good.ID, keys.good.Secret)); ok.status != http.StatusOK {
					t.Fatalf("the right key: %s", ok)
				}
				failures := []struct{ name, id, secret string }{
					{"unknown key", "gk_" + strings.Repeat("A", 22), keys.good.Secret},
					{"wrong secret", keys.good.ID, keys.disabled.Secret},
					{"disabled key", keys.disabled.ID, keys.disabled.Secret},
					{"key of a disabled account", keys.ofDisabled.ID, keys.ofDisabled.Secret},
				}
				// The reference is a password failure: a client must not
				// tell a key failure from any other.
				ref := observe(t, e, h, keyReq("nobody", enumPassword))
				for _, f := range failures {
					x := observe(t, e, h, keyReq(f.id, f.secret))
					if x.kdf != 0 {
						t.Errorf("%s: %d password verifications, want 0", f.name, x.kdf)
					}
					if x.status != http.StatusUnauthorized || !same(ref, x) {
						t.Errorf("%s answers differently from an unknown login:\n%s\n%s", f.name, x, ref)
					}
				}
			})
		})
	}
}

// BenchmarkFailedLogin times each failure path through the API with the
// real argon2id parameters (password.DefaultParams), so their times can be
// read side by side; a successful login is the reference. Run it with
//
//	go test -run '^$' -bench FailedLogin -benchtime 50x ./api
//
// kdf/op must be 1 on every line. The sub-benchmark "interleaved" runs
// every path in turn within each iteration, so that a busy machine slows
// them all alike, and reports each path's median time (ms/<path>) and the
// largest difference between two failure paths relative to the fastest
// (%max-diff): the figure to watch.
func BenchmarkFailedLogin(b *testing.B) {
	p := mock.New() // real argon2id parameters
	enumAccounts(b, p)
	h := p.Hasher()
	// No credential cache: a cached success would not be comparable.
	e := api.New(api.Config{}, p, nil)
	paths := []struct {
		name, login, password string
		status                int
	}{
		{"success", "alice", enumPassword, http.StatusOK},
		{"unknown_login", "nobody", enumPassword, http.StatusUnauthorized},
		{"wrong_password", "alice", enumWrong, http.StatusUnauthorized},
		{"disabled", "carol", enumPassword, http.StatusUnauthorized},
		{"unverified", "dave", enumPassword, http.StatusUnauthorized},
	}
	for _, pth := range paths {
		b.Run(pth.name, func(b *testing.B) {
			auth := basic(pth.login, pth.password)
			before := h.Verifications()
			n := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
				req.Header.Set(echo.HeaderAuthorization, auth)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != pth.status {
					b.Fatalf("status %d, want %d: %s", rec.Code, pth.status, rec.Body)
				}
				n++
			}
			b.ReportMetric(float64(h.Verifications()-before)/float64(n), "kdf/op")
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		times := make([][]time.Duration, len(paths))
		n := 0
		for b.Loop() {
			// Start each round at another path, so no path always follows
			// the same one.
			for j := range paths {
				i := (n + j) % len(paths)
				req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
				req.Header.Set(echo.HeaderAuthorization, basic(paths[i].login, paths[i].password))
				rec := httptest.NewRecorder()
				start := time.Now()
				e.ServeHTTP(rec, req)
				times[i] = append(times[i], time.Since(start))
				if rec.Code != paths[i].status {
					b.Fatalf("%s: status %d, want %d", paths[i].name, rec.Code, paths[i].status)
				}
			}
			n++
		}
		// Medians: a request the scheduler happened to preempt should not
		// count as a difference between paths.
		fastest, slowest := time.Duration(math.MaxInt64), time.Duration(0)
		for i, pth := range paths {
			slices.Sort(times[i])
			median := times[i][len(times[i])/2]
			b.ReportMetric(float64(median)/float64(time.Millisecond), "ms/"+pth.name)
			if pth.status != http.StatusOK {
				fastest, slowest = min(fastest, median), max(slowest, median)
			}
		}
		b.ReportMetric(100*float64(slowest-fastest)/float64(fastest), "%max-diff")
	})
}
