package directory_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// TestAuthentication: every /v1 route needs an admin key; every failure is
// the same 401 with a challenge.
func TestAuthentication(t *testing.T) {
	unauthorized := func(t *testing.T, h *harness, v vars, r *resp) {
		t.Helper()
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="gatehouse-directory", charset="UTF-8"` {
			t.Fatalf("WWW-Authenticate = %q", got)
		}
		m := r.JSON()
		if m["code"].(interface{ String() string }).String() != "401" || m["message"] != "Authentication with a valid admin API key is required." {
			t.Fatalf("401 body: %s", r.Body)
		}
	}
	cases := []tcase{
		{name: "no credentials", when: req{method: "GET", path: "/v1/applications/{app}", noAuth: true},
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "wrong secret", when: req{method: "GET", path: "/v1/applications/{app}", auth: "{wrong}"},
			given:  func(t *testing.T, h *harness) vars { return vars{"wrong": basic(h.keyID, "gks_"+ids.RandomString(43))} },
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "unknown key", when: req{method: "GET", path: "/v1/applications/{app}", auth: "{unknown}"},
			given:  func(t *testing.T, h *harness) vars { return vars{"unknown": basic("gk_"+ids.New(), h.secret)} },
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "bearer scheme", when: req{method: "GET", path: "/v1/applications/{app}", auth: "Bearer abc"},
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "malformed base64", when: req{method: "GET", path: "/v1/applications/{app}", auth: "Basic %%%"},
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "no colon", when: req{method: "GET", path: "/v1/applications/{app}", auth: "Basic Z2tfYWJj"},
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "control character", when: req{method: "GET", path: "/v1/applications/{app}", auth: "{ctl}"},
			given:  func(t *testing.T, h *harness) vars { return vars{"ctl": basic(h.keyID, h.secret+"\n")} },
			status: 401, errCode: "unauthorized", expect: unauthorized},
		{name: "an account's API key is not an admin key", when: req{method: "GET", path: "/v1/applications/{app}", auth: "{acctkey}"},
			given: func(t *testing.T, h *harness) vars {
				a := h.mustAccount("keyholder", "")
				k, err := h.p.CreateAPIKey(context.Background(), a.ID, "")
				if err != nil {
					t.Fatal(err)
				}
				return vars{"acctkey": basic(k.ID, k.Secret)}
			},
			status: 401, errCode: "unauthorized", expect: unauthorized},
		// The routes are public (openapi.json), so an unknown one is a 404
		// whoever asks.
		{name: "unknown route", when: req{method: "GET", path: "/v1/nowhere", noAuth: true},
			status: 404, errCode: "not_found"},
		{name: "healthz is open", when: req{method: "GET", path: "/healthz", noAuth: true}, status: 200},
		{name: "readyz is open", when: req{method: "GET", path: "/readyz", noAuth: true}, status: 200},
		{name: "openapi is open", when: req{method: "GET", path: "/v1/openapi.json", noAuth: true}, status: 200},
		{name: "with the key", when: req{method: "GET", path: "/v1/applications/{app}"}, status: 200},
	}
	runAll(t, cases)
}

// TestAdminKeyOfDeletedApplication: a key outlives nothing.
func TestAdminKeyOfDeletedApplication(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		o := h.other
		if err := h.db.DeleteApplication(context.Background(), o.app); err != nil {
			t.Fatal(err)
		}
		o.get("/v1/applications/"+o.appID).expect(401, "unauthorized")
	})
}

// TestProtocolErrors: Echo's own errors come in the protocol's body.
func TestProtocolErrors(t *testing.T) {
	runAll(t, []tcase{
		{name: "no such route", when: req{method: "GET", path: "/v1/nowhere"}, status: 404, errCode: "not_found"},
		{name: "no such route outside v1", when: req{method: "GET", path: "/nowhere", noAuth: true}, status: 404, errCode: "not_found"},
		{name: "wrong method", when: req{method: "PATCH", path: "/v1/applications/{app}"}, status: 405, errCode: "method_not_allowed"},
		{name: "wrong media type", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: "name=x", contentType: "application/x-www-form-urlencoded"},
			status: 415, errCode: "unsupported_media_type"},
		{name: "body without media type", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"x"}`, contentType: "-"},
			status: 415, errCode: "unsupported_media_type"},
		{name: "body too large", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"` + strings.Repeat("x", 2<<20) + `"}`},
			status: 413, errCode: "request_too_large"},
		{name: "malformed JSON", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":`},
			status: 400, errCode: "invalid_input", field: "body"},
		{name: "unknown member", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"g","colour":"red"}`},
			status: 400, errCode: "invalid_input", field: "colour"},
		{name: "wrong type", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":5}`},
			status: 400, errCode: "invalid_input", field: "name"},
		{name: "not an object", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `["name"]`},
			status: 400, errCode: "invalid_input", field: "body"},
		{name: "trailing data", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"g"} {}`},
			status: 400, errCode: "invalid_input", field: "body"},
		{name: "stray brace after the object", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"g"}}`},
			status: 400, errCode: "invalid_input", field: "body"},
		// encoding/json would keep the last of two members, other parsers
		// the first: such a body means different things to different
		// readers, and is refused.
		{name: "member twice", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"g1","name":"g2"}`},
			status: 400, errCode: "invalid_input", field: "name"},
		{name: "member twice, differing in case", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"g1","Name":"g2"}`},
			status: 400, errCode: "invalid_input", field: "Name"},
		{name: "custom data member twice", when: req{method: "POST", path: "/v1/applications/{app}/accounts",
			body: `{"username":"dupcd","password":"a long enough password","customData":{"plan":"free","plan":"pro"}}`},
			status: 400, errCode: "invalid_input", field: "plan"},
		{name: "unknown query parameter", when: req{method: "GET", path: "/v1/applications/{app}/accounts?givenName=x"},
			status: 400, errCode: "invalid_input", field: "givenName"},
	})
}

