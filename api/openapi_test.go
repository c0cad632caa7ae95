package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/api/openapitest"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// openAPIDoc is the part of the document the tests read directly.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}

// servedRoutes returns "method /path/{param}" for every route of api.New.
func servedRoutes() map[string]bool {
	e := api.New(api.Config{}, mock.New(), nil)
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	served := map[string]bool{}
	for _, rt := range e.Routes() {
		if strings.HasPrefix(rt.Method, "echo_") { // Echo's internal not-found routes
			continue
		}
		served[strings.ToLower(rt.Method)+" "+param.ReplaceAllString(rt.Path, "{$1}")] = true
	}
	return served
}

// TestOpenAPICoversEveryRoute: every route registered in Echo appears in
// the OpenAPI document with its method, and the document names no route
// the server does not have.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := readOpenAPI(t)
	served := servedRoutes()
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if httpMethods[method] {
				documented[method+" "+path] = true
			}
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes missing from openapi.json: %v\ndocumented routes not served: %v", missing, extra)
	}
	if len(served) < 18 {
		t.Fatalf("only %d routes", len(served))
	}
}

// TestOpenAPIServed: the document is served without credentials, as JSON,
// is the one OpenAPI returns, and is a valid OpenAPI 3.1 document.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, request{path: "/openapi.json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if rec.Body.String() != string(api.OpenAPI()) {
		t.Fatal("OpenAPI() differs from what is served")
	}
	if v := readOpenAPI(t).OpenAPI; !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi %q", v)
	}
	if _, err := openapitest.New(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// answerTest drives an API server through a validating client, and keeps
// which documented answers it drew.
type answerTest struct {
	t      *testing.T
	p      *mock.Provider
	base   string
	client *http.Client
	seen   map[string]bool // "method /route status"
}

// ex is one exchange: the route as the document names it ("GET
// /api/users/{id}"), the path when it differs, and the status to expect.
type ex struct {
	route          string
	path           string
	auth, ct, body string
	header         map[string]string
	want           int
}

func (at *answerTest) do(x ex) (http.Header, string) {
	at.t.Helper()
	method, route, _ := strings.Cut(x.route, " ")
	path := x.path
	if path == "" {
		path = route
	}
	var body io.Reader
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequestWithContext(at.t.Context(), method, at.base+path, body)
	if err != nil {
		at.t.Fatal(err)
	}
	if x.auth != "" {
		req.Header.Set("Authorization", x.auth)
	}
	if x.ct != "" {
		req.Header.Set("Content-Type", x.ct)
	}
	for k, v := range x.header {
		req.Header.Set(k, v)
	}
	resp, err := at.client.Do(req)
	if err != nil {
		at.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != x.want {
		at.t.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, x.want, b)
	}
	at.seen[strings.ToLower(method)+" "+route+" "+fmt.Sprint(resp.StatusCode)] = true
	return resp.Header, string(b)
}

// TestOpenAPIMatchesAnswers draws every answer the document lists from
// every operation — successes, input errors, authentication failures,
// throttling, an unavailable or failing provider — through a client that
// validates each request and response against the document. It fails on
// any mismatch, and on any documented answer it did not draw, so the
// document says neither more nor less than the server does.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	p := mock.New(mock.WithFastHashing())
	ctx := context.Background()
	alice, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword, Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "bob", Password: bobPassword})
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.CreateAPIKey(ctx, alice.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	var notReady atomic.Bool
	e := api.New(api.Config{
		Realm:         "test",
		BodyLimit:     4 << 10,
		AllowedScopes: []string{"read"},
		Ready: func(context.Context) error {
			if notReady.Load() {
				return errors.New("not ready")
			}
			return nil
		},
	}, p, nil)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	v, err := openapitest.New(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	at := &answerTest{t: t, p: p, base: srv.URL, client: &http.Client{Transport: v.RoundTripper(srv.Client().Transport)}, seen: map[string]bool{}}

	const (
		jsonCT  = "application/json"
		formCT  = "application/x-www-form-urlencoded"
		mergeCT = "application/merge-patch+json"
	)
	pw := basic("alice", alicePassword)
	apiKey := basic(key.ID, key.Secret)
	big := `{"username":"` + strings.Repeat("x", 5000) + `","password":"long enough password"}`
	bigForm := "grant_type=password&username=" + strings.Repeat("x", 5000)
	boom := errors.New("boom")

	// Operations.
	at.do(ex{route: "GET /healthz", want: 200})
	at.do(ex{route: "GET /readyz", want: 200})
	notReady.Store(true)
	at.do(ex{route: "GET /readyz", want: 503})
	notReady.Store(false)
	at.do(ex{route: "GET /openapi.json", want: 200})
	if servedRoutes()["get /metrics"] {
		at.do(ex{route: "GET /metrics", want: 200})
	}

	// Registration.
	h, _ := at.do(ex{route: "POST /api/users", ct: jsonCT, body: `{"username":"dora","password":"dora's long password","given_name":"Dora","surname":"Maar"}`, want: 201})
	if !strings.HasPrefix(h.Get("Location"), "/api/users/") {
		t.Errorf("Location %q", h.Get("Location"))
	}
	at.do(ex{route: "POST /api/users", ct: jsonCT, body: `{"username":"DORA","password":"dora's long password"}`, want: 409})
	at.do(ex{route: "POST /api/users", ct: jsonCT, body: `{"username":"erin"}`, want: 400})
	at.do(ex{route: "POST /api/users", ct: jsonCT, body: `{"username":"erin","password":"erin's long password","nickname":"e"}`, want: 400})
	at.do(ex{route: "POST /api/users", ct: jsonCT, body: big, want: 413})
	at.do(ex{route: "POST /api/users", ct: "text/plain", body: "erin", want: 415})
	for err, status := range map[error]int{boom: 500, identity.ErrUnavailable: 503} {
		p.Fail(mock.OpCreateAccount, err)
		at.do(ex{route: "POST /api/users", ct: jsonCT, body: `{"username":"erin","password":"erin's long password"}`, want: status})
		p.Clear(mock.OpCreateAccount)
	}

	// Every authenticated operation, with the answers of authentication.
	authed := []ex{
		{route: "GET /"},
		{route: "GET /api/users/{id}", path: "/api/users/" + alice.ID},
		{route: "GET /api/token"},
		{route: "GET /api/resource"},
		{route: "GET /api/me"},
		{route: "GET /api/me/custom-data"},
		{route: "PUT /api/me/custom-data", ct: jsonCT, body: `{"a":1}`},
		{route: "PATCH /api/me/custom-data", ct: mergeCT, body: `{"a":2}`},
		{route: "DELETE /api/me/custom-data/{key}", path: "/api/me/custom-data/a"},
		{route: "GET /api/me/api-keys"},
		{route: "POST /api/me/api-keys"},
		{route: "DELETE /api/me/api-keys/{id}", path: "/api/me/api-keys/gk_nosuchkeynosuchkeyno"},
	}
	for _, x := range authed {
		x.want = 401
		at.do(x)
		x.auth = "Bearer not.a.token"
		h, _ := at.do(x)
		if got := h.Get("WWW-Authenticate"); got != `Bearer realm="test", error="invalid_token"` {
			t.Errorf("%s with a bad Bearer token: WWW-Authenticate %q", x.route, got)
		}
		x.auth = pw
		for err, status := range map[error]int{identity.Throttled(3 * time.Second): 429, identity.ErrUnavailable: 503, boom: 500} {
			p.Fail(mock.OpAuthenticate, err)
			x.want = status
			at.do(x)
		}
		p.Clear(mock.OpAuthenticate)
	}

	// Accounts and tokens.
	at.do(ex{route: "GET /", auth: pw, want: 200})
	at.do(ex{route: "GET /api/users/{id}", path: "/api/users/" + alice.ID, auth: pw, want: 200})
	at.do(ex{route: "GET /api/users/{id}", path: "/api/users/" + bob.ID, auth: pw, want: 200})
	at.do(ex{route: "GET /api/users/{id}", path: "/api/users/nosuchaccount", auth: pw, want: 404})
	_, body := at.do(ex{route: "GET /api/token", auth: pw, want: 200})
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s", body)
	}
	at.do(ex{route: "GET /api/resource", auth: basic(tok.Token, "x"), want: 200})
	at.do(ex{route: "GET /api/resource", auth: "Bearer " + tok.Token, want: 200})
	at.do(ex{route: "GET /api/resource", auth: apiKey, want: 200})
	at.do(ex{route: "GET /", auth: apiKey, want: 200})

	// The session cookie of a hosted login: good for reading; a change
	// must come from the server's own pages.
	session := map[string]string{"Cookie": api.SessionCookie + "=" + tok.Token}
	_, body = at.do(ex{route: "GET /", header: session, want: 200})
	if !strings.Contains(body, `"method":"session"`) {
		t.Errorf("GET / with the session cookie: %s", body)
	}
	for _, x := range []ex{
		{route: "PUT /api/me/custom-data", ct: jsonCT, body: `{"a":1}`},
		{route: "PATCH /api/me/custom-data", ct: mergeCT, body: `{"a":2}`},
		{route: "DELETE /api/me/custom-data/{key}", path: "/api/me/custom-data/a"},
	} {
		x.header, x.want = session, 403
		at.do(x)
		x.header = map[string]string{"Cookie": session["Cookie"], "Sec-Fetch-Site": "same-origin"}
		x.want = 200
		if x.body == "" {
			x.want = 204
		}
		at.do(x)
	}

	// Groups show in /api/me.
	g, err := p.CreateGroup(ctx, identity.GroupCreate{Name: "admins"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddToGroup(ctx, alice.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	at.do(ex{route: "GET /api/me", auth: pw, want: 200})

	// Custom data.
	for _, route := range []string{"PUT /api/me/custom-data", "PATCH /api/me/custom-data"} {
		at.do(ex{route: route, auth: pw, ct: jsonCT, body: `{"plan":{"tier":"pro","seats":5},"n":1.5}`, want: 200})
		at.do(ex{route: route, auth: pw, ct: jsonCT, body: `{`, want: 400})
		at.do(ex{route: route, auth: pw, ct: jsonCT, body: `[1]`, want: 400})
		at.do(ex{route: route, auth: pw, ct: jsonCT, body: `{"x":"` + strings.Repeat("y", 5000) + `"}`, want: 413})
		at.do(ex{route: route, auth: pw, ct: "text/plain", body: `{}`, want: 415})
	}
	at.do(ex{route: "PATCH /api/me/custom-data", auth: pw, ct: mergeCT, body: `{"n":null}`, want: 200})
	at.do(ex{route: "GET /api/me/custom-data", auth: pw, want: 200})
	at.do(ex{route: "DELETE /api/me/custom-data/{key}", path: "/api/me/custom-data/plan", auth: pw, want: 204})
	at.do(ex{route: "DELETE /api/me/custom-data/{key}", path: "/api/me/custom-data/-bad", auth: pw, want: 400})
	// The account can vanish between authentication and the change.
	p.Fail(mock.OpDeleteCustomDataKey, identity.NotFound("account"))
	at.do(ex{route: "DELETE /api/me/custom-data/{key}", path: "/api/me/custom-data/plan", auth: pw, want: 404})
	p.Clear(mock.OpDeleteCustomDataKey)

	// API keys.
	_, body = at.do(ex{route: "POST /api/me/api-keys", auth: pw, ct: jsonCT, body: `{"name":"laptop"}`, want: 201})
	var created struct{ ID string }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" {
		t.Fatalf("created key: %s", body)
	}
	at.do(ex{route: "POST /api/me/api-keys", auth: pw, want: 201})
	at.do(ex{route: "POST /api/me/api-keys", auth: pw, ct: jsonCT, body: `{"name":`, want: 400})
	at.do(ex{route: "POST /api/me/api-keys", auth: pw, ct: jsonCT, body: `{"name":"` + strings.Repeat("k", 5000) + `"}`, want: 413})
	at.do(ex{route: "POST /api/me/api-keys", auth: pw, ct: "text/plain", body: "laptop", want: 415})
	at.do(ex{route: "GET /api/me/api-keys", auth: pw, want: 200})
	for _, x := range []ex{
		{route: "GET /api/me/api-keys"},
		{route: "POST /api/me/api-keys"},
		{route: "DELETE /api/me/api-keys/{id}", path: "/api/me/api-keys/" + created.ID},
	} {
		x.auth, x.want = apiKey, 403
		at.do(x)
	}
	at.do(ex{route: "DELETE /api/me/api-keys/{id}", path: "/api/me/api-keys/" + created.ID, auth: pw, want: 204})
	at.do(ex{route: "DELETE /api/me/api-keys/{id}", path: "/api/me/api-keys/" + created.ID, auth: pw, want: 404})

	// OAuth2.
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const tokenRoute, revokeRoute = "POST /oauth/token", "POST /oauth/revoke"
	_, body = at.do(ex{route: tokenRoute, auth: apiKey, ct: formCT, body: form("grant_type", "client_credentials"), want: 200})
	var access struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &access); err != nil || access.AccessToken == "" {
		t.Fatalf("access token: %s", body)
	}
	at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "client_credentials", "client_id", key.ID, "client_secret", key.Secret, "scope", "read"), want: 200})
	at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "password", "username", "alice", "password", alicePassword), want: 200})
	at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "password", "username", "alice", "password", "wrong"), want: 400})
	at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "implicit"), want: 400})
	at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "client_credentials", "scope", "admin"), want: 400})
	at.do(ex{route: tokenRoute, ct: formCT, body: "grant_type=password&username=%ff\xff", want: 400})
	at.do(ex{route: tokenRoute, ct: jsonCT, body: `{"grant_type":"password"}`, want: 400})
	h, _ = at.do(ex{route: tokenRoute, auth: basic(key.ID, "wrong"), ct: formCT, body: form("grant_type", "client_credentials"), want: 401})
	if got := h.Get("WWW-Authenticate"); got != `Basic realm="test", charset="UTF-8"` {
		t.Errorf("invalid_client: WWW-Authenticate %q", got)
	}
	at.do(ex{route: tokenRoute, ct: formCT, body: bigForm, want: 413})
	for err, status := range map[error]int{identity.Throttled(time.Second): 429, identity.ErrUnavailable: 503, boom: 500} {
		p.Fail(mock.OpAuthenticate, err)
		at.do(ex{route: tokenRoute, ct: formCT, body: form("grant_type", "password", "username", "alice", "password", alicePassword), want: status})
	}
	p.Clear(mock.OpAuthenticate)

	at.do(ex{route: revokeRoute, ct: formCT, body: form("token", "not a token"), want: 200})
	at.do(ex{route: revokeRoute, ct: formCT, body: form("token_type_hint", "access_token"), want: 400})
	at.do(ex{route: revokeRoute, ct: formCT, body: "token=" + strings.Repeat("t", 5000), want: 413})
	for err, status := range map[error]int{identity.ErrUnavailable: 503, boom: 500} {
		p.Fail(mock.OpRevokeToken, err)
		at.do(ex{route: revokeRoute, ct: formCT, body: form("token", access.AccessToken), want: status})
	}
	p.Clear(mock.OpRevokeToken)
	at.do(ex{route: revokeRoute, ct: formCT, body: form("token", access.AccessToken), want: 200})
	at.do(ex{route: "GET /api/resource", auth: "Bearer " + access.AccessToken, want: 401})

	if err := v.Require(); err != nil {
		t.Error(err)
	}
	// Every answer the document lists was drawn, from every operation but
	// hosted login's, which needs hosted pages to talk to (login_test.go).
	hostedLogin := map[string]bool{"get /login": true, "get /login/callback": true, "get /logout": true, "post /logout": true}
	served := servedRoutes()
	var undrawn []string
	for path, ops := range readOpenAPI(t).Paths {
		for method, raw := range ops {
			if !httpMethods[method] || !served[method+" "+path] || hostedLogin[method+" "+path] {
				continue
			}
			var op struct{ Responses map[string]json.RawMessage }
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			for status := range op.Responses {
				if !at.seen[method+" "+path+" "+status] {
					undrawn = append(undrawn, method+" "+path+" "+status)
				}
			}
		}
	}
	sort.Strings(undrawn)
	if len(undrawn) > 0 {
		t.Errorf("documented answers no exchange drew:\n%s", strings.Join(undrawn, "\n"))
	}
}
