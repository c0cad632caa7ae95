package main

// The malformed battery: several hundred malformed requests, generated from
// tables, against the real binary on a SQLite database. Each must get a 4xx
// with Gatehouse's JSON error shape (a problem document, or the OAuth error
// on the OAuth endpoints); none a 5xx. Afterwards the server is healthy and
// nothing changed: the account still logs in, its custom data and API keys
// are what they were, and no account appeared.
//
// One exception to the JSON shape, by necessity: requests that net/http
// refuses before any handler runs (a NUL or control byte in a header, a
// malformed request line or URI, headers past server.max header bytes).
// Go's server answers those itself, with a plain-text 400 or 431, and
// closes the connection; http.Server has no hook to shape that answer, and
// the request never reached Gatehouse, so it cannot have changed anything.
// Such rows are marked transport and must get exactly that plain-text
// answer: a JSON answer there would mean the request got through.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// malShape is the error shape an answer must have.
type malShape int

const (
	// shapeProblem: application/problem+json with the Problem members.
	shapeProblem malShape = iota
	// shapeOAuth: the RFC 6749 error body, or a problem document (the
	// OAuth endpoints answer 405 and 413 as every endpoint does).
	shapeOAuth
	// shapeTransport: net/http's own plain-text answer, for requests it
	// refuses before the handler.
	shapeTransport
)

func (s malShape) String() string {
	return [...]string{"problem", "oauth", "transport"}[s]
}

// malformedRequest is one row of the battery.
type malformedRequest struct {
	category string
	name     string
	method   string
	path     string // with its query; escaped as it goes on the wire
	header   [][2]string
	body     []byte
	// chunked sends the body without a Content-Length.
	chunked bool
	// raw, when set, is sent as is over TCP instead of the fields above:
	// for what Go's client refuses to send.
	raw []byte
	// overTCP sends the fields above over TCP, reading the answer while
	// the body is still being written: for bodies the server refuses
	// before reading them all, where Go's client may report its failed
	// write rather than the answer.
	overTCP bool
	// status lists the acceptable statuses; empty means any 4xx.
	status []int
	shape  malShape
}

// victim is the account the battery aims at, and what it holds.
type victim struct {
	id, username, password string
	auth                   string // Basic with the password
	keyID, keySecret       string
	token                  string
}

const (
	victimPassword   = "correct horse battery staple"
	victimCustomData = `{"plan":{"seats":5,"tier":"pro"},"favoriteColor":"blue","tags":["a","b"]}`
)