// failingPing is a Provider whose store does not answer Ping.
type failingPing struct{ *mock.Provider }

func (failingPing) Ping(context.Context) error { return identity.Unavailable(errors.New("down")) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newStaticWith is a static harness over p, logging to logs.
func newStaticWith(t *testing.T, p identity.Provider, logs *syncBuffer) *harness {
	h := &harness{t: t, p: p, appID: ids.New(), app: "static-app", keyID: "gk_" + ids.New(), secret: "gks_" + ids.RandomString(43)}
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	h.e = directory.New(directory.Config{}, directory.StaticTenant(directory.Application{ID: h.appID, Name: h.app}, p, h.keyID, h.secret), logger)
	return h
}

// TestUnavailableAndInternal: an unreachable store is 503 with Retry-After,
// never a credentials failure; an internal error is a generic 500, logged
// once with the request id and its detail.
func TestUnavailableAndInternal(t *testing.T) {
	m := mock.New(mock.WithFastHashing())
	logs := &syncBuffer{}
	h := newStaticWith(t, m, logs)
	a := h.mustAccount("jane", "jane@example.com")

	m.Fail(mock.OpAuthenticate, identity.Unavailable(errors.New("connection refused")))
	r := h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("jane:correct horse battery")})
	r.expect(503, "unavailable")
	checkErrorShape(t, r)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if strings.Contains(string(r.Body), "refused") {
		t.Fatalf("503 body leaks the cause: %s", r.Body)
	}
	m.Clear(mock.OpAuthenticate)

	m.Fail(mock.OpAccount, errors.New("secret internal detail"))
	r = h.get("/v1/accounts/" + a.ID)
	r.expect(500, "internal")
	checkErrorShape(t, r)
	if strings.Contains(string(r.Body), "secret internal detail") || r.Str("message") != "An internal error occurred." {
		t.Fatalf("500 body: %s", r.Body)
	}
	reqID := r.Header.Get("Request-Id")
	if n := strings.Count(logs.String(), `"msg":"internal error"`); n != 1 {
		t.Fatalf("internal error logged %d times:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), reqID) || !strings.Contains(logs.String(), "secret internal detail") {
		t.Fatalf("log lacks the request id or the cause:\n%s", logs)
	}

	// readyz follows the store.
	down := newStaticWith(t, failingPing{m}, nil)
	r = down.do(req{method: "GET", path: "/readyz", noAuth: true})
	r.expect(503, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("readyz 503 without Retry-After")
	}
}

// TestLogsHoldNoSecrets: nothing a caller sends as a credential reaches the
// log.
func TestLogsHoldNoSecrets(t *testing.T) {
	m := mock.New(mock.WithFastHashing())
	logs := &syncBuffer{}
	h := newStaticWith(t, m, logs)
	h.mustAccount("jane", "jane@example.com")
	h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("jane:wrong password here")}).expect(400)
	h.do(req{method: "GET", path: "/v1/applications/" + h.appID, auth: basic(h.keyID, "gks_wrongsecretvalue")}).expect(401)
	h.get(h.appPath("accounts") + "?email=jane@example.com").expect(200)
	for _, secret := range []string{h.secret, "gks_wrongsecretvalue", "wrong password here", b64("jane:wrong password here"), "jane@example.com"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs.String(), `"reason":"wrong_password"`) {
		t.Fatalf("the log lacks the failure reason:\n%s", logs)
	}
}

// TestHrefsFromHost: hrefs are absolute and start with the request's Host,
// or with Config.BaseURL when set.
func TestHrefsFromHost(t *testing.T) {
	h := newStatic(t)
	r := h.get("/v1/applications/" + h.appID).expect(200)
	if got, want := r.Str("href"), testBase+"/v1/applications/"+h.appID; got != want {
		t.Fatalf("href %q, want %q", got, want)
	}
	r = h.do(req{method: "GET", path: "/v1/tenants/current"}).expect(http.StatusFound)
	if got := r.Header.Get("Location"); got != testBase+"/v1/tenants/"+directory.TenantID {
		t.Fatalf("Location %q", got)
	}

	m := mock.New(mock.WithFastHashing())
	h2 := &harness{t: t, p: m, appID: "app1", app: "a", keyID: "gk_" + ids.New(), secret: "s"}
	h2.e = directory.New(directory.Config{BaseURL: "https://id.example.com/"},
		directory.StaticTenant(directory.Application{ID: "app1", Name: "a"}, m, h2.keyID, h2.secret), nil)
	r = h2.get("/v1/applications/app1").expect(200)
	if got := r.Str("href"); got != "https://id.example.com/v1/applications/app1" {
		t.Fatalf("href with BaseURL: %q", got)
	}
}

// TestUnknownQueryParameterEveryRoute: on every application-level route, a
// query parameter the route does not know is a 400 naming it, before
// anything is done: ignoring it would answer more, or other, than was
// asked.
func TestUnknownQueryParameterEveryRoute(t *testing.T) {
	h := newStatic(t)
	checked := 0
	for _, rt := range h.e.Routes() {
		path, ok := strings.CutPrefix(rt.Path, "/v1/applications/:appId")
		if !ok || strings.Contains(path, ":") {
			continue
		}
		r := h.do(req{method: rt.Method, path: h.appPath(strings.TrimPrefix(path, "/")) + "?zzUnknown=1", body: "{}"})
		if r.Code != 400 || r.Str("field") != "zzUnknown" {
			t.Errorf("%s %s?zzUnknown=1: %d %s", rt.Method, rt.Path, r.Code, r.Body)
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("checked %d routes; the route table has moved", checked)
	}
}
