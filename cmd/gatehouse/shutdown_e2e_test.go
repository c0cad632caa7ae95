package main

// Graceful shutdown of the built binary: on SIGTERM a server stops
// accepting connections at once, lets a request in flight finish with its
// normal answer and exits 0; a request that outlasts the shutdown timeout is
// cut off and the process still exits, with status 1, in time.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// slowDirectory is a reverse proxy in front of a directory process that,
// once armed, holds each login attempt for delay before passing it on: a
// login through the API is then in flight for that long.
type slowDirectory struct {
	*httptest.Server
	mu      sync.Mutex
	delay   time.Duration
	arrived chan struct{} // receives once per held request
}

func newSlowDirectory(t *testing.T, target string) *slowDirectory {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &slowDirectory{arrived: make(chan struct{}, 16)}
	proxy := httputil.NewSingleHostReverseProxy(u)
	// A request the API server gave up on is expected here, not news.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		delay := s.delay
		s.mu.Unlock()
		if delay > 0 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/loginAttempts") {
			// With the body read, the server watches the connection, and
			// the context ends when the API server drops it.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			s.arrived <- struct{}{}
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return // the API server gave up on the request
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slowDirectory) hold(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// startSlowStack starts a directory, the slow proxy in front of it and an
// API server using it with the given shutdown timeout, and registers
// miguel.
func startSlowStack(t *testing.T, shutdownTimeout string) (*process, *slowDirectory) {
	t.Helper()
	dir := t.TempDir()
	dbEnv := "GATEHOUSE_DIRECTORY_DATABASE=" + filepath.Join(dir, "directory.db")
	out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", "myapp"}, dbEnv)
	d := startBinary(t, dir, []string{"directory", "serve"}, dbEnv)
	slow := newSlowDirectory(t, d.base)
	api := startBinary(t, dir, []string{"serve"}, append([]string{
		"GATEHOUSE_IDENTITY_PROVIDER=remote",
		"GATEHOUSE_IDENTITY_REMOTE_URL=" + slow.URL,
		"GATEHOUSE_APPLICATION=myapp",
		// One attempt that outlasts every hold: no retry muddles the count.
		"GATEHOUSE_IDENTITY_REMOTE_TIMEOUT=20s",
		"GATEHOUSE_SERVER_SHUTDOWN_TIMEOUT=" + shutdownTimeout,
	}, strings.Split(strings.TrimSpace(out), "\n")...)...)
	expectStatus(t, "register", api.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"miguel","password":"python is great"}`}), 201)
	return api, slow
}

// inFlight is the outcome of a request sent in the background.
type inFlight struct {
	status int
	body   string
	err    error
	at     time.Time
}

// sendAsync sends req on a connection of its own and delivers the outcome.
func sendAsync(req *http.Request) <-chan inFlight {
	done := make(chan inFlight, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			done <- inFlight{err: err, at: time.Now()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- inFlight{status: resp.StatusCode, body: string(b), err: err, at: time.Now()}
	}()
	return done
}

// expectRefused waits up to a second for addr to refuse connections, and
// fails the test if it does not, or if pending has an answer already (then
// the listener was not closed before the request finished).
func expectRefused(t *testing.T, addr string, pending <-chan inFlight) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			// A dial racing the listener's close can be reset instead of
			// refused (its SYN reached the closing socket); either way the
			// connection was not accepted. A timeout or anything else is
			// not a closed listener.
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("a new connection after SIGTERM: %v, want connection refused", err)
			}
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections are still accepted a second after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case r := <-pending:
		t.Fatalf("the in-flight request finished (%d %v) before the listener closed", r.status, r.err)
	default:
	}
}

// processExit waits up to limit for p to exit and returns its exit status.
func processExit(t *testing.T, p *process, limit time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		default:
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("gatehouse did not exit within %s\n%s", limit, p.logs)
	}
	return -1
}

func TestGracefulShutdownAPI(t *testing.T) {
	api, slow := startSlowStack(t, "5s")
	const hold = 2 * time.Second
	slow.hold(hold)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, api.base+"/api/resource", nil)
	req.Header.Set("Authorization", basicAuth("miguel", "python is great"))
	pending := sendAsync(req)
	select {
	case <-slow.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the login never reached the directory")
	}

	if err := api.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	expectRefused(t, api.addr, pending)

	var r inFlight
	select {
	case r = <-pending:
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "Hello, miguel!") {
		t.Fatalf("in-flight request: %d %q %v, want its normal 200", r.status, r.body, r.err)
	}
	if code := processExit(t, api, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after a clean shutdown, want 0\n%s", code, api.logs)
	}
	if d := time.Since(signalled); d > hold+3*time.Second {
		t.Errorf("the process took %s to exit after SIGTERM", d)
	}
	logs := api.logs.String()
	for _, want := range []string{`"msg":"shutting down","timeout":"5s"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the log:\n%s", want, logs)
		}
	}
}

