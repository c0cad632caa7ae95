package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/remote"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// cores is the concurrency of KDF-bound scenarios: one client per core.
var cores = runtime.GOMAXPROCS(0)

const (
	benchUser     = "bench"
	benchPassword = "a long benchmark password"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// localBench starts, on loopback, the API on the embedded SQLite store with
// the real argon2id parameters, once with the credential cache (the
// default) and once without; a directory over the same store with API
// servers on the remote provider, with and without the cache; and the
// naive server.
func localBench(ctx context.Context, stderr io.Writer) (*bench, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	var servers []*httptest.Server
	closeAll := func() {
		for _, s := range servers {
			s.Close()
		}
		_ = os.RemoveAll(dir)
	}
	fail := func(err error) (*bench, error) { closeAll(); return nil, err }

	db, err := sqlstore.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return fail(err)
	}
	hasher := password.NewHasher(password.DefaultParams)
	local, err := db.Provider(ctx, "bench", store.Options{Hasher: hasher})
	if err != nil {
		return fail(err)
	}
	acc, err := local.CreateAccount(ctx, identity.AccountCreate{Username: benchUser, Password: benchPassword})
	if err != nil {
		return fail(err)
	}
	key, err := local.CreateAPIKey(ctx, acc.ID, "bench")
	if err != nil {
		return fail(err)
	}
	tok, err := local.IssueToken(ctx, acc.ID, identity.TokenRequest{TTL: time.Hour})
	if err != nil {
		return fail(err)
	}

	start := func(h http.Handler) string {
		s := httptest.NewServer(h)
		servers = append(servers, s)
		return s.URL
	}
	cached := start(api.New(api.Config{}, cache.New(local, cache.Config{}), nil))
	uncached := start(api.New(api.Config{}, local, nil))
	naive, err := naiveServer()
	if err != nil {
		return fail(err)
	}
	naiveURL := start(naive)

	// The remote provider: a directory over the same database, and an API
	// server that delegates to it, warm (with the cache) and cold (without).
	app, err := db.Application(ctx, "bench", false)
	if err != nil {
		return fail(err)
	}
	adminID, adminSecret, err := db.CreateAdminKey(ctx, app.ID)
	if err != nil {
		return fail(err)
	}
	dirURL := start(directory.New(directory.Config{}, directory.SQLTenant(db, store.Options{Hasher: hasher}), nil))
	rp, err := remote.New(ctx, remote.Config{URL: dirURL, APIKeyID: adminID, APIKeySecret: adminSecret, Application: "bench"})
	if err != nil {
		return fail(err)
	}
	remoteWarm := start(api.New(api.Config{}, cache.New(rp, cache.Config{}), nil))
	remoteCold := start(api.New(api.Config{}, rp, nil))

	b := &bench{
		scenarios: []Scenario{
			{Name: baselineName, New: get(cached+"/healthz", ""), Want: 200},
			{Name: "2 basic password, warm", New: get(cached+"/api/resource", basic(benchUser, benchPassword)), Want: 200, Warm: true},
			{Name: "3 basic API key, warm", New: get(cached+"/api/resource", basic(key.ID, key.Secret)), Want: 200, Warm: true},
			{Name: "4 bearer token", New: get(cached+"/api/resource", "Bearer "+tok.Value), Want: 200, Warm: true},
			{Name: "5 token in basic username", New: get(cached+"/api/resource", basic(tok.Value, "x")), Want: 200, Warm: true},
			{Name: "6 basic password, cache off", New: get(uncached+"/api/resource", basic(benchUser, benchPassword)), Want: 200, Concurrency: cores},
			{Name: "7 remote provider, warm", New: get(remoteWarm+"/api/resource", basic(benchUser, benchPassword)), Want: 200, Warm: true},
			{Name: "7 remote provider, cold (no cache)", New: get(remoteCold+"/api/resource", basic(benchUser, benchPassword)), Want: 200, Concurrency: cores},
			{Name: naiveName, New: get(naiveURL+"/api/resource", basic(benchUser, benchPassword)), Want: 200, Concurrency: cores},
			// What the directory serves remote API servers at full load: at the
			// given concurrency, every request a login with the right password.
			{Name: loginAttemptsName, New: attempt(dirURL+wire.ApplicationPath(app.ID, "loginAttempts"), basic(adminID, adminSecret), benchUser, benchPassword), Want: 200},
		},
		extras: []extra{kdfRate("6 raw argon2id verify", hasher), kdfRate("9 raw argon2id verify", hasher)},
		close:  func() { rp.Close(); closeAll(); _ = db.Close() },
	}
	fmt.Fprintf(stderr, "servers: cached %s, uncached %s, naive %s\n", cached, uncached, naiveURL)
	return b, nil
}

