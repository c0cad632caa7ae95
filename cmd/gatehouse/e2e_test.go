package main

// End-to-end tests: they build the real binary, start it on a free port as
// an operator would, and talk to it over HTTP.

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/api"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds gatehouse once per test run, with the Dockerfile's flags.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// process is a running gatehouse server: serve or directory serve.
type process struct {
	cmd  *exec.Cmd
	addr string // 127.0.0.1:port
	base string // http://127.0.0.1:port
	logs *syncBuffer
	done chan error
}

// binaryEnv is the environment of every run of the binary: nothing from the
// test's own environment but PATH, and both servers on a free port. Later
// entries override earlier ones (os/exec keeps the last of duplicates).
func binaryEnv(dir string, extraEnv []string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"GATEHOUSE_SERVER_ADDR=127.0.0.1:0",
		"GATEHOUSE_DIRECTORY_ADDR=127.0.0.1:0",
	}, extraEnv...)
}

// startAPI runs `gatehouse serve` with the local provider and the database
// at db.
func startAPI(t *testing.T, dir, db string, extraEnv ...string) *process {
	t.Helper()
	return startBinary(t, dir, []string{"serve"}, append([]string{"GATEHOUSE_IDENTITY_LOCAL_DATABASE=" + db}, extraEnv...)...)
}

// startBinary runs gatehouse with args (serve, or directory serve) in dir
// (so no stray config.yaml is read), and waits for its listening line.
func startBinary(t *testing.T, dir string, args []string, extraEnv ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = binaryEnv(dir, extraEnv)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	what := "gatehouse " + strings.Join(args, " ")
	select {
	case a := <-addr:
		p.addr, p.base = a, "http://"+a
	case err := <-p.done:
		t.Fatalf("%s exited before listening: %v\n%s", what, err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60 s\n%s", what, p.logs)
	}
	return p
}

// runBinary runs gatehouse with args to completion in dir and returns its
// standard output; a failure fails the test.
func runBinary(t *testing.T, dir string, args []string, extraEnv ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = binaryEnv(dir, extraEnv)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("gatehouse exited with %v after SIGTERM\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("gatehouse did not stop within 20 s of SIGTERM")
	}
}

// kill ends the process at once, as a crash would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("gatehouse did not die within 20 s of SIGKILL")
	}
}

// call is one HTTP exchange of the walk-through.
type call struct {
	method, path, auth, contentType, body string
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (p *process) do(t *testing.T, c call) answer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, p.base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func expectStatus(t *testing.T, what string, a answer, status int, contains ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, a.status, status, a.body)
	}
	for _, s := range contains {
		if !strings.Contains(a.body, s) {
			t.Fatalf("%s: body %s does not contain %s", what, a.body, s)
		}
	}
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	s, _ := m[field].(string)
	if s == "" {
		t.Fatalf("no %q in %s", field, body)
	}
	return s
}

// TestEndToEnd runs the README walk-through against the built binary with
// assertions on statuses, headers and bodies, then restarts the binary on
// the same database and checks that nothing was lost.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	p := startAPI(t, dir, db)
	w := walkthrough(t, p)

	// Restart on the same database: accounts, keys, custom data, signing
	// keys and revocations survive.
	p.stop(t)
	p = startAPI(t, dir, db)
	checkKept(t, p, w)
	w.checkLogs(t, p.logs.String())
}

// walked is what the walk-through leaves behind: the credentials it made,
// for the checks that follow it.
type walked struct {
	id       string // miguel's account id
	password string
	miguel   string // Basic with miguel's password
	key      string // Basic with the API key
	secrets  []string
	tok      string // from /api/token, still valid
	access   string // from /oauth/token, revoked
}