// TestMalformedRequests runs the battery against `gatehouse serve` with a
// local SQLite provider.
func TestMalformedRequests(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	p := startAPI(t, dir, db)
	v := newVictim(t, p)
	before := snapshotVictim(t, p, v)
	accountsBefore := runBinary(t, dir, []string{"accounts", "list", "-o", "json"}, "GATEHOUSE_IDENTITY_LOCAL_DATABASE="+db)
	keysBefore := runBinary(t, dir, []string{"apikeys", "list", v.username, "-o", "json"}, "GATEHOUSE_IDENTITY_LOCAL_DATABASE="+db)

	battery := malformedBattery(v)
	if len(battery) < 200 {
		t.Fatalf("the battery has %d requests, want at least 200", len(battery))
	}
	perCategory := map[string]int{}
	client := &http.Client{
		Timeout: 30 * time.Second,
		// A fresh connection per request: several answers close theirs.
		Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	for i, m := range battery {
		perCategory[m.category]++
		name := fmt.Sprintf("%03d %s/%s", i, m.category, m.name)
		resp, body, err := sendMalformed(t, client, p, m)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if testing.Verbose() {
			t.Logf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if msg := checkMalformedAnswer(m, resp, body); msg != "" {
			t.Errorf("%s: %s %s: %s\n\tanswer %d %s %.300s", name, m.method, truncateForLog(m.path), msg,
				resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	cats := slices.Sorted(func(yield func(string) bool) {
		for c := range perCategory {
			if !yield(c) {
				return
			}
		}
	})
	var summary []string
	for _, c := range cats {
		summary = append(summary, fmt.Sprintf("%s %d", c, perCategory[c]))
	}
	t.Logf("%d malformed requests: %s", len(battery), strings.Join(summary, ", "))

	// The server is healthy, and nothing changed.
	expectStatus(t, "healthz after the battery", p.do(t, call{path: "/healthz"}), 200)
	expectStatus(t, "the victim logs in", p.do(t, call{path: "/api/resource", auth: v.auth}), 200, "Hello, victim!")
	expectStatus(t, "the victim's key works", p.do(t, call{path: "/api/resource", auth: basicAuth(v.keyID, v.keySecret)}), 200)
	if after := snapshotVictim(t, p, v); after != before {
		t.Errorf("the victim's data changed:\nbefore %s\nafter  %s", before, after)
	}
	if after := runBinary(t, dir, []string{"accounts", "list", "-o", "json"}, "GATEHOUSE_IDENTITY_LOCAL_DATABASE="+db); after != accountsBefore {
		t.Errorf("the accounts changed:\nbefore %s\nafter  %s", accountsBefore, after)
	}
	if after := runBinary(t, dir, []string{"apikeys", "list", v.username, "-o", "json"}, "GATEHOUSE_IDENTITY_LOCAL_DATABASE="+db); after != keysBefore {
		t.Errorf("the API keys changed:\nbefore %s\nafter  %s", keysBefore, after)
	}
	logs := p.logs.String()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"status":5`) || strings.Contains(line, "panic") {
			t.Errorf("server log: %s", truncateForLog(line))
		}
	}

	// A clean stop, and after a restart (no credential cache) the password
	// and the key still work: the battery changed nothing on disk either.
	p.stop(t)
	p = startAPI(t, dir, db)
	expectStatus(t, "the victim logs in after a restart", p.do(t, call{path: "/api/resource", auth: v.auth}), 200, "Hello, victim!")
	expectStatus(t, "the victim's key after a restart", p.do(t, call{path: "/api/resource", auth: basicAuth(v.keyID, v.keySecret)}), 200)
	if after := snapshotVictim(t, p, v); after != before {
		t.Errorf("the victim's data changed (after a restart):\nbefore %s\nafter  %s", before, after)
	}
}

// newVictim registers the victim with custom data, an API key and a token.
func newVictim(t *testing.T, p *process) victim {
	t.Helper()
	v := victim{username: "victim", password: victimPassword, auth: basicAuth("victim", victimPassword)}
	a := p.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"victim","password":"` + victimPassword + `","email":"victim@example.com","given_name":"Vic","surname":"Tim"}`})
	expectStatus(t, "register the victim", a, 201)
	v.id = jsonField(t, a.body, "id")
	expectStatus(t, "custom data", p.do(t, call{method: "PUT", path: "/api/me/custom-data", auth: v.auth,
		contentType: "application/json", body: victimCustomData}), 200)
	a = p.do(t, call{method: "POST", path: "/api/me/api-keys", auth: v.auth, contentType: "application/json", body: `{"name":"laptop"}`})
	expectStatus(t, "create a key", a, 201)
	v.keyID, v.keySecret = jsonField(t, a.body, "id"), jsonField(t, a.body, "secret")
	a = p.do(t, call{path: "/api/token", auth: v.auth})
	expectStatus(t, "token", a, 200)
	v.token = jsonField(t, a.body, "token")
	return v
}

// snapshotVictim is what the API shows of the victim: the account, its
// custom data and its keys.
func snapshotVictim(t *testing.T, p *process, v victim) string {
	t.Helper()
	var parts []string
	for _, path := range []string{"/api/me", "/api/me/custom-data", "/api/me/api-keys", "/api/users/" + v.id} {
		a := p.do(t, call{path: path, auth: v.auth})
		expectStatus(t, "snapshot "+path, a, 200)
		parts = append(parts, path+" "+a.body)
	}
	return strings.Join(parts, "\n")
}

// sendMalformed sends one row, with Go's client or over raw TCP.
func sendMalformed(t *testing.T, client *http.Client, p *process, m malformedRequest) (*http.Response, []byte, error) {
	t.Helper()
	if m.raw != nil {
		return sendRaw(p.addr, m.raw)
	}
	if m.overTCP {
		return sendRaw(p.addr, m.wire())
	}
	var body io.Reader
	if m.body != nil {
		body = bytes.NewReader(m.body)
		if m.chunked {
			body = io.MultiReader(body) // hides the length: chunked
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), m.method, p.base+m.path, body)
	if err != nil {
		return nil, nil, fmt.Errorf("building the request: %v", err)
	}
	for _, h := range m.header {
		req.Header.Add(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %v", err)
	}
	return resp, b, nil
}

// wire is m as an HTTP/1.1 request, its body chunked or with its length.
func (m malformedRequest) wire() []byte {
	var hs []string
	for _, h := range m.header {
		hs = append(hs, h[0]+": "+h[1])
	}
	if !m.chunked {
		return rawRequest(m.method, m.path, append(hs, "Content-Length: "+strconv.Itoa(len(m.body))), m.body)
	}
	var b bytes.Buffer
	for rest := m.body; len(rest) > 0; {
		n := min(len(rest), 32<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
	b.WriteString("0\r\n\r\n")
	return rawRequest(m.method, m.path, append(hs, "Transfer-Encoding: chunked"), b.Bytes())
}

// sendRaw writes a request over TCP (in the background: the server may
// answer before reading it all) and reads the answer.
func sendRaw(addr string, raw []byte) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = conn.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer's body: %v", err)
	}
	return resp, b, nil
}

// checkMalformedAnswer returns what is wrong with an answer to m, or "".
func checkMalformedAnswer(m malformedRequest, resp *http.Response, body []byte) string {
	code := resp.StatusCode
	switch {
	case code >= 500:
		return "a 5xx"
	case code < 400:
		return "not refused"
	case len(m.status) > 0 && !slices.Contains(m.status, code):
		return fmt.Sprintf("status %d, want one of %v", code, m.status)
	}
	if resp.Header.Get("X-Injected") != "" {
		return "a header was injected"
	}
	ct := resp.Header.Get("Content-Type")
	if m.shape == shapeTransport {
		if (code != 400 && code != 431) || !strings.HasPrefix(ct, "text/plain") || !bytes.HasPrefix(body, []byte(strconv.Itoa(code))) {
			return "want net/http's own plain-text 400 or 431: the request should not reach the handler"
		}
		return ""
	}
	if m.shape == shapeOAuth && strings.HasPrefix(ct, "application/json") {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return "the OAuth error is not JSON"
		}
		known := []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}
		if !slices.Contains(known, e.Error) || e.Description == "" {
			return "not an RFC 6749 error body"
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			return "an OAuth error without Cache-Control: no-store"
		}
		return ""
	}
	if ct != "application/problem+json" {
		return "Content-Type " + ct + ", want application/problem+json"
	}
	var pr struct {
		Type, Title, Detail, Code, Message string
		Status                             int
		RequestID                          string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &pr); err != nil {
		return "the problem is not JSON"
	}
	switch {
	case pr.Type == "" || pr.Title == "" || pr.Detail == "" || pr.Code == "" || pr.Message == "":
		return "a problem member is missing"
	case pr.Status != code:
		return fmt.Sprintf("problem status %d", pr.Status)
	case pr.RequestID == "" || pr.RequestID != resp.Header.Get("X-Request-Id"):
		return "the request id differs from X-Request-Id"
	}
	return ""
}

func truncateForLog(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// rawRequest builds an HTTP/1.1 request by hand.
func rawRequest(method, target string, headers []string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gatehouse.test\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// nestedJSON returns n levels of arrays, or of objects with one member "a".
func nestedJSON(n int, objects bool) string {
	if objects {
		return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	}
	return strings.Repeat("[", n) + strings.Repeat("]", n)
}

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

// malformedBattery builds the battery from tables.
func malformedBattery(v victim) []malformedRequest {
	var out []malformedRequest
	add := func(m malformedRequest) { out = append(out, m) }
	auth := [2]string{"Authorization", v.auth}
	jsonCT := [2]string{"Content-Type", ctJSON}
	// Each request that is a well-formed login attempt uses a login of its
	// own, so that failed-login regulation (5 per login and address) never
	// locks the victim out and every answer is the 401 of a bad credential.
	n := 0
	unique := func() string { n++; return fmt.Sprintf("nobody%d", n) }
	authStatus := []int{401, 429}

	// Authorization headers: bad base64, missing colon, NUL and control
	// bytes, invalid UTF-8, other schemes, bad tokens — on three routes.
	for _, route := range []string{"/api/resource", "/api/me", "/api/me/custom-data"} {
		headers := []struct{ name, value string }{
			{"bad base64", "Basic !!!!"},
			{"base64 of padding only", "Basic ===="},
			{"base64 missing padding", "Basic " + strings.TrimRight(b64std("ab:c"), "=")},
			{"url-safe base64", "Basic " + base64.URLEncoding.EncodeToString([]byte("vi\xfb\xffm:"+victimPassword))},
			{"base64 with a space inside", "Basic dmljdGlt OmNvcnJlY3Q="},
			{"scheme only", "Basic"},
			{"empty credentials", "Basic "},
			{"missing colon", "Basic " + b64std("victim"+victimPassword)},
			{"empty user", "Basic " + b64std(":"+victimPassword)},
			{"colon only", "Basic " + b64std(":")},
			{"NUL in user", "Basic " + b64std("vic\x00tim:"+victimPassword)},
			{"NUL in password", "Basic " + b64std("victim:"+victimPassword+"\x00")},
			{"ESC in user", "Basic " + b64std("vic\x1btim:"+victimPassword)},
			{"CRLF in user", "Basic " + b64std("victim\r\nX-Injected: 1:"+victimPassword)},
			{"DEL in password", "Basic " + b64std("victim:\x7f"+victimPassword)},
			{"C1 control in password", "Basic " + b64std("victim:\u0085"+victimPassword)},
			{"invalid UTF-8 user", "Basic " + b64std("\xff\xfe:"+victimPassword)},
			{"overlong UTF-8 password", "Basic " + b64std("victim:\xc0\xaf")},
			{"surrogate UTF-8 user", "Basic " + b64std("\xed\xa0\x80:"+victimPassword)},
			{"unknown login", "Basic " + b64std(unique()+":"+victimPassword)},
			{"unknown API key", "Basic " + b64std("gk_AAAAAAAAAAAAAAAAAAAAAA:gks_nothing")},
			{"API key id with a wrong secret", "Basic " + b64std(v.keyID+":gks_wrong")},
			{"token-shaped user", "Basic " + b64std("eyJhbGciOiJub25lIn0.e30.c2ln:x")},
			{"login of 40 KB", "Basic " + b64std(strings.Repeat("l", 40_000)+":"+victimPassword)},
			{"60 KB of base64", "Basic " + strings.Repeat("A", 60_000)},
			{"empty bearer", "Bearer "},
			{"bearer garbage", "Bearer not-a-token"},
			{"tampered bearer", "Bearer " + v.token[:len(v.token)-3] + "abc"},
			{"bearer alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ2aWN0aW0ifQ."},
			{"bearer with Basic credentials", "Bearer " + b64std("victim:"+victimPassword)},
			{"digest", `Digest username="victim", realm="gatehouse", nonce="x", response="y"`},
			{"no scheme", b64std("victim:" + victimPassword)},
		}
		for _, h := range headers {
			add(malformedRequest{category: "authorization", name: h.name + " on " + route, method: "GET", path: route,
				header: [][2]string{{"Authorization", h.value}}, status: authStatus})
		}
	}

	// What Go's client will not send: raw bytes in headers and request
	// lines, oversized headers.
	rawAuth := func(value string) []byte {
		return rawRequest("GET", "/api/resource", []string{"Authorization: " + value}, nil)
	}
	for _, r := range []struct {
		name   string
		raw    []byte
		shape  malShape
		status []int
	}{
		{"NUL byte in Authorization", rawAuth("Basic \x00" + b64std("victim:x")), shapeTransport, []int{400}},
		{"SOH byte in Authorization", rawAuth("Basic \x01abc"), shapeTransport, []int{400}},
		{"DEL byte in Authorization", rawAuth("Basic abc\x7f"), shapeTransport, []int{400}},
		{"bare CR in Authorization", rawAuth("Basic abc\rdef"), shapeTransport, []int{400}},
		{"invalid UTF-8 bytes in Authorization", rawAuth("Basic \xff\xfe\xfd"), shapeProblem, authStatus},
		{"raw UTF-8 in Authorization", rawAuth("Basic ünïcödé"), shapeProblem, authStatus},
		{"invalid UTF-8 bytes in Bearer", rawAuth("Bearer \xff.\xfe.\xfd"), shapeProblem, authStatus},
		{"folded Authorization", rawAuth("Basic\r\n !!!!"), shapeProblem, authStatus},
		{"two Authorization headers", rawRequest("GET", "/api/resource", []string{"Authorization: Basic !!", "Authorization: " + v.auth}, nil), shapeProblem, authStatus},
		{"NUL in a header name", rawRequest("GET", "/api/resource", []string{"Author\x00ization: " + v.auth}, nil), shapeTransport, []int{400}},
		{"space in a header name", rawRequest("GET", "/api/resource", []string{"Author ization: " + v.auth}, nil), shapeTransport, []int{400}},
		{"header line without a colon", rawRequest("GET", "/api/resource", []string{"Authorization"}, nil), shapeTransport, []int{400}},
		{"Authorization of 200 KB", rawAuth("Basic " + strings.Repeat("A", 200_000)), shapeTransport, []int{431}},
		{"5000 headers", rawRequest("GET", "/api/resource", func() []string {
			var hs []string
			for i := range 5000 {
				hs = append(hs, fmt.Sprintf("X-Filler-%d: %s", i, strings.Repeat("v", 20)))
			}
			return hs
		}(), nil), shapeTransport, []int{431}},
		{"a cookie of 100 KB", rawRequest("GET", "/healthz", []string{"Cookie: a=" + strings.Repeat("c", 100_000)}, nil), shapeTransport, []int{431}},
		{"request line of 100 KB", rawRequest("GET", "/api/users/"+strings.Repeat("x", 100_000), []string{"Authorization: " + v.auth}, nil), shapeTransport, []int{431}},
		{"invalid escape in the path", rawRequest("GET", "/api/users/%zz", []string{"Authorization: " + v.auth}, nil), shapeTransport, []int{400}},
		{"NUL byte in the path", rawRequest("GET", "/api/users/a\x00b", []string{"Authorization: " + v.auth}, nil), shapeTransport, []int{400}},
		{"space in the path", rawRequest("GET", "/api/users/a b", []string{"Authorization: " + v.auth}, nil), shapeTransport, []int{400}},
		{"raw UTF-8 in the path", rawRequest("GET", "/api/users/ünïcödé", []string{"Authorization: " + v.auth}, nil), shapeProblem, []int{404}},
		{"raw invalid UTF-8 in the path", rawRequest("GET", "/api/users/\xff\xfe", []string{"Authorization: " + v.auth}, nil), shapeProblem, []int{404}},
		{"missing Host", []byte("GET /api/resource HTTP/1.1\r\nAuthorization: " + v.auth + "\r\nConnection: close\r\n\r\n"), shapeTransport, []int{400}},
		{"non-numeric Content-Length", rawRequest("POST", "/api/users", []string{"Content-Type: application/json", "Content-Length: ten"}, []byte("{}")), shapeTransport, []int{400}},
		{"two different Content-Lengths", rawRequest("POST", "/api/users", []string{"Content-Type: application/json", "Content-Length: 2", "Content-Length: 3"}, []byte("{} ")), shapeTransport, []int{400}},
		{"bad chunked encoding", rawRequest("POST", "/api/users", []string{"Content-Type: application/json", "Transfer-Encoding: chunked"}, []byte("zz\r\n{}\r\n0\r\n\r\n")), shapeProblem, []int{400}},
		{"Content-Length of 10 GB", rawRequest("PUT", "/api/me/custom-data", []string{"Authorization: " + v.auth, "Content-Type: application/json", "Content-Length: 10000000000"}, []byte(`{"a":1}`)), shapeProblem, []int{413}},
		{"Content-Length and chunked", rawRequest("PUT", "/api/me/custom-data", []string{"Authorization: " + v.auth, "Content-Type: application/json", "Content-Length: 7", "Transfer-Encoding: chunked"}, []byte("7\r\n{\"a\":1\r\n0\r\n\r\n")), shapeProblem, []int{400}},
	} {
		add(malformedRequest{category: "raw", name: r.name, method: strings.SplitN(string(r.raw), " ", 2)[0], path: "(raw)", raw: r.raw, shape: r.shape, status: r.status})
	}

	// Bodies past the 1 MiB limit, with and without a Content-Length, and
	// custom data past its own 64 KiB limit.
	big := []byte(`{"a":"` + strings.Repeat("x", 2<<20) + `"}`)
	justOver := []byte(`{"a":"` + strings.Repeat("x", 1<<20-8+1) + `"}`) // 1 MiB + 1 byte
	bigForm := []byte("grant_type=client_credentials&scope=" + strings.Repeat("s", 2<<20))
	for _, r := range []struct {
		name, method, path string
		header             [][2]string
		body               []byte
	}{
		{"register", "POST", "/api/users", [][2]string{jsonCT}, big},
		{"replace custom data", "PUT", "/api/me/custom-data", [][2]string{auth, jsonCT}, big},
		{"replace custom data, 1 MiB + 1", "PUT", "/api/me/custom-data", [][2]string{auth, jsonCT}, justOver},
		{"merge custom data", "PATCH", "/api/me/custom-data", [][2]string{auth, {"Content-Type", "application/merge-patch+json"}}, big},
		{"create a key", "POST", "/api/me/api-keys", [][2]string{auth, jsonCT}, big},
		{"oauth token", "POST", "/oauth/token", [][2]string{{"Content-Type", ctForm}}, bigForm},
		{"oauth revoke", "POST", "/oauth/revoke", [][2]string{{"Content-Type", ctForm}}, bigForm},
	} {
		shape := shapeProblem
		if strings.HasPrefix(r.path, "/oauth") {
			shape = shapeOAuth
		}
		for _, chunked := range []bool{false, true} {
			name := r.name + ", Content-Length"
			if chunked {
				name = r.name + ", chunked"
			}
			add(malformedRequest{category: "body size", name: name, method: r.method, path: r.path, header: r.header, body: r.body,
				chunked: chunked, overTCP: true, status: []int{413}, shape: shape})
		}
	}
	for _, r := range []struct {
		name, method, ct, body string
	}{
		{"custom data of 70 KB", "PUT", ctJSON, `{"a":"` + strings.Repeat("x", 70_000) + `"}`},
		{"a merge to 70 KB", "PATCH", "application/merge-patch+json", `{"b":"` + strings.Repeat("y", 70_000) + `"}`},
		{"custom data of 40 000 members", "PUT", ctJSON, "{" + func() string {
			var ms []string
			for i := range 40_000 {
				ms = append(ms, fmt.Sprintf(`"k%d":1`, i))
			}
			return strings.Join(ms, ",")
		}() + "}"},
	} {
		add(malformedRequest{category: "body size", name: r.name, method: r.method, path: "/api/me/custom-data",
			header: [][2]string{auth, {"Content-Type", r.ct}}, body: []byte(r.body), status: []int{400}})
	}

	// Deeply nested JSON: 10 000 levels (the decoder's own limit), one
	// more, and just past the custom data depth limit (32).
	type target struct{ name, method, path, ct string }
	jsonTargets := []target{
		{"register", "POST", "/api/users", ctJSON},
		{"replace custom data", "PUT", "/api/me/custom-data", ctJSON},
		{"merge custom data", "PATCH", "/api/me/custom-data", "application/merge-patch+json"},
		{"merge custom data as JSON", "PATCH", "/api/me/custom-data", ctJSON},
		{"create a key", "POST", "/api/me/api-keys", ctJSON},
	}
	withAuth := func(tg target) [][2]string {
		h := [][2]string{{"Content-Type", tg.ct}}
		if tg.path != "/api/users" {
			h = append(h, auth)
		}
		return h
	}
	for _, tg := range jsonTargets {
		for _, d := range []struct{ name, body string }{
			{"10 000 arrays", nestedJSON(10_000, false)},
			{"10 000 objects", nestedJSON(10_000, true)},
			{"10 001 arrays", nestedJSON(10_001, false)},
			{"10 000 arrays in a member", `{"a":` + nestedJSON(10_000, false) + `}`},
			{"33 levels in a member", `{"a":` + nestedJSON(32, true) + `}`},
		} {
			add(malformedRequest{category: "deep json", name: d.name + ", " + tg.name, method: tg.method, path: tg.path,
				header: withAuth(tg), body: []byte(d.body), status: []int{400}})
		}
	}

	// JSON that is not JSON, or not one object.
	for _, tg := range jsonTargets {
		for _, b := range []struct{ name, body string }{
			{"unterminated", `{"a":1`},
			{"missing value", `{"a":}`},
			{"trailing comma", `{"a":1,}`},
			{"single quotes", `{'a':1}`},
			{"unquoted name", `{a:1}`},
			{"two documents", `{"a":1} {"b":2}`},
			{"trailing garbage", `{"a":1}x`},
			{"NaN", `{"a":NaN}`},
			{"comment", `/* c */ {"a":1}`},
			{"byte order mark", "\xef\xbb\xbf{\"a\":1}"},
			{"an array", `[{"a":1}]`},
			{"a string", `"a"`},
			{"null", `null`},
			{"raw tab in a string", "{\"a\":\"x\ty\"}"},
		} {
			add(malformedRequest{category: "json syntax", name: b.name + ", " + tg.name, method: tg.method, path: tg.path,
				header: withAuth(tg), body: []byte(b.body), status: []int{400}})
		}
	}

	// Members of the wrong type, unknown members, control characters.
	pw := victimPassword
	for _, b := range []struct{ name, body string }{
		{"number username", `{"username":1,"password":"` + pw + `"}`},
		{"array password", `{"username":"` + unique() + `","password":["` + pw + `"]}`},
		{"object username", `{"username":{"a":1},"password":"` + pw + `"}`},
		{"boolean email", `{"username":"` + unique() + `","password":"` + pw + `","email":true}`},
		{"unknown member", `{"usernme":"` + unique() + `","password":"` + pw + `"}`},
		{"privilege member", `{"username":"` + unique() + `","password":"` + pw + `","admin":true}`},
		{"status member", `{"username":"` + unique() + `","password":"` + pw + `","status":"ENABLED"}`},
		{"NUL in username", `{"username":"a\u0000` + unique() + `","password":"` + pw + `"}`},
		{"ESC in username", `{"username":"a\u001b` + unique() + `","password":"` + pw + `"}`},
		{"newline in username", `{"username":"a\n` + unique() + `","password":"` + pw + `"}`},
		{"NUL in email", `{"username":"` + unique() + `","password":"` + pw + `","email":"a\u0000@example.com"}`},
		{"NUL in password", `{"username":"` + unique() + `","password":"correct horse\u0000battery"}`},
		{"BEL in given name", `{"username":"` + unique() + `","password":"` + pw + `","given_name":"\u0007"}`},
		{"C1 control in surname", `{"username":"` + unique() + `","password":"` + pw + `","surname":"a\u0085b"}`},
		{"colon in username", `{"username":"a:` + unique() + `","password":"` + pw + `"}`},
		{"API key shaped username", `{"username":"gk_` + unique() + `","password":"` + pw + `"}`},
		{"token shaped username", `{"username":"eyJ` + unique() + `.a.b","password":"` + pw + `"}`},
		{"username taken, other case", `{"username":"VICTIM","password":"` + pw + `"}`},
	} {
		add(malformedRequest{category: "json members", name: b.name, method: "POST", path: "/api/users",
			header: [][2]string{jsonCT}, body: []byte(b.body)})
	}
	for _, b := range []struct{ name, body string }{
		{"number name", `{"name":1}`},
		{"unknown member", `{"nam":"x"}`},
		{"secret member", `{"name":"x","secret":"gks_mine"}`},
		{"NUL in name", `{"name":"a\u0000b"}`},
		{"newline in name", `{"name":"a\nb"}`},
		{"name of 300 characters", `{"name":"` + strings.Repeat("n", 300) + `"}`},
	} {
		add(malformedRequest{category: "json members", name: "key: " + b.name, method: "POST", path: "/api/me/api-keys",
			header: [][2]string{auth, jsonCT}, body: []byte(b.body)})
	}

	// Invalid UTF-8 in JSON text (RFC 8259 section 8.1: JSON is UTF-8).
	for _, b := range []struct{ name, method, path, body string }{
		{"username", "POST", "/api/users", "{\"username\":\"a\xffb" + unique() + "\",\"password\":\"" + pw + "\"}"},
		{"password", "POST", "/api/users", "{\"username\":\"" + unique() + "\",\"password\":\"" + pw + "\xfe\"}"},
		{"given name (overlong)", "POST", "/api/users", "{\"username\":\"" + unique() + "\",\"password\":\"" + pw + "\",\"given_name\":\"\xc0\xaf\"}"},
		{"surname (surrogate)", "POST", "/api/users", "{\"username\":\"" + unique() + "\",\"password\":\"" + pw + "\",\"surname\":\"\xed\xa0\x80\"}"},
		{"member name", "POST", "/api/users", "{\"user\xffname\":\"" + unique() + "\",\"password\":\"" + pw + "\"}"},
		{"custom data value", "PUT", "/api/me/custom-data", "{\"a\":\"\xff\"}"},
		{"custom data name", "PUT", "/api/me/custom-data", "{\"\xff\":1}"},
		{"merged custom data value", "PATCH", "/api/me/custom-data", "{\"favoriteColor\":\"bl\xffue\"}"},
		{"key name", "POST", "/api/me/api-keys", "{\"name\":\"\xfe\xff\"}"},
		{"truncated sequence", "PUT", "/api/me/custom-data", "{\"a\":\"\xe2\x82\"}"},
	} {
		h := [][2]string{jsonCT}
		if b.path != "/api/users" {
			h = append(h, auth)
		}
		add(malformedRequest{category: "invalid utf-8", name: b.name, method: b.method, path: b.path, header: h, body: []byte(b.body), status: []int{400}})
	}

	// Media types other than the ones an endpoint takes.
	for _, tg := range []struct {
		target
		body string
	}{
		{target{"register", "POST", "/api/users", ""}, `{"username":"` + unique() + `","password":"` + pw + `"}`},
		{target{"replace custom data", "PUT", "/api/me/custom-data", ""}, `{"a":1}`},
		{target{"merge custom data", "PATCH", "/api/me/custom-data", ""}, `{"a":1}`},
		{target{"create a key", "POST", "/api/me/api-keys", ""}, `{"name":"ct"}`},
	} {
		cts := []string{"", "text/plain", "application/xml", ctForm, "multipart/form-data; boundary=x", "application/json-patch+json",
			"application/jsonx", "json", "*/*", `application/json; charset="`, "application/json; =x"}
		if tg.method == "PUT" {
			cts = append(cts, "application/merge-patch+json")
		}
		for _, ct := range cts {
			h := [][2]string{}
			if ct != "" {
				h = append(h, [2]string{"Content-Type", ct})
			}
			if tg.path != "/api/users" {
				h = append(h, auth)
			}
			name := ct
			if name == "" {
				name = "none"
			}
			add(malformedRequest{category: "content type", name: name + ", " + tg.name, method: tg.method, path: tg.path,
				header: h, body: []byte(tg.body), status: []int{415}})
		}
	}

	// Reserved and invalid custom data names.
	reserved := []string{"href", "createdAt", "modifiedAt", "meta", "spMeta", "spmeta", "ionmeta", "ionMeta"}
	invalid := []string{"", "-lead", "a.b", "a b", "ünï", strings.Repeat("k", 256), "$set", "a/b"}
	for _, k := range append(slices.Clone(reserved), invalid...) {
		kj, _ := json.Marshal(k)
		for _, r := range []struct{ method, ct string }{{"PUT", ctJSON}, {"PATCH", "application/merge-patch+json"}} {
			add(malformedRequest{category: "custom data names", name: r.method + " " + truncateForLog(k), method: r.method, path: "/api/me/custom-data",
				header: [][2]string{auth, {"Content-Type", r.ct}}, body: []byte(`{` + string(kj) + `:1,"ok":2}`), status: []int{400}})
		}
	}
	for _, k := range append(slices.Clone(reserved), "-lead", "a.b", "%20", "%00", "%FF", strings.Repeat("k", 300)) {
		add(malformedRequest{category: "custom data names", name: "DELETE " + truncateForLog(k), method: "DELETE", path: "/api/me/custom-data/" + k,
			header: [][2]string{auth}, status: []int{400}})
	}

	// Odd ids in paths.
	odd := []string{"..", ".", "%2e%2e", "..%2f..%2fhealthz", "%2F", "%00", "a%00b", "%ff%fe", "%C3%BC", "%E2%80%AE", "gk_%00",
		"%20", strings.Repeat("x", 8000), strings.Repeat("%41", 2000), "v%0d%0aX-Injected:%201"}
	for _, id := range odd {
		add(malformedRequest{category: "odd ids", name: "user " + truncateForLog(id), method: "GET", path: "/api/users/" + id,
			header: [][2]string{auth}, status: []int{400, 404}})
		add(malformedRequest{category: "odd ids", name: "key " + truncateForLog(id), method: "DELETE", path: "/api/me/api-keys/" + id,
			header: [][2]string{auth}, status: []int{400, 404}})
	}

	// Malformed OAuth requests.
	form := func(kv ...string) []byte {
		var parts []string
		for i := 0; i+1 < len(kv); i += 2 {
			parts = append(parts, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
		}
		return []byte(strings.Join(parts, "&"))
	}
	keyBasic := basicAuth(v.keyID, v.keySecret)
	formCT := [2]string{"Content-Type", ctForm}
	for _, o := range []struct {
		name   string
		header [][2]string
		body   []byte
		status []int
	}{
		{"duplicate grant_type", [][2]string{formCT, {"Authorization", keyBasic}}, []byte("grant_type=client_credentials&grant_type=password"), []int{400}},
		{"duplicate username", [][2]string{formCT}, []byte("grant_type=password&username=victim&username=" + unique() + "&password=x"), []int{400}},
		{"duplicate scope", [][2]string{formCT, {"Authorization", keyBasic}}, []byte("grant_type=client_credentials&scope=&scope="), []int{400}},
		{"missing grant_type", [][2]string{formCT, {"Authorization", keyBasic}}, []byte("scope="), []int{400}},
		{"empty body", [][2]string{formCT}, []byte(""), []int{400}},
		{"empty grant_type", [][2]string{formCT}, []byte("grant_type="), []int{400}},
		{"grant_type without =", [][2]string{formCT}, []byte("grant_type"), []int{400}},
		{"authorization_code grant", [][2]string{formCT}, form("grant_type", "authorization_code", "code", "x"), []int{400}},
		{"refresh_token grant", [][2]string{formCT}, form("grant_type", "refresh_token", "refresh_token", "x"), []int{400}},
		{"implicit grant", [][2]string{formCT}, form("grant_type", "implicit"), []int{400}},
		{"grant type in other case", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "CLIENT_CREDENTIALS"), []int{400}},
		{"JSON body", [][2]string{jsonCT}, []byte(`{"grant_type":"password","username":"victim","password":"x"}`), []int{400, 415}},
		{"text/plain body", [][2]string{{"Content-Type", "text/plain"}}, form("grant_type", "client_credentials"), []int{400, 415}},
		{"no Content-Type", nil, form("grant_type", "client_credentials"), []int{400, 415}},
		{"multipart body", [][2]string{{"Content-Type", "multipart/form-data; boundary=b"}}, []byte("--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--b--\r\n"), []int{400, 415}},
		{"unterminated Content-Type parameter", [][2]string{{"Content-Type", ctForm + `; charset="`}}, form("grant_type", "client_credentials"), []int{400, 415}},
		{"scope of 500 KB", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "client_credentials", "scope", strings.Repeat("s ", 250_000)), []int{400}},
		{"one scope of 500 KB", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "client_credentials", "scope", strings.Repeat("s", 500_000)), []int{400}},
		{"unknown scope", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "client_credentials", "scope", "admin"), []int{400}},
		{"NUL in scope", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "client_credentials", "scope", "a\x00b"), []int{400}},
		{"invalid UTF-8 in scope", [][2]string{formCT, {"Authorization", keyBasic}}, []byte("grant_type=client_credentials&scope=%FF%FE"), []int{400}},
		{"password grant without password", [][2]string{formCT}, form("grant_type", "password", "username", "victim"), []int{400}},
		{"password grant without username", [][2]string{formCT}, form("grant_type", "password", "password", "x"), []int{400}},
		{"password grant, unknown login", [][2]string{formCT}, form("grant_type", "password", "username", unique(), "password", victimPassword), []int{400, 429}},
		{"password grant, invalid UTF-8 login", [][2]string{formCT}, []byte("grant_type=password&username=%FF" + unique() + "&password=x"), []int{400, 429}},
		{"password grant, NUL in login", [][2]string{formCT}, []byte("grant_type=password&username=a%00" + unique() + "&password=x"), []int{400, 429}},
		{"password grant, password of 20 KB", [][2]string{formCT}, form("grant_type", "password", "username", unique(), "password", strings.Repeat("p", 20_000)), []int{400, 429}},
		{"client credentials without a client", [][2]string{formCT}, form("grant_type", "client_credentials"), []int{401}},
		{"client in header and body", [][2]string{formCT, {"Authorization", keyBasic}}, form("grant_type", "client_credentials", "client_id", v.keyID, "client_secret", v.keySecret), []int{400}},
		{"bad base64 client header", [][2]string{formCT, {"Authorization", "Basic !!!"}}, form("grant_type", "client_credentials"), []int{401}},
		{"bearer client header", [][2]string{formCT, {"Authorization", "Bearer " + v.token}}, form("grant_type", "client_credentials"), []int{401}},
		{"client_id only", [][2]string{formCT}, form("grant_type", "client_credentials", "client_id", v.keyID), []int{401}},
		{"client_secret only", [][2]string{formCT}, form("grant_type", "client_credentials", "client_secret", v.keySecret), []int{401}},
		{"wrong client secret", [][2]string{formCT}, form("grant_type", "client_credentials", "client_id", v.keyID, "client_secret", "gks_wrong"), []int{401}},
		{"bad percent-encoding in the client header", [][2]string{formCT, {"Authorization", "Basic " + b64std("%zz:%zz")}}, form("grant_type", "client_credentials"), []int{401}},
		{"invalid percent-encoding", [][2]string{formCT}, []byte("grant_type=pass%zzword"), []int{400}},
		{"semicolon separator", [][2]string{formCT}, []byte("grant_type=password;username=victim;password=x"), []int{400}},
		{"parameters in the query only", [][2]string{formCT, {"Authorization", keyBasic}}, nil, []int{400}},
	} {
		path := "/oauth/token"
		if o.name == "parameters in the query only" {
			path += "?grant_type=client_credentials"
		}
		add(malformedRequest{category: "oauth", name: "token: " + o.name, method: "POST", path: path, header: o.header, body: o.body, status: o.status, shape: shapeOAuth})
	}
	for _, o := range []struct {
		name   string
		method string
		header [][2]string
		body   []byte
		status []int
	}{
		{"missing token", "POST", [][2]string{formCT}, form("token_type_hint", "access_token"), []int{400}},
		{"empty token", "POST", [][2]string{formCT}, form("token", ""), []int{400}},
		{"duplicate token", "POST", [][2]string{formCT}, form("token", "a", "token", "b"), []int{400}},
		{"JSON body", "POST", [][2]string{jsonCT}, []byte(`{"token":"x"}`), []int{400, 415}},
		{"no Content-Type", "POST", nil, form("token", "x"), []int{400, 415}},
		{"GET", "GET", nil, nil, []int{405}},
		{"token endpoint by GET", "GET", nil, nil, []int{405}},
		{"token endpoint by PUT", "PUT", [][2]string{formCT}, form("grant_type", "client_credentials"), []int{405}},
	} {
		path := "/oauth/revoke"
		if strings.HasPrefix(o.name, "token endpoint") {
			path = "/oauth/token"
		}
		add(malformedRequest{category: "oauth", name: "revoke: " + o.name, method: o.method, path: path, header: o.header, body: o.body, status: o.status, shape: shapeOAuth})
	}

	// Methods no route takes.
	for _, r := range []struct{ method, path string }{
		{"TRACE", "/"}, {"PATCH", "/api/users"}, {"DELETE", "/api/me"}, {"BREW", "/api/resource"}, {"PUT", "/healthz"},
	} {
		add(malformedRequest{category: "methods", name: r.method + " " + r.path, method: r.method, path: r.path,
			header: [][2]string{auth}, status: []int{404, 405}})
	}
	return out
}
