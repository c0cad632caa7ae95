package main

// Secrets and transport, end to end on the built binary: no credential in
// any log line at debug level, the remote provider over HTTPS only (or to
// loopback), and the security headers on every answer of both servers.

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// remoteStack is a directory process and an API process on it (remote
// provider), both with extra environment.
type remoteStack struct {
	dir               string
	dirEnv, apiEnv    []string
	directory, api    *process
	adminID, adminKey string
	directoryBase     string // http(s)://addr of the directory
	crashed           []*process
}

func startRemoteStack(t *testing.T, dirEnv, apiEnv []string, scheme string) *remoteStack {
	t.Helper()
	s := &remoteStack{dir: t.TempDir()}
	s.dirEnv = append([]string{"GATEHOUSE_DIRECTORY_DATABASE=" + filepath.Join(s.dir, "directory.db")}, dirEnv...)
	out := runBinary(t, s.dir, []string{"directory", "bootstrap", "--application", "myapp"}, s.dirEnv...)
	s.adminID, s.adminKey = parseBootstrap(t, out)
	s.directory = startBinary(t, s.dir, []string{"directory", "serve"}, s.dirEnv...)
	s.directoryBase = scheme + "://" + s.directory.addr
	s.apiEnv = append(append([]string{
		"GATEHOUSE_IDENTITY_PROVIDER=remote",
		"GATEHOUSE_IDENTITY_REMOTE_URL=" + s.directoryBase,
		"GATEHOUSE_APPLICATION=myapp",
	}, strings.Split(strings.TrimSpace(out), "\n")...), apiEnv...)
	s.api = startBinary(t, s.dir, []string{"serve"}, s.apiEnv...)
	return s
}

// restartDirectory kills the directory (as a crash would) and starts it
// again on the same database and address.
func (s *remoteStack) restartDirectory(t *testing.T, between func()) {
	t.Helper()
	s.directory.kill(t)
	s.crashed = append(s.crashed, s.directory)
	if between != nil {
		between()
	}
	s.directory = startBinary(t, s.dir, []string{"directory", "serve"}, append(s.dirEnv, "GATEHOUSE_DIRECTORY_ADDR="+s.directory.addr)...)
}

// waitReady polls the API's /readyz until it answers 200: after an outage,
// the remote provider's circuit breaker may hold calls back for its
// cool-down, and readiness is what a load balancer would wait for.
func waitReady(t *testing.T, api *process) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a := api.do(t, call{path: "/readyz"})
		if a.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API is not ready 20 s after the directory came back: %d %s", a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNoSecretInDebugLogs runs the walk-through, failures included