// walkthrough runs the README walk-through against the API at p, with
// assertions on statuses, headers and bodies, each exchange validated
// against the API's OpenAPI document.
func walkthrough(t *testing.T, p *process) walked {
	t.Helper()
	p = validatedAPI(t, p)
	const pw = "python is great"
	miguel := basicAuth("miguel", pw)

	a := p.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"miguel","password":"python is great","email":"miguel@example.com"}`})
	expectStatus(t, "register", a, 201, `"username":"miguel"`, `"email":"miguel@example.com"`)
	id := jsonField(t, a.body, "id")
	if got := a.header.Get("Location"); got != "/api/users/"+id {
		t.Fatalf("Location = %q", got)
	}
	expectStatus(t, "register again", p.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"MIGUEL","password":"python is great"}`}), 409, `"code":"conflict"`)

	expectStatus(t, "resource", p.do(t, call{path: "/api/resource", auth: miguel}), 200, `{"data":"Hello, miguel!"}`)
	expectStatus(t, "login by email", p.do(t, call{path: "/", auth: basicAuth("Miguel@Example.com", pw)}), 200, `"method":"password"`)

	wrong := p.do(t, call{path: "/api/resource", auth: basicAuth("miguel", "ruby")})
	expectStatus(t, "wrong password", wrong, 401, `"code":"unauthorized"`)
	if got := wrong.header.Values("WWW-Authenticate"); len(got) != 2 || got[0] != `Basic realm="gatehouse", charset="UTF-8"` || got[1] != `Bearer realm="gatehouse"` {
		t.Fatalf("challenges = %q", got)
	}
	if ct := wrong.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error content type %q", ct)
	}
	unknown := p.do(t, call{path: "/api/resource", auth: basicAuth("nobody", "ruby")})
	if strip(unknown.body) != strip(wrong.body) || unknown.status != wrong.status {
		t.Fatalf("unknown user and wrong password differ:\n%s\n%s", unknown.body, wrong.body)
	}

	a = p.do(t, call{path: "/api/token", auth: miguel})
	expectStatus(t, "token", a, 200, `"duration":600`)
	if a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response is cacheable: %q", a.header.Get("Cache-Control"))
	}
	tok := jsonField(t, a.body, "token")
	expectStatus(t, "token in username", p.do(t, call{path: "/api/resource", auth: basicAuth(tok, "x")}), 200, "Hello, miguel!")

	a = p.do(t, call{method: "POST", path: "/api/me/api-keys", auth: miguel, contentType: "application/json", body: `{"name":"laptop"}`})
	expectStatus(t, "create key", a, 201, `"name":"laptop"`, `"secret":"gks_`)
	keyID, keySecret := jsonField(t, a.body, "id"), jsonField(t, a.body, "secret")
	key := basicAuth(keyID, keySecret)
	expectStatus(t, "api key", p.do(t, call{path: "/api/resource", auth: key}), 200, "Hello, miguel!")
	expectStatus(t, "api key cannot list keys", p.do(t, call{path: "/api/me/api-keys", auth: key}), 403, `"code":"forbidden"`)
	a = p.do(t, call{path: "/api/me/api-keys", auth: miguel})
	expectStatus(t, "list keys", a, 200, keyID)
	if strings.Contains(a.body, keySecret) {
		t.Fatal("key list shows the secret")
	}

	a = p.do(t, call{method: "POST", path: "/oauth/token", auth: key, contentType: "application/x-www-form-urlencoded",
		body: url.Values{"grant_type": {"client_credentials"}}.Encode()})
	expectStatus(t, "client credentials", a, 200, `"token_type":"Bearer"`, `"expires_in":600`)
	access := jsonField(t, a.body, "access_token")
	expectStatus(t, "bearer", p.do(t, call{path: "/api/resource", auth: "Bearer " + access}), 200, "Hello, miguel!")
	bad := p.do(t, call{path: "/api/resource", auth: "Bearer " + access + "x"})
	expectStatus(t, "bad bearer", bad, 401)
	if got := bad.header.Get("WWW-Authenticate"); got != `Bearer realm="gatehouse", error="invalid_token"` {
		t.Fatalf("bearer challenge = %q", got)
	}

	expectStatus(t, "put custom data", p.do(t, call{method: "PUT", path: "/api/me/custom-data", auth: miguel, contentType: "application/json",
		body: `{"favoriteColor":"blue","plan":{"tier":"pro","seats":5}}`}), 200, `"favoriteColor":"blue"`)
	expectStatus(t, "patch custom data", p.do(t, call{method: "PATCH", path: "/api/me/custom-data", auth: miguel, contentType: "application/merge-patch+json",
		body: `{"plan":{"seats":10},"favoriteColor":null}`}), 200, `{"plan":{"seats":10,"tier":"pro"}}`)
	expectStatus(t, "me", p.do(t, call{path: "/api/me", auth: miguel}), 200, `"id":"`+id+`"`, `"groups":[]`)

	// Revocation answers 200 and takes effect at once.
	revoke := p.do(t, call{method: "POST", path: "/oauth/revoke", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"token": {access}}.Encode()})
	expectStatus(t, "revoke", revoke, 200)
	expectStatus(t, "revoked bearer", p.do(t, call{path: "/api/resource", auth: "Bearer " + access}), 401)

	return walked{id: id, password: pw, miguel: miguel, key: key, secrets: []string{pw, keySecret, tok, access}, tok: tok, access: access}
}