const (
	loginAttemptsName = "9 directory login attempts"
	naiveName         = "8 naive: echo BasicAuth + bcrypt(10)"
)

// kdfRate is the extra measurement of the KDF alone: argon2id verifications
// per second with one goroutine per core, what a server that did nothing
// else could do.
func kdfRate(name string, hasher *password.Hasher) extra {
	return extra{name: name, run: func(o options) Result {
		hash, _ := hasher.Hash(benchPassword)
		r := rate(cores, o.duration, func() { _, _, _ = hasher.Verify(hash, benchPassword) })
		return Result{Name: name, RPS: r}
	}}
}

// attempt returns a Scenario's request maker for a directory attempt
// (loginAttempts or apiKeyAttempts) of first:second, sent with an admin
// key's Authorization.
func attempt(url, auth, first, second string) func() *http.Request {
	body, _ := json.Marshal(wire.Attempt{Type: "basic", Value: base64.StdEncoding.EncodeToString([]byte(first + ":" + second))})
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		return req
	}
}

// naiveServer is what a newcomer writes: Echo's BasicAuth middleware with a
// bcrypt comparison on every request.
func naiveServer() (http.Handler, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), 10)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.Use(middleware.BasicAuth(func(user, pass string, c echo.Context) (bool, error) {
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(benchUser)) == 1
		passOK := bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
		return userOK && passOK, nil
	}))
	e.GET("/api/resource", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"data": "Hello, " + benchUser + "!"})
	})
	return e, nil
}

// targetBench prepares the API scenarios against a running server: it
// registers a fresh account through the public API, makes it an API key
// and a token.
func targetBench(ctx context.Context, base string) (*bench, error) {
	user := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	body, _ := json.Marshal(map[string]string{"username": user, "password": benchPassword})
	if _, err := call(ctx, http.MethodPost, base+"/api/users", "", body, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	auth := basic(user, benchPassword)
	out, err := call(ctx, http.MethodPost, base+"/api/me/api-keys", auth, []byte(`{"name":"bench"}`), http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("create API key: %w", err)
	}
	var key struct{ ID, Secret string }
	if err := json.Unmarshal(out, &key); err != nil {
		return nil, err
	}
	out, err = call(ctx, http.MethodGet, base+"/api/token", auth, nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil {
		return nil, err
	}
	return &bench{
		scenarios: []Scenario{
			{Name: baselineName, New: get(base+"/healthz", ""), Want: 200},
			{Name: "2 basic password, warm", New: get(base+"/api/resource", auth), Want: 200, Warm: true},
			{Name: "3 basic API key, warm", New: get(base+"/api/resource", basic(key.ID, key.Secret)), Want: 200, Warm: true},
			{Name: "4 bearer token", New: get(base+"/api/resource", "Bearer "+tok.Token), Want: 200, Warm: true},
			{Name: "5 token in basic username", New: get(base+"/api/resource", basic(tok.Token, "x")), Want: 200, Warm: true},
		},
		close: func() {},
	}, nil
}

func call(ctx context.Context, method, url, auth string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, out)
	}
	return out, nil
}
