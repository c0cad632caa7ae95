package api_test

// Fuzz targets for the authentication middleware: whatever a client puts in
// the Authorization header, the answer is 200, 401 or 503, never a 5xx or a
// panic, a 401 is the one problem document every failure shares, and a 200
// needs credentials that are exactly valid. The seeds are in
// testdata/fuzz/<target>; CI runs each target for a bounded time.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// authTarget is a tiny Echo app behind api.Auth over the mock, with one
// account of every status, an API key and tokens.
type authTarget struct {
	e        *echo.Echo
	p        *mock.Provider
	alice    *identity.Account
	key      *identity.NewAPIKey
	tok      string // alice's
	carolTok string // issued while carol was enabled; she is disabled now
}

const fuzzPassword = "correct horse battery"

func newAuthTarget(tb testing.TB) *authTarget {
	tb.Helper()
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	at := &authTarget{p: p}
	var err error
	if at.alice, err = p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Email: "alice@example.com", Password: fuzzPassword}); err != nil {
		tb.Fatal(err)
	}
	carol, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "carol", Password: fuzzPassword})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err = p.CreateAccount(ctx, identity.AccountCreate{Username: "dave", Password: fuzzPassword, Status: identity.StatusUnverified}); err != nil {
		tb.Fatal(err)
	}
	if at.key, err = p.CreateAPIKey(ctx, at.alice.ID, "fuzz"); err != nil {
		tb.Fatal(err)
	}
	tok, err := p.IssueToken(ctx, at.alice.ID, identity.TokenRequest{})
	if err != nil {
		tb.Fatal(err)
	}
	at.tok = tok.Value
	ctok, err := p.IssueToken(ctx, carol.ID, identity.TokenRequest{})
	if err != nil {
		tb.Fatal(err)
	}
	at.carolTok = ctok.Value
	disabled := identity.StatusDisabled
	if _, err = p.UpdateAccount(ctx, carol.ID, identity.AccountUpdate{Status: &disabled}); err != nil {
		tb.Fatal(err)
	}

	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	e.GET("/", func(c echo.Context) error {
		pr, ok := api.PrincipalFrom(c)
		if !ok {
			return c.String(http.StatusTeapot, "no principal")
		}
		return c.JSON(http.StatusOK, map[string]string{"account": pr.Account.ID, "method": string(pr.Method)})
	}, api.Auth(p))
	at.e = e
	return at
}

// serve sends one GET / with the Authorization header h (none if empty).
func (at *authTarget) serve(h string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if h != "" {
		req.Header.Set(echo.HeaderAuthorization, h)
	}
	rec := httptest.NewRecorder()
	at.e.ServeHTTP(rec, req)
	return rec
}

// expectedMethod is the oracle: the method a header must authenticate with,
// or "" when it must fail. It decodes the header independently of the
// middleware, and allows only what the provider's rules allow: a login
// compared ignoring case (identity.FoldKey), a password compared after NFKC
// (identity.NormalizePassword), and otherwise exact strings.
func (at *authTarget) expectedMethod(h string) api.Method {
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if strings.TrimSpace(rest) == at.tok {
			return api.MethodBearer
		}
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return ""
		}
		// RFC 7617 with charset="UTF-8", as the challenge announces: valid
		// UTF-8 without control characters, split at the first colon.
		if !utf8.Valid(raw) || strings.ContainsFunc(string(raw), unicode.IsControl) {
			return ""
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return ""
		}
		switch {
		case user == at.tok:
			return api.MethodToken
		case user == at.key.ID && pass == at.key.Secret:
			return api.MethodAPIKey
		case (identity.FoldKey(user) == identity.FoldKey("alice") || identity.FoldKey(user) == identity.FoldKey("alice@example.com")) &&
			identity.NormalizePassword(pass) == fuzzPassword:
			return api.MethodPassword
		}
	}
	return ""
}

