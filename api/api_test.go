package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

const (
	alicePassword = "correct horse battery"
	bobPassword   = "bob's long password"
)

// fixture is a server on the mock provider with two accounts, a key and a
// token for alice, and a disabled account.
type fixture struct {
	e        *echo.Echo
	p        *mock.Provider
	alice    *identity.Account
	bob      *identity.Account
	aliceKey *identity.NewAPIKey
	token    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	f := &fixture{p: p}
	var err error
	if f.alice, err = p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword, Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = p.CreateAccount(ctx, identity.AccountCreate{Username: "bob", Password: bobPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err = p.CreateAccount(ctx, identity.AccountCreate{Username: "carol", Password: alicePassword, Status: identity.StatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if f.aliceKey, err = p.CreateAPIKey(ctx, f.alice.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	tok, err := p.IssueToken(ctx, f.alice.ID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok.Value
	f.e = api.New(api.Config{Realm: "test", AllowedScopes: []string{"read", "write"}}, p, nil)
	return f
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// request is the "given" of a table row.
type request struct {
	method, path string
	auth         string
	contentType  string
	body         string
	header       map[string]string
}

func (f *fixture) do(t *testing.T, r request) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

// expect is the "expect" of a table row.
type expect struct {
	status int
	code   string            // the problem's code (or OAuth error)
	header map[string]string // exact header values
	body   []string          // substrings of the body
}

func check(t *testing.T, rec *httptest.ResponseRecorder, want expect) {
	t.Helper()
	if rec.Code != want.status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, want.status, rec.Body)
	}
	if want.code != "" {
		var body struct{ Code, Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
		}
		if got := body.Code + body.Error; got != want.code {
			t.Errorf("code = %q, want %q; body %s", got, want.code, rec.Body)
		}
	}
	for k, v := range want.header {
		if got := strings.Join(rec.Header().Values(k), " | "); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, s := range want.body {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("body %s does not contain %q", rec.Body, s)
		}
	}
}

const (
	basicChallenge  = `Basic realm="test", charset="UTF-8"`
	bearerChallenge = `Bearer realm="test"`
	bothChallenges  = basicChallenge + " | " + bearerChallenge
)

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	ok := expect{status: 200, body: []string{`"username":"alice"`}}
	fail := expect{status: 401, code: "unauthorized", header: map[string]string{"WWW-Authenticate": bothChallenges}}
	tests := []struct {
		name   string
		given  request
		expect expect
	}{
		{"ok, password", request{auth: basic("alice", alicePassword)}, ok},
		{"ok, email login any case", request{auth: basic("ALICE@example.com", alicePassword)}, ok},
		{"ok, api key", request{auth: basic(f.aliceKey.ID, f.aliceKey.Secret)}, ok},
		{"ok, token in basic user-id, password ignored", request{auth: basic(f.token, "x")}, ok},
		{"ok, token in basic user-id, empty password", request{auth: basic(f.token, "")}, ok},
		{"ok, bearer", request{auth: "Bearer " + f.token}, ok},
		{"ok, scheme is case-insensitive", request{auth: "bAsIc " + strings.TrimPrefix(basic("alice", alicePassword), "Basic ")}, ok},
		{"ok, password containing a colon", request{auth: basic("bob", bobPassword)}, expect{status: 200, body: []string{`"bob"`}}},
		{"nok, no credentials", request{}, fail},
		{"nok, wrong password", request{auth: basic("alice", "wrong password!")}, fail},
		{"nok, unknown user", request{auth: basic("nobody", alicePassword)}, fail},
		{"nok, disabled account", request{auth: basic("carol", alicePassword)}, fail},
		{"nok, api key wrong secret", request{auth: basic(f.aliceKey.ID, "gks_wrong")}, fail},
		{"nok, unknown api key", request{auth: basic("gk_0000000000000000000000", f.aliceKey.Secret)}, fail},
		{"nok, tampered token", request{auth: basic(f.token[:len(f.token)-4]+"AAAA", "x")}, fail},
		{"nok, invalid base64", request{auth: "Basic !!!notbase64"}, fail},
		{"nok, no colon", request{auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, fail},
		{"nok, control character", request{auth: basic("alice", "pass\x01word")}, fail},
		{"nok, DEL character", request{auth: basic("alice", "pass\x7fword")}, fail},
		{"nok, C1 control character", request{auth: basic("al\u0085ice", alicePassword)}, fail},
		{"nok, invalid utf-8", request{auth: basic("alice\xff", alicePassword)}, fail},
		{"nok, unknown scheme", request{auth: "Digest foo"}, fail},
		{"nok, bearer garbage", request{auth: "Bearer not-a-token"},
			expect{status: 401, code: "unauthorized", header: map[string]string{"WWW-Authenticate": bearerChallenge + `, error="invalid_token"`}}},
		{"nok, bearer empty", request{auth: "Bearer "},
			expect{status: 401, code: "unauthorized", header: map[string]string{"WWW-Authenticate": bearerChallenge + `, error="invalid_token"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.given.path = "/"
			check(t, f.do(t, tt.given), tt.expect)
		})
	}
}

// TestAuthenticationFailuresLookTheSame checks that every failure answers
// with the same status and body, whatever its cause.
func TestAuthenticationFailuresLookTheSame(t *testing.T) {
	f := newFixture(t)
	var first string
	for _, auth := range []string{
		basic("alice", "wrong password!"), basic("nobody", "whatever password"), basic("carol", alicePassword),
		basic(f.aliceKey.ID, "gks_wrong"), "Basic !!!", "",
	} {
		rec := f.do(t, request{path: "/api/resource", auth: auth})
		var p api.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		p.RequestID = "" // differs per request by design
		b, _ := json.Marshal(p)
		if first == "" {
			first = string(b)
		}
		if rec.Code != 401 || string(b) != first {
			t.Errorf("auth %q: %d %s, want 401 %s", auth, rec.Code, b, first)
		}
	}
}

func TestAuthenticationProviderUnavailable(t *testing.T) {
	f := newFixture(t)
	f.p.Fail(mock.OpAuthenticate, identity.Unavailable(errors.New("connection refused")))
	rec := f.do(t, request{path: "/", auth: basic("alice", alicePassword)})
	check(t, rec, expect{status: 503, code: "unavailable", header: map[string]string{"Retry-After": "5"}})
	if strings.Contains(rec.Body.String(), "refused") {
		t.Errorf("internal detail leaked: %s", rec.Body)
	}
}

func TestThrottledIs429(t *testing.T) {
	f := newFixture(t)
	f.p.Fail(mock.OpAuthenticate, identity.Throttled(90*time.Second))
	check(t, f.do(t, request{path: "/", auth: basic("alice", alicePassword)}),
		expect{status: 429, code: "throttled", header: map[string]string{"Retry-After": "90"}})
}

func TestInternalErrorIsGeneric(t *testing.T) {
	f := newFixture(t)
	f.p.Fail(mock.OpAuthenticate, errors.New("disk on fire: /var/lib/secret"))
	rec := f.do(t, request{path: "/", auth: basic("alice", alicePassword)})
	check(t, rec, expect{status: 500, code: "internal"})
	if strings.Contains(rec.Body.String(), "disk") {
		t.Errorf("internal detail leaked: %s", rec.Body)
	}
}

// TestDisabledAccountTokenStopsWorking: a token dies with its account's
// status, within the verifier's AccountTTL (5 s by default).
func TestDisabledAccountTokenStopsWorking(t *testing.T) {
	f := newFixture(t)
	clk := &clock{now: time.Now()}
	f.e = api.New(api.Config{Realm: "test", Now: clk.Now}, f.p, nil)
	check(t, f.do(t, request{path: "/", auth: "Bearer " + f.token}), expect{status: 200})
	disabled := identity.StatusDisabled
	if _, err := f.p.UpdateAccount(context.Background(), f.alice.ID, identity.AccountUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	clk.Add(4 * time.Second)
	check(t, f.do(t, request{path: "/", auth: "Bearer " + f.token}), expect{status: 200})
	clk.Add(2 * time.Second)
	check(t, f.do(t, request{path: "/", auth: "Bearer " + f.token}), expect{status: 401})
	check(t, f.do(t, request{path: "/", auth: basic(f.token, "x")}), expect{status: 401})
}

func TestUsers(t *testing.T) {
	tests := []struct {
		name   string
		given  request
		expect expect
	}{
		{"ok, register", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dave","password":"a long enough password","email":"dave@example.com"}`},
			expect{status: 201, body: []string{`"username":"dave"`, `"email":"dave@example.com"`, `"id":"`}}},
		{"ok, content type with charset", request{method: "POST", path: "/api/users", contentType: "application/json; charset=utf-8",
			body: `{"username":"erin","password":"a long enough password"}`}, expect{status: 201}},
		{"nok, taken username any case", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"ALICE","password":"a long enough password"}`}, expect{status: 409, code: "conflict", body: []string{`"field":"username"`}}},
		{"nok, taken email", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"al","password":"a long enough password","email":"Alice@Example.com"}`}, expect{status: 409, code: "conflict", body: []string{`"field":"email"`}}},
		{"nok, missing username", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"password":"a long enough password"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"username"`}}},
		{"nok, missing password", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"frank"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"password"`}}},
		{"nok, short password", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"frank","password":"python"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"password"`}}},
		{"nok, bad email", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"frank","password":"a long enough password","email":"nope"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"email"`}}},
		{"nok, unknown field", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"frank","passwd":"a long enough password"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"passwd"`}}},
		{"nok, wrong type", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":42,"password":"a long enough password"}`}, expect{status: 400, code: "invalid_input", body: []string{`"field":"username"`}}},
		{"nok, malformed json", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":`}, expect{status: 400, code: "malformed_json"}},
		{"nok, two documents", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"a"}{"x":1}`}, expect{status: 400, code: "malformed_json"}},
		{"nok, array body", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `[1]`}, expect{status: 400, code: "malformed_json"}},
		{"nok, not json", request{method: "POST", path: "/api/users", contentType: "text/plain",
			body: `username=frank`}, expect{status: 415, code: "unsupported_media_type"}},
		{"nok, no content type", request{method: "POST", path: "/api/users",
			body: `{}`}, expect{status: 415, code: "unsupported_media_type"}},
		{"nok, too large", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"` + strings.Repeat("a", 2<<20) + `"}`}, expect{status: 413, code: "request_too_large"}},
		{"nok, get user unauthenticated", request{path: "/api/users/xyz"}, expect{status: 401}},
		{"nok, get unknown user", request{path: "/api/users/0000000000000000000000", auth: basic("alice", alicePassword)}, expect{status: 404, code: "not_found"}},
		{"nok, unknown route", request{path: "/api/nope"}, expect{status: 404, code: "route_not_found"}},
		{"nok, wrong method", request{method: "DELETE", path: "/api/users"}, expect{status: 405, code: "method_not_allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, tt.given)
			check(t, rec, tt.expect)
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("error content type = %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestRegisterThenUse(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, request{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"miguel","password":"python is great"}`})
	check(t, rec, expect{status: 201})
	var acc identity.Account
	if err := json.Unmarshal(rec.Body.Bytes(), &acc); err != nil {
		t.Fatal(err)
	}
	if got := rec.Header().Get("Location"); got != "/api/users/"+acc.ID {
		t.Errorf("Location = %q", got)
	}
	if strings.Contains(rec.Body.String(), "python is great") || strings.Contains(rec.Body.String(), "argon2") {
		t.Errorf("response leaks the password or its hash: %s", rec.Body)
	}
	auth := basic("miguel", "python is great")
	check(t, f.do(t, request{path: "/api/resource", auth: auth}), expect{status: 200, body: []string{`{"data":"Hello, miguel!"}`}})
	check(t, f.do(t, request{path: "/api/users/" + acc.ID, auth: auth}), expect{status: 200, body: []string{`"username":"miguel"`, `"status":"ENABLED"`}})
	// Another account sees only the id and username.
	rec = f.do(t, request{path: "/api/users/" + acc.ID, auth: basic("alice", alicePassword)})
	check(t, rec, expect{status: 200, body: []string{`"username":"miguel"`}})
	if strings.Contains(rec.Body.String(), "status") {
		t.Errorf("another account's details leaked: %s", rec.Body)
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, request{path: "/api/token", auth: basic("alice", alicePassword)})
	check(t, rec, expect{status: 200, header: map[string]string{"Cache-Control": "no-store"}, body: []string{`"duration":600`}})
	var body struct {
		Token    string
		Duration int
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	// A token gets a fresh token, and both work.
	rec = f.do(t, request{path: "/api/token", auth: basic(body.Token, "unused")})
	check(t, rec, expect{status: 200})
	var fresh struct{ Token string }
	_ = json.Unmarshal(rec.Body.Bytes(), &fresh)
	if fresh.Token == "" || fresh.Token == body.Token {
		t.Fatalf("exchange gave %q", fresh.Token)
	}
	check(t, f.do(t, request{path: "/api/resource", auth: "Bearer " + fresh.Token}), expect{status: 200, body: []string{"Hello, alice!"}})
	// An API key gets a token too.
	check(t, f.do(t, request{path: "/api/token", auth: basic(f.aliceKey.ID, f.aliceKey.Secret)}), expect{status: 200})
}

func TestMe(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g, err := f.p.CreateGroup(ctx, identity.GroupCreate{Name: "admins"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.AddToGroup(ctx, f.alice.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	check(t, f.do(t, request{path: "/api/me", auth: basic("alice", alicePassword)}), expect{status: 200,
		body: []string{`"username":"alice"`, `"email":"alice@example.com"`, `"status":"ENABLED"`, `"groups":[{"id":"` + g.ID + `","name":"admins"}]`, `"created_at"`}})
	check(t, f.do(t, request{path: "/api/me", auth: basic("bob", bobPassword)}), expect{status: 200, body: []string{`"groups":[]`}})
}

func TestCustomData(t *testing.T) {
	auth := basic("alice", alicePassword)
	tests := []struct {
		name   string
		given  []request // run in order; the last answer is checked
		expect expect
	}{
		{"ok, empty at first", []request{{path: "/api/me/custom-data"}}, expect{status: 200, body: []string{`{}`}}},
		{"ok, put then get", []request{
			{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"color":"blue","n":12345678901234567890}`},
			{path: "/api/me/custom-data"}}, expect{status: 200, body: []string{`"color":"blue"`, `"n":12345678901234567890`}}},
		{"ok, merge patch", []request{
			{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"a":{"b":1,"c":2},"d":3}`},
			{method: "PATCH", path: "/api/me/custom-data", contentType: "application/merge-patch+json", body: `{"a":{"c":null,"e":4},"d":null}`}},
			expect{status: 200, body: []string{`{"a":{"b":1,"e":4}}`}}},
		{"ok, patch with application/json", []request{
			{method: "PATCH", path: "/api/me/custom-data", contentType: "application/json", body: `{"x":true}`}},
			expect{status: 200, body: []string{`"x":true`}}},
		{"ok, delete key", []request{
			{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"a":1,"b":2}`},
			{method: "DELETE", path: "/api/me/custom-data/a"},
			{path: "/api/me/custom-data"}}, expect{status: 200, body: []string{`{"b":2}`}}},
		{"ok, delete missing key", []request{{method: "DELETE", path: "/api/me/custom-data/nothing"}}, expect{status: 204}},
		{"nok, reserved name", []request{{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"href":"x"}`}},
			expect{status: 400, code: "invalid_input"}},
		{"nok, bad field name", []request{{method: "PATCH", path: "/api/me/custom-data", contentType: "application/json", body: `{"-x":1}`}},
			expect{status: 400, code: "invalid_input"}},
		{"nok, delete reserved key", []request{{method: "DELETE", path: "/api/me/custom-data/meta"}}, expect{status: 400, code: "invalid_input"}},
		{"nok, too deep", []request{{method: "PUT", path: "/api/me/custom-data", contentType: "application/json",
			body: strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33)}}, expect{status: 400, code: "limit_exceeded"}},
		{"nok, too big", []request{{method: "PUT", path: "/api/me/custom-data", contentType: "application/json",
			body: `{"a":"` + strings.Repeat("x", 70000) + `"}`}}, expect{status: 400, code: "limit_exceeded"}},
		{"nok, not an object", []request{{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `[1,2]`}},
			expect{status: 400, code: "invalid_input"}},
		{"nok, malformed", []request{{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"a":`}},
			expect{status: 400, code: "malformed_json"}},
		{"nok, wrong media type", []request{{method: "PATCH", path: "/api/me/custom-data", contentType: "application/json-patch+json", body: `[]`}},
			expect{status: 415, code: "unsupported_media_type"}},
		{"nok, failed write keeps data", []request{
			{method: "PUT", path: "/api/me/custom-data", contentType: "application/json", body: `{"keep":1}`},
			{method: "PATCH", path: "/api/me/custom-data", contentType: "application/json", body: `{"big":"` + strings.Repeat("x", 70000) + `"}`},
			{path: "/api/me/custom-data"}}, expect{status: 200, body: []string{`{"keep":1}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var rec *httptest.ResponseRecorder
			for _, r := range tt.given {
				r.auth = auth
				rec = f.do(t, r)
			}
			check(t, rec, tt.expect)
		})
	}
}

func TestAPIKeys(t *testing.T) {
	f := newFixture(t)
	pw := basic("alice", alicePassword)
	// Create with a name, and with an empty body.
	rec := f.do(t, request{method: "POST", path: "/api/me/api-keys", auth: pw, contentType: "application/json", body: `{"name":"deploy"}`})
	check(t, rec, expect{status: 201, header: map[string]string{"Cache-Control": "no-store"}, body: []string{`"name":"deploy"`, `"secret":"gks_`}})
	var k identity.NewAPIKey
	if err := json.Unmarshal(rec.Body.Bytes(), &k); err != nil {
		t.Fatal(err)
	}
	check(t, f.do(t, request{method: "POST", path: "/api/me/api-keys", auth: "Bearer " + f.token}), expect{status: 201})
	// The new key works.
	check(t, f.do(t, request{path: "/api/resource", auth: basic(k.ID, k.Secret)}), expect{status: 200})
	// Listing shows no secrets.
	rec = f.do(t, request{path: "/api/me/api-keys", auth: pw})
	check(t, rec, expect{status: 200, body: []string{`"items":[`, k.ID}})
	if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), k.Secret) {
		t.Errorf("list leaks secrets: %s", rec.Body)
	}
	// An API key cannot manage keys.
	for _, r := range []request{
		{method: "POST", path: "/api/me/api-keys"},
		{path: "/api/me/api-keys"},
		{method: "DELETE", path: "/api/me/api-keys/" + k.ID},
	} {
		r.auth = basic(k.ID, k.Secret)
		check(t, f.do(t, r), expect{status: 403, code: "forbidden"})
	}
	// Bob cannot delete alice's key, and learns nothing about it.
	check(t, f.do(t, request{method: "DELETE", path: "/api/me/api-keys/" + k.ID, auth: basic("bob", bobPassword)}), expect{status: 404, code: "not_found"})
	check(t, f.do(t, request{method: "DELETE", path: "/api/me/api-keys/gk_nonexistent", auth: pw}), expect{status: 404, code: "not_found"})
	check(t, f.do(t, request{method: "POST", path: "/api/me/api-keys", auth: pw, contentType: "application/json", body: `{"nam":"x"}`}), expect{status: 400, code: "invalid_input"})
	check(t, f.do(t, request{method: "POST", path: "/api/me/api-keys", auth: pw, contentType: "text/plain", body: `x`}), expect{status: 415})
	// Delete, then the key is dead.
	check(t, f.do(t, request{method: "DELETE", path: "/api/me/api-keys/" + k.ID, auth: pw}), expect{status: 204})
	check(t, f.do(t, request{path: "/api/resource", auth: basic(k.ID, k.Secret)}), expect{status: 401})
}

func form(v url.Values) string { return v.Encode() }

func TestOAuthToken(t *testing.T) {
	f := newFixture(t)
	formType := "application/x-www-form-urlencoded"
	keyBasic := basic(url.QueryEscape(f.aliceKey.ID), url.QueryEscape(f.aliceKey.Secret))
	noStore := map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"}
	tests := []struct {
		name   string
		given  request
		expect expect
	}{
		{"ok, client credentials in basic", request{auth: keyBasic, body: form(url.Values{"grant_type": {"client_credentials"}})},
			expect{status: 200, header: noStore, body: []string{`"token_type":"Bearer"`, `"expires_in":600`, `"access_token":"ey`}}},
		{"ok, client credentials in body", request{body: form(url.Values{"grant_type": {"client_credentials"}, "client_id": {f.aliceKey.ID}, "client_secret": {f.aliceKey.Secret}})},
			expect{status: 200, header: noStore}},
		{"ok, stormpath parameter names", request{body: form(url.Values{"grant_type": {"client_credentials"}, "apiKeyId": {f.aliceKey.ID}, "apiKeySecret": {f.aliceKey.Secret}})},
			expect{status: 200}},
		{"ok, password grant", request{body: form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}})},
			expect{status: 200, header: noStore}},
		{"ok, allowed scope", request{auth: keyBasic, body: form(url.Values{"grant_type": {"client_credentials"}, "scope": {"read write"}})},
			expect{status: 200, body: []string{`"scope":"read write"`}}},
		{"nok, scope not allowed", request{auth: keyBasic, body: form(url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}})},
			expect{status: 400, code: "invalid_scope"}},
		{"nok, wrong secret", request{auth: basic(f.aliceKey.ID, "gks_nope"), body: form(url.Values{"grant_type": {"client_credentials"}})},
			expect{status: 401, code: "invalid_client", header: map[string]string{"WWW-Authenticate": basicChallenge, "Cache-Control": "no-store"}}},
		{"nok, no client credentials", request{body: form(url.Values{"grant_type": {"client_credentials"}})},
			expect{status: 401, code: "invalid_client"}},
		{"nok, credentials twice", request{auth: keyBasic, body: form(url.Values{"grant_type": {"client_credentials"}, "client_id": {f.aliceKey.ID}})},
			expect{status: 400, code: "invalid_request"}},
		{"nok, password is not a client", request{auth: basic("alice", alicePassword), body: form(url.Values{"grant_type": {"client_credentials"}})},
			expect{status: 401, code: "invalid_client"}},
		{"nok, wrong password", request{body: form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong password!"}})},
			expect{status: 400, code: "invalid_grant"}},
		{"nok, disabled account", request{body: form(url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {alicePassword}})},
			expect{status: 400, code: "invalid_grant"}},
		{"nok, password grant missing password", request{body: form(url.Values{"grant_type": {"password"}, "username": {"alice"}})},
			expect{status: 400, code: "invalid_request"}},
		{"nok, unsupported grant", request{body: form(url.Values{"grant_type": {"authorization_code"}})},
			expect{status: 400, code: "unsupported_grant_type"}},
		{"nok, missing grant", request{body: ""}, expect{status: 400, code: "invalid_request"}},
		{"nok, repeated parameter", request{body: "grant_type=password&grant_type=password"}, expect{status: 400, code: "invalid_request"}},
		{"nok, json body", request{contentType: "application/json", body: `{"grant_type":"password"}`}, expect{status: 400, code: "invalid_request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.given.method, tt.given.path = "POST", "/oauth/token"
			if tt.given.contentType == "" {
				tt.given.contentType = formType
			}
			check(t, f.do(t, tt.given), tt.expect)
		})
	}
	t.Run("nok, provider unavailable", func(t *testing.T) {
		f := newFixture(t)
		f.p.Fail(mock.OpAuthenticate, identity.ErrUnavailable)
		check(t, f.do(t, request{method: "POST", path: "/oauth/token", contentType: formType,
			body: form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}})}),
			expect{status: 503, code: "temporarily_unavailable", header: map[string]string{"Retry-After": "5"}})
	})
}

