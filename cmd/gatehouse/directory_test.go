package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// directoryEnv configures the directory on a fresh SQLite file.
func directoryEnv(t *testing.T) env {
	return env{"GATEHOUSE_DIRECTORY_DATABASE": filepath.Join(t.TempDir(), "directory.db")}
}

// bootstrap runs gatehouse directory bootstrap for app and returns the key
// it printed, checking that stdout holds exactly the two variable lines.
func bootstrap(t *testing.T, e env, app string) (id, secret string) {
	t.Helper()
	r := mustRun(t, e, "", "directory", "bootstrap", "--application", app)
	return parseBootstrap(t, r.stdout)
}

// parseBootstrap parses the output of gatehouse directory bootstrap.
func parseBootstrap(t *testing.T, stdout string) (id, secret string) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	if len(lines) != 3 || lines[2] != "" {
		t.Fatalf("bootstrap printed %q, want exactly two lines", stdout)
	}
	id, ok1 := strings.CutPrefix(lines[0], "GATEHOUSE_IDENTITY_REMOTE_API_KEY_ID=")
	secret, ok2 := strings.CutPrefix(lines[1], "GATEHOUSE_IDENTITY_REMOTE_API_KEY_SECRET=")
	if !ok1 || !ok2 || id == "" || secret == "" || strings.ContainsAny(id+secret, " \t'\"$") {
		t.Fatalf("bootstrap printed %q, want GATEHOUSE_IDENTITY_REMOTE_API_KEY_ID=… and …_SECRET=…, usable as an env file", stdout)
	}
	return id, secret
}