// (wrong passwords, unknown users, bad and unknown API keys, bad and
// revoked tokens, malformed credentials, weak passwords, failed OAuth
// grants, a wrong admin key, an outage of the directory), with both
// processes logging at debug level, and searches every log line for every
// password, key secret, token and Authorization value used.
func TestNoSecretInDebugLogs(t *testing.T) {
	debug := []string{"GATEHOUSE_LOG_LEVEL=debug", "GATEHOUSE_LOG_FORMAT=json"}
	s := startRemoteStack(t, debug, debug, "http")
	api := s.api
	w := walkthrough(t, api)

	secrets := append([]string{}, w.secrets...)
	auths := []string{w.miguel, w.key, "Bearer " + w.tok, "Bearer " + w.access}
	fail := func(what string, c call, status int) {
		t.Helper()
		if c.auth != "" {
			auths = append(auths, c.auth)
		}
		expectStatus(t, what, api.do(t, c), status)
	}
	wrongPasswords := []string{"wrong-password-1 with spaces", "Wrong:Password:With:Colons", "pässwörd-ünicode-wrong"}
	for _, pw := range wrongPasswords {
		secrets = append(secrets, pw)
		fail("wrong password", call{path: "/api/resource", auth: basicAuth("miguel", pw)}, 401)
		fail("unknown user", call{path: "/api/resource", auth: basicAuth("nobody-"+pw, pw)}, 401)
	}
	keyID, _, _ := strings.Cut(mustDecodeBasic(t, w.key), ":")
	badSecret := "gks_" + strings.Repeat("W", 43)
	secrets = append(secrets, badSecret)
	fail("wrong key secret", call{path: "/api/resource", auth: basicAuth(keyID, badSecret)}, 401)
	fail("unknown key", call{path: "/api/resource", auth: basicAuth("gk_unknownunknownunknown1", badSecret)}, 401)
	fail("bad bearer", call{path: "/api/resource", auth: "Bearer " + w.tok[:len(w.tok)-4] + "AAAA"}, 401)
	fail("garbage bearer", call{path: "/api/resource", auth: "Bearer not-a-token-secret-garbage"}, 401)
	fail("no colon", call{path: "/api/resource", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolonsecretvalue"))}, 401)
	secrets = append(secrets, "nocolonsecretvalue", "not-a-token-secret-garbage")
	fail("revoked token in Basic", call{path: "/api/resource", auth: basicAuth(w.access, "x")}, 401)
	weak := "short"
	fail("weak password", call{method: "POST", path: "/api/users", contentType: "application/json",
		body: fmt.Sprintf(`{"username":"weakling","password":%q}`, weak+"-pw")}, 400)
	secrets = append(secrets, weak+"-pw")
	grantPw := "oauth-grant-wrong-password"
	secrets = append(secrets, grantPw)
	fail("password grant, wrong password", call{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"grant_type": {"password"}, "username": {"miguel"}, "password": {grantPw}}.Encode()}, 400)
	a := api.do(t, call{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"grant_type": {"password"}, "username": {"miguel"}, "password": {w.password}}.Encode()})
	expectStatus(t, "password grant", a, 200)
	secrets = append(secrets, jsonField(t, a.body, "access_token"))
	fail("client credentials, wrong secret", call{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"grant_type": {"client_credentials"}, "client_id": {keyID}, "client_secret": {badSecret}}.Encode()}, 401)

	// The directory itself: a wrong admin key, and a failed login attempt.
	dc := &dirClient{base: s.directoryBase, auth: basicAuth(s.adminID, s.adminKey+"-wrong"), http: &http.Client{Timeout: 10 * time.Second}}
	secrets = append(secrets, s.adminKey)
	auths = append(auths, dc.auth, basicAuth(s.adminID, s.adminKey))
	if st, body, err := dc.do("GET", wire.ApplicationsPath, ""); err != nil || st != 401 {
		t.Fatalf("wrong admin key: %d %v %s", st, err, body)
	}
	dc.auth = basicAuth(s.adminID, s.adminKey)
	appID := findApplication(t, dc, "myapp")
	attemptPw := "direct-attempt-wrong-password"
	secrets = append(secrets, attemptPw)
	value := base64.StdEncoding.EncodeToString([]byte("miguel:" + attemptPw))
	auths = append(auths, value)
	if st, body, err := dc.do("POST", wire.ApplicationPath(appID, "loginAttempts")+"?expand=account", fmt.Sprintf(`{"type":"basic","value":%q}`, value)); err != nil || st != 400 {
		t.Fatalf("wrong password at the directory: %d %v %s", st, err, body)
	}

	// An outage: the remote provider's failures are logged (at debug and
	// warn), and must not carry what the user sent.
	outagePw := "outage-time-password"
	secrets = append(secrets, outagePw)
	s.restartDirectory(t, func() {
		fail("login during the outage", call{path: "/api/resource", auth: basicAuth("miguel", outagePw)}, 503)
		fail("unseen key during the outage", call{path: "/api/resource", auth: basicAuth(keyID, badSecret+"x")}, 503)
	})
	waitReady(t, api)
	expectStatus(t, "after the outage", api.do(t, call{path: "/api/resource", auth: w.miguel}), 200)

	api.stop(t)
	s.directory.stop(t)

	// Everything that could leak: secrets, tokens, their signatures alone,
	// the Authorization values and their base64 credentials.
	needles := map[string]string{}
	for _, v := range secrets {
		needles[v] = "a secret"
		if parts := strings.Split(v, "."); len(parts) == 3 {
			needles[parts[2]] = "a token's signature"
		}
	}
	for _, v := range auths {
		needles[v] = "an Authorization value"
		if _, cred, ok := strings.Cut(v, " "); ok {
			needles[cred] = "an Authorization credential"
		}
	}
	header := regexp.MustCompile(`(?i)"(authorization|password|secret|api_key_secret|token|access_token|client_secret)"\s*:\s*"[^"]`)
	lines, debugLines := 0, 0
	for _, p := range append([]*process{api, s.directory}, s.crashed...) {
		logs := p.logs.String()
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			lines++
			if strings.Contains(line, `"level":"DEBUG"`) {
				debugLines++
			}
			for needle, what := range needles {
				if len(needle) >= 6 && strings.Contains(line, needle) {
					t.Errorf("%s reached the log (%s): %q", what, needle[:4]+"…", line)
				}
			}
			if header.MatchString(line) {
				t.Errorf("a credential field in the log: %q", line)
			}
		}
	}
	if debugLines == 0 {
		t.Fatal("no debug line was logged: the test did not run at debug level")
	}
	t.Logf("%d log lines (%d at debug) from %d processes searched for %d values", lines, debugLines, 2+len(s.crashed), len(needles))
}