func oauthTokenFor(t *testing.T, f *fixture, scope string) string {
	t.Helper()
	rec := f.do(t, request{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
		auth: basic(f.aliceKey.ID, f.aliceKey.Secret), body: form(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})})
	if rec.Code != 200 {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return body.AccessToken
}

func TestOAuthRevoke(t *testing.T) {
	f := newFixture(t)
	tok := oauthTokenFor(t, f, "")
	check(t, f.do(t, request{path: "/api/resource", auth: "Bearer " + tok}), expect{status: 200})
	revoke := func(body string) *httptest.ResponseRecorder {
		return f.do(t, request{method: "POST", path: "/oauth/revoke", contentType: "application/x-www-form-urlencoded", body: body})
	}
	check(t, revoke(form(url.Values{"token": {tok}, "token_type_hint": {"access_token"}})), expect{status: 200})
	// Revoked at once, in both places a token is accepted.
	check(t, f.do(t, request{path: "/api/resource", auth: "Bearer " + tok}), expect{status: 401})
	check(t, f.do(t, request{path: "/api/resource", auth: basic(tok, "x")}), expect{status: 401})
	// Other tokens still work.
	check(t, f.do(t, request{path: "/api/resource", auth: "Bearer " + f.token}), expect{status: 200})
	// Invalid tokens and repeats answer 200 too (RFC 7009 §2.2).
	check(t, revoke(form(url.Values{"token": {"garbage"}})), expect{status: 200})
	check(t, revoke(form(url.Values{"token": {tok}})), expect{status: 200})
	check(t, revoke(""), expect{status: 400, code: "invalid_request"})
}

func TestRequireScopeAndGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admins, err := f.p.CreateGroup(ctx, identity.GroupCreate{Name: "Admins"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.AddToGroup(ctx, f.alice.ID, admins.ID); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	auth := api.Auth(f.p)
	ok := func(c echo.Context) error { return c.String(200, "ok") }
	e.GET("/write", ok, auth, api.RequireScope("gatehouse", "write"))
	e.GET("/admin", ok, auth, api.RequireGroup(f.p, "admins"))
	f.e = e

	readOnly := oauthTokenForServer(t, f.p, f.aliceKey, "read")
	check(t, f.do(t, request{path: "/write", auth: "Bearer " + readOnly}), expect{status: 403, code: "insufficient_scope",
		header: map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse", error="insufficient_scope", scope="write"`}})
	check(t, f.do(t, request{path: "/write", auth: "Bearer " + oauthTokenForServer(t, f.p, f.aliceKey, "read write")}), expect{status: 200})
	check(t, f.do(t, request{path: "/write", auth: basic("alice", alicePassword)}), expect{status: 200})
	check(t, f.do(t, request{path: "/admin", auth: basic("alice", alicePassword)}), expect{status: 200})
	check(t, f.do(t, request{path: "/admin", auth: basic("bob", bobPassword)}), expect{status: 403, code: "forbidden"})
	check(t, f.do(t, request{path: "/admin"}), expect{status: 401})
}

func oauthTokenForServer(t *testing.T, p identity.Provider, key *identity.NewAPIKey, scope string) string {
	t.Helper()
	tok, err := p.IssueToken(context.Background(), key.AccountID, identity.TokenRequest{Scopes: strings.Fields(scope), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

func TestHealth(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	ready := errors.New("database down")
	e := api.New(api.Config{Ready: func(context.Context) error { return ready }}, p, nil)
	f := &fixture{e: e, p: p}
	check(t, f.do(t, request{path: "/healthz"}), expect{status: 200, body: []string{`"status":"ok"`}})
	check(t, f.do(t, request{path: "/readyz"}), expect{status: 503, code: "unavailable"})
	ready = nil
	check(t, f.do(t, request{path: "/readyz"}), expect{status: 200})
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, request{path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("plain client id not kept: %q", got)
	}
	rec = f.do(t, request{path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\"{}"}})
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\" {}") {
		t.Errorf("unsafe client id kept: %q", got)
	}
}
