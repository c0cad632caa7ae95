package directory_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// testHost is the Host of every test request; hrefs must start with it.
const (
	testHost = "dir.test:8080"
	testBase = "http://" + testHost
)

// harness is a directory server under test, with the admin key of its
// application and the application's Provider (to arrange state directly).
type harness struct {
	t      *testing.T
	e      *echo.Echo
	p      identity.Provider
	appID  string
	app    string // name
	keyID  string
	secret string
	// other is a second application of the same directory, with its own
	// key (nil for the static tenant, which serves one application).
	other *harness
	db    *sqlstore.DB
}

// postgresEnv names the PostgreSQL test database, as in sqlstore's tests.
const postgresEnv = "GATEHOUSE_TEST_POSTGRES"

// tenants runs fn on every kind of tenant: StaticTenant over the mock, and
// SQLTenant over SQLite (always) and PostgreSQL (when
// GATEHOUSE_TEST_POSTGRES is set; mandatory when CI=true).
func tenants(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	t.Run("static", func(t *testing.T) { fn(t, newStatic(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQL(t, filepath.Join(t.TempDir(), "dir.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, newSQL(t, postgresDSN(t))) })
}

// sqlTenants is tenants without the static tenant: for what needs two
// applications.
func sqlTenants(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQL(t, filepath.Join(t.TempDir(), "dir.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, newSQL(t, postgresDSN(t))) })
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", postgresEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s", postgresEnv)
	}
	return dsn
}

func newStatic(t *testing.T) *harness {
	p := mock.New(mock.WithFastHashing())
	h := &harness{t: t, p: p, appID: ids.New(), app: "static-app", keyID: "gk_" + ids.New(), secret: "gks_" + ids.RandomString(43)}
	tenant := directory.StaticTenant(directory.Application{ID: h.appID, Name: h.app}, p, h.keyID, h.secret)
	h.e = directory.New(directory.Config{}, tenant, nil)
	return h
}

func newSQL(t *testing.T, dsn string) *harness {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	opts := store.Options{Hasher: password.NewHasher(password.InsecureFastParams)}
	e := directory.New(directory.Config{}, directory.SQLTenant(db, opts), nil)
	mk := func() *harness {
		name := "dir-test-" + strings.ToLower(ids.New())
		a, err := db.Application(ctx, name, true)
		if err != nil {
			t.Fatalf("Application: %v", err)
		}
		t.Cleanup(func() { _ = db.DeleteApplication(context.Background(), name) })
		id, secret, err := db.CreateAdminKey(ctx, a.ID)
		if err != nil {
			t.Fatalf("CreateAdminKey: %v", err)
		}
		p, err := db.Provider(ctx, name, opts)
		if err != nil {
			t.Fatalf("Provider: %v", err)
		}
		return &harness{t: t, e: e, p: p, appID: a.ID, app: name, keyID: id, secret: secret, db: db}
	}
	h := mk()
	h.other = mk()
	return h
}

// req is one request to send.
type req struct {
	method, path string
	body         any // string or []byte sent as is; anything else as JSON
	contentType  string
	header       map[string]string
	noAuth       bool
	auth         string // an Authorization header instead of the key's
}

// resp is what came back.
type resp struct {
	t      *testing.T
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic object.
func (r *resp) JSON() map[string]any {
	r.t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		r.t.Fatalf("body is not a JSON object (%v): %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r *resp) Decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
}

// Str returns a string member of the body.
func (r *resp) Str(name string) string {
	r.t.Helper()
	v, _ := r.JSON()[name].(string)
	return v
}

// Num returns a numeric member of the body.
func (r *resp) Num(name string) int64 {
	r.t.Helper()
	n, _ := r.JSON()[name].(json.Number)
	v, _ := n.Int64()
	return v
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// do sends rq with the harness's admin key.
func (h *harness) do(rq req) *resp {
	h.t.Helper()
	var body io.Reader
	ct := rq.contentType
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
		body = bytes.NewReader(enc)
		if ct == "" {
			ct = "application/json"
		}
	}
	if body != nil && ct == "" {
		ct = "application/json"
	}
	if ct == "-" {
		ct = ""
	}
	r := httptest.NewRequest(rq.method, testBase+rq.path, body)
	r.Host = testHost
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	switch {
	case rq.auth != "":
		r.Header.Set("Authorization", rq.auth)
	case !rq.noAuth:
		r.Header.Set("Authorization", basic(h.keyID, h.secret))
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.e.ServeHTTP(w, r)
	return &resp{t: h.t, Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

func (h *harness) get(path string) *resp { h.t.Helper(); return h.do(req{method: "GET", path: path}) }
func (h *harness) post(path string, body any) *resp {
	h.t.Helper()
	return h.do(req{method: "POST", path: path, body: body})
}
func (h *harness) del(path string) *resp {
	h.t.Helper()
	return h.do(req{method: "DELETE", path: path})
}

// appPath is a path under the harness's application.
func (h *harness) appPath(sub string) string {
	if sub == "" {
		return "/v1/applications/" + h.appID
	}
	return "/v1/applications/" + h.appID + "/" + sub
}

// expect fails the test unless r has status code, and (for errors) the
// wire error code errCode.
func (r *resp) expect(code int, errCode ...string) *resp {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("status %d, want %d; body: %s", r.Code, code, r.Body)
	}
	if len(errCode) > 0 {
		if got := r.Str("error"); got != errCode[0] {
			r.t.Fatalf("error code %q, want %q; body: %s", got, errCode[0], r.Body)
		}
	}
	return r
}

// checkErrorShape checks every error body has the protocol's members and a
// request id matching the header.
func checkErrorShape(t *testing.T, r *resp) {
	t.Helper()
	m := r.JSON()
	for _, k := range []string{"status", "code", "message", "developerMessage", "moreInfo", "requestId", "error"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, r.Body)
		}
	}
	if st, _ := m["status"].(json.Number).Int64(); int(st) != r.Code {
		t.Fatalf("body status %d, HTTP status %d", st, r.Code)
	}
	id := r.Header.Get("Request-Id")
	if id == "" || m["requestId"] != id || r.Header.Get("Stormpath-Request-Id") != id {
		t.Fatalf("request id: header %q, Stormpath-Request-Id %q, body %v", id, r.Header.Get("Stormpath-Request-Id"), m["requestId"])
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// mustAccount creates an account directly in the Provider.
func (h *harness) mustAccount(username, email string) *identity.Account {
	h.t.Helper()
	a, err := h.p.CreateAccount(context.Background(), identity.AccountCreate{Username: username, Email: email, Password: "correct horse battery"})
	if err != nil {
		h.t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

// mustGroup creates a group directly in the Provider.
func (h *harness) mustGroup(name string) *identity.Group {
	h.t.Helper()
	g, err := h.p.CreateGroup(context.Background(), identity.GroupCreate{Name: name})
	if err != nil {
		h.t.Fatalf("CreateGroup: %v", err)
	}
	return g
}

// idOf returns the id at the end of an href.
func idOf(href string) string { return href[strings.LastIndexByte(href, '/')+1:] }