func TestDirectoryBootstrap(t *testing.T) {
	e := directoryEnv(t)
	r := mustRun(t, e, "", "directory", "bootstrap", "--application", "shop")
	id1, secret1 := parseBootstrap(t, r.stdout)
	if !strings.HasPrefix(id1, "gk_") {
		t.Errorf("key id %q lacks the gk_ prefix", id1)
	}
	if !strings.Contains(r.stderr, "shown only now") || strings.Contains(r.stderr, secret1) {
		t.Errorf("stderr %q: want a note that the secret is shown only now, without the secret", r.stderr)
	}

	// Again: another key, the same application.
	id2, secret2 := bootstrap(t, e, "shop")
	if id2 == id1 || secret2 == secret1 {
		t.Errorf("second bootstrap returned the same key")
	}
	// Without --application, the application key names it.
	e["GATEHOUSE_APPLICATION"] = "blog"
	bootstrap(t, e, "shop")
	r = mustRun(t, e, "", "directory", "bootstrap")
	parseBootstrap(t, r.stdout)

	db, err := sqlstore.Open(t.Context(), e["GATEHOUSE_DIRECTORY_DATABASE"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	apps, err := db.Applications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "blog,shop" {
		t.Errorf("applications %v, want [blog shop]", names)
	}

	// A bad name is refused before the database is touched.
	r = gatehouse(t, e, "", "directory", "bootstrap", "--application", "a\nb")
	if r.err == nil || !strings.Contains(r.err.Error(), "config: application:") || r.stdout != "" {
		t.Errorf("bad name: err %v, stdout %q", r.err, r.stdout)
	}
}

func TestDirectoryServe(t *testing.T) {
	e := directoryEnv(t)
	id1, secret1 := bootstrap(t, e, "shop")
	id2, secret2 := bootstrap(t, e, "shop")
	addr, logs, stop := startServer(t, e, "directory", "serve", "--addr", "127.0.0.1:0")
	var listening struct{ Msg, Addr, Component string }
	for _, line := range strings.Split(logs.String(), "\n") {
		if json.Unmarshal([]byte(line), &listening) == nil && listening.Msg == "listening" {
			break
		}
	}
	if listening.Component != "directory" || listening.Addr != addr {
		t.Errorf("listening line %+v, want component directory", listening)
	}

	base := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second}
	if resp, body := get(t, c, base+"/healthz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, c, base+"/readyz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %d %s", resp.StatusCode, body)
	}

	find := base + wire.ApplicationsPath + "?name=" + url.QueryEscape("shop")
	var hrefs []string
	for _, key := range [][2]string{{id1, secret1}, {id2, secret2}} {
		resp, body := get(t, c, find, key[0], key[1])
		var apps wire.Collection[wire.Application]
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &apps) != nil || len(apps.Items) != 1 || apps.Items[0].Name != "shop" {
			t.Fatalf("GET %s with a bootstrapped key: %d %s, want 200 and one item", wire.ApplicationsPath, resp.StatusCode, body)
		}
		hrefs = append(hrefs, apps.Items[0].Href)
	}
	if hrefs[0] != hrefs[1] || !strings.HasPrefix(hrefs[0], base+"/v1/applications/") {
		t.Errorf("the two keys see %v, want one application under %s", hrefs, base)
	}

	for _, tt := range []struct{ what, user, password string }{
		{"no credentials", "", ""},
		{"a wrong secret", id1, secret1 + "x"},
		{"an unknown key", "gk_unknown", secret1},
	} {
		resp, body := get(t, c, find, tt.user, tt.password)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: %d (WWW-Authenticate %q) %s, want 401 with a Basic challenge", tt.what, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}

	if err := stop(); err != nil {
		t.Errorf("directory serve returned %v after its context was cancelled", err)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", out)
	}
	for _, s := range []string{secret1, secret2} {
		if strings.Contains(out, s) {
			t.Errorf("an admin secret was logged:\n%s", out)
		}
	}
}

func TestDirectoryServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	e := directoryEnv(t)
	e["GATEHOUSE_DIRECTORY_TLS_CERT_FILE"] = certFile
	e["GATEHOUSE_DIRECTORY_TLS_KEY_FILE"] = keyFile
	e["GATEHOUSE_DIRECTORY_ADDR"] = "127.0.0.1:0"
	addr, logs, stop := startServer(t, e, "directory", "serve")
	if !strings.Contains(logs.String(), `"scheme":"https"`) {
		t.Errorf("listening line does not say https:\n%s", logs.String())
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, body := get(t, c, "https://"+addr+"/healthz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET https /healthz: %d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}

	// A missing certificate stops start-up, naming the keys.
	e["GATEHOUSE_DIRECTORY_TLS_CERT_FILE"] = filepath.Join(t.TempDir(), "missing.pem")
	r := gatehouse(t, e, "", "directory", "serve")
	if r.err == nil || !strings.Contains(r.err.Error(), "directory.tls.cert_file") {
		t.Errorf("missing certificate: %v", r.err)
	}
}

// remoteEnv configures an API server with the remote provider, for the
// application app, on the directory at addr with the admin key id:secret.
func remoteEnv(addr, app, id, secret string) env {
	return env{
		"GATEHOUSE_IDENTITY_PROVIDER":              "remote",
		"GATEHOUSE_IDENTITY_REMOTE_URL":            "http://" + addr,
		"GATEHOUSE_IDENTITY_REMOTE_API_KEY_ID":     id,
		"GATEHOUSE_IDENTITY_REMOTE_API_KEY_SECRET": secret,
		"GATEHOUSE_APPLICATION":                    app,
	}
}

// TestServeRemote runs the API with the remote provider against an
// in-process directory.
func TestServeRemote(t *testing.T) {
	de := directoryEnv(t)
	id, secret := bootstrap(t, de, "shop")
	daddr, dlogs, _ := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")

	e := remoteEnv(daddr, "shop", id, secret)
	addr, logs, stop := startServe(t, e, "--addr", "127.0.0.1:0")
	if !strings.Contains(logs.String(), `"provider":"remote"`) {
		t.Errorf("listening line does not name the remote provider:\n%s", logs.String())
	}
	api := &process{base: "http://" + addr}
	const password = "correct horse battery"
	alice := basicAuth("alice", password)

	expectStatus(t, "readyz", api.do(t, call{path: "/readyz"}), 200)
	expectStatus(t, "register", api.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"alice","password":"` + password + `"}`}), 201, `"username":"alice"`)
	expectStatus(t, "basic", api.do(t, call{path: "/", auth: alice}), 200, `"username":"alice"`)
	expectStatus(t, "wrong password", api.do(t, call{path: "/", auth: basicAuth("alice", "wrong password!")}), 401)
	a := api.do(t, call{path: "/api/token", auth: alice})
	expectStatus(t, "token", a, 200, `"duration":600`)
	tok := jsonField(t, a.body, "token")
	expectStatus(t, "bearer", api.do(t, call{path: "/api/resource", auth: "Bearer " + tok}), 200, `"Hello, alice!"`)

	// The admin commands work through the directory too.
	r := mustRun(t, e, "", "accounts", "list", "-o", "json")
	if !strings.Contains(r.stdout, `"alice"`) {
		t.Errorf("accounts list through the directory: %s", r.stdout)
	}

	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	for _, out := range []string{logs.String(), dlogs.String()} {
		if strings.Contains(out, password) || strings.Contains(out, secret) || strings.Contains(out, tok) {
			t.Errorf("a secret was logged:\n%s", out)
		}
	}
}

// TestServeRemoteStartupErrors checks that an API server that cannot use
// the directory refuses to start, saying why.
func TestServeRemoteStartupErrors(t *testing.T) {
	de := directoryEnv(t)
	id, secret := bootstrap(t, de, "shop")
	daddr, _, _ := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")

	// An application the key does not see (here: that does not exist).
	r := gatehouse(t, remoteEnv(daddr, "blog", id, secret), "", "serve", "--addr", "127.0.0.1:0")
	if r.err == nil || !strings.Contains(r.err.Error(), `application "blog"`) || !strings.Contains(r.err.Error(), "http://"+daddr) {
		t.Errorf("unknown application: err = %v, want one naming the application and the directory", r.err)
	}

	// A bad admin key.
	r = gatehouse(t, remoteEnv(daddr, "shop", id, "gks_wrong"), "", "serve", "--addr", "127.0.0.1:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "http://"+daddr) {
		t.Errorf("bad admin key: err = %v", r.err)
	}
	if r.err != nil && strings.Contains(r.err.Error(), "gks_wrong") {
		t.Errorf("the error shows the secret: %v", r.err)
	}

	// No directory there.
	down := freeAddr(t)
	e := remoteEnv(down, "shop", id, secret)
	e["GATEHOUSE_IDENTITY_REMOTE_RETRIES"] = "0"
	r = gatehouse(t, e, "", "serve", "--addr", "127.0.0.1:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "identity.remote.url http://"+down) {
		t.Errorf("directory down: err = %v", r.err)
	}
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPurgeLoop checks that the directory's purge deletes the revocations of
// expired tokens at once, keeps live ones, and stops with its context.
func TestPurgeLoop(t *testing.T) {
	ctx := t.Context()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.Provider(ctx, "shop", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RevokeToken(ctx, "dead", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := p.RevokeToken(ctx, "live", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		purgeLoop(pctx, db, newLogger(LogConfig{Level: "info", Format: "json"}, logs))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"what":"expired revocations","count":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no purge within 10 s:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("purgeLoop did not stop with its context")
	}
	if revoked, err := p.TokenRevoked(ctx, "live"); err != nil || !revoked {
		t.Errorf("live revocation: %v, %v", revoked, err)
	}
	if n, err := db.PurgeRevokedTokens(ctx, time.Now()); err != nil || n != 0 {
		t.Errorf("left %d expired revocations (%v)", n, err)
	}
}

// TestDirectoryReplicasPostgres runs two directory replicas on one
// PostgreSQL database (GATEHOUSE_TEST_POSTGRES; mandatory when CI=true), as
// the README describes: bootstrapped once, an account made through one
// replica logs in through the other.
func TestDirectoryReplicasPostgres(t *testing.T) {
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GATEHOUSE_TEST_POSTGRES is not set: CI must run the PostgreSQL tests")
		}
		t.Skip("PostgreSQL tests skipped: set GATEHOUSE_TEST_POSTGRES")
	}
	// The database is shared with other tests: a name of our own, deleted
	// with its records at the end.
	app := "cmd-replicas-" + strings.ToLower(ids.New())
	t.Cleanup(func() {
		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if err := db.DeleteApplication(context.Background(), app); err != nil {
			t.Error(err)
		}
	})

	de := env{"GATEHOUSE_DIRECTORY_DATABASE": dsn}
	id, secret := bootstrap(t, de, app)
	var apis []*process
	for range 2 {
		daddr, _, _ := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")
		addr, _, _ := startServe(t, remoteEnv(daddr, app, id, secret), "--addr", "127.0.0.1:0")
		apis = append(apis, &process{base: "http://" + addr})
	}
	expectStatus(t, "register through replica 1", apis[0].do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"alice","password":"correct horse battery"}`}), 201)
	expectStatus(t, "login through replica 2", apis[1].do(t, call{path: "/", auth: basicAuth("alice", "correct horse battery")}), 200, `"username":"alice"`)
}