func mustDecodeBasic(t *testing.T, h string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRemoteOverHTTPS: the directory serves HTTPS with a certificate of
// its own (directory.tls), the API server trusts it (SSL_CERT_FILE here;
// a private CA in production) and the whole walk-through runs over it.
// Without trusting the certificate, or with a plain-HTTP URL to a host
// that is not loopback, the API server refuses to start.
func TestRemoteOverHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	s := startRemoteStack(t,
		[]string{"GATEHOUSE_DIRECTORY_TLS_CERT_FILE=" + certFile, "GATEHOUSE_DIRECTORY_TLS_KEY_FILE=" + keyFile},
		[]string{"SSL_CERT_FILE=" + certFile}, "https")
	if !strings.Contains(s.directory.logs.String(), `"scheme":"https"`) {
		t.Fatalf("the directory does not serve HTTPS:\n%s", s.directory.logs)
	}
	w := walkthrough(t, s.api)
	checkKept(t, s.api, w)
	if !strings.Contains(s.directory.logs.String(), "loginAttempts") {
		t.Fatalf("the walk-through did not go through the HTTPS directory:\n%s", s.directory.logs)
	}
	// Plain HTTP to the HTTPS port does not work either.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(s.directoryBase + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("directory over HTTPS: %v", err)
	}
	resp.Body.Close()

	// The API server without the certificate trusted: start-up fails on
	// the certificate, naming the URL.
	noTrust := withoutPrefix(s.apiEnv, "SSL_CERT_FILE=")
	out := runBinaryFails(t, s.dir, []string{"serve"}, append(noTrust, "SSL_CERT_FILE="+filepath.Join(t.TempDir(), "none.pem"))...)
	if !strings.Contains(out, "certificate") || !strings.Contains(out, s.directoryBase) {
		t.Errorf("untrusted directory certificate: %s", out)
	}
	// Plain HTTP to a host that is not loopback is refused before any
	// connection is tried, naming the key and the way out.
	env := append(withoutPrefix(s.apiEnv, "GATEHOUSE_IDENTITY_REMOTE_URL="), "GATEHOUSE_IDENTITY_REMOTE_URL=http://directory.example.com:8080")
	out = runBinaryFails(t, s.dir, []string{"serve"}, env...)
	if !strings.Contains(out, "identity.remote.url") || !strings.Contains(out, "insecure_http") {
		t.Errorf("plain HTTP to a remote host: %s", out)
	}
	if strings.Contains(out, s.adminKey) {
		t.Error("the start-up error shows the admin key")
	}
}

