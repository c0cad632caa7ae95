package main

// Logs of the built binaries: JSON, one object per line, one access line
// per request with its latency, and one request id following a request
// from the API server into the directory and back.

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
)

// logLine is one decoded line of a JSON log.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// parseJSONLog decodes every line of a log, failing the test on a line that
// is not exactly one JSON object or that repeats the request_id key.
func parseJSONLog(t *testing.T, what, logs string) []logLine {
	t.Helper()
	var out []logLine
	for _, line := range strings.Split(strings.TrimRight(logs, "\n"), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%s: a log line is not one JSON object (%v): %q", what, err, line)
		}
		if n := strings.Count(line, `"request_id":`); n > 1 {
			t.Errorf("%s: request_id %d times in %q", what, n, line)
		}
		out = append(out, l)
	}
	return out
}

// find returns the lines whose fields hold every pair of match.
func find(lines []logLine, match map[string]any) []logLine {
	var out []logLine
next:
	for _, l := range lines {
		for k, v := range match {
			if l[k] != v {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// expectAccessLine checks that lines hold exactly one access line for the
// request id, with its method, route, status and latency.
func expectAccessLine(t *testing.T, what string, lines []logLine, id, method, route string, status int) {
	t.Helper()
	got := find(lines, map[string]any{"msg": "request", "request_id": id})
	if len(got) != 1 {
		t.Fatalf("%s: %d access lines with request_id %s, want 1", what, len(got), id)
	}
	l := got[0]
	if l.str("method") != method || !strings.Contains(l.str("route"), route) || l["status"] != float64(status) {
		t.Errorf("%s: access line %v, want %s %s… %d", what, l, method, route, status)
	}
	if lat, ok := l["latency"].(float64); !ok || lat <= 0 {
		t.Errorf("%s: access line %v has no latency", what, l)
	}
}

// apiCall sends one request to the API with an X-Request-Id.
func apiCall(t *testing.T, p *process, c call, requestID string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), c.method, p.base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", requestID)
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestRequestIDAcrossProcesses runs the directory and an API server on it
// with JSON logs, sends requests with known X-Request-Id values and finds
// each id in both processes' access lines, and in a directory error's
// request id as the API server reports it.
func TestRequestIDAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "directory.db")
	dbEnv := "GATEHOUSE_DIRECTORY_DATABASE=" + dbPath
	jsonLogs := "GATEHOUSE_LOG_FORMAT=json"
	out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", "myapp"}, dbEnv)
	_, adminSecret := parseBootstrap(t, out)
	d := startBinary(t, dir, []string{"directory", "serve"}, dbEnv, jsonLogs)
	api := startBinary(t, dir, []string{"serve"}, append([]string{
		jsonLogs,
		"GATEHOUSE_IDENTITY_PROVIDER=remote",
		"GATEHOUSE_IDENTITY_REMOTE_URL=" + d.base,
		"GATEHOUSE_APPLICATION=myapp",
		// One attempt, long enough for the directory's 5 s wait on a lock.
		"GATEHOUSE_IDENTITY_REMOTE_RETRIES=0",
		"GATEHOUSE_IDENTITY_REMOTE_TIMEOUT=20s",
	}, strings.Split(strings.TrimSpace(out), "\n")...)...)

	run := strings.ToLower(ids.New())
	const pw = "python is great"
	register := call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"miguel","password":"` + pw + `"}`}

	// A registration and a login, each through both processes.
	createID, loginID := "create-"+run, "login-"+run
	a := apiCall(t, api, register, createID)
	expectStatus(t, "register", a, 201)
	if got := a.header.Get("X-Request-Id"); got != createID {
		t.Fatalf("X-Request-Id answered %q, want %q", got, createID)
	}
	expectStatus(t, "login", apiCall(t, api, call{method: "GET", path: "/api/resource", auth: basicAuth("miguel", pw)}, loginID), 200)

	// A directory error: its database is locked by another process for
	// longer than the directory waits, so it answers 503 with its request
	// id, which the API server reports.
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
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	failID := "fail-" + run
	a = apiCall(t, api, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"blocked","password":"` + pw + `"}`}, failID)
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	expectStatus(t, "register while the directory's database is locked", a, 503, `"request_id":"`+failID+`"`)

	// A hostile id is replaced, and the replacement is what the directory
	// sees.
	hostile := `x","admin":true,"y":"`
	a = apiCall(t, api, call{method: "GET", path: "/api/resource", auth: basicAuth("miguel", "wrong password")}, hostile)
	expectStatus(t, "hostile request id", a, 401)
	minted := a.header.Get("X-Request-Id")
	if minted == hostile || !identity.ValidRequestID(minted) {
		t.Fatalf("X-Request-Id %q answered as %q", hostile, minted)
	}

	api.stop(t)
	d.stop(t)
	apiLines := parseJSONLog(t, "API", api.logs.String())
	dirLines := parseJSONLog(t, "directory", d.logs.String())

	expectAccessLine(t, "API, register", apiLines, createID, "POST", "/api/users", 201)
	expectAccessLine(t, "directory, register", dirLines, createID, "POST", "/accounts", 201)
	expectAccessLine(t, "API, login", apiLines, loginID, "GET", "/api/resource", 200)
	expectAccessLine(t, "directory, login", dirLines, loginID, "POST", "/loginAttempts", 200)
	expectAccessLine(t, "API, directory error", apiLines, failID, "POST", "/api/users", 503)
	expectAccessLine(t, "directory, its error", dirLines, failID, "POST", "/accounts", 503)
	expectAccessLine(t, "API, hostile id", apiLines, minted, "GET", "/api/resource", 401)
	expectAccessLine(t, "directory, hostile id", dirLines, minted, "POST", "/loginAttempts", 400)

	// The directory's error carried the id back: the API server's error
	// line quotes the directory's request id, and so does its directory
	// client's line, each on a line of that request.
	for _, msg := range []string{"identity provider unavailable", "directory request failed"} {
		got := find(apiLines, map[string]any{"msg": msg, "request_id": failID})
		if len(got) == 0 {
			t.Errorf("API: no %q line with request_id %s", msg, failID)
		}
	}
	if got := find(apiLines, map[string]any{"msg": "identity provider unavailable", "request_id": failID}); len(got) == 1 &&
		!strings.Contains(got[0].str("error"), `request id "`+failID+`"`) {
		t.Errorf("API: the directory's request id is not in %v", got[0])
	}
	if len(find(dirLines, map[string]any{"msg": "identity store unavailable", "request_id": failID})) != 1 {
		t.Errorf("directory: no error line with request_id %s", failID)
	}

	// Every line logged while a request was handled carries its id.
	for what, lines := range map[string][]logLine{"API": apiLines, "directory": dirLines} {
		for _, l := range lines {
			switch l.str("msg") {
			case "listening", "shutting down", "stopped", "purged", "identity provider opened":
				continue
			}
			if l.str("request_id") == "" {
				t.Errorf("%s: a line without request_id: %v", what, l)
			}
		}
	}
	if strings.Contains(api.logs.String()+d.logs.String(), `"admin":true`) {
		t.Error("the hostile request id reached a log")
	}
	for _, secret := range []string{pw, "wrong password", adminSecret} {
		if strings.Contains(api.logs.String()+d.logs.String(), secret) {
			t.Errorf("a secret reached the logs")
		}
	}
}

// TestRequestIDHandler: a line logged with a request's context gets its id
// as request_id, once, also through With; a line that names
// its own request_id keeps it; a line without one gets none.
func TestRequestIDHandler(t *testing.T) {
	var buf syncBuffer
	logger := withRequestIDs(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := identity.WithRequestID(context.Background(), "req-7")
	logger.InfoContext(ctx, "plain")
	logger.With("component", "remote").WarnContext(ctx, "with attrs")
	logger.InfoContext(ctx, "own id", "request_id", "other")
	logger.Info("no context")
	lines := parseJSONLog(t, "handler", buf.String())
	want := map[string]string{"plain": "req-7", "with attrs": "req-7", "own id": "other", "no context": ""}
	for _, l := range lines {
		msg := l.str("msg")
		if got := l.str("request_id"); got != want[msg] {
			t.Errorf("%q: request_id %q, want %q", msg, got, want[msg])
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4", len(lines))
	}
}