// checkKept checks, after a restart, that what the walk-through made is
// still there: the account and its password, its API key, its custom data,
// the signing keys (an earlier token verifies) and the revocation.
func checkKept(t *testing.T, p *process, w walked) {
	t.Helper()
	p = validatedAPI(t, p)
	expectStatus(t, "password after restart", p.do(t, call{path: "/api/resource", auth: w.miguel}), 200, "Hello, miguel!")
	expectStatus(t, "api key after restart", p.do(t, call{path: "/api/resource", auth: w.key}), 200)
	expectStatus(t, "token after restart", p.do(t, call{path: "/api/resource", auth: basicAuth(w.tok, "x")}), 200)
	expectStatus(t, "revocation after restart", p.do(t, call{path: "/api/resource", auth: "Bearer " + w.access}), 401)
	expectStatus(t, "custom data after restart", p.do(t, call{path: "/api/me/custom-data", auth: w.miguel}), 200, `{"plan":{"seats":10,"tier":"pro"}}`)
	expectStatus(t, "account after restart", p.do(t, call{path: "/api/users/" + w.id, auth: w.miguel}), 200, `"username":"miguel"`)
}

// checkLogs fails the test if a credential of the walk-through reached
// logs.
func (w walked) checkLogs(t *testing.T, logs string) {
	t.Helper()
	for _, secret := range w.secrets {
		if strings.Contains(logs, secret) {
			t.Fatalf("a credential reached the log")
		}
	}
}

// strip removes the request id, which differs per request by design.
func strip(body string) string {
	return regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAllString(body, "")
}

// TestREADMEWalkthrough runs the README's walk-through block, as pasted into
// bash, against the built binary: the README must stay true.
func TestREADMEWalkthrough(t *testing.T) {
	script := readmeWalkthrough(t)
	dir := t.TempDir()
	p := startAPI(t, dir, filepath.Join(dir, "gatehouse.db"))
	runWalkthroughScript(t, dir, script, p.base)
}

// readmeWalkthrough returns the README's walk-through block, skipping the
// test when the tools it needs are missing (failing it in CI).
func readmeWalkthrough(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to check the README", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- walkthrough:start -->\\s*```sh\\n(.*?)```\\s*<!-- walkthrough:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no walk-through block")
	}
	return string(m[1])
}