func TestShutdownTimeoutCutsRequests(t *testing.T) {
	api, slow := startSlowStack(t, "1s")
	slow.hold(30 * time.Second)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, api.base+"/api/resource", nil)
	req.Header.Set("Authorization", basicAuth("miguel", "python is great"))
	pending := sendAsync(req)
	select {
	case <-slow.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the login never reached the directory")
	}
	if err := api.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	expectRefused(t, api.addr, pending)

	// Exits after the 1 s timeout, well before the request would end, and
	// says the stop was not clean.
	if code := processExit(t, api, 1*time.Second+4*time.Second); code != 1 {
		t.Fatalf("exit status %d when a request outlasted the shutdown timeout, want 1\n%s", code, api.logs)
	}
	if d := time.Since(signalled); d < time.Second {
		t.Errorf("exited %s after SIGTERM, before the shutdown timeout", d)
	}
	select {
	case r := <-pending:
		if r.err == nil {
			t.Errorf("the cut request got an answer: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Error("the cut request's connection was left open")
	}
	if logs := api.logs.String(); !strings.Contains(logs, "in-flight requests cut off") ||
		!strings.Contains(logs, "server.shutdown_timeout (1s)") {
		t.Errorf("the cut-off is not reported:\n%s", logs)
	}
}

// TestGracefulShutdownDirectory: the directory finishes a write that is
// in flight when SIGTERM comes (held back by another process's lock on its
// SQLite database), answers it normally and exits 0.
func TestGracefulShutdownDirectory(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "directory.db")
	dbEnv := "GATEHOUSE_DIRECTORY_DATABASE=" + dbPath
	keyID, secret := parseBootstrap(t, runBinary(t, dir, []string{"directory", "bootstrap", "--application", "myapp"}, dbEnv))
	d := startBinary(t, dir, []string{"directory", "serve"}, dbEnv, "GATEHOUSE_DIRECTORY_SHUTDOWN_TIMEOUT=5s")
	c := &dirClient{base: d.base, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(keyID+":"+secret)),
		http: &http.Client{Timeout: 20 * time.Second}}
	appID := findApplication(t, c, "myapp")

	// Another process's write lock: the directory's next write waits for
	// it (for up to its 5 s busy timeout).
	lockDB, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lockDB.Close()
	ctx := context.Background()
	lock, err := lockDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			_, _ = lock.ExecContext(ctx, "ROLLBACK")
		}
	}()

	wrote := make(chan struct{})
	body := `{"username":"held","email":"held@example.com","givenName":"Held","surname":"Back","password":"held back by a lock"}`
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
	}), http.MethodPost, d.base+wire.ApplicationPath(appID, "accounts"), strings.NewReader(body))
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	pending := sendAsync(req)
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was never sent")
	}
	// Let the directory read it and reach the lock.
	time.Sleep(300 * time.Millisecond)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, d.addr, pending)
	time.Sleep(500 * time.Millisecond)
	select {
	case r := <-pending:
		t.Fatalf("the write finished (%d %s %v) while the lock was held", r.status, r.body, r.err)
	default:
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false

	var r inFlight
	select {
	case r = <-pending:
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight write never finished")
	}
	if r.err != nil || r.status != http.StatusCreated || !strings.Contains(r.body, `"username":"held"`) {
		t.Fatalf("in-flight write: %d %s %v, want 201", r.status, r.body, r.err)
	}
	if code := processExit(t, d, 5*time.Second); code != 0 {
		t.Fatalf("directory exit status %d after a clean shutdown, want 0\n%s", code, d.logs)
	}
	if !strings.Contains(d.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", d.logs)
	}

	// The account was written, and the database closed cleanly: it opens
	// and holds it.
	var n int
	if err := lockDB.QueryRowContext(ctx, "SELECT count(*) FROM accounts WHERE username = 'held'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("accounts named held after the shutdown: %d, %v", n, err)
	}
}