// check sends h and checks the answer against the oracle.
func (at *authTarget) check(t *testing.T, h string) {
	t.Helper()
	before := at.p.Hasher().Verifications()
	rec := at.serve(h)
	kdf := at.p.Hasher().Verifications() - before
	if kdf > 1 {
		t.Fatalf("header %q cost %d password verifications, want at most 1", h, kdf)
	}
	want := at.expectedMethod(h)
	switch rec.Code {
	case http.StatusOK:
		var got struct{ Account, Method string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("200 body %s: %v", rec.Body, err)
		}
		if want == "" {
			t.Fatalf("header %q authenticated as %s by %s, but it is not an exactly valid credential", h, got.Account, got.Method)
		}
		if got.Account != at.alice.ID || got.Method != string(want) {
			t.Fatalf("header %q authenticated as %s by %s, want %s by %s", h, got.Account, got.Method, at.alice.ID, want)
		}
	case http.StatusUnauthorized:
		if want != "" {
			t.Fatalf("header %q is valid (%s) but got 401: %s", h, want, rec.Body)
		}
		checkAuthProblem(t, rec)
	case http.StatusServiceUnavailable:
		checkProblem(t, rec, http.StatusServiceUnavailable)
	default:
		t.Fatalf("header %q: status %d, want 200, 401 or 503; body %s", h, rec.Code, rec.Body)
	}
}

// checkProblem checks rec is an RFC 9457 problem document with status.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/problem+json" {
		t.Fatalf("status %d: Content-Type %q, want application/problem+json; body %s", rec.Code, ct, rec.Body)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, rec.Body)
	}
	for _, k := range []string{"type", "title", "status", "detail", "code", "message"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("problem body lacks %q: %s", k, rec.Body)
		}
	}
	if n, _ := m["status"].(json.Number).Int64(); int(n) != status {
		t.Fatalf("problem status %v, HTTP status %d", m["status"], status)
	}
	return m
}

// checkAuthProblem checks a 401 is the one body of every authentication
// failure, with a challenge.
func checkAuthProblem(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	m := checkProblem(t, rec, http.StatusUnauthorized)
	if m["code"] != "unauthorized" || m["message"] != "Authentication failed: valid credentials are required." {
		t.Fatalf("401 body is not the authentication failure: %s", rec.Body)
	}
	if len(rec.Header().Values(echo.HeaderWWWAuthenticate)) == 0 {
		t.Fatalf("401 without a challenge")
	}
}

// validHeaders are the valid credentials, known only at run time: seeds
// every target adds besides its committed corpus.
func (at *authTarget) validHeaders() []string {
	return []string{
		basicHeader("alice", fuzzPassword),
		basicHeader("ALICE@example.com", fuzzPassword),
		basicHeader(at.key.ID, at.key.Secret),
		basicHeader(at.tok, "ignored"),
		"Bearer " + at.tok,
	}
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// FuzzAuthHeader fuzzes the whole Authorization header: scheme parsing, the
// Basic decoder and the dispatch on the shape of the user-id.
func FuzzAuthHeader(f *testing.F) {
	at := newAuthTarget(f)
	for _, h := range at.validHeaders() {
		f.Add(h)
	}
	f.Add(basicHeader(at.key.ID, at.key.Secret+"x"))
	f.Add(basicHeader(at.carolTok, ""))
	f.Add("Bearer " + at.carolTok)
	f.Add("Bearer " + at.tok[:len(at.tok)-1])
	f.Add("bAsIc " + base64.StdEncoding.EncodeToString([]byte("alice:"+fuzzPassword)))
	f.Fuzz(func(t *testing.T, h string) {
		at.check(t, h)
	})
}

// FuzzBasicCredentials fuzzes the user-id and password inside well-formed
// Basic credentials, so the fuzzer reaches the dispatch (API key id, token,
// login) and the providers' checks rather than the base64 decoder.
func FuzzBasicCredentials(f *testing.F) {
	at := newAuthTarget(f)
	f.Add("alice", fuzzPassword)
	f.Add("Alice@Example.COM", fuzzPassword)
	f.Add(at.key.ID, at.key.Secret)
	f.Add(at.key.ID, "")
	f.Add(at.tok, "")
	f.Add(at.carolTok, "")
	f.Add("carol", fuzzPassword)
	f.Add("dave", fuzzPassword)
	f.Fuzz(func(t *testing.T, user, pass string) {
		at.check(t, basicHeader(user, pass))
	})
}

// FuzzAuthBearer fuzzes "Bearer <token>": the token verifier's parsing,
// signature check, revocation lookup and account check.
func FuzzAuthBearer(f *testing.F) {
	at := newAuthTarget(f)
	f.Add(at.tok)
	f.Add(at.carolTok)
	f.Add(at.tok + "x")
	f.Add(" " + at.tok + " ")
	f.Add(at.tok + "." + at.tok)
	f.Fuzz(func(t *testing.T, raw string) {
		at.check(t, "Bearer "+raw)
	})
}