// runWalkthroughScript runs the walk-through script in dir against the API
// at base (instead of http://127.0.0.1:5000) and checks its output. Every
// exchange is validated against the API's OpenAPI document.
func runWalkthroughScript(t *testing.T, dir, script, base string) {
	t.Helper()
	base = validatingProxy(t, "API", api.OpenAPI(), base)
	script = strings.ReplaceAll(script, "http://127.0.0.1:5000", base)
	cmd := exec.CommandContext(t.Context(), "bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	got := string(out)
	checks := []struct {
		what string
		re   string
		n    int
	}{
		{"registration", `HTTP/1.1 201 Created`, 1},
		{"resource answers", `\{"data":"Hello, miguel!"\}`, 4},
		{"wrong password", `HTTP/1.1 401 Unauthorized`, 1},
		{"challenge", `(?i)www-authenticate: Basic realm="gatehouse", charset="UTF-8"`, 1},
		{"token", `"duration":600,"token":"ey`, 1},
		{"api key", `"secret":"gks_`, 1},
		{"client credentials", `"token_type":"Bearer"`, 1},
		{"custom data put", `\{"favoriteColor":"blue","plan":\{"seats":5,"tier":"pro"\}\}`, 1},
		{"custom data patch", `\{"plan":\{"seats":10,"tier":"pro"\}\}`, 1},
		{"me", `"groups":\[\]`, 1},
		{"revocation", `HTTP/1.1 200 OK`, 1},
	}
	for _, c := range checks {
		if n := len(regexp.MustCompile(c.re).FindAllStringIndex(got, -1)); n != c.n {
			t.Errorf("%s: %q appears %d times, want %d", c.what, c.re, n, c.n)
		}
	}
	if lines := strings.Split(strings.TrimSpace(got), "\n"); lines[len(lines)-1] != "401" {
		t.Errorf("revoked token still works: last line %q", lines[len(lines)-1])
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}

// remoteSetup is a directory process with one bootstrapped application and
// an API process using it through identity.provider: remote.
type remoteSetup struct {
	dir       string
	dirEnv    []string // the directory's environment
	directory *process
	api       *process
	adminKey  string // the admin key secret
}

// startRemote bootstraps the application myapp in a SQLite directory, as
// the README says (the bootstrap output is the API's env file), and starts
// the directory and an API server on it.
func startRemote(t *testing.T) *remoteSetup {
	t.Helper()
	dir := t.TempDir()
	s := &remoteSetup{dir: dir, dirEnv: []string{"GATEHOUSE_DIRECTORY_DATABASE=" + filepath.Join(dir, "directory.db")}}
	out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", "myapp"}, s.dirEnv...)
	_, s.adminKey = parseBootstrap(t, out)
	s.directory = startBinary(t, dir, []string{"directory", "serve"}, s.dirEnv...)
	if !strings.Contains(s.directory.logs.String(), `"component":"directory"`) {
		t.Errorf("the directory's listening line has no component:\n%s", s.directory.logs)
	}
	apiEnv := append([]string{
		"GATEHOUSE_IDENTITY_PROVIDER=remote",
		// The API server reaches the directory through a proxy that
		// validates the protocol as it speaks it.
		"GATEHOUSE_IDENTITY_REMOTE_URL=" + validatedDirectory(t, s.directory.base),
		"GATEHOUSE_APPLICATION=myapp",
	}, strings.Split(strings.TrimSpace(out), "\n")...)
	s.api = validatedAPI(t, startBinary(t, dir, []string{"serve"}, apiEnv...))
	return s
}

// TestEndToEndRemote runs the walk-through against an API server whose
// accounts live in a separate directory process, then takes the directory
// away and brings it back.
func TestEndToEndRemote(t *testing.T) {
	s := startRemote(t)
	api := s.api
	w := walkthrough(t, api)

	// A second API key, never used before the directory goes away: the
	// API cannot have anything cached about it.
	a := api.do(t, call{method: "POST", path: "/api/me/api-keys", auth: w.miguel, contentType: "application/json", body: `{"name":"spare"}`})
	expectStatus(t, "create spare key", a, 201)
	spareSecret := jsonField(t, a.body, "secret")
	spare := basicAuth(jsonField(t, a.body, "id"), spareSecret)
	// A token issued now but not presented before the directory goes away.
	a = api.do(t, call{path: "/api/token", auth: w.miguel})
	expectStatus(t, "token for later", a, 200)
	unseenTok := jsonField(t, a.body, "token")
	w.secrets = append(w.secrets, spareSecret, s.adminKey, unseenTok)

	// The directory crashes.
	s.directory.kill(t)
	for _, c := range []struct{ what, auth string }{
		{"unseen API key, directory down", spare},
		{"unseen password, directory down", basicAuth("miguel", "not the password")},
	} {
		a := api.do(t, call{path: "/api/resource", auth: c.auth})
		// Unreachable is not a wrong password: 503 and when to retry.
		expectStatus(t, c.what, a, 503, `"code":"unavailable"`)
		if a.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After header", c.what)
		}
	}
	expectStatus(t, "readyz, directory down", api.do(t, call{path: "/readyz"}), 503)
	// A token this API server has accepted before keeps working: its
	// signature is checked with the cached JWKS, and the directory's last
	// answer about its revocation stands while the directory is away.
	expectStatus(t, "bearer accepted before, directory down", api.do(t, call{path: "/api/resource", auth: "Bearer " + w.tok}), 200, "Hello, miguel!")
	// A token never presented here verifies too: its signature with the
	// cached JWKS, its revocation against the revocations polled from the
	// directory's feed before it went away.
	expectStatus(t, "unseen bearer, directory down", api.do(t, call{path: "/api/resource", auth: "Bearer " + unseenTok}), 200, "Hello, miguel!")
	expectStatus(t, "revoked bearer, directory down", api.do(t, call{path: "/api/resource", auth: "Bearer " + w.access}), 401)
	// Credentials the API has accepted within cache.stale_ttl keep working
	// (stale-if-error), so an outage does not lock active clients out.
	expectStatus(t, "password accepted before, directory down", api.do(t, call{path: "/api/resource", auth: w.miguel}), 200, "Hello, miguel!")
	expectStatus(t, "API key accepted before, directory down", api.do(t, call{path: "/api/resource", auth: w.key}), 200, "Hello, miguel!")

	// The directory comes back on the same database and address.
	crashed := s.directory
	s.directory = startBinary(t, s.dir, []string{"directory", "serve"}, append(s.dirEnv, "GATEHOUSE_DIRECTORY_ADDR="+crashed.addr)...)
	checkKept(t, api, w)
	expectStatus(t, "spare key after restart", api.do(t, call{path: "/api/resource", auth: spare}), 200, "Hello, miguel!")
	expectStatus(t, "readyz after restart", api.do(t, call{path: "/readyz"}), 200)
	expectStatus(t, "bearer after restart", api.do(t, call{path: "/api/resource", auth: "Bearer " + w.tok}), 200)
	expectStatus(t, "unseen bearer after restart", api.do(t, call{path: "/api/resource", auth: "Bearer " + unseenTok}), 200)

	// Both stop cleanly on SIGTERM.
	api.stop(t)
	s.directory.stop(t)
	for _, p := range []*process{api, crashed, s.directory} {
		w.checkLogs(t, p.logs.String())
	}
}

// TestREADMEWalkthroughRemote runs the README's walk-through block against
// an API server with the remote provider: it must hold whichever provider
// the API uses.
func TestREADMEWalkthroughRemote(t *testing.T) {
	script := readmeWalkthrough(t)
	s := startRemote(t)
	runWalkthroughScript(t, s.dir, script, s.api.base)
}