func withoutPrefix(env []string, prefix string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// runBinaryFails runs gatehouse to completion, expects it to fail, and
// returns its standard error.
func runBinaryFails(t *testing.T, dir string, args []string, extraEnv ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = binaryEnv(dir, extraEnv)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("gatehouse %s succeeded; want a failure", strings.Join(args, " "))
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("gatehouse %s did not fail within 60 s:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stderr.String()
}

// TestSecurityHeadersEndToEnd: every answer of both real servers, success
// or error, carries X-Content-Type-Options: nosniff and Cache-Control:
// no-store, and in particular every answer that holds a secret or a token.
func TestSecurityHeadersEndToEnd(t *testing.T) {
	s := startRemoteStack(t, nil, nil, "http")
	api := s.api
	const pw = "python is great"
	miguel := basicAuth("miguel", pw)
	checked := 0
	check := func(what string, h http.Header, status int) {
		t.Helper()
		checked++
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s (%d): X-Content-Type-Options %q, Cache-Control %q", what, status,
				h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
		}
	}
	doAPI := func(what string, c call) answer {
		t.Helper()
		a := api.do(t, c)
		check("API "+what, a.header, a.status)
		return a
	}
	a := doAPI("register", call{method: "POST", path: "/api/users", contentType: "application/json", body: `{"username":"miguel","password":"python is great"}`})
	expectStatus(t, "register", a, 201)
	id := jsonField(t, a.body, "id")
	tok := jsonField(t, doAPI("token", call{path: "/api/token", auth: miguel}).body, "token")
	key := doAPI("key creation", call{method: "POST", path: "/api/me/api-keys", auth: miguel, contentType: "application/json", body: `{"name":"k"}`})
	expectStatus(t, "key creation", key, 201)
	keyAuth := basicAuth(jsonField(t, key.body, "id"), jsonField(t, key.body, "secret"))
	for _, c := range []call{
		{path: "/healthz"}, {path: "/readyz"}, {path: "/"}, {path: "/", auth: miguel}, {path: "/no/such/route"},
		{method: "DELETE", path: "/healthz"}, {path: "/api/resource", auth: basicAuth("miguel", "wrong")},
		{path: "/api/resource", auth: "Bearer " + tok}, {path: "/api/me", auth: keyAuth}, {path: "/api/users/" + id, auth: miguel},
		{path: "/api/me/custom-data", auth: miguel}, {path: "/api/me/api-keys", auth: miguel},
		{method: "POST", path: "/oauth/token", auth: keyAuth, contentType: "application/x-www-form-urlencoded", body: "grant_type=client_credentials"},
		{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=password&username=miguel&password=wrong"},
		{method: "POST", path: "/api/users", contentType: "application/json", body: `{"username":`},
	} {
		doAPI(c.method+" "+c.path, c)
	}

	// The directory, with its admin key.
	dc := &dirClient{base: s.directoryBase, auth: basicAuth(s.adminID, s.adminKey), http: &http.Client{Timeout: 10 * time.Second}}
	appID := findApplication(t, dc, "myapp")
	doDir := func(what, method, path, body, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.directoryBase+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := dc.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		check("directory "+what, resp.Header, resp.StatusCode)
		return resp.StatusCode, string(b)
	}
	attempt := fmt.Sprintf(`{"type":"basic","value":%q}`, base64.StdEncoding.EncodeToString([]byte("miguel:"+pw)))
	for _, r := range []struct{ what, method, path, body, auth string }{
		{"healthz", "GET", "/healthz", "", ""},
		{"readyz", "GET", "/readyz", "", ""},
		{"openapi", "GET", "/v1/openapi.json", "", ""},
		{"no key", "GET", wire.ApplicationsPath, "", ""},
		{"applications", "GET", wire.ApplicationsPath, "", dc.auth},
		{"unknown route", "GET", "/v1/nothing", "", dc.auth},
		{"login attempt", "POST", wire.ApplicationPath(appID, "loginAttempts") + "?expand=account", attempt, dc.auth},
		{"failed login attempt", "POST", wire.ApplicationPath(appID, "loginAttempts"), `{"type":"basic","value":"bm9wZTpub3Bl"}`, dc.auth},
		{"account", "GET", wire.AccountPath(id, "") + "?expand=customData", "", dc.auth},
		{"key creation", "POST", wire.AccountPath(id, "apiKeys"), "", dc.auth},
		{"token issuance", "POST", wire.AccountPath(id, "accessTokens"), "", dc.auth},
		{"jwks", "GET", wire.ApplicationPath(appID, "jwks"), "", dc.auth},
		{"bad JSON", "POST", wire.ApplicationPath(appID, "accounts"), `{"username":`, dc.auth},
	} {
		doDir(r.what, r.method, r.path, r.body, r.auth)
	}
	t.Logf("%d answers checked", checked)
}
